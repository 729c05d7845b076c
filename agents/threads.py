"""How many threads torch may use for training: decided here, nowhere else (DESIGN.md, rule 3).

Training shares the machine with the twin (numpy, in the same thread as the trainer) and, in
Blender, with the UI's main thread. Torch's default (one intra-op thread per core) makes its
threads fight the twin and the UI for the cores: on a 2-core machine ``OMP_NUM_THREADS=1``
doubled training throughput (issue 12), and our networks are small enough that a second
thread buys little even when a core is free. So: one core stays for the twin and the UI, half
of the rest goes to torch, never more than :data:`MAX_THREADS` (small matrices do not scale).

``RIG_DOJO_TORCH_THREADS`` overrides the choice (a positive integer).
"""

from __future__ import annotations

import os

ENV_VAR = "RIG_DOJO_TORCH_THREADS"
MAX_THREADS = 4


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
