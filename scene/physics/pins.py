"""Read a physics task's pins from the scene (the bpy edge of ``envs.physics.pins``), once, into the spec.

``[reference]`` says which Action holds the pinned poses (``pins``), which of its keyed frames and bones
count (``pin_frames``, ``pin_bones``), which bones go onto which objects at which frames
(``effector_pins``), hard or soft and their weight. On a physics creature:

* each keyed frame after the first becomes a **pose pin** on the simulated bones whose rotation is keyed there
  (the first frame is where the episode starts, from the rest pose; its keys are not a pin);
* where the root bone's **location** is keyed, that frame's pin also puts the root's head where the key does,
  in the world (the creature's travel: "over there by frame 60");
* ``BONE:OBJECT@FRAME`` puts the bone's tail on the object at that frame (a foot on a stepping stone).

One clear error each for an Action that is missing or keys none of the simulated bones, a pin bone that is
not simulated, a frame outside the episode, a key that is not a number, and a task that does not take pins.
"""

from __future__ import annotations

from dataclasses import replace

import bpy
import numpy as np

from ...envs import rotations
from ...envs.physics.mjcf import PhysicsSpec
from ...envs.physics.settings import PIN_TASKS
from ...envs.reference.bone_map import closest, resolve_map
from ...envs.reference.pins import parse_effector_pin
from ...errors import RigDojoError
from ..reference import bad_key, get_action, keyed_bones, object_position, pin_selection, sample_action

ROTATIONS = ("rotation_quaternion", "rotation_euler", "rotation_axis_angle")


def _names(names: list[str]) -> str:
    return ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")


def attach_pins(spec: PhysicsSpec, config) -> PhysicsSpec:
    """``spec`` with the pins ``config.reference`` describes in its ``pin_*`` arrays (unchanged without pins)."""
    ref = config.reference
    ref.validate(config)
    if ref.style:
        raise RigDojoError("reference.style (a style clip) is for the kinematic tasks (reach, aim, grasp); the "
                           "physics tasks take pins: leave the style clip out")
    if not ref.has_pins:
        return spec
    if config.task not in PIN_TASKS:
        raise RigDojoError(f"pins are for the {', '.join(PIN_TASKS[:-1])} and {PIN_TASKS[-1]} tasks; the "
                           f"{config.task} task follows its reference clip: leave the pins out")
    start_from = str(config.algo.start_from)
    if start_from.startswith("library:"):
        from ...agents.library import entry

        if entry(start_from).observation == "chain":  # said before the twin check (make_task says it for a file)
            raise RigDojoError(f"pins cannot be taught to the library's policy ({start_from}): its hinge tokens do "
                               "not see pins; leave out --init-from, or the pins")
    obj = bpy.data.objects[spec.rig_name]
    start = int(spec.frame_start)
    end = start + max(1, round(config.physics.episode_seconds * spec.fps))
    names = list(spec.bone_names)
    for i, bone in enumerate(ref.pin_bones):
        _check_bone(obj, bone, names, f"reference.pin_bones[{i}]", "or take it off the pin bones")
    rows: list[dict] = []
    notes: list[str] = []
    if ref.pins:
        rows, notes = _pose_pins(ref, obj, spec, start, end)
    for i, text in enumerate(ref.effector_pins):
        what = f"reference.effector_pins[{i}]"
        bone, name, frame = parse_effector_pin(text, what)
        bone = bone or config.rig.effector
        if not bone:
            raise RigDojoError(f"{what}: name the bone to put on {name!r} (BONE:{name}@{frame}, e.g. a foot)")
        _check_bone(obj, bone, names, what)
        if frame <= start:
            raise RigDojoError(f"{what}: frame {frame} is not after the episode's first frame ({start}, where the "
                               f"creature starts at rest); pin a later frame")
        if frame > end:
            raise RigDojoError(f"{what}: frame {frame} is outside the episode, frames {start + 1}-{end}; move it "
                               "or lengthen physics.episode_seconds")
        rows.append({"frame": frame, "euler": np.zeros((len(names), 3)), "mask": np.zeros(len(names), bool),
                     "point_bone": names.index(bone), "point": object_position(name, frame, what),
                     "label": f"frame {frame}: {bone} on {name}"})
    rows.sort(key=lambda r: r["frame"])
    soft = {int(f) for f in ref.soft_frames}
    unpinned = sorted(soft - {r["frame"] for r in rows})
    if unpinned:
        raise RigDojoError(f"reference.soft_frames: frame {', '.join(map(str, unpinned))} has no pin (pins at "
                           f"{', '.join(str(r['frame']) for r in rows)}); take it off the soft frames")
    p, b = len(rows), len(names)
    return replace(
        spec, pin_frames=np.array([r["frame"] for r in rows], dtype=np.float64),
        pin_euler=np.array([r["euler"] for r in rows], dtype=np.float64).reshape(p, b, 3),
        pin_mask=np.array([r["mask"] for r in rows], dtype=bool).reshape(p, b),
        pin_point_bone=np.array([r["point_bone"] for r in rows], dtype=np.int64),
        pin_point=np.array([r["point"] for r in rows], dtype=np.float64).reshape(p, 3),
        pin_hard=np.array([bool(ref.hard) and r["frame"] not in soft for r in rows], dtype=bool),
        pin_weight=np.full(p, float(ref.pin_weight)), pin_labels=[r["label"] for r in rows],
        notes=list(spec.notes) + notes)


