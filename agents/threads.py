"""How many threads torch may use for training: decided here, nowhere else (DESIGN.md, rule 3).

Training shares the machine with the twin (numpy, in the same thread as the trainer) and, in
Blender, with the UI's main thread. Torch's default (one intra-op thread per core) makes its
threads fight the twin and the UI for the cores: on a 2-core machine ``OMP_NUM_THREADS=1``
doubled training throughput (issue 12), and our networks are small enough that a second
thread buys little even when a core is free. So: one core stays for the twin and the UI, half
of the rest goes to torch, never more than :data:`MAX_THREADS` (small matrices do not scale).

``RIG_DOJO_TORCH_THREADS`` overrides the choice (a positive integer).

While a training thread runs beside Blender's main thread, the interpreter's switch interval (how long a thread
that holds the GIL keeps it after another asks) drops from Python's 5 ms to :data:`SWITCH_INTERVAL`: the
sidebar's 24 Hz timer waits for the GIL at most that long (``./dojo bench ui`` measures both).
"""

from __future__ import annotations

import os
import sys
import threading

ENV_VAR = "RIG_DOJO_TORCH_THREADS"
MAX_THREADS = 4
SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005

_switch_lock = threading.Lock()
_switch_holders = 0
_switch_before = 0.0


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def training_threads(cores: int | None = None) -> int:
    """Torch intra-op threads for training on a machine with ``cores`` cores (default: this one)."""
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        try:
            value = int(override)
        except ValueError:
            value = 0
        if value >= 1:
            return value
    cores = available_cores() if cores is None else max(1, int(cores))
    return max(1, min(MAX_THREADS, (cores - 1) // 2))


def use_training_threads() -> int:
    """Set torch's intra-op threads for training (process-wide); returns the number set."""
    import torch

    threads = training_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def hold_switch_interval() -> None:
    """A training thread starts: hand the GIL back within :data:`SWITCH_INTERVAL` (until every holder released)."""
    global _switch_holders, _switch_before
    with _switch_lock:
        if _switch_holders == 0:
            _switch_before = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_before, SWITCH_INTERVAL))
        _switch_holders += 1


def release_switch_interval() -> None:
    """A training thread ended: the last one restores the switch interval it found."""
    global _switch_holders
    with _switch_lock:
        if _switch_holders == 0:
            return
        _switch_holders -= 1
        if _switch_holders == 0:
            sys.setswitchinterval(_switch_before)
