"""A training in a worker process, watched from Blender like a training thread (DESIGN.md, rule 3).

A training *thread* shares the interpreter's lock (the GIL) with Blender's main thread. On a quiet
machine that costs the sidebar's 24 Hz timer little (``./dojo bench ui``: p99 lateness ~2 ms), but
when other processes keep the cores busy the trainer holding the GIL makes the UI thread wait for it
whatever the OS gives each process: p99 17-20 ms against 5 ms for the UI alone (issue 12, measured
with two CPU-bound processes beside it). A worker process has a GIL of its own: the UI thread then
competes for a core only through the OS scheduler, which favours a thread that wakes from sleep.

:class:`WorkerSession` has the face of :class:`agents.background.BackgroundRun` that the sidebar uses
(``start``, ``state``, ``latest``, ``history``, ``pause``, ``resume``, ``stop``, ``wait``, ``error``,
``end_note``, ``run_dir``, ``config``) and runs an ordinary :class:`agents.session.TrainingSession`
in a child process: same TrainConfig, same run folder, checkpoints, policy files and resume; the
child forwards each new snapshot and curve point through a pipe, and the parent reads them when the
UI asks (no thread in Blender's process). The child never imports bpy (importing it raises there),
ignores Ctrl-C (Blender decides: quitting stops the run, which saves) and stops and saves by itself
when Blender goes away without stopping it (the pipe closes). It leaves one core to Blender: its threads
run on the others (``agents.threads.leave_one_core``), so the UI thread, waking, finds a core the trainer
does not hold; without that, two CPU-bound processes beside a physics training put the sidebar timer's
p99 lateness at 5.2-6.9 ms, 3.8-4.8 ms with a core left (issue 12, ``./dojo bench ui``).

Children come from a fork server (``multiprocessing``'s ``forkserver``, where the OS has one; else
``spawn``): a clean process started once from ``sys.executable`` with numpy, torch and
Stable-Baselines3 imported, so the first training pays their import once and later ones start in
a fraction of a second. The extension's package may have a name only Blender can import
(``bl_ext.user_default.rig_dojo``); the child is started through ``runpy`` on ``worker_boot.py``,
which makes that name importable from the package's folder before anything of ours is unpickled.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import multiprocessing
import pickle
import runpy
import signal
import sys
import time
import traceback
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import RigDojoError
from .background import CurvePoint, Snapshot, frozen
from .config import TrainConfig

PACKAGE = __package__.rpartition(".")[0]  # "rig_dojo", or Blender's "bl_ext.<repository>.rig_dojo"
PACKAGE_DIR = Path(__file__).resolve().parent.parent
BOOT = Path(__file__).resolve().parent / "worker_boot.py"
PRELOAD = ("numpy", "torch", "stable_baselines3", "gymnasium", "mujoco")  # what the fork server imports once
START_TIMEOUT = 300.0  # seconds for the child to build the task and the model (a fork server's first start)
FORWARD_SECONDS = 0.05  # how often the child looks for a new snapshot and for the parent's commands
ACTIVE = ("running", "paused", "stopping")
HISTORY_LIMIT = 20_000  # curve points kept, as a thread's Mailbox keeps
_context: Any = None


def context() -> Any:
    """The multiprocessing context children come from: a fork server where the OS has one, else spawn."""
    global _context
    if _context is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            _context = multiprocessing.get_context("forkserver")
            _context.set_forkserver_preload(list(PRELOAD))
        else:  # Windows
            _context = multiprocessing.get_context("spawn")
    return _context


@contextlib.contextmanager
def _main_hidden():
    """Start children without the parent's ``__main__``: multiprocessing would run its script again in the
    child (a script given to ``blender --python``, a test runner), and it is Blender's, not ours."""
    main = sys.modules.get("__main__")
    saved = {key: main.__dict__[key] for key in ("__file__", "__spec__") if main is not None and key in main.__dict__}
    try:
        main.__dict__.pop("__file__", None)
        if "__spec__" in saved:
            main.__spec__ = None
        yield
    finally:
        if main is not None:
            main.__dict__.update(saved)


def _wire(snapshot: Snapshot) -> Snapshot:
    """A snapshot that pickles (its term means are a read-only mapping, which does not)."""
    return dataclasses.replace(snapshot, term_means=dict(snapshot.term_means))


def _unwire(snapshot: Snapshot) -> Snapshot:
    preview = frozen(snapshot.preview) if snapshot.preview is not None else None
    return dataclasses.replace(snapshot, term_means=MappingProxyType(dict(snapshot.term_means)), preview=preview)


