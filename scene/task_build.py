"""Every task family from a ``TrainConfig``, read from the open .blend, and baked back (the bpy edge).

- :func:`spec_from_config`: the spec ``envs.training.env_factory`` takes: a ``TaskSpec``
  (reach, aim, grasp), a ``CameraSpec`` (camera) or a ``PhysicsSpec`` (stand,
  locomotion, jump, obstacles).
- :func:`bake_task_policy`: roll a policy file out in its twin over a frame range, key it
  into a new Action and verify the Action in Blender: the rig's control bones
  (``scene.kinematic.bake``), the camera's location/rotation (image error of the subject
  against the rollout) or the creature's root motion and joints (worst bone-position
  error against the simulation).

The sidebar and the command line both call these; bad input raises ``RigDojoError``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import bpy

from ..agents.config import CAMERA_TASKS, KINEMATIC_TASKS, PHYSICS_TASKS
from ..errors import RigDojoError


def task_family(task: str) -> str:
    """``"kinematic"``, ``"camera"`` or ``"physics"``."""
    if task in KINEMATIC_TASKS:
        return "kinematic"
    if task in CAMERA_TASKS:
        return "camera"
    if task in PHYSICS_TASKS:
        return "physics"
    raise RigDojoError(f"unknown task {task!r}; choose one of {', '.join(KINEMATIC_TASKS + CAMERA_TASKS + PHYSICS_TASKS)}")


def camera_frames(config, frames: tuple[int, int] | None = None) -> tuple[int | None, int | None]:
    """The shot's frame range: ``frames``, else ``camera.frame_start/frame_end``, else the scene's (None)."""
    if frames is not None:
        return int(frames[0]), int(frames[1])
    cam = config.camera
    if cam.frame_start or cam.frame_end:
        return int(cam.frame_start), int(cam.frame_end)
    return None, None


def camera_spec_from_config(config, frames: tuple[int, int] | None = None):
    """The camera shot ``config.camera`` describes (``scene.camera.extract.extract_camera_shot``)."""
    from .camera.extract import extract_camera_shot

    cam = config.camera
    start, end = camera_frames(config, frames)
    return extract_camera_shot(camera=cam.camera or None, subject=cam.subject or None, bone=cam.bone,
                               frame_start=start, frame_end=end, region=cam.region or None)


def physics_spec_from_config(config, frames: tuple[int, int] | None = None):
    """The creature ``config.rig`` and ``config.physics`` describe (``scene.physics.extract.extract_physics``).

    ``rig.controls`` lists the bones to simulate (empty: every bone under the root); ``frames``
    (default the scene's range) is where a moving platform is sampled and the clip starts.
    """
    from .physics.extract import extract_physics

    if not config.rig.rig:
        raise RigDojoError("no rig chosen; set rig.rig (the armature object) or --rig")
    ph = config.physics
    return extract_physics(config.rig.rig, root=ph.root or None, bones=list(config.rig.controls) or None,
                           density=float(ph.density), strength=float(ph.strength), friction=float(ph.friction),
                           radius_source=ph.radius_source, radius_ratio=float(ph.radius_ratio),
                           obstacles=list(ph.obstacles) or None, platform=ph.platform or None,
                           frame_range=(int(frames[0]), int(frames[1])) if frames is not None else None)


def spec_from_config(config, frames: tuple[int, int] | None = None):
    """The spec of ``config.task`` read from the open .blend (give it to ``envs.training.env_factory``)."""
    family = task_family(config.task)
    if family == "camera":
        return camera_spec_from_config(config, frames)
    if family == "physics":
        return physics_spec_from_config(config, frames)
    from .kinematic.task_extract import task_from_config

    return task_from_config(config, frames=frames)


def training_report(policy, spec, config) -> dict[str, Any]:
    """Task-specific numbers for summary.json and ``evaluate``: the camera's shot metrics against
    a fixed and a track-to camera; a creature's seconds upright and distance against zero actions."""
    from ..envs import training

    family = task_family(config.task)
    if family == "camera":
        return {"shot": training.camera_report(policy, spec, config)}
    if family == "physics":
        return {"physics": training.physics_report(policy, spec, config)}
    return {}


# ---- bake --------------------------------------------------------------------------------------


def _provenance(policy_path, policy, config, seed: int) -> dict[str, Any]:
    path = Path(policy_path).resolve()
    return {"policy": str(path), "policy_sha256": policy.sha256, "seed": seed, "run_folder": str(path.parent),
            "config": config.to_toml()}


@dataclass
class CameraBakeReport:
    """A baked camera move: what was written, and Blender's verification of it."""

    action: str
    lens_action: str | None
    camera: str
    frames: tuple[int, int]
    keys_written: int
    seconds: float
    image_error: float  # worst subject position in the image, Blender vs rollout (normalised image units)
    position_error: float  # worst camera position difference (scene units)
    worst_frame: float
    frames_compared: int
    shot: dict = field(default_factory=dict)  # framing / occlusion / jerk / collisions of the baked move
    policy_sha256: str = ""
    task: str = "camera"

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        s = self.shot
        return (f"baked {self.keys_written:,d} keys into Action {self.action!r} on camera {self.camera!r} "
                f"(frames {self.frames[0]}-{self.frames[1]}) in {self.seconds:.2f} s; verified in Blender over "
                f"{self.frames_compared} frames: worst image error {self.image_error:.2g}, camera position error "
                f"{self.position_error:.2g}; shot: framing {s.get('framing', float('nan')):.3f}, occlusion "
                f"{s.get('occlusion', float('nan')):.3f}, jerk {s.get('jerk', float('nan')):.3g} rad/s³")


@dataclass
class PhysicsBakeReport:
    """A baked simulation: root motion and joint rotations, and Blender's verification of them."""

    action: str
    rig: str
    frames: tuple[int, int]  # as baked: a creature that falls ends the clip early
    keys_written: int
    seconds: float
    position_error: float  # worst bone head/tail distance, Blender vs simulation (scene units)
    relative_error: float  # position_error / the creature's size
    worst_bone: str
    worst_frame: float
    fell: bool
    root_motion: str
    policy_sha256: str = ""
    task: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        fell = " (it fell; the clip ends there)" if self.fell else ""
        return (f"baked {self.keys_written:,d} keys into Action {self.action!r} on {self.rig!r} (frames "
                f"{self.frames[0]}-{self.frames[1]}{fell}) in {self.seconds:.2f} s; verified in Blender: worst bone "
                f"position error {self.position_error:.2g} ({self.relative_error:.2g} of the creature's size, "
                f"bone {self.worst_bone!r}, frame {self.worst_frame:g})")


def bake_camera_policy(policy_path, frames: tuple[int, int] | None = None, action_name: str | None = None,
                       config=None, undo_push: bool = False) -> CameraBakeReport:
    """Roll a camera policy out over the shot (``frames``, else the config's shot), key the camera into a
    new Action (the old one kept) and verify it with ``world_to_camera_view``."""
    from .camera.extract import bake_camera, verify_camera_bake
    from ..envs.camera.task import shot_metrics
    from ..envs.training import camera_move, load_task_policy

    began = time.perf_counter()
    policy = load_task_policy(policy_path)
    config = config or policy.config
    spec = camera_spec_from_config(config, frames)
    task, move = camera_move(policy, spec, config)
    result = bake_camera(spec.camera_name, move, action_name=action_name,
                         provenance=_provenance(policy_path, policy, config, 0), undo_push=undo_push)
    check = verify_camera_bake(spec.camera_name, spec, move)
    return CameraBakeReport(action=result.action_name, lens_action=result.lens_action_name, camera=spec.camera_name,
                            frames=(int(spec.frame_start), int(spec.frame_end)), keys_written=int(result.keys_written),
                            seconds=time.perf_counter() - began, image_error=float(check.image_error),
                            position_error=float(check.position_error), worst_frame=float(check.worst_frame),
                            frames_compared=int(check.frames_compared), shot=shot_metrics(task, move),
                            policy_sha256=policy.sha256)


def bake_physics_policy(policy_path, frames: tuple[int, int] | None = None, action_name: str | None = None,
                        config=None, seed: int = 0, undo_push: bool = False) -> PhysicsBakeReport:
    """Simulate a physics policy from frame ``frames[0]`` for ``frames[1] - frames[0]`` steps (default the
    scene's range), key root motion and joint rotations into a new Action and verify it in Blender."""
    from .physics.extract import bake_physics, verify_physics_bake
    from .kinematic.bake import bake_frames
    from ..envs.training import load_task_policy, physics_clip

    began = time.perf_counter()
    policy = load_task_policy(policy_path)
    config = config or policy.config
    start, end = bake_frames(frames)
    spec = physics_spec_from_config(config, (start, end))
    task, clip = physics_clip(policy, spec, config, n_steps=end - start, seed=seed)
    obj = bpy.data.objects[spec.rig_name]
    root_motion = config.physics.root_motion
    result = bake_physics(obj, spec, clip.frames, clip.root_world, clip.euler, root_motion=root_motion,
                          action_name=action_name, provenance=_provenance(policy_path, policy, config, seed),
                          undo_push=undo_push)
    check = verify_physics_bake(obj, spec, clip.frames, clip.heads, clip.tails)
    return PhysicsBakeReport(action=result.action_name, rig=obj.name, frames=(int(clip.frames[0]), int(clip.frames[-1])),
                             keys_written=int(result.keys_written), seconds=time.perf_counter() - began,
                             position_error=float(check.position_error),
                             relative_error=float(check.position_error / max(check.size, 1e-12)),
                             worst_bone=check.worst_bone, worst_frame=float(check.worst_frame), fell=bool(clip.fell),
                             root_motion=root_motion, policy_sha256=policy.sha256, task=config.task)


def bake_task_policy(policy_path, frames: tuple[int, int] | None = None, action_name: str | None = None,
                     reduce_degrees: float | None = None, config=None, undo_push: bool = False):
    """Bake any policy file onto what its config names; returns the family's report (``to_dict``, ``format``)."""
    from ..envs.training import load_task_policy

    if not Path(policy_path).is_file():
        raise RigDojoError(f"{policy_path}: no such policy file")
    config = config or load_task_policy(policy_path).config
    family = task_family(config.task)
    if family != "kinematic" and reduce_degrees is not None:
        raise RigDojoError(f"key reduction (--reduce) is for rig bakes; the {config.task} bake keys every frame "
                           "so Blender shows exactly what was simulated")
    if family == "camera":
        return bake_camera_policy(policy_path, frames, action_name, config=config, undo_push=undo_push)
    if family == "physics":
        return bake_physics_policy(policy_path, frames, action_name, config=config, undo_push=undo_push)
    from .kinematic.bake import bake_policy

    return bake_policy(policy_path, frames=frames, action_name=action_name, reduce_degrees=reduce_degrees,
                       config=config, undo_push=undo_push)
