"""The shot solver (``algo.name = "solve"``, the camera task's default) as a training session (no bpy).

This module is the algorithm's hooks (``envs.families.algorithm_hooks``, named by the camera's registry entry):
``SESSION`` (the session class ``agents.session.session_class`` gives for ``solve``), ``rebuild_policy`` (what
``agents.policy_file.load_policy`` rebuilds from a solved path's file), ``validate_extra`` (``algo.extra``'s
keys, checked by ``TrainConfig.validate``), ``SUCCESS_LABEL`` and ``DONE_VERB`` (the command line's words).
It imports the solver itself (``envs.camera.solve``) only when a session is built.

:class:`ShotSolveSession` runs :class:`~.solve.ShotSolver` behind ``TrainingSession``'s
interface (start / pause / resume / stop / wait / latest / history, the same run folder):

- **budget**: ``algo.total_steps`` counts camera-frames scored (candidate paths x shot frames), like
  cem's camera steps; ``algo.minutes`` is a time budget; the solve also ends early when the best path
  has not improved for ``PATIENCE`` generations (converged);
- **stop**: the best path found so far is written as ``final.rdpolicy``, with a checkpoint;
- **resume**: the search continues from its checkpoint (distribution, best path, random state);
- **init_from**: a solved path of the same shot and settings starts the search from its parameters;
- **snapshots**: ``mean_return`` is minus the best path's cost and ``term_means`` its weighted
  parts (so they add up); ``success_rate`` is the best path's on-target fraction (frames framed and
  visible); ``preview`` is the best path, shaped (T, 2, 3): location and yaw/pitch/roll per frame.

A solved path's policy file holds no network: ``weights.npz`` has the path per frame (``frames``,
``positions``, ``angles``, ``lens``), the solver's ``params`` and the ``subject_positions`` it was
solved for (the bake refuses a shot whose subject has moved since), as plain float arrays.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import time
import traceback

import numpy as np

from ...agents.session import BackgroundRun
from ...errors import RigDojoError

PATIENCE = 15  # generations without improvement after which a solve has converged
SOLVE_CSV = ("step", "wall_time", "mean_return", "success_rate", "steps_per_second", "episodes", "curriculum_stage",
             "best_cost", "generation")
PATH_ARRAYS = ("frames", "positions", "angles", "lens", "params", "subject_positions")
#: algo.extra keys of the shot solver: the search's settings and the cost weights (``envs.camera.solve.SolveWeights``)
SOLVE_EXTRA = ("elite", "knots_per_second", "framing", "occlusion", "jerk", "rougher", "collision", "region",
               "distance", "limits", "travel", "size")
SUCCESS_LABEL = "best path on target"  # the progress line's success column: the best path's on-target share
DONE_VERB = "solved the shot in"  # the command line's closing line ("solved the shot in N steps in S s")


def validate_extra(algo) -> None:
    """RigDojoError for solver settings that make no sense (``algo.extra``; a population of at least 4)."""
    extra = algo.extra
    unknown = sorted(set(extra) - set(SOLVE_EXTRA))
    if unknown:
        raise RigDojoError(f"algo.extra.{unknown[0]} is not a setting of solve; it takes {', '.join(SOLVE_EXTRA)}")
    for key in SOLVE_EXTRA:
        value = extra.get(key, 1.0)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
            raise RigDojoError(f"algo.extra.{key} must be a number, 0 or more (found {value!r})")
    elite = extra.get("elite", 0.125)
    if not 0 < elite <= 1:
        raise RigDojoError(f"algo.extra.elite must be a fraction in (0, 1] (found {elite!r})")
    if not extra.get("knots_per_second", 1.0) > 0:
        raise RigDojoError("algo.extra.knots_per_second must be greater than 0")
    if algo.n_envs < 4:
        raise RigDojoError(f"algo.n_envs is the solver's population of candidate paths; it needs at least 4 "
                           f"(found {algo.n_envs})")


def solver_settings(config) -> dict:
    """``ShotSolver`` keyword arguments from ``config.algo`` (population, elite, seed, knots, weights)."""
    from .solve import SolveWeights

    algo = config.algo
    extra = dict(algo.extra)
    weights = SolveWeights(**{k: float(extra[k]) for k in SolveWeights.names() if k in extra})
    return {"population": int(algo.n_envs), "elite": float(extra.get("elite", 0.125)), "seed": int(algo.seed),
            "weights": weights, "knots_per_second": float(extra.get("knots_per_second", 1.0))}


def save_solved_path(path_obj, spec, file, *, config, env, num_timesteps: int) -> str:
    """Write a solved camera path as a shareable ``.rdpolicy`` (``algo = "solve"``); returns its sha256."""
    from ...agents.policy_file import FORMAT, VERSION, describe_space, write_policy_zip

    arrays = {**path_obj.arrays(), "subject_positions": np.asarray(spec.subject_positions, np.float64)}
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    metadata = {
        "format": FORMAT, "version": VERSION, "algo": "solve",
        "observation_space": describe_space(env.observation_space),
        "action_space": describe_space(env.action_space), "task_action_space": describe_space(env.action_space),
        "controls": list(env.control_names), "task_signature": env.signature(), "config": config.to_toml(),
        "hyperparameters": dataclasses.asdict(config.algo), "seed": config.algo.seed,
        "num_timesteps": int(num_timesteps), "qlearning": None,
        "policy_kwargs": {"kind": "camera_path", "cost": float(path_obj.cost), "smoothing": float(path_obj.smoothing),
                          "frame_start": int(spec.frame_start), "frame_end": int(spec.frame_end)},
    }
    return write_policy_zip(file, metadata, buf.getvalue())


class SolvedPathNetwork:
    """What a solved path's policy file rebuilds: the path, not a policy (it has no actions to predict)."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        self.arrays = arrays

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True):
        raise RigDojoError("a solved camera path plays back over its shot and has no actions to predict; bake it, "
                           "or train with cem or ppo for a policy that reacts")