class WorkerSession:
    """A TrainingSession in a child process (see the module's docstring); build it, then ``start()``.

    ``spec`` is what the task's family's ``env_factory`` takes (the twin's spec, read from the scene in the
    parent); the child builds the environments from it and ``config.task``'s family. Settings
    the session refuses raise :class:`RigDojoError` from ``start()``, as a thread's session does.
    ``spare_core`` (default on): the child keeps off one of the machine's cores, left to Blender's UI
    (``agents.threads.leave_one_core``; the preference "Keep a Core for Blender").
    """

    def __init__(self, config: TrainConfig, spec: Any, run_dir: str | Path,
                 init_from: str | Path | None = None, spare_core: bool = True):
        config.validate()
        self.config = config
        self.run_dir = Path(run_dir)
        self.init_from = init_from
        self.error: str | None = None
        self.end_note: str | None = None
        self.resume_notes: list[str] = []
        self.pid: int | None = None
        from .session import session_class

        self.runs = session_class(config.algo.name)  # the session class the child runs (the algorithm's)
        self.spare_core = bool(spare_core)
        self._payload = pickle.dumps((config, spec, str(self.run_dir),
                                      str(init_from) if init_from else None, self.spare_core))
        self._state = "idle"
        self._latest: Snapshot | None = None
        self._history: collections.deque[CurvePoint] = collections.deque(maxlen=HISTORY_LIMIT)
        self._ended = False
        self._commands = 0  # commands sent; the child's updates say how many it has read
        self._refusal: str | None = None
        self._conn: Any = None
        self._process: Any = None

    # -- what the UI reads ----------------------------------------------------------------------
    @property
    def state(self) -> str:
        self._drain()
        return self._state

    def latest(self) -> Snapshot | None:
        self._drain()
        return self._latest

    @property
    def history(self) -> tuple[CurvePoint, ...]:
        self._drain()
        return tuple(self._history)

    # -- control --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the child and wait until it has built the task and the model (or refused the settings)."""
        if self._state != "idle":
            raise RigDojoError(f"this training session is {self._state}; start a new session")
        ctx = context()
        parent_end, child_end = ctx.Pipe()
        boot = {"conn": child_end, "package": PACKAGE, "package_dir": str(PACKAGE_DIR), "payload": self._payload}
        self._process = ctx.Process(target=runpy.run_path, args=(str(BOOT),),
                                    kwargs={"init_globals": {"WORKER_BOOT": boot}, "run_name": "rig_dojo_worker"},
                                    name="rig_dojo-training", daemon=True)
        self._conn = parent_end
        try:
            with _main_hidden():
                self._process.start()
        except Exception as exc:
            self._state = "error"
            raise RigDojoError(f"the training process could not start: {exc}") from exc
        finally:
            child_end.close()
        self.pid = self._process.pid
        deadline = time.monotonic() + START_TIMEOUT
        while self._state == "idle":
            if not self._receive(timeout=max(0.0, deadline - time.monotonic())):
                self._gone("the training process did not start in time" if self._process.is_alive()
                           else f"the training process ended while starting (exit code {self._process.exitcode})")
                break
        if self._state == "error":
            self._finish_process()
            if self._refusal is not None:  # the settings, in the session's own words
                raise RigDojoError(self._refusal)
            # a bug, or the process died: the child's traceback for the console, its last line for the user
            print(f"Rig Dojo: the training process failed\n{self.error}", file=sys.stderr)
            last = (self.error or "").strip().splitlines()[-1:] or ["unknown error"]
            raise RuntimeError(f"in the training process: {last[0]}")

    def pause(self) -> None:
        if self.state == "running" and self._send("pause"):
            self._state = "paused"

    def resume(self) -> None:
        if self.state == "paused" and self._send("resume"):
            self._state = "running"

    def stop(self) -> None:
        """Stop training: the child saves a checkpoint and the policy; waits for it to end."""
        if self.state in ("running", "paused"):
            if self._send("stop"):
                self._state = "stopping"
        elif self._state == "idle":
            self._state = "stopped"
            return
        self.wait()

    def wait(self, timeout: float | None = None) -> str:
        """Wait for the training to end (or ``timeout`` seconds); returns the state (an ended one comes with the
        last snapshot: the child sends both in one message)."""
        self._drain()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._ended and self._conn is not None:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            if not self._receive(timeout=1.0 if left is None else min(left, 1.0)) and not self._process.is_alive():
                self._drain()
                if not self._ended:
                    self._gone(f"the training process ended unexpectedly (exit code {self._process.exitcode})")
        if self._ended:
            self._finish_process()
        return self._state

    # -- the pipe -------------------------------------------------------------------------------
    def _send(self, command: str) -> bool:
        try:
            self._conn.send(command)
        except (OSError, ValueError, AttributeError):  # the child has gone: the next read says how
            return False
        self._commands += 1
        return True

    def _drain(self) -> None:
        while self._conn is not None and not self._ended and self._receive(timeout=0.0):
            pass

    def _take(self, snapshot: Snapshot | None, points: list[CurvePoint]) -> None:
        if snapshot is not None:
            if snapshot.preview is None and self._latest is not None \
                    and snapshot.preview_step == self._latest.preview_step:
                snapshot = dataclasses.replace(snapshot, preview=self._latest.preview)  # sent once, kept here
            self._latest = _unwire(snapshot)
        self._history.extend(points)

    def _receive(self, timeout: float) -> bool:
        """Take one message from the child if one comes within ``timeout`` seconds; False if none did."""
        try:
            if not self._conn.poll(timeout):
                return False
            kind, *body = self._conn.recv()
        except (EOFError, OSError):
            self._gone(f"the training process ended unexpectedly (exit code {self._process.exitcode})")
            return False
        if kind == "started":
            self._state, self.resume_notes = body[0], list(body[1])
        elif kind == "update":
            acked, state, snapshot, points = body
            self._take(snapshot, points)
            if acked >= self._commands:  # not a state from before the child read our last command
                self._state = state
        elif kind == "ended":
            state, error, end_note, snapshot, points = body
            self._take(snapshot, points)
            self._state, self.error, self.end_note, self._ended = state, error, end_note, True
        elif kind == "refused":  # the settings were refused while building (RigDojoError), or building failed
            self._refusal, self.error = body
            self._state, self._ended = "error", True
        return True

    def _gone(self, why: str) -> None:
        if not self._ended:
            self.error = self.error or why
            self._state, self._ended = "error", True

    def _finish_process(self) -> None:
        if self._process is not None:
            self._process.join(timeout=30)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# -- the child -----------------------------------------------------------------------------------

