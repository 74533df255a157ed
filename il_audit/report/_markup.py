"""Building HTML and SVG where escaping is the default.

Every string that is not :class:`Markup` is escaped when it becomes part of a
document, attribute values included. Only this module and the literal markup
of the page itself create :class:`Markup`; values read from the warehouse (app
names, emails, error details) stay plain strings and so are always escaped.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping

AttributeValue = str | int | float | bool | None


class Markup(str):
    """Text that is already HTML: it passes through :func:`escape` unchanged."""

    __slots__ = ()


def escape(value: object) -> Markup:
    """``value`` as HTML text (quotes escaped too), unless it is :class:`Markup` already."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def join(parts: Iterable[object]) -> Markup:
    """The parts one after the other, each escaped unless it is :class:`Markup`."""
    return Markup("".join(escape(part) for part in parts))


def attributes(values: Mapping[str, AttributeValue]) -> Markup:
    """`` name="value"`` pairs; ``None`` and ``False`` leave the attribute out, ``True`` is bare."""
    out = []
    for name, value in values.items():
        if value is None or value is False:
            continue
        if value is True:
            out.append(f" {name}")
        else:
            out.append(f' {name}="{escape(value)}"')
    return Markup("".join(out))


def element(
    name: str, attrs: Mapping[str, AttributeValue] | None = None, *children: object
) -> Markup:
    """``<name attrs>children</name>``, children escaped unless they are :class:`Markup`."""
    return Markup(f"<{name}{attributes(attrs or {})}>{join(children)}</{name}>")


def void(name: str, attrs: Mapping[str, AttributeValue] | None = None) -> Markup:
    """An element without content: ``<name attrs/>`` (valid in HTML and in inline SVG)."""
    return Markup(f"<{name}{attributes(attrs or {})}/>")
