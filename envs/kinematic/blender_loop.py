"""Blender in the loop: the kinematic tasks stepped by real Blender processes, for selections the twin refuses.

No bpy here (DESIGN.md, rule 1): this module starts and talks to worker processes; the workers
(``scene/kinematic/loop_worker.py``) each hold the .blend in a ``bpy`` process and, for their share
of a batch of environments, pose the control bones and read the tracked bones back from Blender's
depsgraph, one pose at a time. :class:`BlenderRig` puts them where the task's twin would be
(``KinematicTask._make_twin``), so the environments are the same SB3 VecEnv as the twin's: the
same observations, rewards, auto-reset and infos, at the speed of Blender.

Workers are local processes (:class:`LocalWorker`, a socket to each) or Ray actors
(:class:`RayWorker`, when a Ray address is given). Each call splits the batch across the workers,
sends every share before waiting for any, and records the workers' own compute time and the
wall time of the round trip, so the messaging overhead and the scaling to more workers can be
measured (:meth:`BlenderWorkers.scaling`).
"""

from __future__ import annotations

import importlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Listener
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ...errors import RigDojoError

ROOT_PACKAGE = __name__.rsplit(".envs.", 1)[0]  # "rig_dojo" (or the extension's package name in Blender)
WORKER_MODULE = f"{ROOT_PACKAGE}.scene.kinematic.loop_worker"
START_TIMEOUT = 180.0  # seconds a worker may take to import bpy and open the .blend

# The program a local worker runs: connect back, then serve (``--`` separates Blender's own arguments).
BOOT = (
    "import importlib, os, sys\n"
    "from multiprocessing.connection import Client\n"
    "args = sys.argv[sys.argv.index('--') + 1:] if '--' in sys.argv else sys.argv[1:]\n"
    "module, host, port, setup = args[:4]\n"
    "conn = Client((host, int(port)), authkey=bytes.fromhex(os.environ.pop('RIG_DOJO_WORKER_KEY')))\n"
    "importlib.import_module(module).serve(conn, setup)\n"
    "sys.stdout.flush(); sys.stderr.flush(); os._exit(0)  # skip the bpy module's teardown\n"
)


@dataclass
class WorkerSetup:
    """What a worker needs to evaluate the rig: the .blend, the armature, its controls and what to read."""

    blend: str
    rig: str
    controls: list[str]
    control_modes: list[str]
    tracked: list[str]
    nodes: list[str]
    frame: int | None = None  # the scene frame the rig is evaluated at (None: the file's current frame)

    def to_json(self) -> str:
        return json.dumps(self.__dict__)


