"""``BatchedTask``: the base of every task, an SB3 ``VecEnv`` implemented natively over a batched twin.

No bpy. A subclass keeps its state in ``(n_envs, ...)`` arrays and implements four
hooks; this base does what SB3 and Gymnasium expect around them: auto-reset with
``terminal_observation`` and ``TimeLimit.truncated``, Monitor-style ``episode``
stats, seeding, and a single-environment ``gymnasium.Env`` view (:class:`GymView`).

Hooks (all batched, no loop over environments):

- ``_reset_envs(idx)``: start new episodes for the environments ``idx``.
- ``_step(action) -> (reward (n,), terminated (n,) bool, arrays)``: advance every
  environment; ``arrays`` maps info keys to ``(n,)`` values; it must contain
  ``success``, ``error`` and ``limit_violation``.
- ``_observe() -> (n, obs_dim) float32``.
- ``control_angles() -> (n, n_controls, 3)``: the control bones' local Euler XYZ
  angles (for previews and bake); ``preview_frame()`` defaults to them.

Two ways to step: SB3's ``step`` (``step_async`` + ``step_wait``: one info dict per
environment) and ``step_arrays(actions)``, the same step as arrays
(``agents.step_arrays.StepArrays``: no Python object per environment), which our PPO
(``agents/ppo.py``) uses. Both go through the same hooks.

Infos carry ``success``, ``error`` and ``limit_violation`` every step, plus the
per-term rewards (``terms``) at an episode's end; ``term_means()`` gives the
running means of every term at any time.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv

from ..agents.step_arrays import StepArrays


class BatchedTask(VecEnv):
    """Common VecEnv machinery; see the module docstring for the hooks a task implements."""

    render_mode = None  # tasks do not render; the viewport preview plays the rollout on the rig
    #: information keys every task reports per step
    INFO_KEYS = ("success", "error", "limit_violation")

    def __init__(self, n_envs: int, observation_space: gym.Space, action_space: gym.Space,
                 episode_steps: int, seed: int | None = None):
        if n_envs < 1:
            raise ValueError("n_envs must be at least 1")
        super().__init__(n_envs, observation_space, action_space)
        self.episode_steps = int(episode_steps)
        self.rng = np.random.default_rng(seed)
        self._actions: np.ndarray | None = None
        self._ep_return = np.zeros(n_envs)
        self._ep_length = np.zeros(n_envs, dtype=np.int64)
        self._ep_terms: dict[str, np.ndarray] = {}
        self._t0 = time.time()
        self.curriculum_stage = 0
        self.control_names: list[str] = []

    # ---- hooks ----------------------------------------------------------------------
    def _reset_envs(self, idx: np.ndarray) -> None:
        raise NotImplementedError

    def _step(self, action: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        raise NotImplementedError

    def _observe(self) -> np.ndarray:
        raise NotImplementedError

    def control_angles(self) -> np.ndarray:
        raise NotImplementedError

    def preview_rollout(self, act) -> np.ndarray:
        """One episode of environment 0 under ``act(obs) -> actions``, without the auto-reset, as
        ``(T, k, 3)`` preview frames from the start pose to the last step (the live preview plays it)."""
        self._reset_envs(np.arange(self.num_envs))
        frames = [np.array(self.preview_frame()[0], dtype=np.float64)]
        for _ in range(self.episode_steps):
            _, terminated, _ = self._step(np.asarray(act(self._observe())))
            frames.append(np.array(self.preview_frame()[0], dtype=np.float64))
            if terminated[0]:
                break
        return np.stack(frames)

    def preview_frame(self) -> np.ndarray:
        """``(n, k, 3)``: what the live preview shows of each environment now (its family's edge
        puts one such frame on the rig or camera); the control bones' angles unless a task says
        otherwise."""
        return self.control_angles()

    def term_means(self) -> dict[str, float]:
        """The running mean of every reward term (the task's ``composer``, when it has one)."""
        composer = getattr(self, "composer", None)
        return composer.means() if composer is not None else {}

    def last_terms(self) -> dict[str, np.ndarray]:
        """The weighted per-term rewards of the last step, ``{name: (n,)}`` (``self._last_terms``)."""
        return getattr(self, "_last_terms", {})

    def signature(self) -> dict:
        """What a policy must match to run on this task (checked when loading a policy)."""
        return {
            "observation_shape": list(self.observation_space.shape or ()),
            "action_space": _describe_space(self.action_space),
            "controls": list(self.control_names),
        }

    def policy_layout(self) -> dict[str, Any]:
        """What a policy's observation and action mean, as JSON (policy files record it; the ONNX export's
        sidecar shows it to game engines): ``observation`` (named slices ``start``/``size`` with their
        meaning) and ``joints`` (one entry per action dimension). A task that knows more says more."""
        obs_n = int(np.prod(self.observation_space.shape or (1,)))
        return {"observation": [{"name": "observation", "start": 0, "size": obs_n, "meaning": "the task's state"}],
                "joints": [{"name": name, "control": name} for name in self.control_names]}

    def advance_curriculum(self, success_rate: float) -> bool:
        """Move to the next curriculum stage when ``success_rate`` passes the threshold."""
        return False

    # ---- VecEnv ---------------------------------------------------------------------
    def seed(self, seed: int | None = None):
        """Reseed now (the next ``reset`` and every episode after it are reproducible)."""
        self.rng = np.random.default_rng(seed)
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def reset(self) -> np.ndarray:
        self._ep_return[:] = 0
        self._ep_length[:] = 0
        self._ep_terms = {}
        self._reset_envs(np.arange(self.num_envs))
        return self._observe()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        assert self._actions is not None, "step_async first"
        reward, terminated, arrays = self._step(self._actions)
        self._actions = None
        self._ep_return += reward
        self._ep_length += 1
        truncated = (self._ep_length >= self.episode_steps) & ~terminated
        done = terminated | truncated
        obs = self._observe()
        columns = [arrays[k].tolist() for k in self.INFO_KEYS]
        infos: list[dict[str, Any]] = [dict(zip(self.INFO_KEYS, row)) for row in zip(*columns)]
        if done.any():
            idx = np.flatnonzero(done)
            terms = self.last_terms()
            elapsed = round(time.time() - self._t0, 6)
            for i in idx:
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = bool(truncated[i])
                infos[i]["episode"] = {"r": float(self._ep_return[i]), "l": int(self._ep_length[i]), "t": elapsed}
                infos[i]["terms"] = {k: float(v[i]) for k, v in terms.items()}
            self._ep_return[idx] = 0
            self._ep_length[idx] = 0
            self._reset_envs(idx)
            obs = self._observe()
        return obs, reward.astype(np.float32), done, infos

    def stagger_episodes(self) -> None:
        """Give the current episodes random time limits in [1, episode_steps] (as rsl_rl does), so the
        environments do not all end together and a trainer learning from a few steps per environment
        sees every phase of an episode in each rollout. Only these episodes are shortened."""
        self._ep_length[:] = self.rng.integers(0, self.episode_steps, self.num_envs)

    def step_arrays(self, actions: np.ndarray) -> StepArrays:
        """One step of every environment as arrays (auto-reset as ``step_wait``; see ``StepArrays``).

        Also sums each reward term over the episode, so an ended episode reports its per-term sums.
        """
        reward, terminated, arrays = self._step(np.asarray(actions))
        terminated = np.asarray(terminated, dtype=bool)
        self._ep_return += reward
        self._ep_length += 1
        terms = self.last_terms()
        for name, value in terms.items():
            sums = self._ep_terms.get(name)
            if sums is None:
                sums = self._ep_terms[name] = np.zeros(self.num_envs)
            sums += value
        truncated = (self._ep_length >= self.episode_steps) & ~terminated
        obs = self._observe()
        idx = np.flatnonzero(terminated | truncated)
        out = StepArrays(obs=obs, reward=np.asarray(reward, dtype=np.float32), terminated=terminated,
                         truncated=truncated, info=dict(arrays), done_idx=idx, terminal_obs=obs[idx],
                         episode_return=self._ep_return[idx], episode_length=self._ep_length[idx],
                         episode_terms={k: v[idx] for k, v in self._ep_terms.items()}, term_names=tuple(terms))
        if idx.size:
            self._ep_return[idx] = 0
            self._ep_length[idx] = 0
            for sums in self._ep_terms.values():
                sums[idx] = 0
            self._reset_envs(idx)
            out.obs = self._observe()
        return out

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        result = getattr(self, method_name)(*method_args, **method_kwargs)
        return [result] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._get_indices(indices))


