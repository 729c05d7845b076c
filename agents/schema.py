"""How a setting is shown in the sidebar, kept on the TrainConfig dataclass field itself.

A settings dataclass declares each field with :func:`setting`; ``props_config.py`` generates the
sidebar's property group from these fields (label, tooltip, range, choices, how a name or a list is
edited), and the settings ↔ TOML conversion walks the same fields, so a new setting is one line in
one dataclass (DESIGN.md, rule 4). Nothing here imports bpy.

``kind`` says how a value is edited when its Python type alone does not:

- ``"object"`` / ``"camera"`` / ``"armature"`` / ``"mesh"``: an object picker (the config holds the name);
- ``"bone"``: a bone name picked from the rig (or the group's ``bone_source`` object);
- ``"names"``: a list of names edited as comma-separated text; ``"objects"``: the same for object names
  (each must exist when a config is imported); ``"numbers"``: the same for numbers;
- ``"dir"``: a folder path; ``"file"``: a file path (or a name the setting documents, e.g. ``library:reach``);
- ``"vector"``: a fixed-size list of floats (``size``); ``"json"``: a table edited as a JSON object.
"""

from __future__ import annotations

import dataclasses
from dataclasses import MISSING, dataclass
from typing import Any


@dataclass(frozen=True)
class UI:
    label: str
    description: str
    kind: str = ""
    choices: tuple[tuple[str, str, str], ...] = ()  # (value, label, help)
    min: float | None = None
    max: float | None = None
    soft_min: float | None = None
    soft_max: float | None = None
    precision: int | None = None
    step: int | None = None
    size: int = 0
    subtype: str = ""
    advanced: bool = False  #: drawn in the "Advanced" sub-panel
    tasks: tuple[str, ...] = ()  #: drawn only for these tasks (empty: always)
    cli: bool = False  #: also a flag of ``python -m rig_dojo train`` (``--name-with-dashes``)


def setting(default: Any = MISSING, *, default_factory: Any = MISSING, label: str, description: str,
            **ui: Any) -> Any:
    """A dataclass field with its sidebar presentation (see :class:`UI`)."""
    meta = {"ui": UI(label=label, description=description, **ui)}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def ui_of(field: dataclasses.Field) -> UI | None:
    return field.metadata.get("ui")


def choice_values(field: dataclasses.Field) -> tuple[str, ...]:
    ui = ui_of(field)
    return tuple(c[0] for c in ui.choices) if ui is not None else ()


def check_choices(obj: Any, table: str) -> None:
    """RigDojoError for a field of ``obj`` whose value is not one of its declared choices."""
    from ..errors import RigDojoError

    for f in dataclasses.fields(obj):
        values = choice_values(f)
        if values and getattr(obj, f.name) not in values:
            raise RigDojoError(f"{table}.{f.name}: {getattr(obj, f.name)!r} is not one of {', '.join(values)}")
