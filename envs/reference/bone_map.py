"""Map a reference clip's bone names onto a rig's bones (no bpy).

A clip keyed on one rig rarely names the bones of another the same way. :func:`auto_map` matches

1. identical names;
2. names equal once Rigify's layers are taken off: the prefixes ``DEF-``, ``ORG-``, ``MCH-`` and the
   suffixes ``_fk``, ``_ik``, ``_tweak`` before the side (``upper_arm_fk.L``, ``DEF-upper_arm.L``,
   ``ORG-upper_arm.L`` and the metarig's ``upper_arm.L`` are all ``upper_arm.L``), case-insensitively.

Among several rig bones with the same stripped name the preferred ones win (the controls the policy
moves), then the FK control, the plain name, ``ORG-``, ``DEF-`` in that order. :func:`resolve_map` puts
a user's explicit entries (the sidebar's or TOML's ``bone_map``) over the automatic ones and checks them.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from ...errors import RigDojoError

_PREFIXES = ("DEF-", "ORG-", "MCH-", "DEF_", "ORG_", "MCH_")
_ROLES = ("_fk", "_ik", "_tweak")
# the side tag and Blender's duplicate number: "upper_arm.L", "forearm.L.001", "hand_R", "thigh.left"
_SIDE = re.compile(r"(?P<side>[._](?:l|r|left|right))?(?P<number>\.\d{3})?$", re.IGNORECASE)


def split_name(name: str) -> tuple[str, str, str]:
    """``(layer, base, role)``: ``"DEF-upper_arm.L"`` → ``("DEF-", "upper_arm.l", "")``, ``"upper_arm_fk.L"``
    → ``("", "upper_arm.l", "_fk")`` (the base keeps the side and number, lower case)."""
    layer = next((p for p in _PREFIXES if name.startswith(p)), "")
    rest = name[len(layer):]
    m = _SIDE.search(rest)
    stem, tail = rest[: m.start()], rest[m.start():]
    role = next((r for r in _ROLES if stem.lower().endswith(r)), "")
    if role:
        stem = stem[: -len(role)]
    return layer.rstrip("-_").upper(), (stem + tail).lower(), role


def base_name(name: str) -> str:
    """The name with Rigify's layer prefix and role suffix taken off, lower case (see the module docstring)."""
    return split_name(name)[1]


def _rank(name: str, prefer: set[str]) -> tuple[int, int, str]:
    layer, _, role = split_name(name)
    order = {("", "_fk"): 0, ("", ""): 1, ("ORG", ""): 2, ("DEF", ""): 3}.get((layer, role), 4)
    return (0 if name in prefer else 1, order, name)


def auto_map(source: Iterable[str], target: Iterable[str], prefer: Iterable[str] = ()) -> dict[str, str]:
    """``{source bone: rig bone}`` for every source bone that matches one (see the module docstring);
    unmatched source bones are left out. No two source bones map to the same rig bone: the one whose name
    matches exactly (or comes first) keeps it."""
    targets = list(dict.fromkeys(target))
    prefer = set(prefer)
    exact = set(targets)
    by_base: dict[str, list[str]] = {}
    for t in targets:
        by_base.setdefault(base_name(t), []).append(t)
    out: dict[str, str] = {}
    used: set[str] = set()
    sources = list(dict.fromkeys(source))
    for s in sources:  # identical names first, so they are never taken by a stripped match
        if s in exact:
            out[s] = s
            used.add(s)
    for s in sources:
        if s in out:
            continue
        candidates = sorted((t for t in by_base.get(base_name(s), ()) if t not in used), key=lambda t: _rank(t, prefer))
        if candidates:
            out[s] = candidates[0]
            used.add(candidates[0])
    return out


def closest(name: str, names: Iterable[str], n: int = 3) -> str:
    """``"; closest: a, b"`` for an error message (empty when nothing is close)."""
    near = difflib.get_close_matches(name, list(names), n=n, cutoff=0.5)
    return f"; closest: {', '.join(near)}" if near else ""


def resolve_map(source: Iterable[str], target: Iterable[str], explicit: dict[str, str] | None = None,
                prefer: Iterable[str] = (), what: str = "reference.bone_map") -> dict[str, str]:
    """The automatic map with ``explicit`` entries over it (an empty value leaves a bone out).

    RigDojoError naming the entry for an explicit source bone the clip does not have or a rig bone the
    rig does not have.
    """
    source, target = list(dict.fromkeys(source)), list(dict.fromkeys(target))
    mapping = auto_map(source, target, prefer)
    for s, t in (explicit or {}).items():
        if s not in source:
            raise RigDojoError(f"{what}: the reference has no bone {s!r}{closest(s, source)}")
        if not isinstance(t, str):
            raise RigDojoError(f"{what}[{s!r}]: give a bone name (a string), not {t!r}")
        if not t:
            mapping.pop(s, None)
            continue
        if t not in target:
            raise RigDojoError(f"{what}[{s!r}]: the rig has no bone {t!r}{closest(t, target)}")
        for other in [k for k, v in mapping.items() if v == t and k != s]:
            del mapping[other]  # the explicit entry takes the rig bone
        mapping[s] = t
    return mapping
