"""The thread and state machine every training shares, and what it publishes.

:class:`BackgroundRun` runs ``_run()`` on a background thread that never touches bpy (DESIGN.md, rule 3) and
moves through ``idle -> running <-> paused -> stopping -> stopped | finished | error``; it publishes immutable
:class:`Snapshot` objects into a :class:`Mailbox` (the newest wins) and :class:`CurvePoint` rows into its
history, which the UI's main-thread timer reads. :class:`agents.session.TrainingSession` (the learners) and
the camera's searches (``agents/cem.py``, ``envs/camera/solve_session.py``) are its subclasses; the run
folder's layout is described in ``agents/session.py``.
"""

from __future__ import annotations

import collections
import csv
import math
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RigDojoError
from .config import TrainConfig
from .files import write_atomic

STATES = ("idle", "running", "paused", "stopping", "stopped", "finished", "error")
ENDED_STATES = ("stopped", "finished", "error")
KEEP_CHECKPOINTS = 2
CSV_FIXED = ("step", "wall_time", "mean_return", "success_rate", "steps_per_second", "episodes", "curriculum_stage")


@dataclass(frozen=True)
class CurvePoint:
    step: int
    wall_time: float
    mean_return: float
    success_rate: float


@dataclass(frozen=True)
class Snapshot:
    """What the UI shows at one moment. Immutable: frozen, a read-only mapping and a read-only array.

    ``mean_return``, ``success_rate`` and ``term_means`` are over the most recent episodes
    (NaN before the first episode ends); an episode counts as a success when its last step
    reports ``success``. ``term_means`` are per-episode sums of each weighted term, averaged,
    so they add up to ``mean_return``. ``eta_seconds`` is NaN while unknown. ``preview`` is
    the newest deterministic rollout, shaped (T, k, 3) of ``env.preview_frame()`` (control angles, local
    Euler XYZ, radians), rolled at ``preview_step``; None until the first one.
    """

    state: str
    step: int
    total_steps: int
    episodes: int
    mean_return: float
    success_rate: float
    term_means: Mapping[str, float]
    curriculum_stage: int
    steps_per_second: float
    eta_seconds: float
    wall_time: float
    control_names: tuple[str, ...]
    preview: np.ndarray | None
    preview_step: int


class Mailbox:
    """Thread-safe: the trainer puts snapshots, the UI reads the newest and the curve so far."""

    def __init__(self, history_limit: int = 20_000):
        self._lock = threading.Lock()
        self._latest: Snapshot | None = None
        self._history: collections.deque[CurvePoint] = collections.deque(maxlen=history_limit)

    def put(self, snapshot: Snapshot, point: CurvePoint | None = None) -> None:
        with self._lock:
            self._latest = snapshot
            if point is not None:
                self._history.append(point)

    def extend_history(self, points: list[CurvePoint]) -> None:
        with self._lock:
            self._history.extend(points)

    def latest(self) -> Snapshot | None:
        with self._lock:
            return self._latest

    def history(self) -> tuple[CurvePoint, ...]:
        with self._lock:
            return tuple(self._history)


def frozen(array: np.ndarray) -> np.ndarray:
    out = np.array(array, dtype=np.float64, copy=True)
    out.setflags(write=False)
    return out


