"""Long texts for envelopes: JSON sizes counted exactly, pieces cut between characters."""

from __future__ import annotations

import json
import random

import orjson
import pydantic_core
import pytest

from il_audit.chat.text_parts import json_size, split_by_json_bytes, text_json_size


def dumped_size(text: str) -> int:
    """What json.dumps writes for ``text`` (quotes excluded), in UTF-8 bytes."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8", "surrogatepass")) - 2


def test_json_size_is_what_every_encoder_writes() -> None:
    """For every ASCII character and a few others, json_size is the size json.dumps, orjson
    and pydantic (the publisher's encoders) give."""
    for character in [*map(chr, range(0x80)), "é", "€", "😀", "\u2028", "\ufeff"]:
        encoded = character.encode()
        sizes = {
            json_size(encoded),
            dumped_size(character),
            len(orjson.dumps(character)) - 2,
            len(pydantic_core.to_json(character)) - 2,
        }
        assert len(sizes) == 1, (repr(character), sizes)
    assert text_json_size('a"\\\n\x01é') == 1 + 2 + 2 + 2 + 6 + 2


@pytest.mark.parametrize("seed", range(6))
def test_pieces_fit_join_back_and_are_few(seed: int) -> None:
    """Random text of every kind of character: each piece is at most the budget in JSON, the
    pieces join back to the text, and (for budgets of 1,000 bytes and more, where one
    character is little) there is at most one piece more than the JSON size needs."""
    alphabet = 'ab \n"\\\x00\x1féß€😀' + "".join(map(chr, range(0x4E00, 0x4E10)))
    rng = random.Random(seed)
    text = "".join(rng.choices(alphabet, k=rng.randrange(1, 40_000)))
    budget = rng.randrange(6, 60) if seed < 2 else rng.randrange(1_000, 5_000)
    pieces = split_by_json_bytes(text, budget)
    assert "".join(pieces) == text
    assert max(dumped_size(piece) for piece in pieces) <= budget
    if budget >= 1_000:
        assert len(pieces) <= -(-dumped_size(text) // budget) + 1


def test_a_surrogate_pair_is_never_split() -> None:
    """A pair held as two code points (text that skipped cap_text) stays in one piece."""
    text = "a\ud83d\ude00" * 10
    for budget in range(6, 40):
        pieces = split_by_json_bytes(text, budget)
        assert "".join(pieces) == text
        assert not any("\ud800" <= piece[-1] <= "\udbff" for piece in pieces[:-1]), budget


def test_an_empty_text_has_no_pieces_and_the_budget_holds_any_character() -> None:
    """No pieces for "", and a budget under 6 bytes is refused."""
    assert split_by_json_bytes("", 100) == []
    assert split_by_json_bytes("\x01", 6) == ["\x01"]
    with pytest.raises(ValueError, match="any character"):
        split_by_json_bytes("abc", 5)
