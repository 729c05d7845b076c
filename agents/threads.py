"""How many threads torch may use for training: decided here, nowhere else (DESIGN.md, rule 3).

Training shares the machine with the twin (numpy, in the same thread as the trainer) and, in
Blender, with the UI's main thread. Torch's default (one intra-op thread per core) makes its
threads fight the twin and the UI for the cores: on a 2-core machine ``OMP_NUM_THREADS=1``
doubled training throughput (issue 12), and our networks are small enough that a second
thread buys little even when a core is free. So: one core stays for the twin and the UI, half
of the rest goes to torch, never more than :data:`MAX_THREADS` (small matrices do not scale).

``RIG_DOJO_TORCH_THREADS`` overrides the choice (a positive integer).

The physics twin (MuJoCo) steps its environments on :func:`physics_threads` threads: every core
(MuJoCo releases the interpreter's lock while it steps, and torch is idle while the twin steps:
PPO alternates a rollout and an update), at most :data:`MAX_PHYSICS_THREADS`;
``RIG_DOJO_PHYSICS_THREADS`` overrides it.

A training process beside Blender's UI (``agents/worker.py``) first leaves one core to Blender
(:func:`leave_one_core`): its threads, torch's and the twin's, run on the others, so Blender's main
thread, waking for the sidebar's timer, does not queue behind the trainer on a busy machine (issue 12:
with two CPU-bound processes beside it, the timer's p99 lateness with a physics training went from
5.2-6.9 ms to 3.8-4.8 ms, about what the machine costs the UI with no training). The twin's thread
count follows the cores left; torch's stays the machine's.
"""

from __future__ import annotations

import os

ENV_VAR = "RIG_DOJO_TORCH_THREADS"
MAX_THREADS = 4
PHYSICS_ENV_VAR = "RIG_DOJO_PHYSICS_THREADS"
MAX_PHYSICS_THREADS = 8
_cores_before_leaving: int | None = None  # set by leave_one_core: torch's count stays the machine's


def available_cores() -> int:
    """Cores the calling thread may run on (its CPU affinity where the OS reports it, else every core)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _override(name: str) -> int | None:
    """A positive integer from the environment variable ``name``, else None."""
    try:
        value = int(os.environ.get(name, "").strip())
    except ValueError:
        return None
    return value if value >= 1 else None


def training_threads(cores: int | None = None) -> int:
    """Torch intra-op threads for training on a machine with ``cores`` cores (default: this one)."""
    override = _override(ENV_VAR)
    if override:
        return override
    if cores is None:  # the cores before a worker left one to Blender: the same count (and numbers) as the command line
        cores = _cores_before_leaving or available_cores()
    cores = max(1, int(cores))
    return max(1, min(MAX_THREADS, (cores - 1) // 2))


def physics_threads(cores: int | None = None) -> int:
    """Threads the physics twin steps its environments on, on a machine with ``cores`` cores (default: this one)."""
    override = _override(PHYSICS_ENV_VAR)
    if override:
        return override
    cores = available_cores() if cores is None else max(1, int(cores))
    return max(1, min(MAX_PHYSICS_THREADS, cores))


def leave_one_core() -> int:
    """Take one core out of the calling thread's CPU affinity; threads it starts from now on inherit the rest.

    For a training process that runs beside Blender's UI: called first thing in the worker, before any
    thread starts. Does nothing on a one-core machine, or where the OS has no per-thread affinity (macOS,
    Windows). Returns the cores this thread may use now. Torch's thread count (:func:`training_threads`)
    stays the one for every core, so that a run trains the same numbers here as on the command line; the
    physics twin's (:func:`physics_threads`) follows the cores left (its states do not depend on it).
    """
    global _cores_before_leaving
    try:
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) > 1:
            os.sched_setaffinity(0, cores[1:])
            _cores_before_leaving = _cores_before_leaving or len(cores)
    except (AttributeError, OSError):
        pass
    return available_cores()


def use_training_threads() -> int:
    """Set torch's intra-op threads for training (process-wide); returns the number set."""
    import torch

    threads = training_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
