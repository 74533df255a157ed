"""The metadata walk: a lower bound of the compact JSON size, stopping early whatever the input."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from il_audit.publisher.beacon import BeaconEventItem
from il_audit.publisher.beacon._models import (
    METADATA_MAX_DEPTH,
    metadata_problem,
    metadata_size,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=50, deadline=None)
@given(metadata=st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_the_walk_never_refuses_metadata_that_fits(metadata: dict[str, Any]) -> None:
    """Metadata exactly at the limit passes the walk: its charge is a lower bound."""
    assert metadata_problem(metadata, metadata_size(metadata)) is None


class _NeverIterated(list[int]):
    def __iter__(self) -> Any:
        raise AssertionError("the walk iterated a list longer than the bytes left")


def test_a_long_list_is_refused_without_being_iterated() -> None:
    """A container with more members than bytes left is refused on its length alone."""
    problem = metadata_problem({"x": _NeverIterated([0] * 524_000)}, 8192)
    assert problem == "at most 8192 bytes as compact JSON"


def test_the_walk_looks_at_no_more_members_than_the_limit_has_bytes() -> None:
    """However many containers there are, the members visited stay under the byte limit."""
    visited: list[int] = []

    class Counted(list[int]):
        def __iter__(self) -> Any:
            for value in super().__iter__():
                visited.append(value)
                yield value

    metadata = {f"k{n}": Counted([0] * 3_000) for n in range(100)}
    assert metadata_problem(metadata, 8192) == "at most 8192 bytes as compact JSON"
    assert 0 < len(visited) <= 8192


def test_metadata_nested_too_deep_is_refused() -> None:
    """Nesting past METADATA_MAX_DEPTH levels is refused with its own reason."""
    nested: Any = []
    for _ in range(METADATA_MAX_DEPTH + 5):
        nested = [nested]
    with pytest.raises(ValidationError, match=f"nested at most {METADATA_MAX_DEPTH} levels"):
        BeaconEventItem(metadata={"n": nested})
