"""The track task's reference clip, read into the creature's spec (the bpy edge of ``envs.physics.tracking``).

Two sources (``physics.reference``):

* **an Action** on the rig (or keyed on another rig whose bone names match, see ``envs.reference.bone_map``):
  put on the rig and sampled once per frame over the Action's frame range (``scene.reference.sample_action``),
  so drivers and constraints on its channels count; the root bone's world frame comes from its channels.
* **a BVH file**, imported with Blender's own importer into a temporary armature that is removed again,
  and retargeted by world-space rotation: each mapped rig bone turns in the world as its BVH bone turns
  from the BVH skeleton's rest pose (the pose of its OFFSETs, every channel 0), so a skeleton and a rig whose
  rest poses agree (both standing, both in a T-pose) transfer exactly and a difference shows up as a constant
  offset; bones without a match keep their rest pose relative to their parent; the root travels across the
  ground from where the clip starts and up and down from the BVH's rest height, scaled by the ratio of the
  two skeletons' heights.

Nothing the user made is changed: the rig's pose, Action and frame are put back; the BVH's armature, its
Action and armature data are deleted; the .blend's other data blocks are untouched.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import bpy
import numpy as np

from ...envs import kinematics as km
from ...envs import rotations
from ...envs.physics.mjcf import PhysicsSpec
from ...envs.reference.bone_map import resolve_map
from ...errors import RigDojoError
from ..pose import frames_preserved, to_numpy
from ..reference import bad_key, get_action, keyed_bones, sample_action


def attach_reference(spec: PhysicsSpec, config) -> PhysicsSpec:
    """``spec`` with the reference clip ``config.physics.reference`` sampled into its ``reference_*`` arrays."""
    source = config.physics.reference.strip()
    if not source:
        raise RigDojoError("the track task needs a reference clip: --reference ACTION (an Action on the rig) or "
                           "--reference FILE.bvh (physics.reference in TOML, Reference in the sidebar)")
    obj = bpy.data.objects[spec.rig_name]
    bone_map = dict(config.physics.reference_map)
    if source.lower().endswith(".bvh"):
        name, frames, roots, euler, notes = _read_bvh(Path(source), obj, spec, bone_map)
    else:
        name, frames, roots, euler, notes = _read_action(source, obj, spec, bone_map)
    if len(frames) < 2:
        raise RigDojoError(f"the reference {name!r} is shorter than one control step (1 frame): it has only frame "
                           f"{frames[0]:g}; key it over several frames")
    return replace(spec, reference_name=name, reference_frames=np.asarray(frames, dtype=np.float64),
                   reference_root=roots, reference_euler=euler, notes=list(spec.notes) + notes)


def _read_action(name: str, obj, spec: PhysicsSpec, bone_map: dict) -> tuple:
    action = get_action(name, "physics.reference")
    keyed = keyed_bones(action, ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle"))
    mapping = resolve_map(keyed, obj.pose.bones.keys(), bone_map, prefer=spec.bone_names,
                          what="physics.reference_map")
    if not set(mapping.values()) & set(spec.bone_names):
        raise RigDojoError(f"physics.reference: the Action {name!r} keys none of the creature's bones "
                           f"({', '.join(spec.bone_names[:6])}{', ...' if spec.bone_names[6:] else ''}); key them, "
                           "or map its bones with physics.reference_map")
    bad = bad_key(action, [s for s, rig in mapping.items() if rig in spec.bone_names])
    if bad is not None:
        raise RigDojoError(f"physics.reference: the Action {name!r} has a key that is not a usable number ({bad}); "
                           "fix that key")
    start, end = int(round(action.frame_range[0])), int(round(action.frame_range[1]))
    frames = np.arange(start, end + 1, dtype=np.float64)
    clip = sample_action(obj, action, frames, list(spec.bone_names), bone_map=bone_map, prefer=spec.bone_names)
    euler = clip.euler_xyz(list(spec.bone_names))
    basis = np.tile(np.eye(4), (len(frames), 1, 1))
    basis[:, :3, :3] = rotations.quaternion_to_matrix(clip.rotations[:, 0])
    basis[:, :3, 3] = clip.locations[:, 0]
    roots = _root_world(spec, np.einsum("ij,fjk->fik", spec.object_matrix @ spec.rest[0], basis))
    notes = list(clip.notes)
    if obj.pose.bones[spec.bone_names[0]].parent is not None:
        notes.append(f"the root bone {spec.bone_names[0]!r} has a parent; the reference's root follows its own "
                     "channels only")
    return action.name, frames, roots, euler, notes


def _root_world(spec: PhysicsSpec, world: np.ndarray) -> np.ndarray:
    return km.normalize_axes(np.array(world, dtype=np.float64))[0]


def _read_bvh(path: Path, obj, spec: PhysicsSpec, bone_map: dict) -> tuple:
    if not path.is_file():
        raise RigDojoError(f"physics.reference: no file {str(path)!r}; give the path of a .bvh file")
    before_objects, before_actions = set(bpy.data.objects), set(bpy.data.actions)
    before_armatures = set(bpy.data.armatures)
    layer = bpy.context.view_layer
    active = layer.objects.active.name if layer.objects.active is not None else None
    selected = {o.name for o in layer.objects if o.select_get()}
    try:
        with frames_preserved():
            _check_bvh_header(path)
            source = _import_bvh(path, before_objects)
            notes = []
            if _lies_flat(source):  # a Z-up file (Blender's own exporter writes one), read as the usual Y-up
                bpy.data.objects.remove(source)
                source = _import_bvh(path, set(bpy.data.objects), axis_forward='Y', axis_up='Z')
                if _lies_flat(source):
                    raise RigDojoError(f"physics.reference: the skeleton of {path.name} lies flat whether read Y-up "
                                       "(the BVH convention) or Z-up; export it standing, Y-up")
                notes.append(f"{path.name} is read Z-up (as Blender's BVH exporter writes it): read Y-up, the "
                             "BVH convention, its skeleton lay flat")
            name, frames, roots, euler, more = _retarget(path, source, obj, spec, bone_map)
            return name, frames, roots, euler, notes + more
    finally:
        for o in set(bpy.data.objects) - before_objects:
            bpy.data.objects.remove(o)
        for action in set(bpy.data.actions) - before_actions:
            bpy.data.actions.remove(action)
        for armature in set(bpy.data.armatures) - before_armatures:
            bpy.data.armatures.remove(armature)
        layer = bpy.context.view_layer
        layer.update()  # the view layer's object list is rebuilt after the removals (iterating it stale crashes)
        for o in bpy.data.objects:
            try:
                o.select_set(o.name in selected, view_layer=layer)
            except RuntimeError:  # not in this view layer
                pass
        layer.objects.active = bpy.data.objects.get(active) if active else None


def _retarget(path: Path, source, obj, spec: PhysicsSpec, bone_map: dict) -> tuple:
    mapping = resolve_map(source.pose.bones.keys(), spec.bone_names, bone_map, prefer=spec.bone_names,
                          what="physics.reference_map")
    by_rig = {rig: src for src, rig in mapping.items()}
    if not by_rig:
        raise RigDojoError(f"physics.reference: no bone of {path.name} matches a bone of {obj.name!r} "
                           f"(the BVH has {', '.join(list(source.pose.bones.keys())[:5])}...; the rig "
                           f"{', '.join(spec.bone_names[:5])}...); map them with physics.reference_map "
                           '(JSON, e.g. {"Hips": "pelvis"})')
    action = source.animation_data.action if source.animation_data else None
    if action is None:
        raise RigDojoError(f"physics.reference: {path.name} has no motion")
    start, end = int(round(action.frame_range[0])), int(round(action.frame_range[1]))
    frames = np.arange(start, end + 1, dtype=np.float64)
    names = list(source.pose.bones.keys())
    src_root = by_rig.get(spec.bone_names[0]) or next(b.name for b in source.pose.bones if b.parent is None)
    # every source bone's world rotation per frame and the root's world position
    src_rot = np.zeros((len(frames), len(names), 3, 3))
    src_pos = np.zeros((len(frames), 3))
    scene = bpy.context.scene
    for i, frame in enumerate(frames):
        scene.frame_set(int(frame))
        world = to_numpy(source.matrix_world)
        for k, name in enumerate(names):
            m = world @ to_numpy(source.pose.bones[name].matrix)
            src_rot[i, k] = km.normalize_axes(m)[0][:3, :3]
        src_pos[i] = (world @ to_numpy(source.pose.bones[src_root].matrix))[:3, 3]
    world = to_numpy(source.matrix_world)
    src_rest = np.stack([km.normalize_axes(world @ to_numpy(source.data.bones[name].matrix_local))[0][:3, :3]
                         for name in names])
    rest_root = (world @ to_numpy(source.data.bones[src_root].matrix_local))[:3, 3]
    points = _rest_points(source)
    src_height = float(np.ptp(points[:, 2]))
    if not src_height > 1e-6 * max(float(np.ptp(points, axis=0).max()), 1e-9):
        raise RigDojoError(f"physics.reference: the skeleton of {path.name} has no height to scale its travel by "
                           "(every joint at one height); export it standing")
    rig_heads, rig_tails = spec.rest_points()
    rig_height = max(float(np.ptp(np.concatenate([rig_heads, rig_tails])[:, 2])), 1e-9)
    # rig bones' world rotations: a mapped bone turns as its source turns from the first frame
    rest = spec.world_rest()
    n, b = len(frames), spec.n_bones
    rot = np.zeros((n, b, 3, 3))
    euler = np.zeros((n, b, 3))
    for k in range(b):
        p = int(spec.parent[k])
        src = by_rig.get(spec.bone_names[k])
        if src is not None:
            s = names.index(src)
            delta = np.einsum("fij,kj->fik", src_rot[:, s], src_rest[s])  # R(f) R(rest)^T
            rot[:, k] = delta @ rest[k, :3, :3]
        elif p >= 0:
            rot[:, k] = rot[:, p] @ (rest[p, :3, :3].T @ rest[k, :3, :3])
        else:
            rot[:, k] = rest[k, :3, :3]
        if p >= 0:
            local = (rest[p, :3, :3].T @ rest[k, :3, :3]).T @ np.transpose(rot[:, p], (0, 2, 1)) @ rot[:, k]
            euler[:, k] = rotations.quaternion_to_euler(rotations.continuous_quaternions(
                rotations.matrix_to_quaternion(local)), "XYZ")
    roots = np.tile(np.eye(4), (n, 1, 1))
    roots[:, :3, :3] = rot[:, 0]
    travel = src_pos - src_pos[0]  # across the ground from where the clip starts, up and down from the rest pose
    travel[:, 2] = src_pos[:, 2] - rest_root[2]
    roots[:, :3, 3] = rest[0, :3, 3] + travel * (rig_height / src_height)
    unmatched = [name for name in spec.bone_names if name not in by_rig]
    notes = [f"{path.name}: {len(by_rig)} of the creature's {b} bones follow the BVH"
             + (f"; {', '.join(unmatched[:6])}{' ...' if unmatched[6:] else ''} keep their rest pose" if unmatched
                else "")]
    return path.stem, frames, roots, euler, notes


__all__ = ["attach_reference"]


def _import_bvh(path: Path, before_objects: set, **axes):
    """The armature Blender's BVH importer makes of ``path`` (``axes``: its axis_forward / axis_up)."""
    from ...headless import quiet_blender

    try:
        with quiet_blender():  # the importer's traceback is Blender's to print, not the user's to read
            bpy.ops.import_anim.bvh(filepath=str(path), update_scene_fps=False, update_scene_duration=False, **axes)
    except (RuntimeError, ValueError, IndexError, KeyError, UnicodeDecodeError) as exc:
        raise RigDojoError(f"physics.reference: {path.name} is not a BVH file Blender can read "
                           f"({_importer_reason(exc)}); export it again or give another file") from None
    source = next((o for o in set(bpy.data.objects) - before_objects if o.type == 'ARMATURE'), None)
    if source is None:
        raise RigDojoError(f"physics.reference: {path.name} is not a BVH file Blender can read")
    return source


