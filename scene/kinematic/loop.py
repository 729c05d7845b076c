"""Blender in the loop, the parent's side: train and bake a selection the twin refuses (the bpy edge).

``train --blender-workers N`` reads the task like any training, but keeps a selection the twin
cannot reproduce (an unsupported constraint, a driver reading a moving bone, IK) instead of
refusing it; a copy of the .blend goes to N worker processes (``envs/kinematic/blender_loop.py``,
``loop_worker.py``), local or Ray actors when a Ray address is given, and the environments are
stepped by Blender itself. ``bake --blender-loop`` rolls the policy out with Blender evaluating
the rig in this process, keys the controls into a new Action and verifies it like every bake.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

from ...envs.kinematic.blender_loop import BlenderRig, BlenderWorkers, WorkerSetup, loop_env_factory
from ..pose import PoseBackup


def loop_spec(config, frames: tuple[int, int] | None = None):
    """The task ``config`` describes, kept even when the twin cannot reproduce it (see ``spec.rig.notes``)."""
    from ...errors import RigDojoError
    from .task_extract import task_from_config

    if config.rig.location_controls:
        raise RigDojoError(f"Blender in the loop moves rotation controls only; the location controls "
                           f"{', '.join(config.rig.location_controls)} are trained in the twin (leave out "
                           "--blender-workers and verify the selection)")
    spec = task_from_config(config, frames=frames, strict=False)
    # the workers evaluate the rig as it is at their frame: the twin's per-frame animation is not theirs
    return dataclasses.replace(spec, rig=spec.rig.without_animation())


def worker_command() -> list[str]:
    """How to start a Blender worker here: this Python when it has the bpy module (``python -m rig_dojo``), else
    this Blender binary in background mode."""
    from ...envs.kinematic.blender_loop import BOOT

    binary = getattr(bpy.app, "binary_path", "")
    if not binary or Path(binary).resolve() == Path(sys.executable).resolve() or "python" in Path(binary).name:
        return [sys.executable, "-c", BOOT]
    return [binary, "-b", "--python-expr", BOOT]


def worker_setup(spec, blend: str) -> WorkerSetup:
    rig = spec.rig
    return WorkerSetup(blend=blend, rig=rig.rig_name, controls=list(rig.controls),
                       control_modes=list(rig.control_modes), tracked=list(rig.tracked),
                       nodes=list(rig.node_names), frame=bpy.context.scene.frame_current)


def save_copy(folder: Path) -> str:
    """The open scene as it is now (saved or not), written to ``folder`` for the workers."""
    from ...headless import quiet_blender

    path = Path(folder) / "loop_scene.blend"
    with quiet_blender():
        bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    return str(path)


def start_workers(spec, count: int, address: str | None = None) -> BlenderWorkers:
    """``count`` Blender workers holding a copy of the open scene: local processes, or Ray actors on the cluster
    at ``address`` (``auto``, HOST:PORT or ray://HOST:PORT)."""
    from ...errors import RigDojoError

    if count < 1:
        raise RigDojoError("--blender-workers N: N is 1 or more")
    folder = Path(tempfile.mkdtemp(prefix="rig_dojo_loop_"))
    setup = worker_setup(spec, save_copy(folder))
    if address:
        from ...agents.sweep import connect

        connect(address, None, folder)
        return BlenderWorkers.on_ray(count, setup)
    return BlenderWorkers.local(count, setup, worker_command())


def blender_loop(config, workers: int, address: str | None = None, frames=None):
    """``(make_env, spec, close)``: environments of ``config``'s task stepped by ``workers`` Blender processes."""
    spec = loop_spec(config, frames)
    pool = start_workers(spec, workers, address)

    def close() -> None:
        pool.close()
        if address:
            import ray

            ray.shutdown()

    return loop_env_factory(spec, pool), spec, close, pool


class InProcessWorkers:
    """The worker's evaluation run on the open scene in this process (for the bake's rollout); the rig's pose
    is put back by the caller."""

    def __init__(self, spec):
        from .loop_worker import RigEvaluator

        setup = worker_setup(spec, "")
        self.evaluator = RigEvaluator(None, setup.rig, setup.controls, setup.control_modes, setup.tracked,
                                      setup.nodes, None)

    def evaluate(self, rot3: np.ndarray, all_nodes: bool = False) -> np.ndarray:
        return self.evaluator.evaluate(np.asarray(rot3, dtype=np.float64), all_nodes)[0]


def bake_in_loop(policy_path, frames=None, action_name=None, reduce_degrees=None, replace_action=None, config=None,
                 seed: int = 0, undo_push: bool = False):
    """Bake a policy trained with Blender in the loop: the rollout is evaluated by Blender (this process), the
    controls are keyed into a new Action and Blender's re-evaluation of the Action is checked against the
    rollout, as every bake is."""
    from ...agents.policy_file import load_policy
    from ...envs.kinematic.family import rollout
    from ...envs.kinematic.tasks import TASKS
    from ..bake import bake_pose_rotations, verify_bake
    from ..families import bake_frames, provenance
    from .bake import BakeReport

    began = time.perf_counter()
    policy = load_policy(policy_path)
    config = config or policy.config
    start, end = bake_frames(frames)
    spec = loop_spec(config, frames=(start, end))
    obj = bpy.data.objects[config.rig.rig]
    evaluator = InProcessWorkers(spec)
    base = TASKS[spec.kind]
    cls = type(f"BlenderLoop{base.__name__}", (base,), {"_make_twin": lambda self, rig: BlenderRig(evaluator, rig)})
    backup = PoseBackup(obj, spec.rig.controls)
    try:
        task = cls(spec, n_envs=1, seed=seed, discrete=bool(config.rig.discrete))
        policy.check_compatible(task)
        angles, points = rollout(policy, task, end - start)
    finally:
        backup.restore()
        bpy.context.view_layer.update()
    frame_list = list(range(start, end + 1))
    result = bake_pose_rotations(obj, spec.rig.controls, frame_list, angles, action_name=action_name,
                                 replace_action=replace_action, reduce_degrees=reduce_degrees,
                                 provenance={**provenance(policy_path, policy, config, seed), "blender_in_the_loop": 1},
                                 undo_push=undo_push)
    check = verify_bake(obj, spec.rig.controls, frame_list, angles, tracked=(spec.rig.tracked, points))
    world_scale = float(np.cbrt(abs(np.linalg.det(spec.rig.object_matrix[:3, :3])))) or 1.0
    position = float(getattr(check, "position_error", 0.0) or 0.0) / (spec.rig.chain_length * world_scale)
    return BakeReport(action=result.action_name, frames=(start, end), keys_written=result.keys_written,
                      seconds=time.perf_counter() - began, reduction_ratio=result.reduction_ratio,
                      rotation_error_degrees=float(check), effector_error=position, policy_sha256=policy.sha256)
