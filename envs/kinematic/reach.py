"""Reach: bring the effector to a target — a fixed object, an animated object, or random points in a region."""

from __future__ import annotations

import numpy as np

from ...rewards import RewardState
from .task import KinematicTask


class ReachTask(KinematicTask):
    """The effector (a tracked bone's tail or head) reaches the target.

    Success: the effector within ``tolerance`` chain lengths of the target. For an
    animated target the episode follows the sampled frames (step t is frame
    ``frame_start + t``), so a bake lines up with the target's animation.
    """

    def __init__(self, spec, n_envs: int = 64, seed: int | None = None, discrete: bool = False):
        target = spec.target
        self._trajectory = None
        super().__init__(spec, n_envs, seed, discrete)
        if target.kind == "trajectory":
            self._trajectory = self.normalise(np.asarray(target.trajectory, dtype=np.float64))
        self._fixed = self.normalise(np.asarray(target.position, dtype=np.float64))
        self.target = np.tile(self._fixed, (n_envs, 1))
        self._sample_targets(np.arange(n_envs))

    def _extra_obs_dim(self) -> int:
        return 12

    def _target_at(self, t: np.ndarray) -> np.ndarray:
        traj = self._trajectory
        return traj[np.minimum(t, len(traj) - 1)]

    def _sample_targets(self, idx: np.ndarray) -> None:
        if not hasattr(self, "target"):
            return  # during the base constructor
        kind = self.spec.target.kind
        if kind == "trajectory":
            self.target[idx] = self._target_at(self.t[idx])
        elif kind == "region":
            tgt = self.spec.target
            scale = self.stage.region_scale if self.stage else 1.0
            u = self.rng.uniform(-1.0, 1.0, size=(len(idx), 3)) * tgt.region_half * scale
            self.target[idx] = self.normalise(tgt.region_center + u @ tgt.region_rot.T)
        else:
            self.target[idx] = self._fixed

    def _task_state(self, state: RewardState):
        if self._trajectory is not None:
            self.target = self._target_at(self.t)
        eff = self.effector_pos()
        state.effector_pos, state.target_pos = eff, self.target
        if "effector_axes" in self._needed or "target_axes" in self._needed:
            state.effector_axes = self.effector_axes()
            state.target_axes = np.broadcast_to(self.spec.target.axes, (self.num_envs, 3, 3))
        error = np.linalg.norm(eff - self.target, axis=1)
        return error < self.tolerance, error

    def _obs_layout(self) -> list[tuple[str, int, str]]:
        if self.spec.observation != "full":
            return [("target_minus_effector", 3, "the target minus the effector, rig-normalised")]
        return [("effector", 3, "the effector's position, rig-normalised"),
                ("target", 3, "the target's position, rig-normalised"),
                ("target_minus_effector", 3, "the target minus the effector"),
                ("target_velocity", 3, "the target's movement over the next step (0 for a still target)")]

    def _compact_obs(self) -> np.ndarray:
        return self.target - self.effector_pos()

    def _task_obs(self) -> np.ndarray:
        eff = self.effector_pos()
        if self._trajectory is not None:
            velocity = self._target_at(self.t + 1) - self._target_at(self.t)
        else:
            velocity = np.zeros_like(eff)
        return np.concatenate([eff, self.target, self.target - eff, velocity], axis=1)