def child_main(conn: Any, payload: bytes) -> None:
    """The worker process: build the session, start it, forward snapshots, obey pause/resume/stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to Blender, which stops the run
    terminated = []  # SIGTERM (Blender quitting: multiprocessing ends its children so) stops the run, which saves
    signal.signal(signal.SIGTERM, lambda *_: terminated.append(True))
    sys.modules.setdefault("bpy", None)  # DESIGN.md rule 1: nothing here may touch Blender (import fails)
    from ..envs.families import family_of
    from .session import make_session

    config, spec, run_dir, init_from, spare_core = pickle.loads(payload)
    if spare_core:  # before any thread starts: torch's, the twin's and the session's run on the other cores
        from .threads import leave_one_core

        leave_one_core()
    try:
        make_env = family_of(config.task).hooks().env_factory(spec)
        session = make_session(config, make_env, run_dir, init_from=init_from)
        session.start()
    except BaseException as exc:  # RigDojoError: the settings, said in one line; else a bug, with its traceback
        message = str(exc) if isinstance(exc, RigDojoError) else None
        conn.send(("refused", message, "".join(traceback.format_exception(exc))))
        return
    conn.send(("started", session.state, list(session.resume_notes)))
    forward = _Forwarder(session)
    acked = 0
    while True:
        try:
            while conn.poll():
                command = conn.recv()
                acked += 1
                if command == "pause":
                    session.pause()
                elif command == "resume":
                    session.resume()
                elif command == "stop":
                    session.request_stop()  # the loop keeps forwarding until the thread has saved
        except (EOFError, OSError):  # Blender went away without stopping the run: stop, save, leave
            session.stop()
            return
        if terminated:
            session.request_stop()
        session.wait(FORWARD_SECONDS)
        if session.thread_done:
            snapshot, points = forward.news(force=True)
            try:
                conn.send(("ended", session.state, session.error, session.end_note, snapshot, points))
            except OSError:  # nobody is listening any more; the run folder has it all
                pass
            return
        snapshot, points = forward.news()
        if snapshot is not None or points or session.state != forward.state:
            forward.state = session.state
            try:
                conn.send(("update", acked, session.state, snapshot, points))
            except OSError:  # Blender went away: as above
                session.stop()
                return


class _Forwarder:
    """What the parent has not seen yet: the newest snapshot (its preview only when it is a new one) and the
    curve points after the last one sent."""

    def __init__(self, session: Any):
        self.session = session
        self.state = session.state
        self.sent: Snapshot | None = None
        self.preview_step = -1
        self.last_point: CurvePoint | None = None

    def news(self, force: bool = False) -> tuple[Snapshot | None, list[CurvePoint]]:
        snapshot = self.session.latest()
        if snapshot is self.sent and not force:
            return None, []  # a curve point comes with each snapshot (Mailbox.put): nothing new on either
        if snapshot is not None:
            self.sent = snapshot
            wired = _wire(snapshot)
            if snapshot.preview_step == self.preview_step:
                wired = dataclasses.replace(wired, preview=None)  # the parent has it
            self.preview_step = snapshot.preview_step
            snapshot = wired
        history = self.session.history
        start = 0
        if self.last_point is not None:
            for i in range(len(history) - 1, -1, -1):
                if history[i] is self.last_point:
                    start = i + 1
                    break
        points = list(history[start:])
        if points:
            self.last_point = points[-1]
        return snapshot, points
