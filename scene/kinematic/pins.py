"""Read a kinematic task's pins and style clip from the scene (the bpy edge), once, into plain data.

``[reference]`` (``envs.reference.settings.ReferenceConfig``) says which Action holds the pinned poses,
which keyed frames and bones count, which objects the effector is pinned to at which frames, and which
Action is the style clip. Everything is checked here, with one clear error each: an Action that is not in
the file or keys none of the controls, a pin on a bone outside the selection, a frame that is not keyed
or lies outside the frame range, a clip shorter than one control step.
"""

from __future__ import annotations

import bpy
import numpy as np

from ...envs import kinematics as km
from ...envs import rotations
from ...envs.reference.bone_map import resolve_map
from ...envs.reference.pins import EFFECTOR, POSE, PinSet, parse_effector_pin
from ...envs.reference.style import StyleReference
from ...errors import RigDojoError
from ..reference import bad_key, get_action, keyed_bones, object_position, pin_selection, sample_action


def _keyed_controls(obj, action, controls: list[str], reference, what: str) -> tuple[dict[str, list[int]], list[str]]:
    """``{control: keyed frames}`` of the controls ``action`` keys (through the bone map), and notes on the
    bones it keys that are not controls. RigDojoError when it keys none of the controls."""
    keyed = keyed_bones(action)
    mapping = resolve_map(keyed, obj.pose.bones.keys(), reference.bone_map, prefer=controls)
    out: dict[str, list[int]] = {}
    for source, frames in keyed.items():
        target = mapping.get(source)
        if target in controls:
            out[target] = sorted({int(round(f)) for f in frames})
    if not out:
        keys = ", ".join(sorted(keyed)[:6]) + (" ..." if len(keyed) > 6 else "") if keyed else "nothing"
        if not keyed:  # say what it does key: a pin is a rotation
            other = keyed_bones(action, ("location", "scale"))
            if other:
                keys = f"no bone's rotation (only the location or scale of {', '.join(sorted(other)[:6])})"
        raise RigDojoError(f"{what}: the Action {action.name!r} has no keys on the controls "
                           f"({', '.join(controls)}); it keys {keys}. Key the controls' rotations, map its bones onto "
                           "them with reference.bone_map (JSON, the sidebar's Bone Map), or pick the Action that does")
    bad = bad_key(action, [s for s in keyed if mapping.get(s) in controls])
    if bad is not None:
        raise RigDojoError(f"{what}: the Action {action.name!r} has a key that is not a usable number ({bad}); fix "
                           "that key")
    ignored = sorted(s for s in keyed if mapping.get(s) not in controls)
    notes = [f"keys on {', '.join(ignored[:6])}{' ...' if len(ignored) > 6 else ''} are not pins (not controls)"] \
        if ignored else []
    return out, notes


