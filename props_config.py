"""Sidebar settings generated from the TrainConfig dataclasses, and the conversion both ways.

Every TrainConfig field declared with ``agents.schema.setting`` becomes a Blender property (label,
tooltip, range, choices) by :func:`annotations_for`; :func:`read_table` turns a property group back
into the field values of the TOML table and :func:`write_table` writes a table into a group. How a
value is edited follows its type and ``kind`` (see ``agents/schema.py``):

=============================  ===========================================================
field                          property
=============================  ===========================================================
``bool`` / ``int`` / ``float``   Bool / Int / Float (floats are single precision: written back
                               rounded to 7 significant digits, so 0.05 stays 0.05)
``str`` with ``choices``       Enum
``str`` kind object, camera,   an object picker (Pointer; follows renames); the config holds
armature, mesh                 the name
``str`` kind dir               a folder path (``//`` relative to the .blend allowed)
``list`` kind names/numbers    comma-separated text
``list[float]`` kind vector    a float vector of ``size``
``dict`` kind json             a JSON object as text
=============================  ===========================================================

Nothing here holds a setting's name, label or default: they come from the dataclasses, so a new
setting is one line in its dataclass (DESIGN.md, rule 4).
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from typing import Any, Callable

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from .agents.schema import UI, ui_of
from .errors import RigDojoError, a_or_an

OBJECT_KINDS = {"object": None, "camera": 'CAMERA', "armature": 'ARMATURE', "mesh": 'MESH'}
# Blender 4.5+ warns about "//" in path properties unless they say they accept it; 4.2 lacks the option.
RELATIVE_PATH: Any = {'PATH_SUPPORTS_BLEND_RELATIVE'} \
    if "is_path_supports_blend_relative" in bpy.types.Property.bl_rna.properties else set()

_enum_items: dict[tuple, list] = {}  # Blender needs enum item strings kept alive


def f7(value: float) -> float:
    """A single-precision property value as the number the user typed (7 significant digits)."""
    value = float(value)
    return float(f"{value:.7g}") if math.isfinite(value) else value


def split_names(text: str) -> list[str]:
    """``"upper_arm, forearm"`` → ``["upper_arm", "forearm"]`` (blanks and duplicates dropped)."""
    return list(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))


def join_names(names) -> str:
    return ", ".join(names)


def _ui(f: dataclasses.Field) -> UI:
    ui = ui_of(f)
    assert ui is not None, f"{f.name} is not declared with agents.schema.setting"
    return ui


def _poll_for(kind: str | None) -> Callable | None:
    if kind is None:
        return None

    def poll(_self, obj) -> bool:
        return obj.type == kind
    return poll


def settings_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` that the sidebar edits (declared with ``setting``)."""
    return [f for f in dataclasses.fields(cls) if ui_of(f) is not None]


def _default(f: dataclasses.Field, defaults: Any) -> Any:
    if defaults is not None:
        return getattr(defaults, f.name)
    if f.default is not dataclasses.MISSING:
        return f.default
    return f.default_factory()  # type: ignore[misc,operator]


