"""Glue between ``TrainConfig`` (agents) and the tasks (envs): no bpy.

The scene is read once into a spec (``scene.task_build.spec_from_config``: a ``TaskSpec``
for reach/aim/grasp, a ``CameraSpec`` for the camera, a ``PhysicsSpec`` for
stand/locomotion/jump/obstacles); ``env_factory(spec)`` then gives the
``make_env(config, n_envs, seed)`` that ``TrainingSession`` and ``evaluate`` call, on any
worker.

The camera task also trains by cross-entropy policy search (``algo.name = "cem"``, the
camera's default): :class:`CameraSearchSession` runs it behind the same interface as
``TrainingSession`` (start / pause / resume / stop / wait / latest / history, the same run
folder), and its policy is written as a ``.rdpolicy`` (JSON metadata and an npz of the
linear policy's two arrays, no pickle). :func:`make_session` picks the session class and
:func:`load_task_policy` reads any policy file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..agents.session import BackgroundRun
from ..rewards import TermConfig
from .kinematic.task import KinematicTask
from .kinematic.task_spec import CurriculumStage, TaskSpec, default_terms
from .kinematic.tasks import make_task


def terms_from_config(config) -> list[TermConfig]:
    """The config's reward terms, or the task's defaults when it lists none."""
    if not config.rewards:
        return default_terms(config.task)
    return [TermConfig(t.name, float(t.weight), bool(t.enabled), dict(t.params)) for t in config.rewards]


def configure(spec: TaskSpec, config) -> TaskSpec:
    """``spec`` with the settings a config overrides: terms, episode length, tolerance, curriculum."""
    curriculum = [CurriculumStage(s.region_scale, s.tolerance) for s in config.curriculum.stages] \
        if config.curriculum.enabled else []
    episode = spec.episode_steps if spec.target.kind == "trajectory" else int(config.rig.episode_length)
    return dataclasses.replace(spec, terms=terms_from_config(config), episode_steps=episode,
                               tolerance=float(config.rig.tolerance), curriculum=curriculum,
                               curriculum_threshold=float(config.curriculum.threshold))


def env_factory(spec) -> Callable[..., Any]:
    """``make_env(config, n_envs, seed)`` over a spec read once from the scene (any task family)."""
    from .camera.twin import CameraSpec
    from .physics.mjcf import PhysicsSpec

    if isinstance(spec, CameraSpec):
        return camera_env_factory(spec)
    if isinstance(spec, PhysicsSpec):
        return physics_env_factory(spec)

    def make_env(config, n_envs: int, seed: int) -> KinematicTask:
        return make_task(configure(spec, config), n_envs=n_envs, seed=seed, discrete=bool(config.rig.discrete))
    return make_env


def rollout(policy, task: KinematicTask, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """One deterministic episode of ``steps`` actions in environment 0 of ``task``, no auto-reset.

    Returns the control angles ``(steps + 1, n_controls, 3)`` (the first row is the
    start pose) and the tracked bones' world tail positions ``(steps + 1, n_tracked, 3)``.
    Past the task's episode length an animated target holds its last frame.
    """
    task._reset_envs(np.arange(task.num_envs))
    names = task.spec.rig.tracked
    angles, points = [], []
    for step in range(steps + 1):
        if step:
            actions, _ = policy.predict(task._observe(), deterministic=True)
            task._step(np.asarray(actions))
        angles.append(task.control_angles()[0].copy())
        points.append(np.stack([task.bone_point(n, "tail")[0] for n in names]))
    return np.array(angles), np.array(points)


# ---- camera --------------------------------------------------------------------------------


def camera_task_kwargs(config) -> dict[str, Any]:
    """``CameraTask`` keyword arguments from ``config.camera`` and ``config.rewards``."""
    cam = config.camera
    terms = None
    if config.rewards:
        terms = [TermConfig(t.name, float(t.weight), bool(t.enabled), dict(t.params)) for t in config.rewards]
    return dict(terms=terms, mode=cam.mode, use_lens=bool(cam.use_lens), allow_roll=bool(cam.allow_roll),
                framing=cam.framing, tolerance=float(cam.tolerance), start_noise=float(cam.start_noise),
                occlusion=bool(cam.occlusion))


def camera_env_factory(spec) -> Callable[..., Any]:
    """``make_env(config, n_envs, seed)`` of the camera task over one shot (a ``CameraSpec``)."""
    from .camera.task import CameraTask

    def make_env(config, n_envs: int, seed: int):
        return CameraTask(spec, n_envs=n_envs, seed=seed, **camera_task_kwargs(config))
    return make_env


def camera_move(policy, spec, config):
    """The deterministic camera move of ``policy`` over the shot (from the camera's pose in the scene)."""
    from .camera.task import CameraTask, rollout

    kwargs = {**camera_task_kwargs(config), "start_noise": 0.0}
    task = CameraTask(spec, n_envs=1, **kwargs)
    if hasattr(policy, "check_compatible"):
        policy.check_compatible(task)
    return task, rollout(task, lambda obs: policy.predict(obs, deterministic=True)[0])


def camera_report(policy, spec, config) -> dict[str, Any]:
    """Framing error, occlusion, jerk and collisions of the trained move and of two baselines:
    a fixed camera (the scene's pose) and a track-to camera (aimed at the subject every frame)."""
    from .camera.task import scripted_rollout, shot_metrics

    task, move = camera_move(policy, spec, config)
    return {"camera": spec.camera_name, "subject": spec.subject_name, "bone": spec.subject_bone,
            "framing_point": task.framing, "frames": [int(spec.frame_start), int(spec.frame_end)],
            "trained": shot_metrics(task, move), "fixed": shot_metrics(task, scripted_rollout(task, "fixed")),
            "track_to": shot_metrics(task, scripted_rollout(task, "track_to"))}


# ---- physics -------------------------------------------------------------------------------


def physics_task_config(config):
    """The ``PhysicsTaskConfig`` of ``config.task`` from ``config.physics`` and ``config.rewards``."""
    from .physics.task import PhysicsTaskConfig

    ph = config.physics
    terms = None
    if config.rewards:
        terms = [TermConfig(t.name, float(t.weight), bool(t.enabled), dict(t.params)) for t in config.rewards]
    return PhysicsTaskConfig(
        kind=config.task, terms=terms, episode_seconds=float(ph.episode_seconds), substeps=int(ph.substeps),
        direction=tuple(float(v) for v in ph.direction), target_speed=float(ph.target_speed),
        fall_height=float(ph.fall_height), max_tilt_degrees=float(ph.max_tilt_degrees),
        reset_noise=float(ph.reset_noise), push=float(ph.push), jump_height=float(ph.jump_height),
        obstacle_heights=tuple(float(h) for h in ph.obstacle_heights),
        obstacle_distance=float(ph.obstacle_distance), curriculum_threshold=float(config.curriculum.threshold),
        action_scale=float(ph.action_scale) if ph.action_scale > 0 else None)


def physics_env_factory(spec) -> Callable[..., Any]:
    """``make_env(config, n_envs, seed)`` of the physics task ``config.task`` over a ``PhysicsSpec``."""
    from .physics.task import make_physics_task

    def make_env(config, n_envs: int, seed: int):
        return make_physics_task(spec, config.task, n_envs=n_envs, seed=seed, config=physics_task_config(config))
    return make_env


def physics_clip(policy, spec, config, n_steps: int | None = None, seed: int = 0):
    """One deterministic rollout of ``policy`` (None: zero actions, the rest pose held) in the
    physics twin, recorded for the bake (``envs.physics.task.PhysicsClip``); stops when it falls."""
    from .physics.task import make_physics_task, record_clip

    task = make_physics_task(spec, config.task, n_envs=1, seed=seed, config=physics_task_config(config))
    if policy is None:
        return task, record_clip(task, None, n_steps=n_steps, seed=seed)
    if hasattr(policy, "check_compatible"):
        policy.check_compatible(task)
    return task, record_clip(task, lambda obs: policy.predict(obs, deterministic=True)[0], n_steps=n_steps, seed=seed)


def physics_report(policy, spec, config, seeds: tuple[int, ...] = (10_000, 10_001, 10_002, 10_003)) -> dict[str, Any]:
    """Seconds upright and distance travelled along the task's direction (body sizes) over full episodes,
    for the trained policy and for zero actions (the rest pose held), averaged over ``seeds``."""
    out: dict[str, Any] = {}
    for name, pol in (("trained", policy), ("zero_actions", None)):
        up, dist, falls = [], [], 0
        for seed in seeds:
            task, clip = physics_clip(pol, spec, config, seed=seed)
            up.append((len(clip.frames) - 1) / task.fps)
            dist.append(float((clip.root_world[-1, :3, 3] - clip.root_world[0, :3, 3]) @ task.direction) / task.unit)
            falls += int(clip.fell)
        out[name] = {"seconds_up": float(np.mean(up)), "distance": float(np.mean(dist)), "falls": falls}
    out["episode_seconds"] = float(config.physics.episode_seconds)
    out["episodes"] = len(seeds)
    return out


# ---- cross-entropy policy search for the camera, as a session --------------------------------

CEM_CSV = ("step", "wall_time", "mean_return", "success_rate", "steps_per_second", "episodes", "curriculum_stage",
           "best_return", "generation")


class _LinearNetwork:
    """The network a camera policy file rebuilds: ``tanh(obs @ W.T + b)``, SB3-style ``predict``."""

    def __init__(self, weights: np.ndarray, bias: np.ndarray):
        self.weights, self.bias = np.asarray(weights, np.float64), np.asarray(bias, np.float64)

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True):
        return np.tanh(np.asarray(obs, np.float64) @ self.weights.T + self.bias).astype(np.float32), state


