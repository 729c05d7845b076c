"""Deterministic evaluation of a policy on a task: success, final error, jerk, joint-limit violations."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import RigDojoError
from .algorithms import task_actions
from .config import TrainConfig


@dataclass(frozen=True)
class Evaluation:
    """Results over ``episodes`` deterministic episodes.

    success_rate: fraction of episodes whose last step reports ``success``.
    final_error: mean ``error`` at the last step (chain-length units).
    mean_jerk: mean |third finite difference| of the control angles over time
      (radians per step cubed; per step, not per second: the task has no frame rate).
    limit_violation_total / limit_violation_mean: ``limit_violation`` summed over all
      steps and episodes / averaged per step.
    mean_return: mean undiscounted episode return.
    """

    episodes: int
    success_rate: float
    final_error: float
    mean_jerk: float
    limit_violation_total: float
    limit_violation_mean: float
    mean_return: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def evaluate(policy: Any, make_env: Callable[[TrainConfig, int, int], Any], config: TrainConfig,
             episodes: int = 16, seed: int = 10_000, env: Any = None) -> Evaluation:
    """Run ``episodes`` deterministic episodes, one per environment, and measure them.

    :param policy: anything with SB3's ``predict(obs, deterministic=True)``: a trained model
        or a :class:`~rig_dojo.agents.policy_file.PolicyFile` (evaluation needs nothing else)
    :param make_env: the task factory ``make_env(config, n_envs, seed)``
    :param config: the configuration the task is built from
    :param episodes: how many episodes (K); all run side by side, so each counts once
    :param seed: seed of the evaluation task (different from training's by default)
    :param env: an already built task with ``episodes`` environments (then make_env is not called)
    """
    if episodes <= 0:
        raise RigDojoError(f"evaluation needs at least one episode (got {episodes})")
    env = env if env is not None else make_env(config, episodes, seed)
    if hasattr(policy, "check_compatible"):
        policy.check_compatible(env)
    n = env.num_envs
    obs = env.reset()
    angles = [np.array(env.control_angles(), dtype=np.float64)]
    returns = np.zeros(n)
    violations = np.zeros(n)
    steps = np.zeros(n, dtype=np.int64)
    finished = np.zeros(n, dtype=bool)
    success = np.zeros(n, dtype=bool)
    final_error = np.zeros(n)
    jerks: list[float] = []
    end_step = np.full(n, -1)
    length = int(getattr(env, "episode_steps", config.rig.episode_length))
    max_steps = length * 4 + 10  # the contract's fixed length; a guard against a task that never ends
    for t in range(max_steps):
        actions, _ = policy.predict(obs, deterministic=True)
        obs, rewards, dones, infos = env.step(task_actions(actions, env.action_space))
        live = ~finished
        returns[live] += np.asarray(rewards)[live]
        steps[live] += 1
        for i in np.flatnonzero(live):
            violations[i] += float(infos[i].get("limit_violation", 0.0))
        for i in np.flatnonzero(np.asarray(dones) & live):
            finished[i] = True
            success[i] = bool(infos[i].get("success", False))
            final_error[i] = float(infos[i].get("error", np.nan))
            end_step[i] = t
        if finished.all():
            break
        # after an auto-reset the angles are the next episode's: only frames before the end count
        angles.append(np.array(env.control_angles(), dtype=np.float64))
    else:
        raise RigDojoError(f"evaluation: episodes did not end within {max_steps} steps; "
                           "check rig.episode_length")
    frames = np.stack(angles)  # (T, n, controls, 3)
    for i in range(n):
        series = frames[: end_step[i] + 1, i]
        if len(series) >= 4 and series[0].size:  # location-only controls have no angles to measure
            jerks.append(float(np.abs(np.diff(series, n=3, axis=0)).mean()))
    return Evaluation(
        episodes=n,
        success_rate=float(success.mean()),
        final_error=float(final_error.mean()),
        mean_jerk=float(np.mean(jerks)) if jerks else 0.0,
        limit_violation_total=float(violations.sum()),
        limit_violation_mean=float(violations.sum() / max(steps.sum(), 1)),
        mean_return=float(returns.mean()),
    )