class BackgroundRun:
    """The thread and state machine every training session shares (TrainingSession, the camera search).

    States: idle -> running <-> paused -> stopping -> stopped | finished | error. A subclass
    implements ``_build()`` (on the caller's thread, so bad settings raise there) and ``_run()``
    (the background thread, which honours ``_stop_event`` and ``_unpaused``), and publishes
    snapshots into ``self.mailbox``.
    """

    thread_name = "rig_dojo-training"

    def __init__(self, config: TrainConfig, make_env: Callable[[TrainConfig, int, int], Any],
                 run_dir: str | Path | None, init_from: str | Path | None):
        config.validate()
        run_dir = run_dir if run_dir is not None else config.output.run_dir
        if not run_dir:
            raise RigDojoError("no run folder: set output.run_dir (the default is beside the .blend file)")
        self.config = config
        self.make_env = make_env
        self.run_dir = Path(run_dir)
        self.init_from = Path(init_from) if init_from else None
        self.mailbox = Mailbox()
        self.error: str | None = None
        self._state = "idle"
        self._state_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._thread: threading.Thread | None = None
        self._thread_ended = threading.Event()  # set when the thread has saved and ended (see wait())
        self._folder_lock: Any = None  # agents.run_folder.RunFolderLock while training
        self._resume_meta: dict[str, Any] | None = None
        self._restart = False  # continue_run found no checkpoint: the run starts over in its folder
        self.resume_notes: list[str] = []  # what continue_run skipped or decided, for the user
        self.end_note: str | None = None  # why a run ended before its budget (a search that converged)
        self.episodes = 0
        self.resumed_from_step = 0

    @classmethod
    def continue_run(cls, run_dir: str | Path, make_env: Callable[[TrainConfig, int, int], Any],
                     **kwargs: Any):
        """A session that continues a stopped or killed run from its last checkpoint (call start()).

        The step counter, episode count, wall time, curriculum stage and curve continue.
        """
        from .run_folder import find_resume_point

        run_dir = Path(run_dir)
        if not (run_dir / "config.toml").is_file():
            raise RigDojoError(f"{run_dir} is not a run folder (no config.toml); give the folder a run wrote")
        config = TrainConfig.load(run_dir / "config.toml")
        point = find_resume_point(run_dir)  # the newest checkpoint that can be read
        if point.meta is None and point.damaged:
            raise RigDojoError(f"{run_dir}: no checkpoint can be read ({'; '.join(point.notes)}); start a new run "
                               f"from its settings (--config {run_dir / 'config.toml'}) in another folder")
        session = cls(config, make_env, run_dir, **kwargs)
        session.resume_notes = list(point.notes)
        if point.meta is None:  # stopped or killed before its first checkpoint: nothing to lose, start over
            session.resume_notes.append("the run ended before its first checkpoint; starting it over from its "
                                        "config.toml")
            session._restart = True
        else:
            session._resume_meta = point.meta
        return session

    # -- state -----------------------------------------------------------------------------
    @property
    def state(self) -> str:
        with self._state_lock:
            return self._state

    def _set_state(self, state: str, only_from: tuple[str, ...] | None = None) -> bool:
        with self._state_lock:
            if only_from is not None and self._state not in only_from:
                return False
            self._state = state
            return True

    def latest(self) -> Snapshot | None:
        return self.mailbox.latest()

    @property
    def history(self) -> tuple[CurvePoint, ...]:
        return self.mailbox.history()

    # -- control ---------------------------------------------------------------------------
    def start(self) -> None:
        """Build the task and the model (errors in the settings raise RigDojoError here), then train."""
        from .run_folder import claim, clear_for_restart

        if self.state != "idle":
            raise RigDojoError(f"this training session is {self.state}; start a new session")
        try:
            self._folder_lock = claim(self.run_dir)  # one training per run folder, across processes
            if self._restart:
                clear_for_restart(self.run_dir)
            self._build()
        except BaseException as exc:
            self._failed_build()
            if self._folder_lock is not None:
                self._folder_lock.abandon()
            self.error = "".join(traceback.format_exception(exc))
            self._set_state("error")
            raise
        self._set_state("running")
        self._thread = threading.Thread(target=self._thread_main, name=self.thread_name, daemon=True)
        self._thread.start()

    def _thread_main(self) -> None:
        try:
            self._run()
        finally:
            if self._folder_lock is not None:
                self._folder_lock.release()
            self._thread_ended.set()

    def pause(self) -> None:
        if self._set_state("paused", only_from=("running",)):
            self._unpaused.clear()

    def resume(self) -> None:
        """Continue after pause() (to continue a stopped run from disk, see continue_run)."""
        if self._set_state("running", only_from=("paused",)):
            self._unpaused.set()

    def stop(self) -> None:
        """Stop training, save a checkpoint and the policy, and wait for the thread to end."""
        if not self.request_stop() and self._set_state("stopped", only_from=("idle",)):
            return
        self.wait()

    def request_stop(self) -> bool:
        """Ask the thread to stop (it saves a checkpoint and the policy) without waiting; False if it was not
        running or paused."""
        if self._set_state("stopping", only_from=("running", "paused")):
            self._stop_event.set()
            self._unpaused.set()
            return True
        return False

    @property
    def thread_done(self) -> bool:
        """The thread has saved and ended (or never started)."""
        return self._thread is None or self._thread_ended.is_set()

    def wait(self, timeout: float | None = None) -> str:
        """Wait for the thread to end (or ``timeout`` seconds, unless the state says it has ended: then until the
        thread has published its last snapshot); returns the state.

        Waits on an Event rather than ``Thread.join``: in Python 3.11 a KeyboardInterrupt inside
        ``join(timeout)`` can mark a thread that is still running as ended (bpo-45274), and Ctrl-C would
        then leave before the trainer saved its checkpoint.
        """
        if self._thread is None:
            return self.state
        ended = self._thread_ended.wait(timeout)
        if not ended and self.state in ENDED_STATES:
            # the thread sets its last state a moment before it publishes its last snapshot and releases the run
            # folder: callers that see an ended state read those next, so the rest of that moment is waited out
            ended = self._thread_ended.wait()
        if ended:
            self._thread.join()
        return self.state

    def _build(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        raise NotImplementedError

    def _failed_build(self) -> None:
        """Release what a failed ``_build`` may have made."""

    def _wall_time(self) -> float:
        return self._wall_base + (time.monotonic() - self._run_start) - self._paused_total

    def _eta_seconds(self, step: int, steps_per_second: float) -> float:
        """Seconds left: the sooner of the step budget at this speed and the time budget (NaN with neither)."""
        algo = self.config.algo
        etas = []
        if algo.total_steps > 0 and steps_per_second > 0:
            etas.append(max(0, algo.total_steps - step) / steps_per_second)
        if algo.minutes > 0:
            etas.append(max(0.0, algo.minutes * 60.0 - self._wall_time()))
        return min(etas) if etas else float("nan")

    def _restore_metrics(self, step: int) -> None:
        """Keep the metrics.csv rows up to the checkpoint's ``step`` (resume repeats what came after) and put
        them back on the curve."""
        kept = self._trim_metrics(step)
        self.mailbox.extend_history([CurvePoint(int(float(r[0])), float(r[1]), float(r[2]), float(r[3])) for r in kept])

    def _trim_metrics(self, step: int) -> list[list[str]]:
        """Drop the metrics.csv rows after ``step`` (and rows a kill cut short); the rows kept."""
        path = self.run_dir / "metrics.csv"
        if not path.exists():
            return []
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
        if not rows:
            return []
        def intact(row: list[str]) -> bool:  # a kill can cut the last row short
            try:
                return len(row) == len(rows[0]) and all(math.isfinite(float(row[i])) or row[i] == "nan"
                                                        for i in range(len(row)))
            except ValueError:
                return False

        # rows written after the checkpoint belong to training that resume repeats
        header, kept = rows[0], [r for r in rows[1:] if intact(r) and int(float(r[0])) <= step]
        text = "\n".join(",".join(r) for r in [header, *kept]) + "\n"
        write_atomic(path, text.encode())
        return kept
