"""TrainingSession: one training in a background thread, watched through immutable snapshots.

The thread never touches bpy (DESIGN.md, rule 3). It publishes :class:`Snapshot` objects
into a :class:`Mailbox` (both in ``agents/background.py``, with the thread itself: :class:`BackgroundRun`); the UI's main-thread timer reads ``session.latest()`` (the newest
wins) and ``session.history`` (curve points). Pause, resume and stop act through a callback
after every step: it blocks on a threading.Event while paused and returns False to stop. Our PPO
(``agents/ppo.py``) hands each step over as arrays (``_on_step_arrays``) and checkpoints between
its updates; the SB3 algorithms and the tabular learner go through an SB3 callback (``_on_step``).

Run folder (``run_dir``)::

    config.toml          the TrainConfig of the run
    metrics.csv          one row per snapshot: step, wall_time, mean_return, success_rate,
                         steps_per_second, episodes, curriculum_stage, term_<name>...
    checkpoints/         step_<n>.npz (ppo: arrays + JSON, agents/ppo.py) or step_<n>.zip (the other
                         algorithms: arrays + JSON in an npz, agents/checkpoint_file.py); never a pickle;
                         the last 2 kept, each with a step_<n>.<ext>.json of its counters
    checkpoint.json      which checkpoint is the latest, with the counters resume restores
    .rig_dojo.lock       held while a training writes here (agents/run_folder.py)
    final.rdpolicy       the shareable policy (agents/policy_file.py) when the run ends or stops
    tensorboard/         event files, only when tensorboard is importable

Every file is written atomically (temp file in the same folder, then os.replace) except
metrics.csv, which is appended row by row and trimmed back to the checkpoint on resume.
"""

from __future__ import annotations

import collections
import csv
import importlib.util
import math
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import RigDojoError
from .background import CSV_FIXED, KEEP_CHECKPOINTS, BackgroundRun, CurvePoint, Snapshot, frozen
from .config import TrainConfig
from .files import write_atomic_with
from .run_folder import record_checkpoint

# our PPO's KL target when a run starts from a trained policy (the library, a .rdpolicy) and algo.extra does not
# set one: the default 0.02 moved the library's reach from 0.0004 to 0.007-0.008 chain lengths of final error in
# 15 s on the demo arm; 0.002 kept 0.0017-0.0020 (agents/README.md, "Rig-agnostic reach and the policy library")
FINE_TUNE_KL = 0.002
RATE_SECONDS = 0.5  # steps/s and the ETA need this much of the run (since its start or last unpause) behind them