def read_pins(ref, obj, rig_spec, frames: tuple[int, int], effector: str, tolerance: float) -> PinSet | None:
    """The pins ``ref`` (a ``ReferenceConfig``) describes on the armature ``obj`` over ``frames`` (None without
    any); ``effector``: the bone effector pins pin by default; ``tolerance``: theirs (chain lengths).

    The episode starts at ``frames[0]`` in the pose the pins Action has there (``start_rotations``).
    """
    if not (ref.pins or ref.effector_pins):
        return None
    start, end = frames
    controls, tracked = list(rig_spec.controls), list(rig_spec.tracked)
    for i, bone in enumerate(ref.pin_bones):
        if bone not in controls:
            raise RigDojoError(f"reference.pin_bones[{i}]: {bone!r} is not in the selection (controls: "
                               f"{', '.join(controls)}); add it to the controls or take it off the pin bones")
    soft = {int(f) for f in ref.soft_frames}
    rows: list[dict] = []
    notes: list[str] = []
    start_rotations = rotations.matrix_to_quaternion(km.euler_xyz_to_matrix(rig_spec.control_rest_euler))
    if ref.pins:
        action = get_action(ref.pins, "reference.pins")
        keyed, notes = _keyed_controls(obj, action, controls, ref, "reference.pins")
        pinned, all_frames, picked = pin_selection(ref, action, keyed, controls)
        if picked is not None:
            chosen = picked
        else:
            chosen = [f for f in all_frames if start <= f <= end]
            outside = [f for f in all_frames if not start <= f <= end]
            if outside:
                notes.append(f"keys at frame {', '.join(map(str, outside))} are outside the frame range "
                             f"{start}-{end}: not pins")
            if not chosen:
                raise RigDojoError(f"reference.pins: no keyed frame of {action.name!r} "
                                   f"({', '.join(map(str, all_frames))}) is in the frame range {start}-{end}; "
                                   "set the scene's frame range to cover the keys")
        bad = [f for f in chosen if not start <= f <= end]
        if bad:
            raise RigDojoError(f"reference.pin_frames: frame {', '.join(map(str, bad))} is outside the frame range "
                               f"{start}-{end}")
        clip = sample_action(obj, action, [start, *chosen], controls, point_names=[effector],
                             bone_map=ref.bone_map, prefer=controls, keys_on=controls)
        notes += clip.notes
        start_rotations = clip.rotations[0]
        for i, f in enumerate(chosen, start=1):
            mask = np.array([c in pinned and f in keyed.get(c, ()) for c in controls])
            rows.append({"frame": f, "kind": POSE, "rotations": clip.rotations[i], "mask": mask,
                         "bone": effector, "position": clip.points[i, 0], "object": ""})
    for i, text in enumerate(ref.effector_pins):
        what = f"reference.effector_pins[{i}]"
        bone, name, frame = parse_effector_pin(text, what)
        bone = bone or effector
        if bone not in tracked:
            raise RigDojoError(f"{what}: {bone!r} is not in the selection (tracked: {', '.join(tracked)}); add it to "
                               "the tracked bones")
        if not start <= frame <= end:
            raise RigDojoError(f"{what}: frame {frame} is outside the frame range {start}-{end}")
        rows.append({"frame": frame, "kind": EFFECTOR, "rotations": np.tile([1.0, 0, 0, 0], (len(controls), 1)),
                     "mask": np.zeros(len(controls), bool), "bone": bone,
                     "position": object_position(name, frame, what), "object": name})
    scene = bpy.context.scene
    return PinSet(
        frame_start=int(start), frames=np.array([r["frame"] for r in rows], dtype=np.int64),
        kinds=[r["kind"] for r in rows], pose_bones=controls,
        rotations=np.array([r["rotations"] for r in rows]).reshape(len(rows), len(controls), 4),
        mask=np.array([r["mask"] for r in rows], dtype=bool).reshape(len(rows), len(controls)),
        point_bone=[r["bone"] for r in rows], point=["tail"] * len(rows),
        position=np.array([r["position"] for r in rows], dtype=np.float64).reshape(len(rows), 3),
        hard=np.array([bool(ref.hard) and r["frame"] not in soft for r in rows], dtype=bool),
        weight=np.full(len(rows), float(ref.pin_weight)), objects=[r["object"] for r in rows],
        start_rotations=start_rotations, angle_tolerance=float(ref.angle_tolerance),
        position_tolerance=float(ref.position_tolerance), effector_tolerance=float(tolerance),
        source=ref.pins, metres_per_unit=float(scene.unit_settings.scale_length or 1.0), notes=notes)


def read_style(ref, obj, rig_spec) -> StyleReference | None:
    """The style clip ``ref.style`` names, sampled on the controls it keys (None without one)."""
    if not ref.style:
        return None
    controls = list(rig_spec.controls)
    action = get_action(ref.style, "reference.style")
    keyed, notes = _keyed_controls(obj, action, controls, ref, "reference.style")
    bones = [c for c in controls if c in keyed]
    first = min(min(f) for f in keyed.values())
    last = max(max(f) for f in keyed.values())
    clip = sample_action(obj, action, range(first, last + 1), bones, bone_map=ref.bone_map, prefer=controls)
    clip.check_length(1.0, "reference.style: the style clip")
    if len(clip.frames) < 3:
        raise RigDojoError(f"reference.style: the style clip {action.name!r} spans {len(clip.frames)} frames "
                           f"({first}-{last}); its velocities and accelerations need at least 3; key it over more "
                           "frames")
    return StyleReference(source=action.name, bones=bones, angles=clip.euler_xyz(bones), fps=clip.fps,
                          notes=notes + clip.notes)