def _lies_flat(source) -> bool:
    """Whether an imported BVH skeleton lies on its side: its rest pose less than a quarter as tall as it is long
    or wide. A Z-up file (what Blender's BVH exporter writes) read with the BVH convention's Y up lies so; a
    biped, or a quadruped half as tall as it is long, standing up does not."""
    points = _rest_points(source)
    if not len(points):
        return False
    extent = np.ptp(points, axis=0)
    return bool(extent[2] < 0.25 * max(extent[0], extent[1]))


def _rest_points(source) -> np.ndarray:
    """``(2B, 3)`` the armature's bone heads and tails at rest, in the world."""
    world = to_numpy(source.matrix_world)
    return np.array([(world @ np.append(np.array(p), 1.0))[:3] for b in source.data.bones
                     for p in (b.head_local, b.tail_local)]).reshape(-1, 3)


def _check_bvh_header(path: Path) -> None:
    """A BVH file starts with ``HIERARCHY``; anything else is refused before Blender's importer sees it."""
    try:
        with open(path, "rb") as f:
            head = f.read(256).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise RigDojoError(f"physics.reference: cannot read {path.name} ({exc.strerror or exc})") from None
    if not head.upper().startswith(b"HIERARCHY"):
        raise RigDojoError(f"physics.reference: {path.name} is not a BVH file (a BVH file starts with HIERARCHY); "
                           "give the path of a .bvh file")


def _importer_reason(exc: BaseException) -> str:
    """The importer's own last words (its exception's message), not the operator's ``Location:`` line."""
    lines = [line.strip() for line in str(exc).strip().splitlines()
             if line.strip() and not line.strip().startswith("Location:")]
    reason = lines[-1] if lines else type(exc).__name__
    for prefix in ("Exception: ", "Error: "):
        reason = reason.removeprefix(prefix)
    if reason.startswith(("IndexError", "ValueError")):
        reason = "it ends early or has a malformed line: " + reason.split(": ", 1)[-1]
    return reason[:120]