def preview_rollout(env: Any, act: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """One deterministic episode of ``env``'s environment 0 as frozen ``(T, k, 3)`` preview frames: the task's
    own ``preview_rollout`` when it has one, else stepped through the VecEnv (the control angles)."""
    if hasattr(env, "preview_rollout"):
        return frozen(env.preview_rollout(act))
    obs = env.reset()
    frames = [np.array(env.control_angles()[0], dtype=np.float64)]
    for _ in range(int(getattr(env, "episode_steps", 64))):
        obs, _rewards, dones, _infos = env.step(act(obs))
        if dones[0]:
            break  # after the auto-reset the angles are the next episode's
        frames.append(np.array(env.control_angles()[0], dtype=np.float64))
    return frozen(np.stack(frames))


def probe_task(env: Any) -> None:
    """Reset ``env`` and take one step, on the caller's thread: settings the task cannot honour (a reward
    term reading state this task does not have) raise RigDojoError before training starts. ``env`` is a
    preview task (its own random generator): the training task is untouched."""
    env.reset()
    env.step(np.stack([env.action_space.sample() for _ in range(env.num_envs)]))


class TrainingSession(BackgroundRun):
    """Run one training in a background thread.

    :param config: the run's settings (validated here)
    :param make_env: the task factory ``make_env(config, n_envs, seed) -> VecEnv``
    :param run_dir: the run folder (default: ``config.output.run_dir``)
    :param init_from: a shareable policy file to fine-tune from; refused with RigDojoError
        when its observations, actions or control bones do not fit the task
    :param snapshot_interval: seconds between snapshots (and metrics.csv rows)
    :param preview_interval: least seconds between preview rollouts
    :param preview_fraction: most of the training time preview rollouts may take
    :param recent_episodes: how many recent episodes mean_return and success_rate cover
    :param curriculum_window: episodes at a stage before the curriculum is asked to advance
    :param zero_shot: train nothing: the start (``init_from`` or ``algo.start_from``, required) as it is, on
        this task; the run folder is written as after any run (config.toml, a checkpoint at step 0 that
        ``--resume`` fine-tunes from, final.rdpolicy), so bake, evaluate and export take it unchanged
    """

    def __init__(self, config: TrainConfig, make_env: Callable[[TrainConfig, int, int], Any],
                 run_dir: str | Path | None = None, *, init_from: str | Path | None = None,
                 snapshot_interval: float = 0.5, preview_interval: float = 0.5, preview_fraction: float = 0.1,
                 recent_episodes: int = 100, curriculum_window: int = 50, zero_shot: bool = False):
        super().__init__(config, make_env, run_dir, init_from)
        self.zero_shot = bool(zero_shot)
        self.snapshot_interval = float(snapshot_interval)
        self.preview_interval = float(preview_interval)
        self.preview_fraction = float(preview_fraction)
        self.curriculum_window = int(curriculum_window)
        self._budget_reached = False
        # episode statistics (training thread only)
        self._returns: collections.deque[float] = collections.deque(maxlen=recent_episodes)
        self._successes: collections.deque[bool] = collections.deque(maxlen=recent_episodes)
        self._terms: collections.deque[dict[str, float]] = collections.deque(maxlen=recent_episodes)
        self._stage_successes: collections.deque[bool] = collections.deque(maxlen=self.curriculum_window)
        self._term_names: list[str] = []
        self._lean = False  # our PPO: steps handed over as arrays, checkpoints between updates

    def _failed_build(self) -> None:
        self._close_envs()

    # -- building ----------------------------------------------------------------------------
    def _build(self) -> None:
        from .algorithms import build_model, check_settings, load_checkpoint, use_time_progress
        from .threads import use_training_threads

        config, algo = self.config, self.config.algo
        if self._resume_meta is None and any((self.run_dir / n).exists() for n in ("checkpoint.json", "metrics.csv")):
            # never overwrite another run's results (DESIGN.md, rule 6)
            raise RigDojoError(f"{self.run_dir} already holds a run; resume it (train --resume) or choose another "
                               "run folder (--out; in the sidebar, Run Folder)")
        if self._resume_meta is not None and algo.name == "ppo" and self._resume_meta["checkpoint"].endswith(".zip"):
            algo.name = "sb3_ppo"  # a run from before our own PPO: "ppo" was Stable-Baselines3's (a .zip checkpoint)
        check_settings(config)
        start = None
        source = self.init_from or algo.start_from
        if self.zero_shot and (self._resume_meta is not None or not source):
            raise RigDojoError("a run without training uses a start policy as it is: name one (library:reach, a "
                               ".rdpolicy) as where the run starts")
        if self._resume_meta is None and source:
            from .library import open_start

            start = open_start(source, config)  # a library policy makes the run observe joint tokens
            if algo.name == "ppo":  # fine-tuning: a small trust region keeps what the start already does well
                from .config import defaults_for

                tuned = defaults_for("ppo", config.task).extra.get("desired_kl")
                untouched = {tuned, defaults_for("ppo").extra.get("desired_kl")}  # the task's row or the generic one
                if algo.extra.get("desired_kl", tuned) in untouched and tuned != FINE_TUNE_KL:  # not the user's own
                    algo.extra["desired_kl"] = FINE_TUNE_KL
                    self.resume_notes.append(f"starting from {Path(str(source)).name}: algo.extra.desired_kl = "
                                             f"{FINE_TUNE_KL} (a fine-tune's small steps; set it to change that)")
        use_training_threads()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config.save(self.run_dir / "config.toml")
        self.env = self.make_env(config, algo.n_envs, algo.seed)
        self.preview_env = self.make_env(config, 1, algo.seed + 7919)
        probe_task(self.preview_env)  # a reward term the task cannot feed fails here, not in the thread
        self.control_names = tuple(self.env.control_names)
        tensorboard = self.run_dir / "tensorboard" if importlib.util.find_spec("tensorboard") else None
        meta = self._resume_meta
        if meta is not None:
            self.model = load_checkpoint(algo.name, self.run_dir / "checkpoints" / meta["checkpoint"], self.env, config)
            if tensorboard is not None and hasattr(self.model, "tensorboard_log"):
                self.model.tensorboard_log = str(tensorboard)
            self.model.num_timesteps = int(meta["step"])
            self.episodes = int(meta["episodes"])
            self._wall_base = float(meta["wall_time"])
            self._advance_to_stage(self.env, int(meta["curriculum_stage"]))
            self.resumed_from_step = int(meta["step"])
            self._restore_metrics(int(meta["step"]))
        else:
            self.model = build_model(config, self.env, tensorboard_log=tensorboard)
            self._wall_base = 0.0
            if start is not None:
                start.check_compatible(self.env)
                start.apply_to(self.model, algo.name)
        self._advance_to_stage(self.preview_env, self.env.curriculum_stage)
        if algo.minutes > 0:
            budget = algo.minutes * 60.0
            use_time_progress(self.model, lambda: max(0.0, 1.0 - self._wall_time() / budget))
        self._lean = hasattr(self.model, "checkpoint_bytes")  # our PPO (agents/ppo.py)
        self._last_checkpoint_step = int(self.model.num_timesteps)
        self._metrics_file = None
        self._metrics_columns: list[str] | None = None
        self._last_row_step = 0  # the step of the last metrics.csv row written

    def _advance_to_stage(self, env: Any, stage: int) -> None:
        if hasattr(env, "set_curriculum_stage"):
            env.set_curriculum_stage(stage)
        # Tasks without a setter: a success rate of 1.0 advances any stage.
        for _ in range(stage + 1):
            if env.curriculum_stage >= stage or not env.advance_curriculum(1.0):
                break
        if env.curriculum_stage != stage:
            raise RigDojoError(f"cannot bring the task to curriculum stage {stage} (it stops at {env.curriculum_stage}); "
                               "check [[curriculum.stages]] in config.toml")

    # -- the training thread -------------------------------------------------------------
    def _run(self) -> None:
        algo = self.config.algo
        try:
            self._run_start = time.monotonic()
            self._paused_total = 0.0
            self._window = (time.monotonic(), int(self.model.num_timesteps))
            self._next_snapshot = 0.0
            self._next_preview = 0.0
            self._preview: np.ndarray | None = None
            self._preview_step = 0
            self._last_sps = float("nan")
            done = int(self.model.num_timesteps)
            remaining = (algo.total_steps - done) if algo.total_steps > 0 else 10**15
            if remaining > 0 and not self.zero_shot and not self._time_up():
                if self._lean:
                    self.model.learn(total_timesteps=remaining, callback=self._on_step_arrays,
                                     on_iteration=self._on_iteration, reset_num_timesteps=False)
                else:
                    self.model.learn(total_timesteps=remaining, callback=_SessionCallback(self),
                                     reset_num_timesteps=False, tb_log_name="train")
            if self._lean and self._metrics_file is not None and self._last_row_step > int(self.model.num_timesteps):
                # our PPO stops at its last update when stopped or out of time (the rollout in progress is not
                # learnt from): rows written during that rollout are past the stop step, so they go, as a resume
                # would drop them (the step column went backwards at the end of a --minutes run)
                self._metrics_file.close()
                self._metrics_file = None
                self._trim_metrics(int(self.model.num_timesteps))
            self._save_checkpoint()
            self._save_policy()
            final = "stopped" if self._stop_event.is_set() else "finished"
            self._set_state(final)
            self._publish(time.monotonic(), preview=False)
        except BaseException as exc:  # never a silent stop: the UI shows this
            self.error = f"{type(exc).__name__}: {exc}\n\n" + "".join(traceback.format_exception(exc))
            self._set_state("error")
        finally:
            if self._metrics_file is not None:
                self._metrics_file.close()
            self._close_envs()

    def _close_envs(self) -> None:
        for name in ("env", "preview_env"):
            env = getattr(self, name, None)
            if env is not None:
                try:
                    env.close()
                except Exception:  # closing must not hide the error that got us here
                    pass

    def _time_up(self, grace: bool = False) -> bool:
        """Whether ``algo.minutes`` is spent; with ``grace``, spent and then some: a rollout in progress is
        abandoned past it (a large creature's rollout on a busy machine takes a minute; a 3-second budget must not
        run for two), where between updates the budget itself ends the run."""
        minutes = self.config.algo.minutes
        if minutes <= 0:
            return False
        budget = minutes * 60.0
        return self._wall_time() >= budget + (max(2.0, 0.05 * budget) if grace else 0.0)

    # called by the callback after every env.step
    def _on_step(self, model_locals: dict[str, Any]) -> bool:
        self._record(model_locals)
        if not self._control():
            return False
        step = int(self.model.num_timesteps)
        if step - self._last_checkpoint_step >= self.config.output.checkpoint_every:
            self._save_checkpoint()
        if self._time_up():
            return False
        return True

    # our PPO: after every step of all environments (arrays), and after every update
    def _on_step_arrays(self, step: Any) -> bool:
        self._record_arrays(step)
        return self._control() and not self._time_up(grace=True)

    def _on_iteration(self, _model: Any) -> bool:
        if int(self.model.num_timesteps) - self._last_checkpoint_step >= self.config.output.checkpoint_every:
            self._save_checkpoint()  # between updates: what resume restores is exactly the trainer's state
        return not self._time_up()

    def _control(self) -> bool:
        """Pause (block), stop (False) and publish snapshots; shared by both callbacks."""
        if not self._unpaused.is_set():
            paused_at = time.monotonic()
            while not self._unpaused.wait(0.1):
                pass
            self._paused_total += time.monotonic() - paused_at
            self._window = (time.monotonic(), int(self.model.num_timesteps))
        if self._stop_event.is_set():
            return False
        now = time.monotonic()
        if now >= self._next_snapshot:
            self._publish(now)
        return True

    def _record(self, model_locals: dict[str, Any]) -> None:
        rewards = np.asarray(model_locals["rewards"], dtype=np.float64).reshape(-1)
        dones = np.asarray(model_locals["dones"]).reshape(-1)
        infos = model_locals["infos"]
        # a task with last_terms() (BatchedTask) gives every step's terms as arrays; its infos carry only an
        # episode's last step, so the per-episode sums come from the arrays (as step_arrays sums them)
        last_terms = getattr(self.env, "last_terms", None)
        step_terms = last_terms() if callable(last_terms) else None
        if not hasattr(self, "_ep_return"):
            self._ep_return = np.zeros(rewards.size)
            self._ep_terms: list[dict[str, float]] = [{} for _ in range(rewards.size)]
            self._ep_term_sums: dict[str, np.ndarray] = {}
            self._term_names = sorted(step_terms if step_terms is not None else
                                      (infos[0].get("terms", {}) if infos else {}))
        self._ep_return += rewards
        if step_terms is not None:
            for name, value in step_terms.items():
                sums = self._ep_term_sums.get(name)
                if sums is None:
                    sums = self._ep_term_sums[name] = np.zeros(rewards.size)
                sums += value
        else:
            for i, info in enumerate(infos):
                ep = self._ep_terms[i]
                for name, value in info.get("terms", {}).items():
                    ep[name] = ep.get(name, 0.0) + float(value)
        ended = np.flatnonzero(dones)
        for i in ended:
            success = bool(infos[i].get("success", False))
            self._returns.append(float(self._ep_return[i]))
            self._successes.append(success)
            self._stage_successes.append(success)
            if step_terms is not None:
                self._terms.append({name: float(sums[i]) for name, sums in self._ep_term_sums.items()})
                for sums in self._ep_term_sums.values():
                    sums[i] = 0.0
            else:
                self._terms.append(self._ep_terms[i])
                self._ep_terms[i] = {}
            self._ep_return[i] = 0.0
            self.episodes += 1
        if ended.size and self.config.curriculum.enabled and len(self._stage_successes) >= self.curriculum_window:
            rate = float(np.mean(self._stage_successes))
            if self.env.advance_curriculum(rate):
                self._stage_successes.clear()
                self._advance_to_stage(self.preview_env, self.env.curriculum_stage)

    def _record_arrays(self, step: Any) -> None:
        """``_record`` for a step handed over as arrays (``agents.step_arrays.StepArrays``)."""
        if not self._term_names:
            self._term_names = sorted(step.term_names or step.episode_terms)
        ended = step.done_idx
        if not ended.size:
            return
        keep = self._returns.maxlen or ended.size  # older episodes would fall out of the window at once
        recent = slice(max(0, ended.size - keep), ended.size)
        success = np.asarray(step.info.get("success", np.zeros(step.reward.size)), dtype=bool)[ended]
        self._returns.extend(np.asarray(step.episode_return[recent], dtype=np.float64).tolist())
        self._successes.extend(success[recent].tolist())
        self._stage_successes.extend(success[-(self._stage_successes.maxlen or ended.size):].tolist())
        terms = {name: np.asarray(sums[recent], dtype=np.float64) for name, sums in step.episode_terms.items()}
        for i in range(len(success[recent])):
            self._terms.append({name: float(sums[i]) for name, sums in terms.items()})
        self.episodes += int(ended.size)
        if self.config.curriculum.enabled and len(self._stage_successes) >= self.curriculum_window:
            rate = float(np.mean(self._stage_successes))
            if self.env.advance_curriculum(rate):
                self._stage_successes.clear()
                self._advance_to_stage(self.preview_env, self.env.curriculum_stage)

    # -- publishing ------------------------------------------------------------------------
    def _publish(self, now: float, preview: bool = True) -> None:
        step = int(self.model.num_timesteps)
        if preview and now >= self._next_preview and self.state == "running":
            began = time.monotonic()
            self._preview = self._rollout_preview()
            self._preview_step = step
            took = time.monotonic() - began
            self._next_preview = time.monotonic() + max(self.preview_interval, took / self.preview_fraction)
        then, then_step = self._window
        if now - then >= RATE_SECONDS and step > then_step:
            # over the whole run since it started (or was last unpaused), not one interval: training
            # alternates fast stepping with updates, and previews take their share. Not before RATE_SECONDS:
            # the first step carries the start's one-off costs (the demo's first line said 7,932 steps/s and
            # "ETA 6:18" for a 32 s run), so the first lines say "--" instead
            self._last_sps = (step - then_step) / (now - then)
        sps = self._last_sps
        algo = self.config.algo
        eta = self._eta_seconds(step, sps)
        terms: dict[str, float] = {}
        if self._terms:
            names = sorted({name for episode in self._terms for name in episode})
            terms = {name: float(np.mean([episode.get(name, 0.0) for episode in self._terms])) for name in names}
        nan = float("nan")
        snapshot = Snapshot(
            state=self.state, step=step, total_steps=algo.total_steps, episodes=self.episodes,
            mean_return=float(np.mean(self._returns)) if self._returns else nan,
            success_rate=float(np.mean(self._successes)) if self._successes else nan,
            term_means=MappingProxyType(terms), curriculum_stage=int(self.env.curriculum_stage),
            steps_per_second=sps, eta_seconds=eta, wall_time=self._wall_time(),
            control_names=self.control_names, preview=self._preview, preview_step=self._preview_step)
        point = CurvePoint(step, snapshot.wall_time, snapshot.mean_return, snapshot.success_rate)
        self.mailbox.put(snapshot, point)
        self._write_metrics(snapshot)
        self._next_snapshot = time.monotonic() + self.snapshot_interval

    def _rollout_preview(self) -> np.ndarray:
        from .algorithms import task_actions

        env = self.preview_env
        return preview_rollout(env, lambda obs: task_actions(self.model.predict(obs, deterministic=True)[0],
                                                             env.action_space))

    def _write_metrics(self, snapshot: Snapshot) -> None:
        path = self.run_dir / "metrics.csv"
        if self._metrics_file is None:
            if path.exists() and path.stat().st_size > 0:
                with path.open(newline="") as f:
                    self._metrics_columns = next(csv.reader(f))
                self._metrics_file = path.open("a", newline="")
            else:
                # the task's default terms when the config names none (episodes may not have ended yet)
                names = [t.name for t in self.config.rewards if t.enabled] or sorted(self._term_names) or \
                    sorted(getattr(self.env, "last_terms", dict)())
                self._metrics_columns = [*CSV_FIXED, *(f"term_{n}" for n in names)]
                self._metrics_file = path.open("w", newline="")
                self._metrics_file.write(",".join(self._metrics_columns) + "\n")
        values = {"step": snapshot.step, "wall_time": round(snapshot.wall_time, 3),
                  "mean_return": snapshot.mean_return, "success_rate": snapshot.success_rate,
                  "steps_per_second": round(snapshot.steps_per_second, 1) if math.isfinite(snapshot.steps_per_second)
                  else snapshot.steps_per_second, "episodes": snapshot.episodes,
                  "curriculum_stage": snapshot.curriculum_stage}
        for name, value in snapshot.term_means.items():
            values[f"term_{name}"] = value
        assert self._metrics_columns is not None
        self._metrics_file.write(",".join(str(values.get(c, "nan")) for c in self._metrics_columns) + "\n")
        self._metrics_file.flush()
        self._last_row_step = int(snapshot.step)

    # -- files -----------------------------------------------------------------------------
    def _save_checkpoint(self) -> None:
        from .algorithms import save_checkpoint

        step = int(self.model.num_timesteps)
        folder = self.run_dir / "checkpoints"
        # arrays and JSON (our PPO's npz, agents/ppo.py; the others', agents/checkpoint_file.py): resuming a
        # shared run folder runs no code from it. The SB3 algorithms' stay .zip: a "ppo" run with a .zip
        # checkpoint is one from before our own PPO, and resumes as sb3_ppo (_build)
        suffix = ".npz" if self._lean else ".zip"
        name = f"step_{step:012d}{suffix}"
        write_atomic_with(folder / name, lambda f: save_checkpoint(self.model, f, self.config.algo.name))
        meta = {"checkpoint": name, "step": step, "episodes": self.episodes, "algo": self.config.algo.name,
                "curriculum_stage": int(self.env.curriculum_stage), "wall_time": self._wall_time()}
        record_checkpoint(self.run_dir, meta)  # checkpoint.json, and a copy beside the checkpoint
        self._last_checkpoint_step = step
        for old in sorted(folder.glob(f"step_*{suffix}"))[:-KEEP_CHECKPOINTS]:
            old.unlink(missing_ok=True)

    def _save_policy(self) -> None:
        from .policy_file import save_policy

        save_policy(self.model, self.run_dir / "final.rdpolicy", algo=self.config.algo.name,
                    config=self.config, env=self.env)


def _make_callback_class() -> type:
    from stable_baselines3.common.callbacks import BaseCallback

    class SessionCallback(BaseCallback):
        """Hands every step to the session: statistics, pause, stop, snapshots, checkpoints."""

        def __init__(self, session: TrainingSession):
            super().__init__()
            self.session = session

        def _on_step(self) -> bool:
            return self.session._on_step(self.locals)

    return SessionCallback


def _SessionCallback(session: TrainingSession) -> Any:  # noqa: N802 (a class built on first use: SB3 is heavy)
    global _callback_class
    if _callback_class is None:
        _callback_class = _make_callback_class()
    return _callback_class(session)


_callback_class: type | None = None


def session_class(algo: str) -> type[BackgroundRun]:
    """The session that runs ``algo``: the cross-entropy search for ``cem``, the session of an algorithm a
    family brings (its hooks' ``SESSION``, ``envs.families.algorithm_hooks``: the camera's shot solver), else
    TrainingSession."""
    if algo == "cem":
        from .cem import CemSession

        return CemSession
    from ..envs.families import algorithm_hooks

    hooks = algorithm_hooks(algo)
    return hooks.SESSION if hooks is not None else TrainingSession


def runs_without_training(algo: str) -> bool:
    """Whether ``algo``'s session can write a start as a run with no training (``zero_shot``): TrainingSession's
    algorithms; a search (cem, the camera's shot solver) has no such run."""
    return issubclass(session_class(algo), TrainingSession)


def make_session(config: TrainConfig | None, make_env: Callable[[TrainConfig, int, int], Any],
                 run_dir: str | Path | None = None, *, resume: bool = False, init_from: str | Path | None = None,
                 **kwargs: Any) -> BackgroundRun:
    """The session that trains ``config`` (see :func:`session_class`); ``resume=True`` continues the run in
    ``run_dir`` from its checkpoint (``config`` is then read from the run folder)."""
    if resume:
        algo = TrainConfig.load(Path(run_dir) / "config.toml").algo.name
        return session_class(algo).continue_run(run_dir, make_env, **kwargs)
    assert config is not None
    return session_class(config.algo.name)(config, make_env, run_dir, init_from=init_from, **kwargs)
