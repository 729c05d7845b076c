"""Bake a trained policy onto the rig and verify it in Blender (the bpy edge).

What was trained is what is baked: the policy is rolled out deterministically in
the twin, the control rotations are keyed into a new Action, and Blender then
re-evaluates the Action and reports the worst error against the rollout.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import bpy
import numpy as np

from ...agents.policy_file import load_policy
from ...envs import kinematics as km
from ...envs.kinematic.bake_options import KEYS_ON as KEYS_ON_CHOICES
from ...envs.kinematic.family import rollout_channels
from ...envs.kinematic.tasks import make_task
from ...errors import RigDojoError
from .. import anim
from ..bake import BAKE_INFO_KEY, PROVENANCE_KEY, _escape, _idprop_value, _undo_push, bake_pose_rotations, \
    new_layer_on, verify_bake
from ..families import bake_frames, provenance as bake_provenance
from ..pose import PoseBackup
from .parity import check_twin
from .task_extract import task_from_config
from .verify import set_control_locations, set_control_rotations


BAKE_POSITION_TOLERANCE = 0.01  # chain lengths: a bake whose Blender re-evaluation is further off fails (exit 3)
KEYS_ON = tuple(choice[0] for choice in KEYS_ON_CHOICES)  # the family's "Keys On" bake option


@dataclass
class BakeReport:
    action: str
    frames: tuple[int, int]
    keys_written: int
    seconds: float
    reduction_ratio: float
    rotation_error_degrees: float  # worst, baked Action in Blender vs the rollout (keys on the trained controls)
    effector_error: float  # worst tracked-bone position error, chain lengths
    policy_sha256: str
    keys_on: str = "trained"  # what was keyed: the trained controls, or a limb's IK or FK side
    keyed_bones: list[str] = field(default_factory=list)
    keyed_properties: list[str] = field(default_factory=list)  # switch properties keyed to match
    worst_bone: str = ""
    tolerance: float = BAKE_POSITION_TOLERANCE
    joint_error: float = 0.0  # IK/FK conversions: worst elbow/knee distance between the two sides, chain lengths
    notes: list[str] = field(default_factory=list)  # where the keys went, the target used, the twin check
    pins: dict = field(default_factory=dict)  # the pins' measures of the baked Action, evaluated in Blender

    @property
    def ok(self) -> bool:
        return self.effector_error <= self.tolerance

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}

    def format(self) -> str:
        onto = "" if self.keys_on == "trained" else f" onto the {self.keys_on.upper()} controls"
        verdict = "" if self.ok else (f"; FAILS the {self.tolerance:g} chain-length tolerance (worst at "
                                      f"{self.worst_bone})")
        rotation = f"worst rotation error {self.rotation_error_degrees:.2g} deg, " if self.keys_on == "trained" else \
            f"middle joint (elbow/knee) within {self.joint_error:.2g} chain lengths of the trained side's, "
        keyed = ", ".join(self.keyed_bones + self.keyed_properties)
        text = (f"baked {self.keys_written:,d} keys{onto}{f' ({keyed})' if keyed else ''} "
                f"into Action {self.action!r} (frames {self.frames[0]}-{self.frames[1]}) in {self.seconds:.2f} s; "
                f"verified in Blender: {rotation}worst effector error {self.effector_error:.2g} chain lengths"
                + verdict + "".join(f"\n  {note}" for note in self.notes))
        if self.pins:
            from ...envs.reference.pins import format_measures

            text += "\nin Blender, " + format_measures(self.pins)
        return text


def bake_policy(policy_path: str | Path, frames: tuple[int, int] | None = None, action_name: str | None = None,
                reduce_degrees: float | None = None, replace_action: str | None = None, config=None,
                seed: int = 0, undo_push: bool = False, keys_on: str = "trained", target: str = "") -> BakeReport:
    """Roll ``policy_path`` out over ``frames`` on the rig its config names, bake and verify.

    ``config`` overrides the config stored in the policy file (e.g. another target
    object); the policy must still fit the task, or ``RigDojoError`` says what differs.
    ``keys_on``: ``"trained"`` keys the controls the policy moved (rotations and locations);
    ``"ik"`` or ``"fk"`` converts a Rigify limb's motion onto that side (``scene.kinematic.limb_bake``).
    ``target``: an object to reach (aim at, grasp) instead of the config's target or region; without it a
    region-trained policy reaches a random point of the region drawn with ``seed``. The target used is
    recorded in the Action's provenance and said in the report.
    """
    from . import limb_bake

    if keys_on not in KEYS_ON:
        raise RigDojoError(f"keys on {keys_on!r}: choose one of {', '.join(KEYS_ON)}")
    began = time.perf_counter()
    policy = load_policy(policy_path)
    config = copy.deepcopy(config or policy.config)
    if target:
        config.rig.target, config.rig.region = target, ""
    start, end = bake_frames(frames)
    spec = task_from_config(config, frames=(start, end))
    # train only what verifies, bake only what verifies (DESIGN.md rule 8): NotExactError before any rollout
    twin = check_twin(config, spec, Path(policy_path).parent)
    task = make_task(spec, n_envs=1, seed=seed, discrete=bool(config.rig.discrete))
    policy.check_compatible(task)
    angles, locations, points = rollout_channels(policy, task, end - start)
    obj = bpy.data.objects[config.rig.rig]
    rig = spec.rig
    frame_list = list(range(start, end + 1))
    used = target_used(spec, task, seed)
    provenance = {**bake_provenance(policy_path, policy, config, seed, target=used), "keys_on": keys_on}
    notes = [*([describe_target(used)] if used["kind"] != "none" else []), *(f"warning: {w}" for w in spec.warnings),
             twin.line, *twin.notes]
    trained = list(dict.fromkeys(rig.controls + rig.location_controls))
    found = limb_bake.limb_of(obj, trained)
    if keys_on != "trained":
        if found is None:
            raise RigDojoError(f"keys on {keys_on.upper()}: the trained controls ({', '.join(trained)}) are not the FK "
                               "or IK controls of one Rigify limb; bake on the trained controls")
        if found[1] == keys_on:
            keys_on = "trained"  # already that side
    world_scale = float(np.cbrt(abs(np.linalg.det(rig.object_matrix[:3, :3])))) or 1.0
    unit = rig.chain_length * world_scale
    if keys_on == "trained":  # keys on exactly the controls the policy moved (the rig's switches as they are)
        report = _with_pins(_bake_trained(obj, spec, frame_list, angles, locations, points, action_name,
                                          replace_action, reduce_degrees, provenance, undo_push, {}, policy, began,
                                          unit), obj, spec, task)
        report.notes += notes
        return report
    limb, side = found

    def pose_frame(k: int) -> bool:
        if k >= len(frame_list):
            return False
        if rig.controls:
            set_control_rotations(obj, rig, km.euler_xyz_to_matrix(angles[k]))
        if rig.location_controls:
            set_control_locations(obj, rig, locations[k])
        return True

    backup = PoseBackup(obj, trained)
    try:
        conv = limb_bake.convert(obj, limb, side, keys_on, pose_frame)
    finally:
        backup.restore()
    if undo_push:
        _undo_push("Before Rig Dojo bake")
    action, previous, layered = _new_action(obj, action_name, frame_list)
    keys = limb_bake.write_conversion(obj, action, np.array(frame_list, dtype=np.float64), conv)
    _record(action, obj, list(conv.bones), frame_list, keys, previous, provenance, layered)
    notes = [_where(action.name, layered), *notes]
    if undo_push:
        _undo_push("Rig Dojo bake")
    check = limb_bake.check_positions(obj, np.array(frame_list, dtype=np.float64), rig.tracked, points)
    return _with_pins(BakeReport(action=action.name, frames=(start, end), keys_written=keys, notes=notes,
                                 seconds=time.perf_counter() - began, reduction_ratio=1.0, rotation_error_degrees=0.0,
                                 effector_error=check.position_error / unit, policy_sha256=policy.sha256,
                                 keys_on=keys_on, keyed_bones=list(conv.bones),
                                 keyed_properties=[f'{b}["{p}"]' for b, p in conv.props], worst_bone=check.worst_bone,
                                 joint_error=conv.joint_error * world_scale / unit), obj, spec, task,
                      stand_in=dict(zip(limb.fk, limb.org)) if keys_on == "ik" else None)


def _with_pins(report: BakeReport, obj, spec, task, stand_in: dict[str, str] | None = None) -> BakeReport:
    """``report`` with the pins' measures of the baked motion as Blender evaluates it (when there are pins);
    ``stand_in``: pinned controls the baked motion does not run through -> the bones that show them."""
    if spec.pins is not None:
        from .pins import measure_in_blender

        report.pins = measure_in_blender(obj, spec.pins, task.unit, stand_in)
    return report


def target_used(spec, task, seed: int) -> dict:
    """What the rollout reached for, for the provenance: the object (still or animated), or the random point of
    a region (world coordinates) and the seed that drew it."""
    tgt = spec.target
    if tgt.kind == "region":
        point = np.asarray(task.target[0], dtype=np.float64) * task.unit + task.origin
        return {"kind": "region_point", "region": tgt.name, "point": [round(float(v), 6) for v in point],
                "seed": int(seed)}
    if not tgt.name:  # no target object: pins alone say where the motion goes
        return {"kind": "none"}
    return {"kind": "animated_object" if tgt.kind == "trajectory" else "object", "object": tgt.name}


def describe_target(used: dict) -> str:
    if used["kind"] == "region_point":
        x, y, z = used["point"]
        return (f"target: a random point ({x:.3f}, {y:.3f}, {z:.3f}) of the region {used['region']!r} (seed "
                f"{used['seed']}; bake --target OBJECT to choose one)")
    return f"target: {'the animated object' if used['kind'] == 'animated_object' else 'the object'} {used['object']!r}"


def _new_action(obj, name: str | None, frame_list):
    """A new Action on ``obj`` over its animation (``scene.bake.new_layer_on``: the user's Action moves to an NLA
    track below, untouched); returns it, the previous Action's name (or None) and where the keys went."""
    return new_layer_on(obj, name or f"{obj.name}_dojo_bake", (float(frame_list[0]), float(frame_list[-1])))


