"""Tabular Q-learning for discrete toy tasks, readable top to bottom (in the spirit of CleanRL).

How observations become table rows
----------------------------------
Each observation dimension ``d`` is clipped to ``[low_d, high_d]`` and cut into ``bins``
equal-width bins. ``low_d, high_d`` are the observation Box bounds, narrowed to
``[-obs_clip, obs_clip]`` (the Box of a twin is often unbounded; rig-normalised
observations live within a few chain lengths). The bin indices of all dimensions
together form one row index (``numpy.ravel_multi_index``), so the table has
``bins ** obs_dims`` rows. That grows fast: keep tasks small (4-6 observations) or use DQN.

How actions become table columns
--------------------------------
``MultiDiscrete([3] * J)`` (per joint: -delta, 0, +delta) is treated as ONE action with
``3 ** J`` values: column ``k`` is ``numpy.ravel_multi_index(per_joint_actions, nvec)``.
``Discrete(n)`` is used as is.

The learner speaks the parts of the Stable-Baselines3 interface the training session
uses: ``learn(total_timesteps, callback, reset_num_timesteps)``, ``predict(obs,
deterministic)``, ``save`` / ``load``, ``num_timesteps``, ``get_env()``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any, BinaryIO

import numpy as np
from gymnasium import spaces

from ..errors import RigDojoError

MAX_TABLE_ENTRIES = 50_000_000  # 200 MB of float32: beyond this tabular learning is the wrong tool


class TabularQLearner:
    """Q-learning with a table over binned observations and joint discrete actions.

    :param env: an SB3 VecEnv with a Box observation space and a MultiDiscrete or Discrete action space
    :param learning_rate: step size alpha, or a schedule ``f(progress_remaining) -> alpha``
    :param gamma: discount factor
    :param bins: bins per observation dimension
    :param obs_clip: observations are clipped to ``[-obs_clip, obs_clip]`` (or the Box bounds when narrower)
    :param epsilon_start: exploration rate at the start (epsilon-greedy)
    :param epsilon_end: exploration rate after ``exploration_fraction`` of the training
    :param exploration_fraction: fraction of the training over which epsilon falls linearly
    :param seed: seed of the exploration random generator
    """

    def __init__(self, env: Any, learning_rate: float | Callable[[float], float] = 0.2, gamma: float = 0.95,
                 bins: int = 8, obs_clip: float = 2.0, epsilon_start: float = 1.0, epsilon_end: float = 0.05,
                 exploration_fraction: float = 0.5, seed: int | None = None):
        from stable_baselines3.common.logger import Logger

        self.observation_space = env.observation_space
        self.action_space = env.action_space
        self.lr_schedule = learning_rate if callable(learning_rate) else (lambda _progress: float(learning_rate))
        self.gamma = float(gamma)
        self.epsilon_start, self.epsilon_end = float(epsilon_start), float(epsilon_end)
        self.exploration_fraction = float(exploration_fraction)
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.env = env
        self.logger = Logger(folder=None, output_formats=[])  # callbacks expect one
        self.num_timesteps = 0
        self._total_timesteps = 0
        self._current_progress_remaining = 1.0
        self._last_obs: np.ndarray | None = None

        # observation bins
        if not isinstance(self.observation_space, spaces.Box) or len(self.observation_space.shape) != 1:
            raise RigDojoError("qlearning needs a flat Box observation space; use dqn for this task")
        low = np.maximum(self.observation_space.low, -obs_clip).astype(np.float64)
        high = np.minimum(self.observation_space.high, obs_clip).astype(np.float64)
        self.bins = int(bins)
        self.low, self.high = low, high
        # actions: one index over all joints
        if isinstance(self.action_space, spaces.MultiDiscrete):
            self.nvec = tuple(int(n) for n in self.action_space.nvec)
        elif isinstance(self.action_space, spaces.Discrete):
            self.nvec = (int(self.action_space.n),)
        else:
            raise RigDojoError("qlearning needs discrete actions (rig.discrete = true)")
        n_states = self.bins ** low.size
        n_actions = int(np.prod(self.nvec))
        if n_states * n_actions > MAX_TABLE_ENTRIES:
            raise RigDojoError(
                f"qlearning table would have {n_states} x {n_actions} entries ({low.size} observations at "
                f"{self.bins} bins, {len(self.nvec)} joints); lower algo.extra.bins or use dqn")
        self.q_table = np.zeros((n_states, n_actions), dtype=np.float32)

    # -- the mapping from observations and actions to table cells ---------------------
    def state_index(self, obs: np.ndarray) -> np.ndarray:
        obs = np.asarray(obs, dtype=np.float64).reshape(-1, self.low.size)
        scaled = (np.clip(obs, self.low, self.high) - self.low) / np.maximum(self.high - self.low, 1e-12)
        cells = np.minimum((scaled * self.bins).astype(np.int64), self.bins - 1)
        return np.ravel_multi_index(cells.T, (self.bins,) * self.low.size)

    def env_action(self, index: np.ndarray) -> np.ndarray:
        if isinstance(self.action_space, spaces.Discrete):
            return index
        return np.stack(np.unravel_index(index, self.nvec), axis=1)

    # -- the SB3-like surface ---------------------------------------------------------------
    def get_env(self) -> Any:
        return self.env

    def set_env(self, env: Any) -> None:
        self.env = env
        self._last_obs = None

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:
        obs = np.asarray(observation)
        single = obs.ndim == 1
        rows = self.state_index(obs)
        greedy = self.q_table[rows].argmax(axis=1)
        if not deterministic:
            explore = self.rng.random(rows.size) < self.epsilon_end
            greedy = np.where(explore, self.rng.integers(0, self.q_table.shape[1], rows.size), greedy)
        actions = self.env_action(greedy)
        return (actions[0] if single else actions), None

    def _update_current_progress_remaining(self, num_timesteps: int, total_timesteps: int) -> None:
        self._current_progress_remaining = 1.0 - float(num_timesteps) / float(max(total_timesteps, 1))

    def epsilon(self) -> float:
        done = 1.0 - self._current_progress_remaining
        fraction = min(1.0, done / max(self.exploration_fraction, 1e-9))
        return self.epsilon_start + fraction * (self.epsilon_end - self.epsilon_start)

    def learn(self, total_timesteps: int, callback: Any = None, reset_num_timesteps: bool = True,
              **_ignored: Any) -> TabularQLearner:
        env = self.env
        if reset_num_timesteps:
            self.num_timesteps = 0
        else:
            total_timesteps += self.num_timesteps
        self._total_timesteps = total_timesteps
        if reset_num_timesteps or self._last_obs is None:
            self._last_obs = env.reset()
        if callback is not None:
            callback.init_callback(self)
            callback.on_training_start(locals(), globals())

        obs = self._last_obs
        while self.num_timesteps < total_timesteps:
            self._update_current_progress_remaining(self.num_timesteps, total_timesteps)
            alpha = float(self.lr_schedule(self._current_progress_remaining))
            epsilon = self.epsilon()

            # 1. act epsilon-greedily
            rows = self.state_index(obs)
            chosen = self.q_table[rows].argmax(axis=1)
            explore = self.rng.random(rows.size) < epsilon
            chosen = np.where(explore, self.rng.integers(0, self.q_table.shape[1], rows.size), chosen)
            new_obs, rewards, dones, infos = env.step(self.env_action(chosen))
            self.num_timesteps += env.num_envs

            # 2. the value of the next state: at an episode's end the next observation is the
            #    terminal one SB3 keeps in the info; a time-out still bootstraps, a real end does not
            next_obs = np.array(new_obs, dtype=np.float64, copy=True)
            terminated = np.zeros(env.num_envs, dtype=bool)
            for i in np.flatnonzero(dones):
                next_obs[i] = infos[i]["terminal_observation"]
                terminated[i] = not infos[i].get("TimeLimit.truncated", False)
            next_value = self.q_table[self.state_index(next_obs)].max(axis=1)
            target = rewards + self.gamma * next_value * (~terminated)

            # 3. move Q(s, a) towards the target (envs hitting the same cell: the last one wins)
            self.q_table[rows, chosen] += alpha * (target - self.q_table[rows, chosen])

            obs = new_obs
            self._last_obs = obs
            if callback is not None:
                callback.update_locals(locals())
                if not callback.on_step():
                    break
        if callback is not None:
            callback.on_training_end()
        return self

    # -- files: arrays plus JSON, never pickle ---------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        return {"gamma": self.gamma, "bins": self.bins, "epsilon_start": self.epsilon_start,
                "epsilon_end": self.epsilon_end, "exploration_fraction": self.exploration_fraction,
                "seed": self.seed, "nvec": list(self.nvec)}

    def arrays(self) -> dict[str, np.ndarray]:
        return {"q_table": self.q_table, "low": self.low, "high": self.high}

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for name in ("q_table", "low", "high"):
            if name not in arrays or arrays[name].shape != getattr(self, name).shape:
                raise RigDojoError(f"qlearning weights: {name} is missing or has the wrong shape")
        self.q_table = arrays["q_table"].astype(np.float32, copy=True)
        self.low, self.high = arrays["low"].astype(np.float64), arrays["high"].astype(np.float64)

    def save(self, path: Any, exclude: Any = None) -> None:
        meta = {"num_timesteps": self.num_timesteps, "rng": self.rng.bit_generator.state,
                **self.hyperparameters()}
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), **self.arrays())
        if hasattr(path, "write"):
            path.write(buffer.getvalue())
        else:
            with open(path, "wb") as f:
                f.write(buffer.getvalue())

    @classmethod
    def load(cls, path: str | BinaryIO, env: Any, learning_rate: float | Callable[[float], float] = 0.2,
             **_ignored: Any) -> TabularQLearner:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
        model = cls(env, learning_rate=learning_rate, gamma=meta["gamma"], bins=meta["bins"],
                    epsilon_start=meta["epsilon_start"], epsilon_end=meta["epsilon_end"],
                    exploration_fraction=meta["exploration_fraction"], seed=meta["seed"],
                    obs_clip=float(np.max(np.abs(np.concatenate([arrays["low"], arrays["high"]])))))
        model.load_arrays(arrays)
        model.num_timesteps = int(meta["num_timesteps"])
        model.rng.bit_generator.state = meta["rng"]
        return model
