"""Reward terms of pins and style (an animator's keys as teacher). No bpy.

They read the ``pin_*`` and ``style_*`` fields of :class:`RewardState`, which any task with pins or a
style clip fills (the kinematic tasks do; ``envs/reference/`` has the data). A pin pays at its frame,
a sharp kernel of its error minus ``approach`` times the error left (a wide basin: far from the pin the
kernel is flat). Before the pin, while it is the next one, the error closed each step is paid as it
closes: potential-based shaping with the trainer's own discount (``Φ - discount * Φ'``, Φ the weighted
error), whose discounted sum is zero, so it tells the policy at once how it is doing without preferring
any path or any timing between pins (Ng, Harada and Russell 1999); the path is left to the task's other
terms (smoothness, limits, keep-away, style).
"""

from __future__ import annotations

import numpy as np

from .registry import Param, reward_term
from .state import RewardState


def _pin(error, due, potential, potential_prev, discount: float, scale: float, approach: float) -> np.ndarray:
    # at the pin's frame: the sharp kernel, and the error left at approach per unit (the wide basin: far off
    # the kernel is flat); before it, that cost is paid out as the error closes (shaping, which adds nothing
    # to a discounted return, so it changes no preference of path or timing, only when the policy hears)
    settle = due * (np.exp(-error / scale) - approach * error)
    return settle + approach * (potential_prev - discount * potential)


@reward_term(
    "pin_pose",
    "Reward for matching each keyed pose at its frame, and for closing in on the next one",
    requires=("pin_pose_error", "pin_pose_due", "pin_pose_potential", "pin_pose_potential_prev"),
    params=[
        Param("scale", "float", 0.02, min=1e-6, max=3.15,
              description="Joint-angle error (radians) at which a pin's reward falls to 1/e"),
        Param("approach", "float", 10.0, min=0.0, max=1000.0,
              description="Cost per radian of error left at the pin's frame, paid out per radian closed before it"),
    ],
)
def pin_pose(state: RewardState, scale: float, approach: float) -> np.ndarray:
    return _pin(state.pin_pose_error, state.pin_pose_due, state.pin_pose_potential, state.pin_pose_potential_prev,
                state.discount, scale, approach)


@reward_term(
    "pin_effector",
    "Reward for the pinned bone being on its target at the pin's frame, and for closing in on it",
    requires=("pin_effector_error", "pin_effector_due", "pin_effector_potential", "pin_effector_potential_prev"),
    params=[
        Param("scale", "float", 0.01, min=1e-6, max=10.0,
              description="Distance (rig units) at which a pin's reward falls to 1/e"),
        Param("approach", "float", 10.0, min=0.0, max=1000.0,
              description="Cost per rig unit of error left at the pin's frame, paid out per unit closed before it"),
    ],
)
def pin_effector(state: RewardState, scale: float, approach: float) -> np.ndarray:
    return _pin(state.pin_effector_error, state.pin_effector_due, state.pin_effector_potential,
                state.pin_effector_potential_prev, state.discount, scale, approach)


def _distances(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(n, m)`` Euclidean distances between the rows of ``x (n, F)`` and ``y (n|1, m, F)``."""
    diff = x[:, None, :] - y
    return np.sqrt(np.einsum("nmf,nmf->nm", diff, diff))


@reward_term(
    "style",
    "Reward for joint speeds and accelerations distributed like the style clip's (energy distance)",
    requires=("style_features", "style_reference", "style_history", "style_history_mask"),
)
def style(state: RewardState) -> np.ndarray:
    # The per-step split of the energy distance (envs/reference/style.py): summed over an episode of H
    # steps it is -H times the energy distance between the episode's windows and the reference's.
    x = np.asarray(state.style_features, dtype=np.float64)
    ref = np.asarray(state.style_reference, dtype=np.float64)
    attract = _distances(x, ref[None]).mean(axis=1)
    history = np.asarray(state.style_history, dtype=np.float64)
    mask = np.asarray(state.style_history_mask, dtype=np.float64)
    repel = (_distances(x, history) * mask).sum(axis=1) / max(history.shape[1], 1)
    spread = _distances(ref, ref[None]).mean()  # E|Y - Y'|: makes the episode's sum -H * ED exactly
    return -2.0 * attract + 2.0 * repel + spread