def _check_bone(obj, bone: str, names: list[str], what: str, fix: str = "") -> None:
    """RigDojoError unless ``bone`` is one of the creature's simulated bones (saying whether the rig has it)."""
    if bone in names:
        return
    if bone not in obj.pose.bones:
        raise RigDojoError(f"{what}: {obj.name!r} has no bone {bone!r}{closest(bone, obj.pose.bones.keys())}")
    raise RigDojoError(f"{what}: {bone!r} is not simulated (the creature's bones: {_names(names)}); add it to the "
                       f"bones{' ' + fix if fix else ''}")


def _pose_pins(ref, obj, spec: PhysicsSpec, start: int, end: int) -> tuple[list[dict], list[str]]:
    names = list(spec.bone_names)
    root = names[0]
    action = get_action(ref.pins, "reference.pins")
    by_channel = {c: keyed_bones(action, (c,)) for c in ROTATIONS}
    rotated = keyed_bones(action, ROTATIONS)
    moved = keyed_bones(action, ("location",))
    mapping = resolve_map({**moved, **rotated}, obj.pose.bones.keys(), ref.bone_map, prefer=names)
    keyed: dict[str, set[int]] = {}  # simulated bone -> frames its pin channels are keyed at
    for source, frames in rotated.items():
        target = mapping.get(source)
        if target in names and target != root and source in by_channel[_channel(obj.pose.bones[target])]:
            keyed.setdefault(target, set()).update(int(round(f)) for f in frames)
    root_frames = {int(round(f)) for s, fs in moved.items() if mapping.get(s) == root for f in fs}
    if root_frames:
        keyed.setdefault(root, set()).update(root_frames)
    notes = []
    root_turned = any(mapping.get(s) == root for s in rotated)
    if root_turned:
        notes.append(f"the root {root}'s rotation keys are not pins (its location keys pin where the creature is; "
                     "which way it faces is left to the policy)")
    notes += _unused_channels(obj, mapping, by_channel, names)
    if not keyed:
        unread = [n for n in notes if "keys do nothing" in n]
        if unread:
            raise RigDojoError(f"reference.pins: the Action {action.name!r} keys no rotation the simulated bones read: "
                               f"{unread[0]}; key the channel of the bone's rotation mode")
        if root_turned:
            raise RigDojoError(f"reference.pins: the Action {action.name!r} keys only the root {root}'s rotation, which "
                               "cannot be pinned; key the other bones' rotations, or the root's location (where the "
                               "creature is)")
        found = sorted({*rotated, *moved})
        raise RigDojoError(f"reference.pins: the Action {action.name!r} keys none of the simulated bones "
                           f"({_names(names)}; it keys {_names(found) if found else 'nothing'}); key their rotations "
                           "(the root's location for where it goes), map its bones with reference.bone_map, or pick "
                           "the Action that does")
    bad = bad_key(action, [s for s in {*rotated, *moved} if mapping.get(s) in keyed])
    if bad is not None:
        raise RigDojoError(f"reference.pins: the Action {action.name!r} has a key that is not a usable number "
                           f"({bad}); fix that key")
    pinned, every, chosen = pin_selection(ref, action, keyed, names, "the pinned bones")
    ignored = sorted(s for s in {*rotated, *moved} if mapping.get(s) not in names)
    if ignored:
        notes.append(f"keys on {_names(ignored)} are not pins (not simulated bones)")
    if chosen is not None:
        bad_frames = [f for f in chosen if not start < f <= end]
        if bad_frames:
            raise RigDojoError(f"reference.pin_frames: frame {', '.join(map(str, bad_frames))} is outside the "
                               f"episode, frames {start + 1}-{end} (frame {start} is where it starts, at rest)")
    else:
        chosen = [f for f in every if start < f <= end]
        if start in every:
            notes.append(f"the keys at frame {start} are where the episode starts (from the rest pose): not a pin")
        outside = [f for f in every if not start <= f <= end]
        if outside:
            notes.append(f"keys at frame {', '.join(map(str, outside))} are outside the episode (frames "
                         f"{start}-{end}, physics.episode_seconds): not pins")
        if not chosen:
            raise RigDojoError(f"reference.pins: no keyed frame of {action.name!r} ({', '.join(map(str, every))}) is "
                               f"inside the episode after its first frame ({start + 1}-{end}); key poses there, or move "
                               "the scene's start frame / physics.episode_seconds")
    clip = sample_action(obj, action, chosen, names, bone_map=ref.bone_map, prefer=names, keys_on=pinned)
    euler = clip.euler_xyz(names)
    basis = np.tile(np.eye(4), (len(chosen), 1, 1))
    basis[:, :3, :3] = rotations.quaternion_to_matrix(clip.rotations[:, 0])
    basis[:, :3, 3] = clip.locations[:, 0]
    root_head = np.einsum("ij,fjk->fik", spec.object_matrix @ spec.rest[0], basis)[:, :3, 3]
    rows = []
    for i, f in enumerate(chosen):
        mask = np.array([n in pinned and f in keyed.get(n, ()) for n in names])
        with_root = bool(mask[0])
        mask[0] = False  # the root's pin is its position; its hinges are the other bones'
        posed = [n for n, m in zip(names, mask) if m]
        label = f"frame {f}: " + " and ".join(
            ([f"pose of {_names(posed)}"] if posed else []) + (["root position"] if with_root else []))
        rows.append({"frame": f, "euler": euler[i], "mask": mask, "point_bone": 0 if with_root else -1,
                     "point": root_head[i] if with_root else np.zeros(3), "label": label})
    return rows, notes + list(clip.notes)


