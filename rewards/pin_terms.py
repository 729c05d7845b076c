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


def _rho(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(n, m)`` bounded distances ``1 - exp(-|x - y|² / 2)`` between the rows of ``x (n, F)`` and ``y (n|1, m, F)``."""
    diff = x[:, None, :] - y
    return 1.0 - np.exp(-0.5 * np.einsum("nmf,nmf->nm", diff, diff))


def style_step_cost(x: np.ndarray, reference: np.ndarray, history: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``(n,)`` this step's share of the style measure (``envs/reference/style.py``): over an episode of ``H``
    steps (``history``: ``(n, H, F)`` the earlier windows where ``mask`` is 1) the shares add up to ``H``
    times the distance between the episode's windows ``x`` and the reference's."""
    x = np.asarray(x, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    history = np.asarray(history, dtype=np.float64)
    attract = _rho(x, ref[None]).mean(axis=1)
    repel = (_rho(x, history) * np.asarray(mask, dtype=np.float64)).sum(axis=1) / max(history.shape[1], 1)
    spread = _rho(ref, ref[None]).mean()  # E ρ(Y, Y'): makes the shares add up to the distance exactly
    return 2.0 * attract - 2.0 * repel - spread


@reward_term(
    "style",
    "Reward for joint speeds and accelerations distributed like the style clip's (energy distance)",
    requires=("style_features", "style_reference", "style_history", "style_history_mask", "style_cost_before"),
)
def style(state: RewardState) -> np.ndarray:
    # Potential-based with the trainer's discount γ, the potential being minus the episode's style cost so
    # far (S): γ Φ_t - Φ_{t-1} = (1 - γ) S_{t-1} - γ c_t. The discounted return is then minus H times the
    # distance (times γ^H) whatever the timing: paying each step's share as it comes, undiscounted, would
    # favour motions whose costly windows come late (measured: the arm rushed off its first key).
    cost = style_step_cost(state.style_features, state.style_reference, state.style_history, state.style_history_mask)
    gamma = state.discount
    return (1.0 - gamma) * np.asarray(state.style_cost_before, dtype=np.float64) - gamma * cost