def _where(action: str, layered: str) -> str:
    return f"keys: in the new Action {action!r}" + (f", {layered}" if layered else "") + "; one undo reverts the bake"


def _record(action, obj, bones, frame_list, keys, previous: str | None, provenance, layered: str = "") -> None:
    action[BAKE_INFO_KEY] = {
        "object": obj.name, "bones": list(bones), "frame_start": float(frame_list[0]),
        "frame_end": float(frame_list[-1]), "frames": len(frame_list), "keys_written": int(keys),
        "previous_action": previous or "", "layered": layered,
        "baked_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    action[PROVENANCE_KEY] = _idprop_value(dict(provenance))


def _bake_trained(obj, spec, frame_list, angles, locations, points, action_name, replace_action, reduce_degrees,
                  provenance, undo_push, props, policy, began, unit) -> BakeReport:
    """Keys on the controls the policy moved: rotations (``scene.bake``), locations and the limb's switch."""
    from . import limb_bake

    rig = spec.rig
    f = np.array(frame_list, dtype=np.float64)
    keys, ratio, rotation_error = 0, 1.0, 0.0
    if rig.controls:
        result = bake_pose_rotations(obj, rig.controls, frame_list, angles, action_name=action_name,
                                     replace_action=replace_action, reduce_degrees=reduce_degrees,
                                     provenance=provenance, undo_push=undo_push, layer=True)
        action = bpy.data.actions[result.action_name]
        keys, ratio, layered = result.keys_written, result.reduction_ratio, result.layered
    else:
        if replace_action is not None:
            raise RigDojoError("Replace an Action keys rotation curves; these controls move by location: bake into a "
                               "new Action")
        if undo_push:
            _undo_push("Before Rig Dojo bake")
        action, previous, layered = _new_action(obj, action_name, frame_list)
        _record(action, obj, rig.location_controls, frame_list, 0, previous, provenance, layered)
    for b, name in enumerate(rig.location_controls):
        for index in range(3):
            curve = anim.ensure_fcurve(action, obj, f'pose.bones["{_escape(name)}"].location', index,
                                       group_name=name)
            keys += anim.write_keys(curve, f, locations[:, b, index])
    keys += limb_bake.write_props(obj, action, f, props)
    info = action.get(BAKE_INFO_KEY)
    if info is not None:
        info["keys_written"] = int(keys)
    if rig.controls:
        rotation_error = float(verify_bake(obj, rig.controls, frame_list, angles))
    check = limb_bake.check_positions(obj, f, rig.tracked, points)
    return BakeReport(action=action.name, frames=(int(frame_list[0]), int(frame_list[-1])), keys_written=keys,
                      seconds=time.perf_counter() - began, reduction_ratio=ratio,
                      rotation_error_degrees=rotation_error, effector_error=check.position_error / unit,
                      policy_sha256=policy.sha256, keys_on="trained",
                      keyed_bones=list(dict.fromkeys(rig.controls + rig.location_controls)),
                      keyed_properties=[f'{b}["{p}"]' for b, p in props], worst_bone=check.worst_bone,
                      notes=[f"keys: in the Action {action.name!r}, whose rotation curves of these bones were replaced"
                             if replace_action is not None else _where(action.name, layered)])
