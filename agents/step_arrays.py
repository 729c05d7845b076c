"""``StepArrays``: one step of every environment as arrays, the trainer's fast path (no torch, no bpy).

SB3's ``VecEnv.step`` returns a list of one info dict per environment; with thousands of
environments building those dicts costs more than the twin's step. A task that implements
``step_arrays(actions) -> StepArrays`` (``envs.base.BatchedTask`` does) hands the same
information over as a few arrays; :class:`VecEnvArrays` makes one from any other VecEnv
(slowly, through its info dicts), so the lean PPO (``agents/ppo.py``) takes either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: the per-step information every task reports (``envs.base.BatchedTask.INFO_KEYS``)
INFO_KEYS = ("success", "error", "limit_violation")


@dataclass
class StepArrays:
    """What one step of ``n`` environments returns; ``k`` of them ended an episode (auto-reset done).

    obs: ``(n, obs_dim)`` float32, the next observation (a new episode's first one where one ended).
    reward: ``(n,)`` float32.
    terminated / truncated: ``(n,)`` bool; truncated = the time limit ended the episode.
    info: ``{key: (n,)}`` this step's information (``success``, ``error``, ``limit_violation``, ...).
    done_idx: ``(k,)`` the environments whose episode ended at this step.
    terminal_obs: ``(k, obs_dim)`` their last observation (before the reset).
    episode_return / episode_length: ``(k,)`` the ended episodes' undiscounted return and length.
    episode_terms: ``{term: (k,)}`` the ended episodes' per-term sums of weighted rewards.
    term_names: the names of the task's reward terms (before any episode has ended too).
    """

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    info: dict[str, np.ndarray]
    done_idx: np.ndarray
    terminal_obs: np.ndarray
    episode_return: np.ndarray
    episode_length: np.ndarray
    episode_terms: dict[str, np.ndarray] = field(default_factory=dict)
    term_names: tuple[str, ...] = ()  # the task's reward terms (known from the first step on)

    @property
    def dones(self) -> np.ndarray:
        return self.terminated | self.truncated


class VecEnvArrays:
    """``step_arrays`` for a VecEnv that only has SB3's ``step`` (one info dict per environment).

    Reads ``terminal_observation`` and ``TimeLimit.truncated`` as SB3 writes them and sums the
    ``terms`` an info carries into per-episode sums. A Python loop over environments: the slow
    path, for tasks written outside ``BatchedTask`` (tests' fixtures, wrappers).
    """

    def __init__(self, env: Any):
        self.env = env
        n = env.num_envs
        self._return = np.zeros(n)
        self._length = np.zeros(n, dtype=np.int64)
        self._terms: list[dict[str, float]] = [{} for _ in range(n)]

    def reset(self) -> np.ndarray:
        self._return[:] = 0
        self._length[:] = 0
        self._terms = [{} for _ in range(self.env.num_envs)]
        return np.asarray(self.env.reset())

    def step_arrays(self, actions: np.ndarray) -> StepArrays:
        obs, reward, dones, infos = self.env.step(actions)
        reward = np.asarray(reward, dtype=np.float32).reshape(-1)
        dones = np.asarray(dones, dtype=bool).reshape(-1)
        self._return += reward
        self._length += 1
        for i, item in enumerate(infos):
            sums = self._terms[i]
            for name, value in item.get("terms", {}).items():
                sums[name] = sums.get(name, 0.0) + float(value)
        idx = np.flatnonzero(dones)
        truncated = np.zeros(dones.size, dtype=bool)
        truncated[idx] = [bool(infos[i].get("TimeLimit.truncated", False)) for i in idx]
        keys = [k for k in INFO_KEYS if infos and k in infos[0]]
        info = {k: np.array([item.get(k, np.nan) for item in infos]) for k in keys}
        obs = np.asarray(obs)
        terminal = np.stack([np.asarray(infos[i]["terminal_observation"]) for i in idx]) if idx.size \
            else np.zeros((0,) + obs.shape[1:], dtype=obs.dtype)
        names = sorted({name for i in idx for name in self._terms[i]})
        terms = {name: np.array([self._terms[i].get(name, 0.0) for i in idx]) for name in names}
        out = StepArrays(obs=obs, reward=reward, terminated=dones & ~truncated, truncated=truncated, info=info,
                         done_idx=idx, terminal_obs=terminal, episode_return=self._return[idx].copy(),
                         episode_length=self._length[idx].copy(), episode_terms=terms,
                         term_names=tuple(sorted(infos[0].get("terms", {}))) if infos else ())
        self._return[idx] = 0
        self._length[idx] = 0
        for i in idx:
            self._terms[i] = {}
        return out


def arrays_view(env: Any) -> Any:
    """``env`` itself when it steps as arrays, else a :class:`VecEnvArrays` over it."""
    return env if hasattr(env, "step_arrays") else VecEnvArrays(env)
