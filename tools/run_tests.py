"""Run the whole suite on every core from one queue, longest first: tests/core and tests/training (each one pytest,
importing bpy made to fail: DESIGN.md rule 1) and tests/blender (one pytest per file, the real bpy module).

    python tools/run_tests.py [PYTEST ARGS...]      # what ./dojo test runs

Each Blender file runs in its own process (its own Blender user folders and temporary folders, as conftest.py
makes them), so the two workers of a 2-core machine stay busy until the queue is empty instead of splitting the
files in two fixed halves whose times drift apart as tests are added. tests/core and tests/training used to run
first, one after the other, with the second core idle (about 2 minutes of a 16-minute run); in the queue the
other worker runs Blender files meanwhile. The queue is ordered by ``tests/blender/durations.json`` (seconds per
item measured on the 2-core machine under the queue's load; ``tests/core`` and ``tests/training`` by those
names, Blender files by their file names; an item not listed counts as a minute). Each item's output is printed
when it finishes, then one line per item with its time, slowest first (copy them into durations.json when files
grow). Exit status: the first failing item's pytest status (5, nothing collected, counts as passing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests" / "blender"
BPY_FREE = (ROOT / "tests" / "core", ROOT / "tests" / "training")  # each one pytest, bpy blocked
UNKNOWN = 60.0  # seconds assumed for an item durations.json does not list


def item_name(path: Path) -> str:
    """An item's key in durations.json: a Blender test file's name, or ``tests/core`` / ``tests/training``."""
    return path.relative_to(ROOT).as_posix() if path in BPY_FREE else path.name


def queue_order(items: list[Path], known: dict[str, float]) -> list[Path]:
    """Longest first (by the recorded seconds), so the last items to start are short ones."""
    return sorted(items, key=lambda f: (-float(known.get(item_name(f), UNKNOWN)), item_name(f)))


def main(argv: list[str]) -> int:
    workers = max(1, min(2, os.cpu_count() or 1))
    durations = TESTS / "durations.json"
    known = json.loads(durations.read_text()) if durations.is_file() else {}
    queue = queue_order([p for p in BPY_FREE if p.is_dir()] + sorted(TESTS.glob("test_*.py")), known)
    lock = threading.Lock()
    results: list[tuple[str, int, float]] = []
    # the workers already keep every core busy: the physics twin steps on one thread in each (agents/threads.py)
    # instead of one a core in every worker; tests/core/test_physics_threads.py checks the threaded step
    blender_env = {"RIG_DOJO_PHYSICS_THREADS": str(max(1, (os.cpu_count() or 1) // workers)), **os.environ}
    # the bpy-free suites as ./dojo ran them before (tests/core checks the physics thread rule itself)
    bpy_free_env = {**os.environ, "RIG_DOJO_BLOCK_BPY": "1"}

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                path = queue.pop(0)
            began = time.perf_counter()
            with tempfile.TemporaryFile(mode="w+") as out:
                status = subprocess.call([sys.executable, "-m", "pytest", str(path.relative_to(ROOT)), *argv],
                                         cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                         env=bpy_free_env if path in BPY_FREE else blender_env)
                out.seek(0)
                text = out.read()
            seconds = time.perf_counter() - began
            with lock:
                print(f"== {path.relative_to(ROOT)} ({seconds:.0f} s, exit {status})\n{text}", end="", flush=True)
                results.append((item_name(path), status, seconds))

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"== {len(results)} test items on {workers} workers; seconds per item:")
    for name, status, seconds in sorted(results, key=lambda r: -r[2]):
        print(f"  {name:<32} {seconds:6.0f} s{'' if status in (0, 5) else f'  FAILED (exit {status})'}")
    failed = [status for _name, status, _s in results if status not in (0, 5)]
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
