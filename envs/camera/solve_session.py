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
import math

import numpy as np

from ...agents.search import GenerationSession
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


class ShotSolveSession(GenerationSession):
    """The shot solver behind ``TrainingSession``'s interface (see the module docstring; the run loop, snapshots,
    metrics and checkpoints are ``agents.search.GenerationSession``'s)."""

    thread_name = "rig_dojo-camera-solve"
    algo_name = "solve"
    csv_header = SOLVE_CSV

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        from .solve import ShotSolver

        self._begin_build()
        config = self.config
        self.env = self.make_env(config, 1, config.algo.seed)
        self.control_names = tuple(self.env.control_names)
        self.solver = ShotSolver(self.env, **solver_settings(config))
        self._stall = 0
        meta = self._resume_meta
        if meta is not None:
            arrays = self._read_checkpoint(meta, max_bytes=4 * self.solver.mean.nbytes + (1 << 16))
            try:
                self.solver.restore(arrays, int(meta["generation"]), meta["rng_state"])
            except (KeyError, TypeError, ValueError) as exc:
                raise RigDojoError(f"{self.run_dir}: the checkpoint does not fit this shot ({exc}); start a new "
                                   "run") from None
        elif self.init_from is not None:
            from ...agents.library import resolve
            from ...agents.policy_file import load_policy

            policy = load_policy(resolve(self.init_from))  # library:NAME or a file
            if policy.algo != "solve" or policy.arrays["params"].shape != self.solver.mean.shape:
                raise RigDojoError(f"policy {self.init_from.name} is not a solved path of this shot with these "
                                   "settings; the solver starts only from one that is")
            params = np.array(policy.arrays["params"])
            cost, _ = self.solver.scorer.score(params[None])
            self.solver.best_params, self.solver.best_cost = params, float(cost[0])
        self._best_seen = float("inf")
        self._best_info: tuple[float, dict] = (float("nan"), {})

    # -- the solver thread -------------------------------------------------------------------
    def _converged(self) -> bool:
        return self._stall >= PATIENCE

    def _convergence_note(self) -> str:
        total = self.config.algo.total_steps
        return (f"the best path did not improve for {PATIENCE} generation{'s' if PATIENCE != 1 else ''}: the solve "
                f"converged at step "
                f"{self.step:,d}" + (f" of {total:,d}" if total > 0 else ""))

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

    def _numbers(self, now: float, preview: bool):
        on_target, terms = self._best_numbers()
        return -self.solver.best_cost, on_target, terms, [self.solver.best_cost, self.generation]

    def _checkpoint_arrays(self) -> dict[str, np.ndarray]:
        return self.solver.state()

    def _rng(self) -> np.random.Generator:
        return self.solver.rng

    def _save_policy(self) -> None:
        save_solved_path(self.solver.result(), self.env.spec, self.run_dir / "final.rdpolicy", config=self.config,
                         env=self.env, num_timesteps=self.step)


SESSION = ShotSolveSession  # what agents.session.session_class gives for algo.name = "solve"
