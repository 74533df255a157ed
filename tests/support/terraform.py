"""The Terraform module in ``infra/terraform``, parsed with python-hcl2 (no terraform binary).

Strings come back unquoted; expressions keep Terraform's own spelling wrapped in
``${...}`` (``"${var.topic}"``), and nested blocks are lists of dicts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "infra" / "terraform"
_OPTIONS = hcl2.SerializationOptions(
    with_comments=False, explicit_blocks=False, strip_string_quotes=True
)


def parse(path: Path) -> dict[str, Any]:
    """One HCL file as python-hcl2 serializes it."""
    parsed: dict[str, Any] = hcl2.loads(path.read_text("utf-8"), serialization_options=_OPTIONS)
    return parsed


@dataclass
class Module:
    """Every top-level block of a module, keyed as Terraform addresses them."""

    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, dict[str, Any]] = field(default_factory=dict)

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Resources of one type, by name."""
        prefix = resource_type + "."
        return {
            address.removeprefix(prefix): body
            for address, body in self.resources.items()
            if address.startswith(prefix)
        }

    def resource(self, address: str) -> dict[str, Any]:
        """The body of ``TYPE.NAME`` (KeyError naming what exists)."""
        if address not in self.resources:
            raise KeyError(f"{address} not in module; have {sorted(self.resources)}")
        return self.resources[address]


def _add(target: dict[str, Any], key: str, value: Any, where: str) -> None:
    if key in target:
        raise AssertionError(f"{key} declared twice (again in {where})")
    target[key] = value


def _named_blocks(parsed: dict[str, Any], kind: str, depth: int) -> Iterator[tuple[str, Any]]:
    # resource/data blocks have two labels (type, name); variable/output one; locals none.
    for item in parsed.get(kind, []):
        if depth == 0:
            yield from item.items()
        else:
            for label, named in item.items():
                for name, body in named.items():
                    yield f"{label}.{name}", body


def load(module: Path = MODULE) -> Module:
    """Parse every ``*.tf`` file of ``module``; a name declared twice fails."""
    loaded = Module()
    targets = (
        ("resource", 1, loaded.resources),
        ("data", 1, loaded.data),
        ("variable", 0, loaded.variables),
        ("output", 0, loaded.outputs),
        ("locals", 0, loaded.locals),
    )
    for path in sorted(module.glob("*.tf")):
        parsed = parse(path)
        loaded.raw[path.name] = parsed
        for kind, depth, target in targets:
            for key, value in _named_blocks(parsed, kind, depth):
                _add(target, key, value, path.name)
    return loaded


def block(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block ``name`` of a resource body."""
    blocks = body.get(name)
    if not isinstance(blocks, list) or len(blocks) != 1:
        raise AssertionError(f"expected one {name} block, got {blocks!r}")
    inner: dict[str, Any] = blocks[0]
    return inner


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere inside a parsed value (keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def ref(expression: str) -> str:
    """``"${x}"`` as Terraform would write it unquoted: ``x``."""
    if expression.startswith("${") and expression.endswith("}"):
        return expression[2:-1]
    return expression
