"""Every Blender-version shim for animation writes (DESIGN.md, rule 8).

Blender changed the Action data model between the versions we support:

* 4.2 LTS: an Action owns its F-curves directly (``Action.fcurves``,
  ``fcurves.new(data_path, index, action_group=...)``).
* 4.4 / 4.5: slotted (layered) Actions. ``Action.slots`` and ``Action.layers``
  exist, F-curves live in a *channelbag* per slot; the legacy ``Action.fcurves``
  still works and addresses the first slot.
* 5.0+: only the slotted API; ``Action.fcurves`` is gone and
  ``channelbag.fcurves.new(..., group_name=...)`` groups a new curve.

Nothing outside this module touches those APIs. Every branch is chosen by
feature detection (``hasattr`` / a ``TypeError`` on a keyword the version does
not know), never by comparing version numbers, so a point release that
back-ports or removes an API keeps working.
"""

from __future__ import annotations

import functools
from typing import Any

import bpy
import numpy as np

# Keyframe.interpolation enum values as ``foreach_set`` wants them (BEZT_IPO_*).
INTERPOLATION = {"CONSTANT": 0, "LINEAR": 1, "BEZIER": 2}


def has_slots(action: bpy.types.Action) -> bool:
    """Whether this Blender has slotted Actions (4.4+)."""
    return hasattr(action, "slots")


def new_action(name: str) -> bpy.types.Action:
    """A new, empty Action; Blender makes ``name`` unique (``name.001``) if it is taken."""
    return bpy.data.actions.new(name)


def ensure_slot(action: bpy.types.Action, obj: bpy.types.ID) -> Any:
    """The slot of ``action`` that animates ``obj`` (created if needed); ``None`` before 4.4.

    The slot assigned to ``obj`` if ``action`` is its Action, else the slot made
    for it (same ID type and name), else a new one: never a slot another
    data-block may be animated by.
    """
    if not has_slots(action):
        return None
    anim = getattr(obj, "animation_data", None)
    if anim is not None and anim.action == action and getattr(anim, "action_slot", None) is not None:
        return anim.action_slot
    id_type = obj.id_type if hasattr(obj, "id_type") else "OBJECT"
    for slot in action.slots:
        if slot.target_id_type == id_type and getattr(slot, "name_display", None) == obj.name:
            return slot
    return action.slots.new(id_type=id_type, name=obj.name)


def assign_action(obj: bpy.types.Object, action: bpy.types.Action | None) -> Any:
    """Make ``action`` the active Action of ``obj`` (and its slot, on 4.4+); return the slot.

    On assignment Blender picks a slot itself (the one this object used last,
    or one with its name); only when it picks none is a slot made for ``obj``.
    ``None`` clears the active Action (the Action itself stays in ``bpy.data``).
    """
    anim = obj.animation_data or obj.animation_data_create()
    anim.action = action
    if action is None or not has_slots(action):
        return None
    if anim.action_slot is None:
        anim.action_slot = ensure_slot(action, obj)
    return anim.action_slot


def _channelbag(action: bpy.types.Action, slot: Any, create: bool) -> Any:
    """The channelbag of ``slot`` in ``action``'s first layer/strip (4.4+)."""
    anim_utils: Any
    try:
        from bpy_extras import anim_utils
    except ImportError:  # pragma: no cover - bpy_extras ships with every bpy
        anim_utils = None
    layers: Any = action.layers
    if create:
        ensure = getattr(anim_utils, "action_ensure_channelbag_for_slot", None)
        if ensure is not None:
            return ensure(action, slot)
        layer = layers[0] if len(layers) else layers.new("Layer")
        strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type='KEYFRAME')
        return strip.channelbag(slot, ensure=True)
    get = getattr(anim_utils, "action_get_channelbag_for_slot", None)
    if get is not None:
        return get(action, slot)
    for layer in layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot)
            if bag is not None:
                return bag
    return None


