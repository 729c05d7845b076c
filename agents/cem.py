"""Cross-entropy search for a linear policy: the camera's learned policy (its default, the shot solver, is
``envs/camera/solve.py``), no bpy.

:class:`CrossEntropySearch` is the search itself: every generation rolls a population of linear
policies ``tanh(W obs + b)`` over one whole episode at once (one environment each), keeps the best
``elite`` fraction and refits a diagonal Gaussian. :class:`CemSession` runs it behind
``TrainingSession``'s interface (start / pause / resume / stop / wait / latest / history, the same run
folder); :func:`save_linear_policy` writes its policy as a shareable ``.rdpolicy`` (JSON metadata and
an npz of the two arrays, no pickle), which ``agents.policy_file.load_policy`` reads.
"""

from __future__ import annotations

import dataclasses
import io
import math
import time
from typing import Any

import numpy as np

from ..errors import RigDojoError
from .search import GenerationSession
from .session import preview_rollout

CEM_CSV = ("step", "wall_time", "mean_return", "success_rate", "steps_per_second", "episodes", "curriculum_stage",
           "best_return", "generation")
EXTRA_KEYS = ("elite", "sigma")


class LinearPolicy:
    """``tanh(obs @ W.T + b)``, with SB3-style ``predict`` so callers treat it like a trained model."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray):
        self.weights, self.bias = np.asarray(weights, np.float64), np.asarray(bias, np.float64)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return np.tanh(np.asarray(obs, np.float64) @ self.weights.T + self.bias).astype(np.float32)

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True):
        return self(obs), state


def validate_extra(algo) -> None:
    """RigDojoError for cem settings that make no sense (``algo.extra``: elite, sigma; a population ≥ 2)."""
    extra = algo.extra
    unknown = sorted(set(extra) - set(EXTRA_KEYS))
    if unknown:
        raise RigDojoError(f"algo.extra.{unknown[0]} is not a setting of cem; it takes elite and sigma")
    elite, sigma = extra.get("elite", 0.125), extra.get("sigma", 0.3)
    if isinstance(elite, bool) or not isinstance(elite, (int, float)) or not 0 < elite <= 1:
        raise RigDojoError(f"algo.extra.elite must be a fraction in (0, 1] (found {elite!r})")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
        raise RigDojoError(f"algo.extra.sigma must be greater than 0 (found {sigma!r})")
    if algo.n_envs < 2:
        raise RigDojoError(f"algo.n_envs is cem's population; it needs at least 2 (found {algo.n_envs})")


class CrossEntropySearch:
    """The search's state (mean, spread, generator) over the parameters of a linear policy for ``env``."""

    def __init__(self, env: Any, sigma: float = 0.3, elite: float = 0.125, seed: int = 0):
        self.a_dim = int(env.action_space.shape[0])
        self.o_dim = int(env.observation_space.shape[0])
        self.sigma = float(sigma)
        self.n_elite = max(2, int(round(float(elite) * env.num_envs)))
        self.rng = np.random.default_rng(seed)
        self.mean = np.zeros(self.a_dim * (self.o_dim + 1))
        self.std = np.full_like(self.mean, self.sigma)

    def generation(self, env: Any, progress: float) -> tuple[np.ndarray, np.ndarray, list]:
        """One generation on ``env`` (one candidate per environment); returns every candidate's episode
        return, the elite's indices (best first) and the last step's infos. ``progress`` in [0, 1]
        shrinks the floor on the spread."""
        pop, o_dim = env.num_envs, self.o_dim
        cand = self.mean + self.std * self.rng.standard_normal((pop, self.mean.size))
        cand[0] = self.mean  # keep the current mean in the running
        params = cand.reshape(pop, self.a_dim, o_dim + 1)
        weights, bias = params[:, :, :o_dim], params[:, :, o_dim]
        obs = env.reset()
        returns = np.zeros(pop)
        infos: list = []
        for _ in range(env.episode_steps):
            action = np.tanh(np.einsum("nad,nd->na", weights, obs) + bias)
            obs, reward, _, infos = env.step(action)
            returns += reward
        best = np.argsort(returns)[::-1][: self.n_elite]
        self.mean = cand[best].mean(axis=0)
        self.std = cand[best].std(axis=0) + 0.02 * self.sigma * (1.0 - progress)
        return returns, best, infos

    def policy(self) -> LinearPolicy:
        params = self.mean.reshape(self.a_dim, self.o_dim + 1)
        return LinearPolicy(params[:, : self.o_dim].copy(), params[:, self.o_dim].copy())


def save_linear_policy(policy: LinearPolicy, path, *, config, env, num_timesteps: int) -> str:
    """Write a linear policy as a shareable ``.rdpolicy`` (``algo = "cem"``); returns its sha256."""
    from .policy_file import FORMAT, VERSION, describe_space, write_policy_zip

    buf = io.BytesIO()
    np.savez(buf, weights=policy.weights, bias=policy.bias)
    metadata = {
        "format": FORMAT, "version": VERSION, "algo": "cem",
        "observation_space": describe_space(env.observation_space),
        "action_space": describe_space(env.action_space), "task_action_space": describe_space(env.action_space),
        "controls": list(env.control_names), "task_signature": env.signature(), "config": config.to_toml(),
        "hyperparameters": dataclasses.asdict(config.algo), "seed": config.algo.seed,
        "num_timesteps": int(num_timesteps), "policy_kwargs": {"kind": "linear_tanh"}, "qlearning": None,
    }
    return write_policy_zip(path, metadata, buf.getvalue())


