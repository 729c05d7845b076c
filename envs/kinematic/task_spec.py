"""``TaskSpec``: a task as plain data (the rig, its targets, props, reward terms), saved without pickle.

Made by ``scene.kinematic.task_extract`` from a Blender scene (the bpy edge) or by hand in
tests; read by the tasks (``envs.kinematic.reach``, ``envs.kinematic.aim``, ``envs.kinematic.grasp``) on a
worker with no Blender.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from ...errors import RigDojoError
from ...rewards import TermConfig
from ..reference.pins import PinSet
from ..reference.style import StyleReference
from ..spec_file import read_spec, write_spec
from .rig_spec import RigSpec

TASK_KINDS = ("reach", "aim", "grasp")
TARGET_KINDS = ("fixed", "trajectory", "region")


@dataclass
class TargetSpec:
    """Where the target is, in world space.

    ``fixed``: ``position``. ``trajectory``: ``trajectory`` (F, 3), one row per frame
    from ``frame_start`` (an animated object sampled from Blender's evaluation).
    ``region``: random points in the oriented box ``region_center`` ± ``region_half``
    along the columns of ``region_rot``.
    """

    kind: str = "fixed"
    position: np.ndarray = field(default_factory=lambda: np.zeros(3))
    axes: np.ndarray = field(default_factory=lambda: np.eye(3))
    trajectory: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    region_center: np.ndarray = field(default_factory=lambda: np.zeros(3))
    region_half: np.ndarray = field(default_factory=lambda: np.zeros(3))
    region_rot: np.ndarray = field(default_factory=lambda: np.eye(3))
    frame_start: int = 1
    name: str = ""


@dataclass
class CurriculumStage:
    region_scale: float = 1.0  # fraction of the region's size targets are drawn from
    tolerance: float = 0.02  # success distance, chain lengths


@dataclass
class TaskSpec:
    kind: str
    rig: RigSpec
    effector: str  # a tracked bone: the hand that reaches, the head that aims, the palm that grasps
    target: TargetSpec
    terms: list[TermConfig]
    effector_point: str = "tail"  # "head" or "tail" of the effector bone
    episode_steps: int = 50
    max_delta: float = 0.1  # radians a joint may turn per step at full action
    discrete_delta: float = 0.05  # radians per step for discrete actions
    tolerance: float = 0.02  # success distance (chain lengths) or angle (radians) for aim
    default_limit: float = float(np.pi)  # radians, for joint axes the rig does not limit
    curriculum: list[CurriculumStage] = field(default_factory=list)
    curriculum_threshold: float = 0.8
    look_axis: str = "Y"  # aim: the effector axis that must point at the target
    fingertips: list[str] = field(default_factory=list)  # grasp: tracked bones whose tails touch the object
    palm_axis: str = "-Z"
    object_points: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # grasp: surface samples
    object_center: np.ndarray = field(default_factory=lambda: np.zeros(3))
    sphere_obstacles: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    fps: float = 24.0
    observation: str = "full"  # "compact": joints and one 3-vector to the goal (small enough for tabular learning);
    # "chain": rig-agnostic joint tokens (envs/kinematic/chains.py), what the policy library reads
    location_range: float = 0.0  # chain lengths each way a location control without Limit Location may move
    warnings: list[str] = field(default_factory=list)  # said at extraction, not errors (a region out of reach)
    pins: PinSet | None = None  # keyed poses / effector positions the motion must pass through (envs/reference)
    style: StyleReference | None = None  # a clip whose joint velocities and accelerations the motion should match
    discount: float = 1.0  # the trainer's gamma (shaping terms use it; set from the config)
    pin_guide: bool = True  # with pose pins, an action turns the joints on top of the straight way to the next pin

    def validate(self) -> None:
        if self.kind not in TASK_KINDS:
            raise RigDojoError(f"unknown task {self.kind!r}; choose one of {', '.join(TASK_KINDS)}")
        if self.effector not in self.rig.tracked:
            raise RigDojoError(f"the effector {self.effector!r} is not a tracked bone "
                               f"(tracked: {', '.join(self.rig.tracked)}); add it to the tracked bones")
        if self.target.kind not in TARGET_KINDS:
            raise RigDojoError(f"unknown target kind {self.target.kind!r}")
        if self.target.kind == "trajectory" and len(self.target.trajectory) == 0:
            raise RigDojoError("the animated target has no sampled frames; check the frame range")
        if self.target.kind == "region" and not np.all(self.target.region_half > 0):
            raise RigDojoError("the region object has no volume; scale it so it has a size on every axis")
        if not self.terms or not any(t.enabled for t in self.terms):
            raise RigDojoError("no reward terms are enabled; add at least one term")
        for arr, what in ((self.target.position, "target"), (self.target.trajectory, "target trajectory")):
            if not np.all(np.isfinite(arr)):
                raise RigDojoError(f"the {what} has NaN or infinite coordinates")
        if self.kind == "grasp":
            missing = [f for f in self.fingertips if f not in self.rig.tracked]
            if not self.fingertips or missing:
                raise RigDojoError("a grasp needs fingertip bones among the tracked bones"
                                   + (f"; not tracked: {', '.join(missing)}" if missing else ""))
            if len(self.object_points) == 0:
                raise RigDojoError("the grasp object has no faces to grip; pick a mesh with faces")
        if self.observation not in ("full", "compact", "chain"):
            raise RigDojoError(f"unknown observation mode {self.observation!r}; use 'full', 'compact' or 'chain'")
        from .location import check_bounds

        check_bounds(self.rig, self.location_range)
        if self.episode_steps < 1 or self.max_delta <= 0:
            raise RigDojoError("episode length and joint speed must be positive")
        if self.pins is not None:
            self.pins.validate(self.episode_steps)
            missing = sorted({b for b in self.pins.pose_bones if b not in self.rig.controls}
                             | {b for b in self.pins.point_bone if b not in self.rig.tracked})
            if missing:
                raise RigDojoError(f"pins on {', '.join(map(repr, missing))}, which the selection does not have "
                                   f"(controls: {', '.join(self.rig.controls)}; tracked: {', '.join(self.rig.tracked)})")

    # ---- file ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        meta = {f.name: getattr(self, f.name) for f in fields(self)
                if f.name not in ("rig", "target", "terms", "object_points", "object_center", "sphere_obstacles",
                                  "curriculum", "pins", "style")}
        meta["terms"] = [asdict(t) for t in self.terms]
        meta["curriculum"] = [asdict(c) for c in self.curriculum]
        meta["target"] = {k: v for k, v in asdict(self.target).items() if not isinstance(v, np.ndarray)}
        arrays = self.rig.to_arrays("rig.")
        for k, v in asdict(self.target).items():
            if isinstance(v, np.ndarray):
                arrays["target." + k] = v
        for k in ("object_points", "object_center", "sphere_obstacles"):
            arrays[k] = getattr(self, k)
        if self.pins is not None:
            arrays.update(self.pins.to_arrays("pins."))
        if self.style is not None:
            arrays.update(self.style.to_arrays("style."))
        return write_spec(path, "kinematic", meta, arrays)

    @classmethod
    def load(cls, path: str | Path) -> "TaskSpec":
        meta, data = read_spec(path, "kinematic")
        try:
            rig = RigSpec.from_arrays(data, "rig.")
            target = TargetSpec(**meta.pop("target"), **{k[7:]: data[k] for k in data if k.startswith("target.")})
            extra = {k: data[k] for k in ("object_points", "object_center", "sphere_obstacles")}
            meta["terms"] = [TermConfig(**t) for t in meta["terms"]]
            meta["curriculum"] = [CurriculumStage(**c) for c in meta["curriculum"]]
            pins = PinSet.from_arrays(data, "pins.") if "pins.meta" in data else None
            style = StyleReference.from_arrays(data, "style.") if "style.meta" in data else None
            return cls(rig=rig, target=target, pins=pins, style=style, **meta, **extra)
        except (ValueError, KeyError, TypeError) as exc:
            raise RigDojoError(f"{path} is not a Rig Dojo task file ({exc}); extract it again") from None


def default_terms(kind: str) -> list[TermConfig]:
    """The reward terms each task starts with (the family's registry entry holds them)."""
    from . import default_terms as family_default_terms

    return family_default_terms(kind)
