"""A search that runs in generations behind ``TrainingSession``'s interface (no bpy).

The camera's cross-entropy search (``agents/cem.py``) and its shot solver (``envs/camera/solve_session.py``)
are searches, not learners: each generation scores a population of candidates and refits. What they share is
here, once: the run loop (pause, stop, budget in steps or minutes, early convergence), the snapshots and their
speed and ETA, the metrics rows, and checkpoint rotation (``checkpoints/gen_<n>.npz``, plain arrays read
size-bounded on resume, ``checkpoint.json`` through ``agents.run_folder.record_checkpoint``). A subclass
says what a generation is and what it reports:

- ``_build()`` calls :meth:`_begin_build` first, then makes its search (and reads ``_resume_meta`` with
  :meth:`_read_checkpoint`);
- ``_generation()`` runs one generation and advances ``generation``, ``step`` and ``episodes``;
- ``_numbers(now, preview)`` gives ``(mean_return, success_rate, term_means, extra_columns)`` for a snapshot and
  refreshes ``_preview`` when it wants to;
- ``_checkpoint_arrays()`` and ``_rng()`` are what a checkpoint holds; ``_save_policy()`` writes final.rdpolicy;
- optionally ``_count_fraction()`` (the budget done, by default steps over ``total_steps``) and ``_converged()``.
"""

from __future__ import annotations

import io
import math
import time
import traceback
from types import MappingProxyType
from typing import Any

import numpy as np

from ..errors import RigDojoError
from .background import BackgroundRun, CurvePoint, Snapshot
from .files import write_atomic
from .run_folder import record_checkpoint

KEEP_GENERATIONS = 2  # checkpoints kept


