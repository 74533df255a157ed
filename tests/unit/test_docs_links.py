"""Every relative link and ``#anchor`` in README.md and docs/*.md resolves.

Anchors follow GitHub's heading slugs (github-slugger): the heading's text in lower
case, punctuation and symbols removed (letters, digits, ``-`` and ``_`` stay), each
space a ``-``, and ``-1``, ``-2``... appended to a repeated slug.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^()\s]+(?:\([^()\s]*\))?)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
INLINE_CODE = re.compile(r"`[^`]*`")


def _prose(text: str) -> list[str]:
    """The lines outside fenced code blocks (links in code are not links)."""
    lines, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's markdown text (before de-duplication)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every anchor GitHub gives ``page``'s headings."""
    seen: Counter[str] = Counter()
    found = set()
    for line in _prose(page.read_text("utf-8")):
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        found.add(base if not seen[base] else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


def links(page: Path) -> list[str]:
    """The link targets of ``page``'s prose, inline code left out."""
    return [
        target
        for line in _prose(page.read_text("utf-8"))
        for target in LINK.findall(INLINE_CODE.sub("", line))
    ]


def broken(page: Path) -> list[str]:
    """``page``'s relative links whose file or anchor does not exist."""
    problems = []
    for target in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return problems


def test_the_slug_rule_matches_githubs_examples() -> None:
    """Backticks, parentheses, dots and slashes vanish; underscores and hyphens stay."""
    assert slug("Where events go (`IL_AUDIT_TRANSPORT=auto`)") == (
        "where-events-go-il_audit_transportauto"
    )
    assert slug("`il-audit migrate from-0.1`") == "il-audit-migrate-from-01"
    assert slug("Login pages: the login-surface rule") == "login-pages-the-login-surface-rule"


def test_a_missing_file_or_anchor_is_reported(tmp_path: Path) -> None:
    """The checker itself fails on a bad link (so a passing run means something)."""
    page = tmp_path / "page.md"
    page.write_text("# Top\n\n[a](#top) [b](#nowhere) [c](missing.md) [d](page.md#top)\n")
    assert broken(page) == [
        "#nowhere: no heading #nowhere in page.md",
        "missing.md: no such file",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_resolves(page: Path) -> None:
    """Each relative link names an existing file, and its #anchor a heading of that file."""
    assert links(page) or page.name != "README.md"  # the README links its docs
    assert broken(page) == []
