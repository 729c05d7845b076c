"""Aim / look-at: turn a bone so one of its axes points at a target (a head, eyes, a hand-held light)."""

from __future__ import annotations

import numpy as np

from ...rewards import RewardState
from .reach import ReachTask

_AXES = {"X": (0, 1.0), "Y": (1, 1.0), "Z": (2, 1.0), "-X": (0, -1.0), "-Y": (1, -1.0), "-Z": (2, -1.0)}


class AimTask(ReachTask):
    """The effector's ``look_axis`` aims at the target; success within ``tolerance`` radians."""

    def _extra_obs_dim(self) -> int:
        return 12

    def look(self) -> tuple[np.ndarray, np.ndarray]:
        """Origin (the effector's head) and unit direction of the aiming axis, both (n, 3)."""
        column, sign = _AXES[self.spec.look_axis]
        origin = self.normalise(self.bone_point(self.spec.effector, "head"))
        return origin, self.effector_axes()[:, :, column] * sign

    def _task_state(self, state: RewardState):
        if self._trajectory is not None:
            self.target = self._target_at(self.t)
        origin, direction = self.look()
        state.look_axis_pos, state.look_axis_dir, state.look_target = origin, direction, self.target
        to_target = self.target - origin
        to_target /= np.maximum(np.linalg.norm(to_target, axis=1, keepdims=True), 1e-9)
        error = np.arccos(np.clip(np.sum(direction * to_target, axis=1), -1.0, 1.0))
        return error < self.tolerance, error

    def _obs_layout(self) -> list[tuple[str, int, str]]:
        if self.spec.observation != "full":
            return [("to_target_minus_axis", 3, "the unit direction to the target minus the aiming axis")]
        return [("origin", 3, "the effector's head, rig-normalised"),
                ("axis", 3, f"the effector's aiming axis ({self.spec.look_axis}) as a world unit vector"),
                ("target", 3, "the target's position, rig-normalised"),
                ("to_target", 3, "the target minus the effector's head")]

    def _compact_obs(self) -> np.ndarray:
        origin, direction = self.look()
        to_target = self.target - origin
        return to_target / np.maximum(np.linalg.norm(to_target, axis=1, keepdims=True), 1e-9) - direction

    def _task_obs(self) -> np.ndarray:
        origin, direction = self.look()
        to_target = self.target - origin
        return np.concatenate([origin, direction, self.target, to_target], axis=1)