class CemSession(GenerationSession):
    """Cross-entropy search for a linear policy, behind ``TrainingSession``'s interface (``agents/search.py``).

    Every generation rolls ``algo.n_envs`` candidate policies over one whole episode at once
    (one environment each; :class:`CrossEntropySearch`). ``total_steps`` counts environment
    steps (population x episode steps per generation); ``minutes`` is a time budget.

    Snapshots as ``TrainingSession``: ``mean_return`` and ``success_rate`` over the last
    generation's candidates; ``preview`` is the current policy's move, shaped (T, 2, 3):
    per frame the camera's location and its (yaw, pitch, roll) (``envs.camera.twin.camera_rotation``).
    The run folder holds config.toml, metrics.csv, checkpoints/gen_<n>.npz + checkpoint.json
    (resume) and final.rdpolicy.
    """

    thread_name = "rig_dojo-camera-search"
    algo_name = "cem"
    csv_header = CEM_CSV

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        self._begin_build()
        config, algo = self.config, self.config.algo
        self.env = self.make_env(config, algo.n_envs, algo.seed)
        self.preview_env = self.make_env(config, 1, algo.seed + 7919)
        self.control_names = tuple(self.env.control_names)
        self.steps_per_generation = algo.n_envs * self.env.episode_steps
        self.generations = math.ceil(algo.total_steps / self.steps_per_generation) if algo.total_steps > 0 else 0
        self.search = CrossEntropySearch(self.env, sigma=float(algo.extra.get("sigma", 0.3)),
                                         elite=float(algo.extra.get("elite", 0.125)), seed=algo.seed)
        meta = self._resume_meta
        if meta is not None:
            ck = self._read_checkpoint(meta, max_bytes=4 * self.search.mean.nbytes + 4096)
            mean, std = ck.get("mean"), ck.get("std")
            if mean is None or std is None or mean.shape != self.search.mean.shape or std.shape != mean.shape:
                raise RigDojoError(f"{self.run_dir}: the checkpoint does not fit this task; start a new run")
            self.search.mean, self.search.std = mean.astype(np.float64), std.astype(np.float64)
            try:
                self.search.rng.bit_generator.state = meta["rng_state"]
            except (KeyError, TypeError, ValueError):
                raise RigDojoError(f"{self.run_dir}: checkpoint.json is damaged; start a new run") from None
        elif self.init_from is not None:
            from .library import resolve
            from .policy_file import load_policy

            policy = load_policy(resolve(self.init_from))  # library:NAME or a file
            policy.check_compatible(self.env)
            if policy.algo != "cem":
                raise RigDojoError(f"policy {self.init_from.name} was trained with {policy.algo}; cem starts only "
                                   "from a linear policy trained with cem")
            self.search.mean = np.concatenate([policy.arrays["weights"], policy.arrays["bias"][:, None]],
                                              axis=1).reshape(-1)
        self._last = (float("nan"), float("nan"), float("nan"))

    # -- the search thread -----------------------------------------------------------------
    def _count_fraction(self) -> float | None:
        return self.generation / self.generations if self.generations else None

    def _generation(self) -> None:
        progress = self.generation / max(self.generations, 1) if self.generations else self._progress()
        returns, best, infos = self.search.generation(self.env, progress)
        self.generation += 1
        self.step += self.steps_per_generation
        self.episodes += self.config.algo.n_envs
        success = float(np.mean([bool(i.get("success", False)) for i in infos])) if infos else float("nan")
        self._last = (float(returns.mean()), success, float(returns[best[0]]))

    def current_policy(self) -> LinearPolicy:
        return self.search.policy()

    def _rollout_preview(self) -> np.ndarray:
        """The current policy's episode as the family's preview frames (``env.preview_frame()``)."""
        net = self.current_policy()
        return preview_rollout(self.preview_env, lambda obs: net.predict(obs)[0])

    def _numbers(self, now: float, preview: bool):
        if preview and now >= self._next_preview and self.state == "running":
            began = time.monotonic()
            self._preview, self._preview_step = self._rollout_preview(), self.step
            self._next_preview = time.monotonic() + max(self.preview_interval, 10 * (time.monotonic() - began))
        mean_return, success, best = self._last
        terms = {k: float(v) for k, v in self.env.term_means().items()} if hasattr(self.env, "term_means") else {}
        return mean_return, success, terms, [best, self.generation]

    def _checkpoint_arrays(self) -> dict[str, np.ndarray]:
        return {"mean": self.search.mean, "std": self.search.std}

    def _rng(self) -> np.random.Generator:
        return self.search.rng

    def _save_policy(self) -> None:
        net = self.current_policy()
        save_linear_policy(net, self.run_dir / "final.rdpolicy", config=self.config, env=self.env,
                           num_timesteps=self.step)