def apply_start_pose(rig_spec, pins: PinSet | None) -> None:
    """Start episodes in the pose the pins Action has at the first frame (the controls' rest for the twin)."""
    if pins is None or not pins.source:
        return
    m = rotations.quaternion_to_matrix(pins.start_rotations)
    rig_spec.control_rest_euler = km.matrix_to_euler(m).reshape(rig_spec.control_rest_euler.shape)


def pin_rows(ref, obj, controls: list[str], effector: str) -> tuple[list[dict], str | None]:
    """What the sidebar lists: one row per pin (frame, bones, object, weight, hard) read cheaply from the
    Action's keys (no sampling), and the problem that stops pins from being read, if any."""
    rows: list[dict] = []
    try:
        if ref.pins:
            action = get_action(ref.pins, "reference.pins")
            keyed, _ = _keyed_controls(obj, action, controls, ref, "reference.pins")
            pinned = list(ref.pin_bones) or list(keyed)
            frames = sorted({f for b in pinned for f in keyed.get(b, ())})
            if ref.pin_frames:
                frames = [f for f in frames if f in {int(x) for x in ref.pin_frames}]
            for f in frames:
                rows.append({"frame": f, "bones": [b for b in pinned if f in keyed.get(b, ())], "object": "",
                             "weight": ref.pin_weight, "hard": ref.hard and f not in ref.soft_frames})
        for i, text in enumerate(ref.effector_pins):
            bone, name, frame = parse_effector_pin(text, f"reference.effector_pins[{i}]")
            rows.append({"frame": frame, "bones": [bone or effector], "object": name,
                         "weight": ref.pin_weight, "hard": ref.hard and frame not in ref.soft_frames})
    except RigDojoError as exc:
        return rows, str(exc)
    return sorted(rows, key=lambda r: r["frame"]), None


def measure_in_blender(obj, pins: PinSet, unit: float, stand_in: dict[str, str] | None = None) -> dict:
    """The pins' measures (``envs.reference.pins.measure_pins``) of the motion the rig has now, as Blender
    evaluates it at each pin's frame (after a bake: the baked Action); the current frame is restored.

    ``stand_in``: pinned controls the motion no longer runs through -> the bone that shows where they would be
    (after a bake onto a Rigify limb's IK side: each FK control -> its ORG bone, which follows whichever side
    is on). Such a control's rotation is read as the basis that would put it where its stand-in is."""
    from ...envs.reference.pins import measure_pins
    from ..pose import frames_preserved, to_numpy

    stand_in = stand_in or {}
    achieved = np.zeros((len(pins), len(pins.pose_bones), 4))
    points = np.zeros((len(pins), 3))
    with frames_preserved() as scene:
        for k, frame in enumerate(pins.frames):
            scene.frame_set(int(frame))
            ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
            for b, name in enumerate(pins.pose_bones):
                basis, _ = km.normalize_axes(_basis_shown(ev, name, stand_in) if name in stand_in else
                                             to_numpy(ev.pose.bones[name].matrix_basis))
                achieved[k, b] = rotations.matrix_to_quaternion(basis[:3, :3])
            pb = ev.pose.bones[pins.point_bone[k]]
            local = np.array(pb.tail if pins.point[k] == "tail" else pb.head)
            points[k] = (to_numpy(ev.matrix_world) @ np.append(local, 1.0))[:3]
    return measure_pins(pins, achieved, points, unit)


def _basis_shown(ev, name: str, stand_in: dict[str, str]) -> np.ndarray:
    """The basis of the pose bone ``name`` that would give it its stand-in's pose (its parent's too, when that is
    stood in for): pose = parent pose @ (parent rest^-1 @ rest) @ basis, solved for basis."""
    from ..pose import to_numpy

    pb = ev.pose.bones[name]

    def pose_of(bone) -> np.ndarray:
        return to_numpy(ev.pose.bones[stand_in.get(bone.name, bone.name)].matrix)

    rest = to_numpy(pb.bone.matrix_local)
    if pb.parent is None:
        return np.linalg.inv(rest) @ pose_of(pb)
    relative = np.linalg.inv(to_numpy(pb.parent.bone.matrix_local)) @ rest
    return np.linalg.inv(relative) @ np.linalg.inv(pose_of(pb.parent)) @ pose_of(pb)