class LocalWorker:
    """One Blender process on this machine, started with ``command`` (Python with the bpy module, or a
    Blender binary in background mode), connected back over a local authenticated socket."""

    def __init__(self, command: list[str], setup: WorkerSetup, log_dir: Path, index: int):
        key = secrets.token_bytes(16)
        listener = Listener(("127.0.0.1", 0), authkey=key)
        host, port = listener.address
        self.log_path = Path(log_dir) / f"worker_{index}.log"
        env = {**os.environ, "RIG_DOJO_WORKER_KEY": key.hex(), "PYTHONPATH": _python_path()}
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([*command, "--", WORKER_MODULE, host, str(port), setup.to_json()],
                                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env)
        accepted: list[Any] = []
        thread = threading.Thread(target=lambda: accepted.append(_accept(listener)), daemon=True)
        thread.start()
        began = time.monotonic()
        while thread.is_alive() and time.monotonic() - began < START_TIMEOUT and self.process.poll() is None:
            thread.join(0.2)
        listener.close()
        if not accepted or isinstance(accepted[0], BaseException):
            self.process.kill()
            raise RigDojoError(f"a Blender worker did not start ({self._log_tail()}); see {self.log_path}")
        self.conn = accepted[0]
        reply = self._recv()
        if reply[0] != "ready":
            raise RigDojoError(f"a Blender worker could not open the scene: {reply[1]}")

    def submit(self, rot3: np.ndarray, all_nodes: bool) -> None:
        self.conn.send(("evaluate", rot3, all_nodes))

    def result(self) -> tuple[np.ndarray, float]:
        reply = self._recv()
        if reply[0] != "ok":
            raise RigDojoError(f"a Blender worker failed: {reply[1]}")
        return reply[1], reply[2]

    def _recv(self):
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            code = self.process.poll()
            raise RigDojoError(f"a Blender worker exited (code {code}): {self._log_tail()}") from None

    def _log_tail(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        except OSError:
            return "no log"
        return " | ".join(lines[-3:])[-400:] or "no output"

    def close(self) -> None:
        try:
            self.conn.send(("close",))
        except (OSError, AttributeError):
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def _python_path() -> str:
    """PYTHONPATH for a worker: the folder this package is imported from, then the caller's PYTHONPATH (not the
    whole sys.path: the bpy module adds Blender's own script folders, which must not shadow it in a worker)."""
    root = Path(sys.modules[ROOT_PACKAGE].__file__).parent  # not resolved: the package's name is the folder's
    for _ in ROOT_PACKAGE.split("."):
        root = root.parent
    return os.pathsep.join([str(root), *(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)])


def _accept(listener: Listener):
    try:
        return listener.accept()
    except BaseException as exc:  # the listener was closed: the worker never called back
        return exc


class RayEvaluator:
    """The Ray actor behind :class:`RayWorker`: writes the .blend it was sent to its own disk and evaluates
    there (so a cluster's machines need nothing copied by hand)."""

    def __init__(self, blend_bytes: bytes, setup_json: str):
        self._folder = tempfile.mkdtemp(prefix="rig_dojo_loop_")
        path = Path(self._folder) / "scene.blend"
        path.write_bytes(blend_bytes)
        setup = json.loads(setup_json)
        setup["blend"] = str(path)
        self.impl = importlib.import_module(WORKER_MODULE).RigEvaluator(**setup)

    def evaluate(self, rot3: np.ndarray, all_nodes: bool):
        return self.impl.evaluate(rot3, all_nodes)

    def node(self) -> str:
        import ray

        return ray.get_runtime_context().get_node_id()


class RayWorker:
    """One Blender process as a Ray actor (one CPU), on whichever node of the cluster Ray places it."""

    def __init__(self, blend_ref: Any, setup: WorkerSetup):
        import ray

        actor_class = ray.remote(num_cpus=1)(RayEvaluator)
        self.actor = actor_class.remote(blend_ref, setup.to_json())
        self._pending = None

    def submit(self, rot3: np.ndarray, all_nodes: bool) -> None:
        self._pending = self.actor.evaluate.remote(rot3, all_nodes)

    def result(self) -> tuple[np.ndarray, float]:
        import ray

        try:
            return ray.get(self._pending)
        except ray.exceptions.RayError as exc:
            raise RigDojoError(f"a Blender worker on Ray failed: {' '.join(str(exc).split())[:300]}") from None

    def close(self) -> None:
        import ray

        ray.kill(self.actor)


@dataclass
class LoopStats:
    """Timing of the calls so far: envs evaluated, wall time, and the slowest worker's compute time per call."""

    calls: int = 0
    envs: int = 0
    wall: float = 0.0
    compute: float = 0.0  # sum over calls of the slowest worker's own time
    worker_compute: float = 0.0  # sum over calls and workers of the workers' own time
    per_worker: list[float] = field(default_factory=list)


class BlenderWorkers:
    """N Blender processes evaluating batches of poses of one rig (local processes or Ray actors)."""

    def __init__(self, workers: list[Any], setup: WorkerSetup, folder: Path | None = None):
        if not workers:
            raise RigDojoError("Blender in the loop needs at least one worker")
        self.workers = workers
        self.setup = setup
        self.folder = folder
        self.stats = LoopStats()
        self._lock = threading.Lock()  # the training and preview environments share the workers

    @classmethod
    def local(cls, count: int, setup: WorkerSetup, command: list[str]) -> BlenderWorkers:
        """``count`` local processes started with ``command`` (started one after another, then ready)."""
        folder = Path(tempfile.mkdtemp(prefix="rig_dojo_workers_"))
        workers: list[Any] = []
        try:
            for i in range(count):
                workers.append(LocalWorker(command, setup, folder, i))
        except BaseException:
            for w in workers:
                w.close()
            raise
        return cls(workers, setup, folder)

    @classmethod
    def on_ray(cls, count: int, setup: WorkerSetup) -> BlenderWorkers:
        """``count`` Ray actors (Ray must be initialised); the .blend travels through Ray's object store."""
        import ray

        blend_ref = ray.put(Path(setup.blend).read_bytes())
        workers = [RayWorker(blend_ref, setup) for _ in range(count)]
        pool = cls(workers, setup)
        pool.evaluate(np.eye(3)[None, None].repeat(len(setup.controls), axis=1).repeat(count, axis=0), False)
        return pool  # every actor answered once: started and holding the scene

    def evaluate(self, rot3: np.ndarray, all_nodes: bool = False) -> np.ndarray:
        """World matrices ``(n, K, 4, 4)`` of the tracked bones (or every node) for ``n`` control poses."""
        rot3 = np.ascontiguousarray(rot3, dtype=np.float64)
        n = rot3.shape[0]
        shares = [s for s in np.array_split(np.arange(n), min(len(self.workers), n)) if s.size]
        with self._lock:
            began = time.perf_counter()
            for worker, share in zip(self.workers, shares):
                worker.submit(rot3[share], all_nodes)
            results = [worker.result() for worker, _ in zip(self.workers, shares)]
            wall = time.perf_counter() - began
        s = self.stats
        s.calls += 1
        s.envs += n
        s.wall += wall
        times = [seconds for _, seconds in results]
        s.compute += max(times)
        s.worker_compute += sum(times)
        if len(s.per_worker) < len(times):
            s.per_worker += [0.0] * (len(times) - len(s.per_worker))
        for i, t in enumerate(times):
            s.per_worker[i] += t
        return np.concatenate([mats for mats, _ in results], axis=0)

    def scaling(self, batch: int, workers: tuple[int, ...] = (1, 2, 4, 8, 16, 32)) -> dict[int, float]:
        """Env-steps/s predicted for ``workers`` processes at ``batch`` envs per step, from the measured cost of
        one pose in one worker and the measured messaging overhead per worker per call (round trip minus the
        slowest worker's compute), assuming the parent sends and receives to each worker in turn."""
        s = self.stats
        if not s.calls or not s.envs:
            return {}
        per_pose = s.worker_compute / s.envs
        overhead = max(0.0, (s.wall - s.compute) / s.calls) / len(self.workers)
        return {w: batch / (-(-batch // w) * per_pose + w * overhead) for w in workers}

    def close(self) -> None:
        for w in self.workers:
            try:
                w.close()
            except Exception:  # closing must not hide the error that got us here
                pass
        self.workers = []


class BlenderRig:
    """The twin's interface (``forward``) answered by Blender worker processes (``workers``: anything with
    ``evaluate(rot3, all_nodes)``, e.g. :class:`BlenderWorkers`, or one evaluator in this process for a bake)."""

    def __init__(self, workers: Any, rig):
        self.workers = workers
        self.spec = rig

    def forward(self, control_rot: np.ndarray, all_nodes: bool = False,
                control_loc: np.ndarray | None = None) -> np.ndarray:
        if control_loc is not None and np.size(control_loc):  # loop_spec refuses location controls
            raise RigDojoError("Blender in the loop moves rotation controls only")
        return self.workers.evaluate(control_rot, all_nodes)


def loop_env_factory(spec, workers: BlenderWorkers) -> Callable[..., Any]:
    """``make_env(config, n_envs, seed)`` like the twin's (``envs.kinematic.family.env_factory``), with every
    environment's rig evaluated by ``workers``."""
    from .family import configure
    from .tasks import TASKS

    classes: dict[type, type] = {}

    def loop_class(base: type) -> type:
        if base not in classes:
            classes[base] = type(f"BlenderLoop{base.__name__}", (base,),
                                 {"_make_twin": lambda self, rig: BlenderRig(workers, rig),
                                  "__doc__": f"{base.__name__} stepped by Blender worker processes."})
        return classes[base]

    def make_env(config, n_envs: int, seed: int):
        task_spec = configure(spec, config)
        task_spec.validate()
        try:
            base = TASKS[task_spec.kind]
        except KeyError:
            raise RigDojoError(f"unknown task {task_spec.kind!r}; choose one of {', '.join(TASKS)}") from None
        return loop_class(base)(task_spec, n_envs=n_envs, seed=seed, discrete=bool(config.rig.discrete))

    return make_env