def check_path_arrays(name: str, arrays: dict[str, np.ndarray]) -> SolvedPathNetwork:
    """Validate the arrays of a solved path's ``weights.npz``; :class:`RigDojoError` if they do not fit."""
    if set(arrays) != set(PATH_ARRAYS) or any(a.dtype.kind != "f" for a in arrays.values()):
        raise RigDojoError(f"{name}: a solved camera path holds {', '.join(PATH_ARRAYS)} as floats; this file does not")
    n = len(arrays["frames"])
    shapes = {"positions": (n, 3), "angles": (n, 3), "lens": (n,), "subject_positions": (n, 3), "frames": (n,)}
    if n < 2 or any(arrays[k].shape != s for k, s in shapes.items()) or not all(
            np.all(np.isfinite(arrays[k])) for k in shapes):
        raise RigDojoError(f"{name}: the solved camera path's arrays are not one finite row per frame")
    return SolvedPathNetwork(arrays)


def rebuild_policy(metadata: dict, arrays: dict[str, np.ndarray], name: str) -> SolvedPathNetwork:
    """What ``agents.policy_file.load_policy`` rebuilds from a solved path's file (``algo = "solve"``)."""
    return check_path_arrays(name, arrays)


def path_rollout(policy, task):
    """The move of a solved path over ``task``'s shot (a sub-range of the solved frames is fine).

    Refused with :class:`RigDojoError` when the shot reaches past the solved frames or the subject's
    motion differs from the one the path was solved for.
    """
    from .task import evaluate_poses

    arrays = policy.arrays
    spec = task.spec
    frames = np.rint(arrays["frames"]).astype(np.int64)
    start = int(spec.frame_start) - int(frames[0])
    if start < 0 or start + spec.n_frames > len(frames):
        raise RigDojoError(f"the solved path covers frames {frames[0]}-{frames[-1]}; bake frames within them "
                           f"(asked for {spec.frame_start}-{spec.frame_end}) or solve that shot")
    rows = slice(start, start + spec.n_frames)
    moved = np.linalg.norm(arrays["subject_positions"][rows] - spec.subject_positions, axis=1).max()
    if moved > 1e-4 * spec.scale + 1e-6:
        raise RigDojoError(f"the subject has moved since this camera path was solved (by up to {moved:.3g} scene "
                           "units); solve the shot again")
    return evaluate_poses(task, arrays["positions"][rows], arrays["angles"][rows], arrays["lens"][rows])