class TaskMix:
    """Several batched tasks (different rigs or creatures, one observation and action layout) stepped as one
    batch of ``sum(n_envs)`` environments: the arrays interface our PPO takes (``reset``, ``step_arrays``,
    ``stagger_episodes``). A family's mix adds what it records (``signature``, ``policy_layout``)."""

    def __init__(self, tasks: list):
        self.tasks = tasks
        self.num_envs = sum(t.num_envs for t in tasks)
        self.observation_space, self.action_space = tasks[0].observation_space, tasks[0].action_space
        self._bounds = np.cumsum([0] + [t.num_envs for t in tasks])
        self.control_names: list[str] = []

    def reset(self) -> np.ndarray:
        return np.concatenate([t.reset() for t in self.tasks])

    def stagger_episodes(self) -> None:
        for t in self.tasks:
            t.stagger_episodes()

    def step_arrays(self, actions: np.ndarray) -> StepArrays:
        parts = [t.step_arrays(actions[lo:hi]) for t, lo, hi in zip(self.tasks, self._bounds[:-1], self._bounds[1:])]
        cat = np.concatenate
        names = parts[0].term_names
        return StepArrays(
            obs=cat([p.obs for p in parts]), reward=cat([p.reward for p in parts]),
            terminated=cat([p.terminated for p in parts]), truncated=cat([p.truncated for p in parts]),
            info={k: cat([p.info[k] for p in parts]) for k in parts[0].info},
            done_idx=cat([p.done_idx + lo for p, lo in zip(parts, self._bounds)]),
            terminal_obs=cat([p.terminal_obs for p in parts]), episode_return=cat([p.episode_return for p in parts]),
            episode_length=cat([p.episode_length for p in parts]),
            episode_terms={k: cat([p.episode_terms.get(k, np.zeros(len(p.done_idx))) for p in parts])
                           for k in names if all(k in p.episode_terms for p in parts)},
            term_names=names)


def _describe_space(space: gym.Space) -> dict:
    if isinstance(space, gym.spaces.Box):
        return {"type": "Box", "shape": list(space.shape)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": [int(v) for v in space.nvec]}
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n)}
    return {"type": type(space).__name__}


class GymView(gym.Env):
    """A single-environment ``gymnasium.Env`` over a task built with ``n_envs=1`` (no auto-reset)."""

    metadata = {"render_modes": []}

    def __init__(self, task: BatchedTask):
        if task.num_envs != 1:
            raise ValueError("GymView needs a task with n_envs=1")
        self.task = task
        self.observation_space = task.observation_space
        self.action_space = task.action_space
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.task.seed(seed)
        self._steps = 0
        self.task._reset_envs(np.arange(1))
        return self.task._observe()[0], {}

    def step(self, action):
        reward, terminated, arrays = self.task._step(np.asarray(action)[None])
        self._steps += 1
        info = {k: arrays[k][0].item() for k in BatchedTask.INFO_KEYS}
        info["terms"] = {k: float(v[0]) for k, v in self.task.last_terms().items()}
        truncated = self._steps >= self.task.episode_steps and not bool(terminated[0])
        return self.task._observe()[0], float(reward[0]), bool(terminated[0]), truncated, info
