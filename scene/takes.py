"""Takes: a sweep's best trials baked into the open .blend and shown side by side (the bpy edge).

Each take is one normal bake (``scene.families.bake_task_policy``: a new Action, verified in
Blender) named after its trial, then laid on its own muted NLA track ("take 1: t03-s1-...") so the
NLA editor is the take list: solo a track to play a take. The best take is left as the active
Action; whatever Action the object had before is kept (with a fake user, as every bake does). The
object also lists its takes in the custom property ``rig_dojo_takes`` (JSON), and a Workbench
contact sheet puts a few frames of every take in one row each, best first.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Iterator

import bpy
import numpy as np
from mathutils import Vector

from ..errors import RigDojoError
from . import anim
from .families import bake_frames, bake_task_policy

TAKES_PROPERTY = "rig_dojo_takes"


def animated_object(action_name: str) -> bpy.types.Object:
    """The object whose active Action is ``action_name`` (the one a bake just wrote)."""
    for obj in bpy.data.objects:
        ad = obj.animation_data
        if ad is not None and ad.action is not None and ad.action.name == action_name:
            return obj
    raise RigDojoError(f"no object plays the baked Action {action_name!r}")


def bake_take(row: dict, rank: int, frames: tuple[int, int] | None = None, make_active: bool = True) -> dict:
    """Bake one trial (a row of ``agents.sweep.results_table``) as a take; returns what was baked.

    The Action is named after the trial and laid on a muted NLA track; with ``make_active`` it also
    stays the object's active Action, else the previous active Action is put back.
    """
    policy = Path(row["policy"])
    if not policy.is_file():
        raise RigDojoError(f"trial {row['trial']} has no policy ({policy}); it did not finish, so it cannot be baked")
    start, end = bake_frames(frames)
    before = {o.name: (o.animation_data.action if o.animation_data else None) for o in bpy.data.objects}
    report = bake_task_policy(str(policy), frames=(start, end), action_name=row["trial"])
    obj = animated_object(report.action)
    action = bpy.data.actions[report.action]
    track = anim.push_to_nla(obj, action, f"take {rank}: {row['trial']}"[:63], start, mute=True)
    if not make_active:
        anim.assign_action(obj, before.get(obj.name))
    takes = json.loads(obj.get(TAKES_PROPERTY, "[]"))
    takes = [t for t in takes if t.get("action") != action.name]
    takes.append({"rank": rank, "trial": row["trial"], "action": action.name, "track": track.name,
                  "policy": str(policy), "success_rate": row.get("success_rate"),
                  "final_error": row.get("final_error")})
    obj[TAKES_PROPERTY] = json.dumps(sorted(takes, key=lambda t: t["rank"]))
    verified = report.to_dict()
    return {"rank": rank, "trial": row["trial"], "object": obj.name, "action": action.name, "track": track.name,
            "frames": [start, end], "bake": verified}


def bake_takes(ranked: list[dict], count: int, frames: tuple[int, int] | None = None) -> list[dict]:
    """Bake the ``count`` best trials (``ranked``: best first) as takes; the best one ends up active."""
    if count < 1:
        return []
    chosen = [r for r in ranked if Path(r["policy"]).is_file()][:count]
    if not chosen:
        raise RigDojoError("no trial of this sweep finished with a policy; there is nothing to bake")
    takes = [bake_take(row, rank, frames, make_active=False) for rank, row in enumerate(chosen, 1)]
    best = bpy.data.objects[takes[0]["object"]]
    anim.assign_action(best, bpy.data.actions[takes[0]["action"]])
    return takes


@contextlib.contextmanager
def playing(obj: bpy.types.Object, action: bpy.types.Action) -> Iterator[None]:
    """Play only ``action`` on ``obj`` (NLA tracks muted) and put everything back afterwards."""
    ad = obj.animation_data or obj.animation_data_create()
    saved_action = ad.action
    saved_slot = getattr(ad, "action_slot", None)
    muted = [(t, t.mute) for t in ad.nla_tracks]
    try:
        for track, _ in muted:
            track.mute = True
        anim.assign_action(obj, action)
        yield
    finally:
        anim.assign_action(obj, saved_action)
        if saved_slot is not None and getattr(ad, "action_slot", None) != saved_slot:
            ad.action_slot = saved_slot
        for track, mute in muted:
            track.mute = mute


def _focus(objects: list[bpy.types.Object]) -> tuple[Vector, float]:
    points = [o.matrix_world @ Vector(c) for o in objects for c in o.bound_box]
    coords = np.array([[p.x, p.y, p.z] for p in points])
    low, high = Vector(coords.min(axis=0)), Vector(coords.max(axis=0))
    return (low + high) / 2, max((high - low).length, 0.5)


def _renders_something(obj: bpy.types.Object) -> bool:
    """Whether a render shows ``obj``'s motion: armatures never render, their meshes (children) do."""
    if obj.type != 'ARMATURE':
        return True
    return any(child.type == 'MESH' and not child.hide_render for child in obj.children_recursive)


def takes_sheet(path: str | Path, takes: list[dict], frames_per_take: int = 4, width: int = 240,
                height: int = 180) -> Path:
    """A Workbench contact sheet: one row per take (best first), ``frames_per_take`` frames across its range.

    A rig without meshes gets temporary cylinders on its bones, and a scene without a camera a temporary
    camera; both are removed afterwards.
    """
    from .builders.render import ensure_camera, render_frames, tile_sheet
    from .builders.scenes import add_bone_proxies

    if not takes:
        raise RigDojoError("no takes to show; bake some first")
    objects = [bpy.data.objects[t["object"]] for t in takes]
    made: list[bpy.types.Object] = []
    scene = bpy.context.scene
    try:
        for obj in dict.fromkeys(objects):
            if not _renders_something(obj):
                made += add_bone_proxies(obj, radius=0.04)
        if scene.camera is None:
            center, size = _focus(objects)
            made.append(ensure_camera(center, distance=2.2 * size, name="RigDojoTakesCamera"))
        tiles = []
        for take, obj in zip(takes, objects):
            start, end = take["frames"]
            frames = sorted({int(round(f)) for f in np.linspace(start, end, frames_per_take)})
            with playing(obj, bpy.data.actions[take["action"]]):
                tiles += render_frames(frames, width, height)
    finally:
        for obj in made:
            data = obj.data
            if scene.camera == obj:
                scene.camera = None
            bpy.data.objects.remove(obj)
            if isinstance(data, bpy.types.Camera) and data.users == 0:
                bpy.data.cameras.remove(data)
            elif isinstance(data, bpy.types.Mesh) and data.users == 0:
                bpy.data.meshes.remove(data)
    return tile_sheet(path, tiles, columns=frames_per_take)