class ShotSolveSession(BackgroundRun):
    """The shot solver behind ``TrainingSession``'s interface (see the module docstring)."""

    thread_name = "rig_dojo-camera-solve"

    def __init__(self, config, make_env, run_dir=None, *, init_from=None, snapshot_interval: float = 0.5,
                 preview_interval: float = 0.5, **_ignored):
        if config.algo.name != "solve":
            raise RigDojoError(f"ShotSolveSession runs algo.name = 'solve', not {config.algo.name!r}")
        super().__init__(config, make_env, run_dir, init_from)
        self.snapshot_interval, self.preview_interval = float(snapshot_interval), float(preview_interval)

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        from .solve import ShotSolver

        config = self.config
        if self._resume_meta is None and any((self.run_dir / n).exists() for n in ("checkpoint.json", "metrics.csv")):
            raise RigDojoError(f"{self.run_dir} already holds a run; continue it (--resume) or choose another run folder")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config.save(self.run_dir / "config.toml")
        self.env = self.make_env(config, 1, config.algo.seed)
        self.control_names = tuple(self.env.control_names)
        self.solver = ShotSolver(self.env, **solver_settings(config))
        self.generation, self.step, self._wall_base, self._stall = 0, 0, 0.0, 0
        meta = self._resume_meta
        if meta is not None:
            with np.load(self.run_dir / "checkpoints" / meta["checkpoint"], allow_pickle=False) as ck:
                arrays = {k: np.array(ck[k]) for k in ck.files}
            self.solver.restore(arrays, int(meta["generation"]), meta["rng_state"])
            self.generation, self.step = int(meta["generation"]), int(meta["step"])
            self.episodes, self._wall_base = int(meta["episodes"]), float(meta["wall_time"])
            self.resumed_from_step = self.step
            self._restore_metrics(self.step)
        elif self.init_from is not None:
            from ...agents.policy_file import load_policy

            policy = load_policy(self.init_from)
            if policy.algo != "solve" or policy.arrays["params"].shape != self.solver.mean.shape:
                raise RigDojoError(f"policy {self.init_from.name} is not a solved path of this shot with these "
                                   "settings; the solver starts only from one that is")
            params = np.array(policy.arrays["params"])
            cost, _ = self.solver.scorer.score(params[None])
            self.solver.best_params, self.solver.best_cost = params, float(cost[0])
        self._metrics_file = None
        self._last_checkpoint_step = self.step
        self._best_seen = float("inf")
        self._best_info: tuple[float, dict] = (float("nan"), {})
        self._preview, self._preview_step = None, 0

    # -- the solver thread -------------------------------------------------------------------
    def _progress(self) -> float:
        algo = self.config.algo
        parts = []
        if algo.total_steps > 0:
            parts.append(self.step / algo.total_steps)
        if algo.minutes > 0:
            parts.append(self._wall_time() / (algo.minutes * 60.0))
        return min(1.0, max(parts)) if parts else 0.0

    def _done(self) -> bool:
        algo = self.config.algo
        return bool((algo.total_steps > 0 and self.step >= algo.total_steps)
                    or (algo.minutes > 0 and self._wall_time() >= algo.minutes * 60.0)
                    or self._stall >= PATIENCE)

    def _run(self) -> None:
        try:
            self._run_start = time.monotonic()
            self._paused_total = 0.0
            self._window = (time.monotonic(), self.step)
            self._last_sps = float("nan")
            self._next_snapshot = 0.0
            while not self._done():
                if not self._unpaused.is_set():
                    paused_at = time.monotonic()
                    while not self._unpaused.wait(0.1):
                        pass
                    self._paused_total += time.monotonic() - paused_at
                    self._window = (time.monotonic(), self.step)
                if self._stop_event.is_set():
                    break
                self._generation()
                now = time.monotonic()
                if now >= self._next_snapshot:
                    self._publish(now)
                if self.step - self._last_checkpoint_step >= self.config.output.checkpoint_every:
                    self._save_checkpoint()
            self._save_checkpoint()
            self._save_policy()
            self._set_state("stopped" if self._stop_event.is_set() else "finished")
            self._publish(time.monotonic())
        except BaseException as exc:  # never a silent stop: the UI shows this
            self.error = f"{type(exc).__name__}: {exc}\n\n" + "".join(traceback.format_exception(exc))
            self._set_state("error")
        finally:
            if self._metrics_file is not None:
                self._metrics_file.close()

    def _generation(self) -> None:
        before = self.solver.best_cost
        self.solver.step()
        scored = len(self.solver.last_costs)
        improved = self.solver.best_cost < before - 1e-4 * max(abs(before), 1e-9) if math.isfinite(before) else True
        self._stall = 0 if improved else self._stall + 1
        self.generation = self.solver.generation
        self.step += scored * (self.solver.scorer.F - 1)
        self.episodes += scored

    def current_path(self):
        return self.solver.result()

    def _best_numbers(self) -> tuple[float, dict]:
        """The best path's on-target fraction and weighted cost parts (recomputed when it changes)."""
        from .task import shot_metrics

        if self.solver.best_cost != self._best_seen:
            self._best_seen = self.solver.best_cost
            path = self.solver.result()
            metrics = shot_metrics(self.env, self.solver.scorer.rollout(path))
            _, _, parts = self.solver.scorer.score(path.params[None], parts=True)
            w = self.solver.scorer.weights
            terms = {"framing": -w.framing * float(parts["framing"][0]),
                     "occlusion": -w.occlusion * float(parts["occlusion"][0]),
                     "jerk": -(w.jerk * float(parts["jerk_ratio"][0])
                               + w.rougher * max(float(parts["jerk_ratio"][0]) - 1.0, 0.0)),
                     "collision": -w.collision * float(parts["collision"][0]),
                     "region": -w.region * float(parts["region"][0]), "distance": -w.distance * float(parts["distance"][0]),
                     "limits": -w.limits * float(parts["limits"][0]), "travel": -w.travel * float(parts["travel"][0]),
                     "size": -w.size * float(parts["size"][0])}
            self._best_info = (metrics["on_target"], terms)
            preview = np.stack([path.positions, path.angles], axis=1)
            preview.setflags(write=False)
            self._preview, self._preview_step = preview, self.step
        return self._best_info

    def _publish(self, now: float) -> None:
        from types import MappingProxyType

        from ...agents.session import CurvePoint, Snapshot

        then, then_step = self._window
        if now - then > 1e-3 and self.step > then_step:
            self._last_sps = (self.step - then_step) / (now - then)
            self._window = (now, self.step)
        algo, sps = self.config.algo, self._last_sps
        etas = []
        if algo.total_steps > 0 and sps > 0:
            etas.append(max(0, algo.total_steps - self.step) / sps)
        if algo.minutes > 0:
            etas.append(max(0.0, algo.minutes * 60.0 - self._wall_time()))
        on_target, terms = self._best_numbers()
        best = -self.solver.best_cost
        snapshot = Snapshot(
            state=self.state, step=self.step, total_steps=algo.total_steps, episodes=self.episodes,
            mean_return=best, success_rate=on_target, term_means=MappingProxyType(terms), curriculum_stage=0,
            steps_per_second=sps, eta_seconds=min(etas) if etas else float("nan"), wall_time=self._wall_time(),
            control_names=self.control_names, preview=self._preview, preview_step=self._preview_step)
        self.mailbox.put(snapshot, CurvePoint(self.step, snapshot.wall_time, best, on_target))
        self._write_metrics(snapshot)
        self._next_snapshot = time.monotonic() + self.snapshot_interval

    def _write_metrics(self, snapshot) -> None:
        path = self.run_dir / "metrics.csv"
        if self._metrics_file is None:
            fresh = not (path.exists() and path.stat().st_size > 0)
            self._metrics_file = path.open("a" if not fresh else "w", newline="")
            if fresh:
                self._metrics_file.write(",".join(SOLVE_CSV) + "\n")
        sps = snapshot.steps_per_second
        row = [snapshot.step, round(snapshot.wall_time, 3), snapshot.mean_return, snapshot.success_rate,
               round(sps, 1) if math.isfinite(sps) else sps, snapshot.episodes, 0, self.solver.best_cost,
               self.generation]
        self._metrics_file.write(",".join(str(v) for v in row) + "\n")
        self._metrics_file.flush()

    def _save_checkpoint(self) -> None:
        from ...agents.files import write_atomic

        name = f"gen_{self.generation:08d}.npz"
        folder = self.run_dir / "checkpoints"
        buf = io.BytesIO()
        np.savez(buf, **self.solver.state())
        write_atomic(folder / name, buf.getvalue())
        meta = {"checkpoint": name, "step": self.step, "episodes": self.episodes, "algo": "solve",
                "generation": self.generation, "curriculum_stage": 0, "wall_time": self._wall_time(),
                "rng_state": self.solver.rng.bit_generator.state}
        write_atomic(self.run_dir / "checkpoint.json", json.dumps(meta, indent=1).encode())
        self._last_checkpoint_step = self.step
        for old in sorted(folder.glob("gen_*.npz"))[:-2]:
            old.unlink(missing_ok=True)

    def _save_policy(self) -> None:
        save_solved_path(self.solver.result(), self.env.spec, self.run_dir / "final.rdpolicy", config=self.config,
                         env=self.env, num_timesteps=self.step)


SESSION = ShotSolveSession  # what agents.session.session_class gives for algo.name = "solve"