class GenerationSession(BackgroundRun):
    """The run loop, snapshots, metrics and checkpoints of a search in generations (see the module docstring)."""

    algo_name = ""  # the algo.name this session runs
    csv_header: tuple[str, ...] = ()  # metrics.csv's columns: the common seven, then the subclass's extra ones

    def __init__(self, config, make_env, run_dir=None, *, init_from=None, snapshot_interval: float = 0.5,
                 preview_interval: float = 0.5, **_ignored):
        if config.algo.name != self.algo_name:
            raise RigDojoError(f"{type(self).__name__} runs algo.name = {self.algo_name!r}, not {config.algo.name!r}")
        super().__init__(config, make_env, run_dir, init_from)
        self.snapshot_interval, self.preview_interval = float(snapshot_interval), float(preview_interval)

    # -- building ----------------------------------------------------------------------------
    def _begin_build(self) -> None:
        """The run folder (a new run refuses one that holds a run) and the counters every search keeps."""
        if self._resume_meta is None and any((self.run_dir / n).exists() for n in ("checkpoint.json", "metrics.csv")):
            raise RigDojoError(f"{self.run_dir} already holds a run; continue it (--resume) or choose another run folder")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config.save(self.run_dir / "config.toml")
        self.generation, self.step, self._wall_base = 0, 0, 0.0
        self._metrics_file = None
        self._preview, self._preview_step = None, 0

    def _read_checkpoint(self, meta: dict, max_bytes: int) -> dict[str, np.ndarray]:
        """The resumed checkpoint's arrays (read size-bounded, no pickle), and the counters restored from ``meta``."""
        from .safe_read import read_npz

        arrays = read_npz(self.run_dir / "checkpoints" / str(meta.get("checkpoint")),
                          name=f"checkpoint {meta.get('checkpoint')}", max_bytes=max_bytes)
        try:
            self.generation, self.step = int(meta["generation"]), int(meta["step"])
            self.episodes, self._wall_base = int(meta["episodes"]), float(meta["wall_time"])
        except (KeyError, TypeError, ValueError):
            raise RigDojoError(f"{self.run_dir}: checkpoint.json is damaged; start a new run") from None
        self.resumed_from_step = self.step
        self._restore_metrics(self.step)
        return arrays

    # -- the search thread -------------------------------------------------------------------
    def _count_fraction(self) -> float | None:
        """How much of the step budget is done (None without one)."""
        total = self.config.algo.total_steps
        return self.step / total if total > 0 else None

    def _converged(self) -> bool:
        return False

    def _convergence_note(self) -> str:
        """What the user is told when the search ends early by converging (``end_note``)."""
        return (f"the search stopped improving and ended early at step {self.step:,d}"
                + (f" of {self.config.algo.total_steps:,d}" if self.config.algo.total_steps > 0 else ""))

    def _progress(self) -> float:
        algo = self.config.algo
        parts = [p for p in (self._count_fraction(),) if p is not None]
        if algo.minutes > 0:
            parts.append(self._wall_time() / (algo.minutes * 60.0))
        return min(1.0, max(parts)) if parts else 0.0

    def _done(self) -> bool:
        algo = self.config.algo
        counted = self._count_fraction()
        return bool((counted is not None and counted >= 1.0)
                    or (algo.minutes > 0 and self._wall_time() >= algo.minutes * 60.0)
                    or self._converged())

    def _run(self) -> None:
        try:
            self._run_start = time.monotonic()
            self._paused_total = 0.0
            self._window = (time.monotonic(), self.step)
            self._last_sps = float("nan")
            self._next_snapshot = self._next_preview = 0.0
            self._last_checkpoint_step = self.step
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
            if not self._stop_event.is_set() and self._converged():
                self.end_note = self._convergence_note()  # the command line and summary.json say why it ended
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
        raise NotImplementedError

    def _numbers(self, now: float, preview: bool) -> tuple[float, float, dict[str, float], list[Any]]:
        raise NotImplementedError

    def _publish(self, now: float, preview: bool = True) -> None:
        then, then_step = self._window
        if now - then > 1e-3 and self.step > then_step:
            self._last_sps = (self.step - then_step) / (now - then)
            self._window = (now, self.step)
        algo, sps = self.config.algo, self._last_sps
        eta = self._eta_seconds(self.step, sps)
        mean_return, success, terms, extra = self._numbers(now, preview)
        snapshot = Snapshot(
            state=self.state, step=self.step, total_steps=algo.total_steps, episodes=self.episodes,
            mean_return=mean_return, success_rate=success, term_means=MappingProxyType(dict(terms)),
            curriculum_stage=0, steps_per_second=sps, eta_seconds=eta,
            wall_time=self._wall_time(), control_names=self.control_names, preview=self._preview,
            preview_step=self._preview_step)
        self.mailbox.put(snapshot, CurvePoint(self.step, snapshot.wall_time, mean_return, success))
        self._write_metrics(snapshot, extra)
        self._next_snapshot = time.monotonic() + self.snapshot_interval

    def _write_metrics(self, snapshot: Snapshot, extra: list[Any]) -> None:
        path = self.run_dir / "metrics.csv"
        if self._metrics_file is None:
            fresh = not (path.exists() and path.stat().st_size > 0)
            self._metrics_file = path.open("a" if not fresh else "w", newline="")
            if fresh:
                self._metrics_file.write(",".join(self.csv_header) + "\n")
        sps = snapshot.steps_per_second
        row = [snapshot.step, round(snapshot.wall_time, 3), snapshot.mean_return, snapshot.success_rate,
               round(sps, 1) if math.isfinite(sps) else sps, snapshot.episodes, 0, *extra]
        self._metrics_file.write(",".join(str(v) for v in row) + "\n")
        self._metrics_file.flush()

    # -- files -------------------------------------------------------------------------------
    def _checkpoint_arrays(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _rng(self) -> np.random.Generator:
        raise NotImplementedError

    def _save_checkpoint(self) -> None:
        name = f"gen_{self.generation:08d}.npz"
        folder = self.run_dir / "checkpoints"
        buf = io.BytesIO()
        np.savez(buf, **self._checkpoint_arrays())
        write_atomic(folder / name, buf.getvalue())
        meta = {"checkpoint": name, "step": self.step, "episodes": self.episodes, "algo": self.algo_name,
                "generation": self.generation, "curriculum_stage": 0, "wall_time": self._wall_time(),
                "rng_state": self._rng().bit_generator.state}
        record_checkpoint(self.run_dir, meta)
        self._last_checkpoint_step = self.step
        for old in sorted(folder.glob("gen_*.npz"))[:-KEEP_GENERATIONS]:
            old.unlink(missing_ok=True)

    def _save_policy(self) -> None:
        raise NotImplementedError
