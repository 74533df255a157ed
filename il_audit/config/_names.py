"""Setting names and where they live: ``spool_dir`` is ``settings.spool.dir``.

A setting's name is its section's prefix plus its field; a top-level setting
(``project``) is named by its field. The loader reads values by name, the model
keeps them in sections, and these functions translate between the two.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Generic, TypeVar, overload

from pydantic import BaseModel

from il_audit.config.sections import Section

SettingPath = tuple[str, str]
"""(section attribute, field); the section is ``""`` for a top-level setting."""

TOP_LEVEL_SETTINGS = frozenset({"project"})

T = TypeVar("T")


def section_types(model: type[BaseModel]) -> dict[str, type[Section]]:
    """Section attribute -> section class, in the model's order."""
    found: dict[str, type[Section]] = {}
    for attribute, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            found[attribute] = annotation
    return found


@functools.cache
def setting_paths(model: type[BaseModel]) -> Mapping[str, SettingPath]:
    """Every setting of ``model``: name -> path, in the model's order."""
    paths: dict[str, SettingPath] = {}
    sections = section_types(model)
    for attribute in model.model_fields:
        section = sections.get(attribute)
        if section is None:
            if attribute in TOP_LEVEL_SETTINGS:
                paths[attribute] = ("", attribute)
            continue
        for field in section.model_fields:
            paths[section.prefix + field] = (attribute, field)
    return paths


@functools.cache
def _names(model: type[BaseModel]) -> Mapping[SettingPath, str]:
    return {path: name for name, path in setting_paths(model).items()}


def path_of(model: type[BaseModel], name: str) -> SettingPath:
    """The path of a setting given by name (``spool_dir``) or path (``spool.dir``)."""
    section, dot, field = name.partition(".")
    if dot:
        if (section, field) in _names(model):
            return section, field
    elif name in setting_paths(model):
        return setting_paths(model)[name]
    raise KeyError(f"no il-audit setting is called {name!r}")


def name_at(model: type[BaseModel], location: tuple[int | str, ...]) -> str | None:
    """The setting a validation error's location points at (None: not one setting)."""
    path = (str(location[0]), str(location[1])) if len(location) >= 2 else ("", "")
    if path in _names(model):
        return _names(model)[path]
    if location and location[0] in TOP_LEVEL_SETTINGS:
        return str(location[0])
    return None


def nest(model: type[BaseModel], data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with every setting given by name moved into its section.

    A name wins over the same field in a section's mapping, so
    ``{**settings.model_dump(), "transport": "memory"}`` sets the transport.
    """
    paths = setting_paths(model)
    nested: dict[str, Any] = {}
    moved: dict[str, dict[str, Any]] = {}
    for key, value in data.items():
        section, field = paths.get(key, ("", key))
        if section:
            moved.setdefault(section, {})[field] = value
        else:
            nested[key] = value
    for section, fields in moved.items():
        base = nested.get(section, {})
        if isinstance(base, BaseModel):
            base = {name: getattr(base, name) for name in type(base).model_fields}
        nested[section] = {**base, **fields} if isinstance(base, Mapping) else base
    return nested


class Flat(Generic[T]):
    """A read-only flat attribute for a setting kept in a section.

    ``spool_dir: ClassVar[Flat[str | None]] = Flat()`` in the class body makes
    ``settings.spool_dir`` read the setting of that name (``settings.spool.dir``);
    ``bq_dataset: ClassVar[Flat[str]] = Flat("dataset")`` names another setting.
    One line per flat name, typed for mypy (a test checks each type against the
    section's field).
    """

    def __init__(self, setting: str | None = None) -> None:
        self.setting = setting
        self.path: SettingPath | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.setting = self.setting or name

    @overload
    def __get__(self, instance: None, owner: type) -> Flat[T]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object, owner: type) -> Any:
        if instance is None:
            return self
        if self.path is None:  # resolved on first use: the model is complete by then
            self.path = path_of(owner, str(self.setting))
        section, field = self.path
        return getattr(getattr(instance, section), field) if section else getattr(instance, field)
