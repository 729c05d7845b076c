"""Run every benchmark in bench/ (``./dojo bench [NAME ...]``).

Each ``bench_*.py`` has a ``main()`` that measures our code against a baseline in
the same run and prints ratios (these machines are noisy; absolute numbers are not
comparable between runs).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = set(argv)
    found = sorted(HERE.glob("bench_*.py"))
    if not found:
        print("no benchmarks in bench/")
        return 0
    for path in found:
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"== {name} ==", flush=True)
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