def fcurve_collection(action: bpy.types.Action, obj: bpy.types.ID, create: bool = True) -> Any:
    """The collection holding ``obj``'s F-curves in ``action`` (channelbag or legacy)."""
    if has_slots(action):
        slot = ensure_slot(action, obj) if create else _existing_slot(action, obj)
        if slot is None:
            return None
        return _channelbag(action, slot, create)
    return action  # 4.2: the Action itself has .fcurves and .groups


def _existing_slot(action: bpy.types.Action, obj: bpy.types.ID) -> Any:
    anim = getattr(obj, "animation_data", None)
    if anim is not None and anim.action == action and anim.action_slot is not None:
        return anim.action_slot
    for slot in action.slots:
        if getattr(slot, "name_display", None) == obj.name:
            return slot
    return None


def iter_fcurves(action: bpy.types.Action, obj: bpy.types.ID | None = None) -> list:
    """All F-curves of ``action`` (for ``obj``'s slot only when ``obj`` is given, on 4.4+)."""
    legacy: Any = action
    if not has_slots(action):
        return list(legacy.fcurves)
    if obj is not None:
        bag = fcurve_collection(action, obj, create=False)
        return list(bag.fcurves) if bag is not None else []
    curves: list = []
    layers: Any = action.layers
    for layer in layers:
        for strip in layer.strips:
            for bag in strip.channelbags:
                curves.extend(bag.fcurves)
    return curves


def find_fcurve(action: bpy.types.Action, obj: bpy.types.ID, data_path: str, index: int = 0) -> Any:
    """The F-curve for ``(data_path, index)`` or ``None``."""
    bag = fcurve_collection(action, obj, create=False)
    if bag is None:
        return None
    return bag.fcurves.find(data_path, index=index)


def remove_fcurve(action: bpy.types.Action, obj: bpy.types.ID, data_path: str, index: int = 0) -> bool:
    """Remove one F-curve if it exists; return whether it did."""
    bag = fcurve_collection(action, obj, create=False)
    if bag is None:
        return False
    curve = bag.fcurves.find(data_path, index=index)
    if curve is None:
        return False
    bag.fcurves.remove(curve)
    return True


def ensure_fcurve(
    action: bpy.types.Action, obj: bpy.types.ID, data_path: str, index: int = 0, group_name: str = ""
) -> bpy.types.FCurve:
    """Get or create the F-curve for ``(data_path, index)``, in group ``group_name`` when new."""
    bag = fcurve_collection(action, obj, create=True)
    curve = bag.fcurves.find(data_path, index=index)
    if curve is not None:
        return curve
    if not has_slots(action):
        return bag.fcurves.new(data_path, index=index, action_group=group_name)
    try:
        return bag.fcurves.new(data_path, index=index, group_name=group_name)
    except TypeError:  # 4.4: channelbag.fcurves.new has no group_name yet
        curve = bag.fcurves.new(data_path, index=index)
        if group_name:
            group = bag.groups.get(group_name) or bag.groups.new(group_name)
            try:
                curve.group = group
            except (AttributeError, TypeError):  # grouping is cosmetic; never fail a bake on it
                pass
        return curve


def write_keys(
    curve: bpy.types.FCurve, frames: np.ndarray, values: np.ndarray, interpolation: str = "LINEAR"
) -> int:
    """Bulk-write keys ``(frames[i], values[i])`` to ``curve``, replacing any it had.

    ``keyframe_points.add(n)`` then ``foreach_set`` of ``co`` and
    ``interpolation`` in one call each, then the auto handles are recomputed:
    ``keyframe_points.handles_recalc()`` when the frames are already increasing
    and this Blender has it, else ``curve.update()`` (which also sorts the keys).
    Values are stored as float32, as Blender keeps them. Returns the number of
    keys written.
    """
    frames = np.asarray(frames).ravel()
    values = np.asarray(values).ravel()
    if frames.shape != values.shape:
        raise ValueError(f"frames and values differ in length: {frames.shape} vs {values.shape}")
    points = curve.keyframe_points
    if len(points):
        if hasattr(points, "clear"):
            points.clear()
        else:  # pragma: no cover - very old API
            for point in reversed(list(points)):
                points.remove(point, fast=True)
    n = frames.size
    if n == 0:
        return 0
    points.add(n)
    co = np.empty((n, 2), dtype=np.float32)  # Blender stores keys as float32
    co[:, 0] = frames
    co[:, 1] = values
    points.foreach_set("co", co.ravel())
    points.foreach_set("interpolation", _filled(n, INTERPOLATION[interpolation]))
    if hasattr(points, "handles_recalc") and (n < 2 or bool(np.all(frames[1:] > frames[:-1]))):
        points.handles_recalc()  # sorted already: only the handles (about half of update()'s time)
    else:
        curve.update()  # sort the keys, then recompute the handles
    return n


