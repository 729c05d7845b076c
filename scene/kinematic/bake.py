"""Bake a trained policy onto the rig and verify it in Blender (the bpy edge).

What was trained is what is baked: the policy is rolled out deterministically in
the twin, the control rotations are keyed into a new Action, and Blender then
re-evaluates the Action and reports the worst error against the rollout.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import bpy
import numpy as np

from ...agents.policy_file import load_policy
from ..bake import bake_pose_rotations, verify_bake
from .task_extract import task_from_config
from ...envs.kinematic.tasks import make_task
from ...envs.kinematic.family import rollout
from ..families import bake_frames, provenance


@dataclass
class BakeReport:
    action: str
    frames: tuple[int, int]
    keys_written: int
    seconds: float
    reduction_ratio: float
    rotation_error_degrees: float  # worst, baked Action in Blender vs the rollout
    effector_error: float  # worst effector position error, chain lengths
    policy_sha256: str

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        return (f"baked {self.keys_written:,d} keys into Action {self.action!r} (frames {self.frames[0]}-"
                f"{self.frames[1]}) in {self.seconds:.2f} s; verified in Blender: worst rotation error "
                f"{self.rotation_error_degrees:.2g} deg, worst effector error {self.effector_error:.2g} chain lengths")


def bake_policy(policy_path: str | Path, frames: tuple[int, int] | None = None, action_name: str | None = None,
                reduce_degrees: float | None = None, replace_action: str | None = None, config=None,
                seed: int = 0, undo_push: bool = False) -> BakeReport:
    """Roll ``policy_path`` out over ``frames`` on the rig its config names, bake and verify.

    ``config`` overrides the config stored in the policy file (e.g. another target
    object); the policy must still fit the task, or ``RigDojoError`` says what differs.
    """
    began = time.perf_counter()
    policy = load_policy(policy_path)
    config = config or policy.config
    start, end = bake_frames(frames)
    spec = task_from_config(config, frames=(start, end))
    task = make_task(spec, n_envs=1, seed=seed, discrete=bool(config.rig.discrete))
    policy.check_compatible(task)
    angles, points = rollout(policy, task, end - start)
    obj = bpy.data.objects[config.rig.rig]
    frame_list = list(range(start, end + 1))
    result = bake_pose_rotations(obj, spec.rig.controls, frame_list, angles, action_name=action_name,
                                 replace_action=replace_action, reduce_degrees=reduce_degrees,
                                 provenance=provenance(policy_path, policy, config, seed), undo_push=undo_push)
    check = verify_bake(obj, spec.rig.controls, frame_list, angles, tracked=(spec.rig.tracked, points))
    world_scale = float(np.cbrt(abs(np.linalg.det(spec.rig.object_matrix[:3, :3])))) or 1.0
    position = float(getattr(check, "position_error", 0.0) or 0.0) / (spec.rig.chain_length * world_scale)
    return BakeReport(action=result.action_name, frames=(start, end), keys_written=result.keys_written,
                      seconds=time.perf_counter() - began, reduction_ratio=result.reduction_ratio,
                      rotation_error_degrees=float(check), effector_error=position, policy_sha256=policy.sha256)