def save_camera_policy(weights: np.ndarray, bias: np.ndarray, path, *, config, env, num_timesteps: int) -> str:
    """Write a linear camera policy as a shareable ``.rdpolicy`` (``algo = "cem"``); returns its sha256."""
    import io

    from ..agents.policy_file import FORMAT, VERSION, describe_space, write_policy_zip

    buf = io.BytesIO()
    np.savez(buf, weights=np.asarray(weights, np.float64), bias=np.asarray(bias, np.float64))
    weights_bytes = buf.getvalue()
    metadata = {
        "format": FORMAT, "version": VERSION, "algo": "cem",
        "observation_space": describe_space(env.observation_space),
        "action_space": describe_space(env.action_space), "task_action_space": describe_space(env.action_space),
        "controls": list(env.control_names), "task_signature": env.signature(), "config": config.to_toml(),
        "hyperparameters": dataclasses.asdict(config.algo), "seed": config.algo.seed,
        "num_timesteps": int(num_timesteps), "policy_kwargs": {"kind": "linear_tanh"}, "qlearning": None,
    }
    return write_policy_zip(path, metadata, weights_bytes)


def load_task_policy(path):
    """Any Rig Dojo policy file as an ``agents.policy_file.PolicyFile`` (SB3, Q-learning or a camera's
    linear policy from ``cem``). Never executes code from the file."""
    import hashlib
    import io

    from ..agents.policy_file import FORMAT, VERSION, PolicyFile, _read_zip, load_policy
    from ..errors import RigDojoError

    path = Path(path)
    data, members = _read_zip(path)
    try:
        metadata = json.loads(members["metadata.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        metadata = None
    if not isinstance(metadata, dict) or metadata.get("algo") != "cem" or metadata.get("format") != FORMAT:
        return load_policy(path)  # every check and message of the SB3 / Q-learning reader
    if metadata.get("version") != VERSION:
        raise RigDojoError(f"{path.name} is policy format version {metadata.get('version')}; this Rig Dojo reads "
                           f"version {VERSION}. Update Rig Dojo")
    if hashlib.sha256(members["weights.npz"]).hexdigest() != metadata.get("weights_sha256"):
        raise RigDojoError(f"{path.name}: weights.npz does not match the sha256 in metadata.json (damaged or edited)")
    try:
        with np.load(io.BytesIO(members["weights.npz"]), allow_pickle=False) as npz:
            arrays = {name: np.array(npz[name]) for name in npz.files}
    except (ValueError, OSError, EOFError) as exc:
        raise RigDojoError(f"{path.name}: weights.npz is not a plain numeric npz ({exc}); refusing to load it") from None
    obs_n = int(np.prod(metadata["observation_space"]["shape"]))
    act_n = int(np.prod(metadata["task_action_space"]["shape"]))
    w, b = arrays.get("weights"), arrays.get("bias")
    if set(arrays) != {"weights", "bias"} or w.shape != (act_n, obs_n) or b.shape != (act_n,) \
            or w.dtype.kind != "f" or b.dtype.kind != "f":
        raise RigDojoError(f"{path.name}: a camera policy holds weights ({act_n}, {obs_n}) and bias ({act_n},) "
                           "as floats; this file does not")
    return PolicyFile(path=path, metadata=metadata, arrays=arrays, sha256=hashlib.sha256(data).hexdigest(),
                      network=_LinearNetwork(w, b))


class CameraSearchSession(BackgroundRun):
    """Cross-entropy search for a linear camera policy, behind ``TrainingSession``'s interface.

    Every generation rolls ``algo.n_envs`` candidate policies over the whole shot at once
    (one camera each), keeps the best ``algo.extra["elite"]`` fraction and refits a diagonal
    Gaussian (initial spread ``algo.extra["sigma"]``); the same search as
    ``envs.camera.task.train_policy_search`` (same seed, same result). ``total_steps`` counts
    camera steps (population x shot frames per generation); ``minutes`` is a time budget.

    Snapshots as ``TrainingSession``: ``mean_return`` and ``success_rate`` over the last
    generation's candidates; ``preview`` is the current policy's move, shaped (T, 2, 3):
    per frame the camera's location and its (yaw, pitch, roll) (``envs.camera.twin.camera_rotation``).
    The run folder holds config.toml, metrics.csv, checkpoints/gen_<n>.npz + checkpoint.json
    (resume) and final.rdpolicy.
    """

    thread_name = "rig_dojo-camera-search"

    def __init__(self, config, make_env, run_dir=None, *, init_from=None, snapshot_interval: float = 0.5,
                 preview_interval: float = 0.5, **_ignored):
        from ..errors import RigDojoError

        if config.algo.name != "cem":
            raise RigDojoError(f"CameraSearchSession runs algo.name = 'cem', not {config.algo.name!r}")
        super().__init__(config, make_env, run_dir, init_from)
        self.snapshot_interval, self.preview_interval = float(snapshot_interval), float(preview_interval)

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        from ..errors import RigDojoError

        config, algo = self.config, self.config.algo
        if self._resume_meta is None and any((self.run_dir / n).exists() for n in ("checkpoint.json", "metrics.csv")):
            raise RigDojoError(f"{self.run_dir} already holds a run; continue it (--resume) or choose another run folder")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config.save(self.run_dir / "config.toml")
        self.env = self.make_env(config, algo.n_envs, algo.seed)
        self.preview_env = self.make_env(config, 1, algo.seed + 7919)
        self.control_names = tuple(self.env.control_names)
        self.a_dim = int(self.env.action_space.shape[0])
        self.o_dim = int(self.env.observation_space.shape[0])
        self.sigma = float(algo.extra.get("sigma", 0.3))
        self.n_elite = max(2, int(round(float(algo.extra.get("elite", 0.125)) * algo.n_envs)))
        self.steps_per_generation = algo.n_envs * self.env.episode_steps
        self.generations = math.ceil(algo.total_steps / self.steps_per_generation) if algo.total_steps > 0 else 0
        self.rng = np.random.default_rng(algo.seed)
        size = self.a_dim * (self.o_dim + 1)
        self.mean, self.std = np.zeros(size), np.full(size, self.sigma)
        self.generation, self.step, self._wall_base = 0, 0, 0.0
        meta = self._resume_meta
        if meta is not None:
            with np.load(self.run_dir / "checkpoints" / meta["checkpoint"], allow_pickle=False) as ck:
                self.mean, self.std = np.array(ck["mean"]), np.array(ck["std"])
            if self.mean.shape != (size,):
                raise RigDojoError(f"{self.run_dir}: the checkpoint does not fit this shot's camera task; start a new run")
            self.rng.bit_generator.state = meta["rng_state"]
            self.generation, self.step = int(meta["generation"]), int(meta["step"])
            self.episodes, self._wall_base = int(meta["episodes"]), float(meta["wall_time"])
            self.resumed_from_step = self.step
            self._restore_metrics(self.step)
        elif self.init_from is not None:
            policy = load_task_policy(self.init_from)
            policy.check_compatible(self.env)
            if policy.algo != "cem":
                raise RigDojoError(f"policy {self.init_from.name} was trained with {policy.algo}; cem starts only "
                                   "from a camera policy trained with cem")
            self.mean = np.concatenate([policy.arrays["weights"], policy.arrays["bias"][:, None]], axis=1).reshape(-1)
        self._metrics_file = None
        self._best_history: list[float] = []
        self._last_checkpoint_step = self.step

    # -- the search thread -----------------------------------------------------------------
    def _progress(self) -> float:
        algo = self.config.algo
        parts = []
        if self.generations:
            parts.append(self.generation / self.generations)
        if algo.minutes > 0:
            parts.append(self._wall_time() / (algo.minutes * 60.0))
        return min(1.0, max(parts)) if parts else 0.0

    def _done(self) -> bool:
        algo = self.config.algo
        return (self.generations and self.generation >= self.generations) or \
            (algo.minutes > 0 and self._wall_time() >= algo.minutes * 60.0)

    def _run(self) -> None:
        try:
            self._run_start = time.monotonic()
            self._paused_total = 0.0
            self._window = (time.monotonic(), self.step)
            self._last_sps = float("nan")
            self._next_snapshot = self._next_preview = 0.0
            self._preview, self._preview_step = None, 0
            self._last = (float("nan"), float("nan"), float("nan"))
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
            self._publish(time.monotonic(), preview=False)
        except BaseException as exc:  # never a silent stop: the UI shows this
            self.error = f"{type(exc).__name__}: {exc}\n\n" + "".join(traceback.format_exception(exc))
            self._set_state("error")
        finally:
            if self._metrics_file is not None:
                self._metrics_file.close()

    def _generation(self) -> None:
        env, pop, o_dim = self.env, self.config.algo.n_envs, self.o_dim
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
        progress = self.generation / max(self.generations, 1) if self.generations else self._progress()
        self.mean = cand[best].mean(axis=0)
        self.std = cand[best].std(axis=0) + 0.02 * self.sigma * (1.0 - progress)
        self.generation += 1
        self.step += self.steps_per_generation
        self.episodes += pop
        success = float(np.mean([bool(i.get("success", False)) for i in infos])) if infos else float("nan")
        self._last = (float(returns.mean()), success, float(returns[best[0]]))

    def current_policy(self) -> _LinearNetwork:
        params = self.mean.reshape(self.a_dim, self.o_dim + 1)
        return _LinearNetwork(params[:, : self.o_dim].copy(), params[:, self.o_dim].copy())

    def _rollout_preview(self) -> np.ndarray:
        from .camera.task import rollout

        net = self.current_policy()
        move = rollout(self.preview_env, lambda o: net.predict(o)[0])
        out = np.stack([move.positions, move.angles], axis=1)
        out.setflags(write=False)
        return out

    def _publish(self, now: float, preview: bool = True) -> None:
        from types import MappingProxyType

        from ..agents.session import CurvePoint, Snapshot

        if preview and now >= self._next_preview and self.state == "running":
            began = time.monotonic()
            self._preview, self._preview_step = self._rollout_preview(), self.step
            self._next_preview = time.monotonic() + max(self.preview_interval, 10 * (time.monotonic() - began))
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
        mean_return, success, best = self._last
        terms = {k: float(v) for k, v in self.env.term_means().items()} if hasattr(self.env, "term_means") else {}
        snapshot = Snapshot(
            state=self.state, step=self.step, total_steps=algo.total_steps, episodes=self.episodes,
            mean_return=mean_return, success_rate=success, term_means=MappingProxyType(terms), curriculum_stage=0,
            steps_per_second=sps, eta_seconds=min(etas) if etas else float("nan"), wall_time=self._wall_time(),
            control_names=self.control_names, preview=self._preview, preview_step=self._preview_step)
        self.mailbox.put(snapshot, CurvePoint(self.step, snapshot.wall_time, mean_return, success))
        self._write_metrics(snapshot, best)
        self._next_snapshot = time.monotonic() + self.snapshot_interval

    def _write_metrics(self, snapshot, best: float) -> None:
        path = self.run_dir / "metrics.csv"
        if self._metrics_file is None:
            fresh = not (path.exists() and path.stat().st_size > 0)
            self._metrics_file = path.open("a" if not fresh else "w", newline="")
            if fresh:
                self._metrics_file.write(",".join(CEM_CSV) + "\n")
        sps = snapshot.steps_per_second
        row = [snapshot.step, round(snapshot.wall_time, 3), snapshot.mean_return, snapshot.success_rate,
               round(sps, 1) if math.isfinite(sps) else sps, snapshot.episodes, 0, best, self.generation]
        self._metrics_file.write(",".join(str(v) for v in row) + "\n")
        self._metrics_file.flush()

    def _save_checkpoint(self) -> None:
        import io

        from ..agents.files import write_atomic

        name = f"gen_{self.generation:08d}.npz"
        folder = self.run_dir / "checkpoints"
        buf = io.BytesIO()
        np.savez(buf, mean=self.mean, std=self.std)
        write_atomic(folder / name, buf.getvalue())
        meta = {"checkpoint": name, "step": self.step, "episodes": self.episodes, "algo": "cem",
                "generation": self.generation, "curriculum_stage": 0, "wall_time": self._wall_time(),
                "rng_state": self.rng.bit_generator.state}
        write_atomic(self.run_dir / "checkpoint.json", json.dumps(meta, indent=1).encode())
        self._last_checkpoint_step = self.step
        for old in sorted(folder.glob("gen_*.npz"))[:-2]:
            old.unlink(missing_ok=True)

    def _save_policy(self) -> None:
        net = self.current_policy()
        save_camera_policy(net.weights, net.bias, self.run_dir / "final.rdpolicy", config=self.config,
                           env=self.env, num_timesteps=self.step)


def make_session(config, make_env, run_dir=None, *, resume: bool = False, init_from=None, **kwargs):
    """The session that trains ``config``: ``CameraSearchSession`` for ``algo.name = "cem"``, else
    ``agents.session.TrainingSession``. ``resume=True`` continues the run in ``run_dir``."""
    from ..agents.session import TrainingSession

    if resume:
        from ..agents.config import TrainConfig

        algo = TrainConfig.load(Path(run_dir) / "config.toml").algo.name
        cls = CameraSearchSession if algo == "cem" else TrainingSession
        return cls.continue_run(run_dir, make_env, **kwargs)
    cls = CameraSearchSession if config.algo.name == "cem" else TrainingSession
    return cls(config, make_env, run_dir, init_from=init_from, **kwargs)