def property_for(f: dataclasses.Field, hint: Any, default: Any, update: Callable | None = None) -> Any:
    """The Blender property that edits the field ``f`` (type ``hint``), starting at ``default``."""
    ui = _ui(f)
    common: dict[str, Any] = {"name": ui.label, "description": ui.description}  # Any: bpy.props' many signatures
    if update is not None:
        common["update"] = update
    numeric: dict[str, Any] = {k: getattr(ui, k) for k in ("min", "max", "soft_min", "soft_max")
                               if getattr(ui, k) is not None}
    if ui.kind in OBJECT_KINDS:
        poll = _poll_for(OBJECT_KINDS[ui.kind])
        if poll is not None:
            common["poll"] = poll
        return PointerProperty(type=bpy.types.Object, **common)
    if ui.kind == "dir":
        return StringProperty(subtype='DIR_PATH', options=RELATIVE_PATH, default=default, **common)
    if ui.kind == "file":
        return StringProperty(subtype='FILE_PATH', options=RELATIVE_PATH, default=default, **common)
    if ui.kind in ("names", "objects", "numbers"):
        text = join_names(default) if ui.kind != "numbers" else ", ".join(repr(v) for v in default)
        return StringProperty(default=text, **common)
    if ui.kind == "json":
        return StringProperty(default=json.dumps(default), **common)
    if ui.kind == "vector":
        subtype: Any = ui.subtype or 'NONE'
        return FloatVectorProperty(size=ui.size, default=tuple(default), subtype=subtype, **common)
    if ui.choices:
        key = ui.choices
        items = _enum_items.setdefault(key, [tuple(c) for c in ui.choices])
        return EnumProperty(items=items, default=default, **common)
    if hint is bool:
        return BoolProperty(default=bool(default), **common)
    if hint is int:
        ints: dict[str, Any] = {k: int(v) for k, v in numeric.items()}
        if ui.step:
            ints["step"] = ui.step
        return IntProperty(default=int(default), **ints, **common)
    if hint is float:
        extra: dict[str, Any] = {"precision": ui.precision} if ui.precision is not None else {}
        if ui.step:
            extra["step"] = ui.step
        if ui.subtype:
            extra["subtype"] = ui.subtype
        return FloatProperty(default=float(default), **extra, **numeric, **common)
    if hint is str:
        return StringProperty(default=default, **common)
    raise TypeError(f"no sidebar property for setting {f.name} of type {hint!r}")  # a bug in a dataclass


def annotations_for(cls: type, *, prefix: str = "", defaults: Any = None, skip: tuple[str, ...] = (),
                    updates: dict[str, Callable] | None = None) -> dict[str, Any]:
    """``{property name: property}`` for every setting of ``cls`` (``prefix`` + field name), defaults from
    ``defaults`` (an instance) or the dataclass; fields in ``skip`` are left to the caller."""
    hints = typing.get_type_hints(cls)
    updates = updates or {}
    return {prefix + f.name: property_for(f, hints[f.name], _default(f, defaults), updates.get(f.name))
            for f in settings_fields(cls) if f.name not in skip}


def group_class(name: str, cls: type, doc: str, extra: dict[str, Any] | None = None, **kwargs: Any) -> type:
    """A PropertyGroup subclass named ``name`` editing the settings of ``cls`` (plus ``extra`` properties)."""
    annotations = {**annotations_for(cls, **kwargs), **(extra or {})}
    return type(name, (bpy.types.PropertyGroup,), {"__annotations__": annotations, "__doc__": doc})


# -- group <-> table -------------------------------------------------------------------------

def read_value(group: Any, f: dataclasses.Field, hint: Any, prop: str, path: str = "") -> Any:
    """The config value of field ``f`` from the property ``prop`` of ``group`` (``path``: the TOML table, for
    errors that name the key)."""
    ui = _ui(f)
    value = getattr(group, prop)
    key = f"{path}.{f.name}" if path else f.name
    if ui.kind in OBJECT_KINDS:
        return value.name if value is not None else ""
    if ui.kind in ("names", "objects"):
        return split_names(value)
    if ui.kind == "numbers":
        kind = typing.get_args(hint)[0]
        try:
            return [int(part) if kind is int else f7(float(part)) for part in value.replace(",", " ").split()]
        except ValueError:
            raise RigDojoError(f"{key}: {value!r} is not a comma-separated list of numbers") from None
    if ui.kind == "json":
        return json_object(value, key)
    if ui.kind == "vector":
        return [f7(v) for v in value]
    if hint is float:
        return f7(value)
    if hint is str and ui.kind == "bone":
        return value.strip()
    return value


