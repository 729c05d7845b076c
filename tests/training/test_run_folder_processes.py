"""One training per run folder across processes (issue 18): two processes starting together on one folder,
one trains and one is refused (slow: two processes import torch and train). The rest of the run-folder
tests are ``tests/core/test_reliability.py``."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from test_agents import TESTS_DIR

pytestmark = pytest.mark.slow


TWO_WRITERS = r'''
import sys, time
sys.path.insert(0, sys.argv[2])
import torch
torch.set_num_threads(1)
from test_agents import make_toy_env, long_ppo_config
from rig_dojo.agents.session import TrainingSession
from rig_dojo.errors import RigDojoError
config = long_ppo_config(total_steps=3_000)
session = TrainingSession(config, make_toy_env, sys.argv[1])
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # both start together
try:
    session.start()
except RigDojoError as exc:
    print("REFUSED", exc)
    sys.exit(2)
print("STATE", session.wait())
'''


def test_two_processes_starting_together_on_one_folder_one_trains_one_is_refused(tmp_path):
    run = tmp_path / "shared"
    start_at = time.time() + 8.0  # after both have imported torch and SB3
    procs = [subprocess.Popen([sys.executable, "-c", TWO_WRITERS, str(run), str(TESTS_DIR), str(start_at)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append((proc.returncode, out, err))
    codes = sorted(r[0] for r in results)
    assert codes == [0, 2], results
    refused = next(r for r in results if r[0] == 2)
    assert "REFUSED" in refused[1] and ("another training is writing" in refused[1]
                                         or "already holds a run" in refused[1]), refused
    assert "STATE finished" in next(r for r in results if r[0] == 0)[1]
    steps = [int(line.split(",")[0]) for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps)  # one run's rows, not two interleaved
