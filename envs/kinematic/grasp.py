"""Grasp: reach the object, turn the palm to it and close the fingertips onto its surface."""

from __future__ import annotations

import numpy as np

from ...rewards import RewardState
from .task import KinematicTask


class GraspTask(KinematicTask):
    """The palm (the effector) goes to the object, faces it, and every fingertip touches its surface.

    Contact points are the surface samples nearest to each fingertip, so the hand
    may close anywhere on the object. Success: every fingertip within
    ``tolerance`` chain lengths of the surface and the palm facing the object.
    """

    def __init__(self, spec, n_envs: int = 64, seed: int | None = None, discrete: bool = False):
        super().__init__(spec, n_envs, seed, discrete)
        self.points = self.normalise(np.asarray(spec.object_points, dtype=np.float64))
        self.center = self.normalise(np.asarray(spec.object_center, dtype=np.float64))
        self.target = np.tile(self.center, (n_envs, 1))

    def _extra_obs_dim(self) -> int:
        return 6 + 3 * len(self.spec.fingertips)

    def _sample_targets(self, idx: np.ndarray) -> None:
        pass  # the object does not move

    def fingertips(self) -> np.ndarray:
        return np.stack([self.normalise(self.bone_point(f, "tail")) for f in self.spec.fingertips], axis=1)

    def contacts(self, tips: np.ndarray) -> np.ndarray:
        """(n, K, 3): the surface sample nearest to each fingertip."""
        d2 = np.sum((tips[:, :, None, :] - self.points[None, None]) ** 2, axis=-1)
        return self.points[np.argmin(d2, axis=-1)]

    def _palm_axis(self) -> np.ndarray:
        column = "XYZ".index(self.spec.palm_axis[-1])
        sign = -1.0 if self.spec.palm_axis.startswith("-") else 1.0
        return self.effector_axes()[:, :, column] * sign

    def _task_state(self, state: RewardState):
        tips = self.fingertips()
        contacts = self.contacts(tips)
        palm = self.normalise(self.bone_point(self.spec.effector, "head"))
        to_object = self.center - palm
        to_object /= np.maximum(np.linalg.norm(to_object, axis=1, keepdims=True), 1e-9)
        state.effector_pos, state.target_pos = palm, np.broadcast_to(self.center, palm.shape)
        state.fingertip_pos, state.contact_points = tips, contacts
        state.palm_axes, state.palm_target_normal = self.effector_axes(), to_object
        gap = np.linalg.norm(tips - contacts, axis=-1).max(axis=1)
        facing = np.sum(self._palm_axis() * to_object, axis=1)
        return (gap < self.tolerance) & (facing > 0.7), gap

    def _obs_layout(self) -> list[tuple[str, int, str]]:
        if self.spec.observation != "full":
            return [("to_surface", 3, "the mean of each fingertip's nearest object point minus the fingertip")]
        return [("palm_minus_center", 3, "the palm (effector head) minus the object's centre, rig-normalised"),
                ("palm_axis", 3, f"the palm's {self.spec.palm_axis} axis as a world unit vector"),
                ("fingertips_minus_center", 3 * len(self.spec.fingertips),
                 f"each fingertip ({', '.join(self.spec.fingertips)}) minus the object's centre, x y z each")]

    def _compact_obs(self) -> np.ndarray:
        tips = self.fingertips()
        return (self.contacts(tips) - tips).mean(axis=1)

    def _task_obs(self) -> np.ndarray:
        palm = self.normalise(self.bone_point(self.spec.effector, "head"))
        tips = self.fingertips() - self.center
        return np.concatenate([palm - self.center, self._palm_axis(), tips.reshape(self.num_envs, -1)], axis=1)