def read_table(group: Any, cls: type, prefix: str = "", skip: tuple[str, ...] = (), path: str = "") -> dict[str, Any]:
    """The TOML table (field name → value) of the settings of ``cls`` held in ``group`` (``path``: the
    table's name in errors, e.g. ``algo.extra is not valid JSON``)."""
    hints = typing.get_type_hints(cls)
    return {f.name: read_value(group, f, hints[f.name], prefix + f.name, path) for f in settings_fields(cls)
            if f.name not in skip}


def object_named(name: str, what: str, kind: str | None = None):
    """The object ``name`` of the open file (None for ""); RigDojoError if it is missing or of another type."""
    if not name:
        return None
    obj = bpy.data.objects.get(name)
    if obj is None:
        raise RigDojoError(f"{what}: the object {name!r} is not in this file; open the .blend it was made for "
                           "or change the name in the configuration")
    if kind is not None and obj.type != kind:
        raise RigDojoError(f"{what}: {name!r} is {a_or_an(obj.type.lower())}, not {a_or_an(kind.lower())}")
    return obj


def check_objects(table: Any, cls: type, path: str) -> dict[str, Any]:
    """The objects the object settings of ``table`` (an instance of ``cls``) name, each checked to exist;
    nothing is written, so a bad name leaves the sidebar as it was."""
    found = {}
    for f in settings_fields(cls):
        ui = _ui(f)
        if ui.kind in OBJECT_KINDS:
            found[f.name] = object_named(getattr(table, f.name), f"{path}.{f.name}", OBJECT_KINDS[ui.kind])
    return found


def write_table(group: Any, table: Any, cls: type, prefix: str = "", objects: dict[str, Any] | None = None,
                skip: tuple[str, ...] = ()) -> None:
    """Write the settings of ``table`` (an instance of ``cls``) into ``group`` (objects from :func:`check_objects`)."""
    objects = objects or {}
    for f in settings_fields(cls):
        if f.name in skip:
            continue
        ui = _ui(f)
        value = getattr(table, f.name)
        prop = prefix + f.name
        if ui.kind in OBJECT_KINDS:
            setattr(group, prop, objects.get(f.name))
        elif ui.kind in ("names", "objects"):
            setattr(group, prop, join_names(value))
        elif ui.kind == "numbers":
            setattr(group, prop, ", ".join(repr(v) for v in value))
        elif ui.kind == "json":
            setattr(group, prop, json.dumps(value))
        else:
            setattr(group, prop, value)


def json_object(text: str, what: str, example: str = "{}") -> dict:
    try:
        value = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise RigDojoError(f"{what} is not valid JSON ({exc.msg}); write an object like {example}") from None
    if not isinstance(value, dict):
        raise RigDojoError(f"{what} must be a JSON object like {example}")
    return value


def add_to_list(list_prop: str, pick_prop: str) -> Callable:
    """An update callback for a picker property: append the picked name to the comma-separated list
    ``list_prop`` (once) and clear the picker."""
    def update(self, _context) -> None:
        name = getattr(self, pick_prop)
        if name:
            names = split_names(getattr(self, list_prop))
            if name not in names:
                setattr(self, list_prop, join_names([*names, name]))
            setattr(self, pick_prop, "")
    return update


# -- drawing ---------------------------------------------------------------------------------

def fields_for_task(cls: type, task: str) -> set[str]:
    """The settings of ``cls`` that apply to ``task`` (a field may list the tasks it is for)."""
    return {f.name for f in settings_fields(cls) if not ui_of(f).tasks or task in ui_of(f).tasks}


def draw_settings(layout, group: Any, task: str, *, advanced: bool, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Draw the settings of ``group`` (a group generated from ``cls``) that apply to ``task``: the advanced
    ones or the others."""
    col = layout.column()
    for f in settings_fields(cls):
        ui = _ui(f)
        if f.name in skip or ui.advanced != advanced or (ui.tasks and task not in ui.tasks):
            continue
        col.prop(group, f.name)