@functools.lru_cache(maxsize=8)
def _filled(n: int, value: int) -> np.ndarray:
    """A read-only ``int32`` array of ``n`` copies of ``value`` (the same length repeats per bake)."""
    out = np.full(n, value, dtype=np.int32)
    out.flags.writeable = False
    return out


def borrow_action(obj: bpy.types.Object, action: bpy.types.Action) -> None:
    """Make ``action`` play on ``obj`` for a while (sampling a reference) without adding anything to it.

    Unlike :func:`assign_action`, no slot is ever made: when Blender picks none itself (an Action keyed on
    another object), the first slot for objects is used, so the Action the user keyed stays as it was.
    """
    anim_data = obj.animation_data or obj.animation_data_create()
    anim_data.action = action
    if not has_slots(action) or anim_data.action_slot is not None:
        return
    for slot in action.slots:
        if slot.target_id_type == 'OBJECT':
            anim_data.action_slot = slot
            return


def push_to_nla(obj: bpy.types.Object, action: bpy.types.Action, track_name: str, start: float,
                mute: bool = True) -> Any:
    """A new NLA track ``track_name`` on ``obj`` holding ``action`` as one strip from ``start`` (muted by
    default, so it changes nothing until the user un-mutes or solos it); returns the track.

    On 4.4+ the strip plays the slot of ``action`` that animates ``obj``.
    """
    anim = obj.animation_data or obj.animation_data_create()
    track = anim.nla_tracks.new()
    track.name = track_name
    strip = track.strips.new(action.name[:63], int(round(start)), action)
    if has_slots(action) and hasattr(strip, "action_slot") and strip.action_slot is None:
        strip.action_slot = ensure_slot(action, obj)
    track.mute = mute
    return track


def push_down(obj: bpy.types.Object, frames: tuple[float, float] | None = None) -> Any:
    """Move ``obj``'s active Action onto a new NLA track at the top of its stack, as Blender's Push Down does (the
    Action itself is not touched), so a new active Action layers over it; returns the track, or None when there
    was no active Action. The strip plays the Action's own frames, its settings (blend, influence,
    extrapolation) taken from how the object played it; with ``frames`` it covers them too, so it evaluates
    there exactly as the Action did (keys beyond its range, cycles) instead of holding its last frame.
    """
    anim = obj.animation_data
    action = anim.action if anim is not None else None
    if action is None:
        return None
    slot = getattr(anim, "action_slot", None)
    blend, influence = anim.action_blend_type, anim.action_influence
    extrapolation = anim.action_extrapolation
    start, end = float(action.frame_range[0]), float(action.frame_range[1])
    if frames is not None:
        start, end = min(start, float(frames[0])), max(end, float(frames[1]))
    track = anim.nla_tracks.new()
    track.name = action.name[:63]
    strip = track.strips.new(action.name[:63], int(np.floor(start)), action)
    if slot is not None and hasattr(strip, "action_slot") and strip.action_slot != slot:
        strip.action_slot = slot
    strip.action_frame_start, strip.action_frame_end = start, end
    strip.frame_start, strip.frame_end = start, end
    strip.scale, strip.repeat = 1.0, 1.0
    strip.blend_type, strip.influence = blend, influence
    strip.use_animated_influence = False
    strip.extrapolation = extrapolation
    anim.action = None
    return track