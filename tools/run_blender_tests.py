"""Run tests/blender on every core: one pytest per test file, taken from one queue, longest first.

    python tools/run_blender_tests.py [PYTEST ARGS...]      # what ./dojo test runs after tests/core and tests/training

Each file runs in its own process (its own Blender user folders and temporary folders, as conftest.py makes
them), so the two workers of a 2-core machine stay busy until the queue is empty instead of splitting the
files in two fixed halves whose times drift apart as tests are added. The queue is ordered by
``tests/blender/durations.json`` (seconds per file measured on the 2-core machine; a file not listed counts
as a minute). Each file's output is printed when it finishes, then one line per file with its time, slowest
first (copy them into durations.json when files grow). Exit status: the first failing file's pytest status
(5, nothing collected, counts as passing).
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
UNKNOWN = 60.0  # seconds assumed for a file durations.json does not list


def queue_order(files: list[Path], known: dict[str, float]) -> list[Path]:
    """Longest first (by the recorded seconds), so the last files to start are short ones."""
    return sorted(files, key=lambda f: (-float(known.get(f.name, UNKNOWN)), f.name))


def main(argv: list[str]) -> int:
    workers = max(1, min(2, os.cpu_count() or 1))
    durations = TESTS / "durations.json"
    known = json.loads(durations.read_text()) if durations.is_file() else {}
    queue = queue_order(sorted(TESTS.glob("test_*.py")), known)
    lock = threading.Lock()
    results: list[tuple[str, int, float]] = []
    # the workers already keep every core busy: the physics twin steps on one thread in each (agents/threads.py)
    # instead of one a core in every worker; tests/core/test_physics_threads.py checks the threaded step
    env = {"RIG_DOJO_PHYSICS_THREADS": str(max(1, (os.cpu_count() or 1) // workers)), **os.environ}

    def work() -> None:
        while True:
            with lock:
                if not queue:
                    return
                path = queue.pop(0)
            began = time.perf_counter()
            with tempfile.TemporaryFile(mode="w+") as out:
                status = subprocess.call([sys.executable, "-m", "pytest", str(path.relative_to(ROOT)), *argv],
                                         cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)
                out.seek(0)
                text = out.read()
            seconds = time.perf_counter() - began
            with lock:
                print(f"== {path.relative_to(ROOT)} ({seconds:.0f} s, exit {status})\n{text}", end="", flush=True)
                results.append((path.name, status, seconds))

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"== tests/blender: {len(results)} files on {workers} workers; seconds per file:")
    for name, status, seconds in sorted(results, key=lambda r: -r[2]):
        print(f"  {name:<32} {seconds:6.0f} s{'' if status in (0, 5) else f'  FAILED (exit {status})'}")
    failed = [status for _name, status, _s in results if status not in (0, 5)]
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