def _channel(pb) -> str:
    """The rotation channel a pose bone reads in its rotation mode."""
    return {"QUATERNION": "rotation_quaternion", "AXIS_ANGLE": "rotation_axis_angle"}.get(pb.rotation_mode,
                                                                                       "rotation_euler")


def _unused_channels(obj, mapping: dict, by_channel: dict, names: list[str]) -> list[str]:
    """Notes on simulated bones keyed on a rotation channel their rotation mode does not read (Euler keys on a
    quaternion bone): Blender ignores those keys, and so do the pins."""
    notes = []
    for source, target in mapping.items():
        if target not in names or target == names[0]:
            continue
        pb = obj.pose.bones[target]
        ignored = [c for c in ROTATIONS if source in by_channel[c] and c != _channel(pb)]
        if ignored:
            notes.append(f"{target}'s {', '.join(ignored)} keys do nothing: it rotates by {_channel(pb)} "
                         f"({pb.rotation_mode}), so Blender and the pins ignore them")
    return notes


def pin_rows(ref) -> tuple[list[tuple[str, str, str]], str | None]:
    """The sidebar's list, read cheaply on every redraw: (frames, bones, kind) per keyed bone of the pins Action
    and per effector pin; or the reason there are none. The creature's own checks come when it trains."""
    rows = []
    try:
        if ref.pins:
            action = get_action(ref.pins, "reference.pins")
            for bone, frames in sorted(keyed_bones(action, ROTATIONS + ("location",)).items()):
                if not ref.pin_bones or bone in ref.pin_bones:
                    rows.append((", ".join(str(int(round(f))) for f in sorted(frames)), bone, "pose"))
        for i, text in enumerate(ref.effector_pins):
            bone, name, frame = parse_effector_pin(text, f"reference.effector_pins[{i}]")
            rows.append((str(frame), f"{bone or 'effector'} on {name}", "point"))
    except RigDojoError as exc:
        return [], str(exc)
    return rows, None


__all__ = ["attach_pins", "pin_rows"]
