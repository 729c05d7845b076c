"""Every algorithm learns the toy task, and a killed run resumes from its last checkpoint (slow: seconds each).

The toy task and the helpers are ``tests/core/test_agents.py``'s (``conftest.py`` puts that folder on the
path): a planar 2-link arm reaching random targets, written to the task contract the real twins implement.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from test_agents import (TESTS_DIR, RandomPolicy, json_load, make_toy_env, toy_config,  # noqa: F401
                         wait_for)

from rig_dojo.agents import policy_file
from rig_dojo.agents.algorithms import build_model
from rig_dojo.agents.evaluate import evaluate
from rig_dojo.agents.session import TrainingSession

pytestmark = pytest.mark.slow

LEARNING = {  # small budgets that learn on the toy within seconds on 1 CPU thread
    # our PPO's 512 environments need a few hundred k steps here: the toy cannot stagger its episodes
    # (it is not a BatchedTask), so 64 environments give it enough updates (97) in seconds
    "ppo": dict(total_steps=100_000, n_envs=64, batch_size=512),
    "sb3_ppo": dict(total_steps=50_000),
    "a2c": dict(total_steps=60_000),
    "sac": dict(total_steps=4_000, net_arch=[32, 32]),
    "td3": dict(total_steps=4_000, net_arch=[32, 32]),
    "dqn": dict(total_steps=20_000),
    "qlearning": dict(total_steps=100_000),
}


@pytest.mark.parametrize("algo", list(LEARNING))
def test_algorithm_learns_on_the_toy_task(algo):
    config = toy_config(algo, **LEARNING[algo])
    env = make_toy_env(config, config.algo.n_envs, seed=0)
    model = build_model(config, env)
    random = evaluate(RandomPolicy(env.action_space), make_toy_env, config, episodes=64, seed=99)
    untrained = evaluate(model, make_toy_env, config, episodes=64, seed=99)
    model.learn(config.algo.total_steps)
    trained = evaluate(model, make_toy_env, config, episodes=64, seed=99)
    baseline = max(random.mean_return, untrained.mean_return)
    assert trained.mean_return > baseline + 4.0, (random, untrained, trained)
    assert trained.final_error < min(random.final_error, untrained.final_error) * 0.75


KILLED_RUN = r'''
import sys, time
sys.path.insert(0, sys.argv[2])
import torch
torch.set_num_threads(1)
from functools import partial
from test_agents import make_toy_env, long_ppo_config
from rig_dojo.agents.session import TrainingSession
config = long_ppo_config(sys.argv[3], total_steps=20_000)
config.output.checkpoint_every = 1_000
slow = partial(make_toy_env, step_delay=0.002)  # slow enough to be killed mid-run
session = TrainingSession(config, slow, sys.argv[1])
session.start()
session.wait()
'''


@pytest.mark.parametrize("algo", ["ppo", "sb3_ppo"])
def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path, algo):
    run = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(run), str(TESTS_DIR), algo],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: (run / "checkpoint.json").exists() or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()
    checkpoint = json_load(run / "checkpoint.json")
    assert 0 < checkpoint["step"] < 20_000
    assert checkpoint["checkpoint"].endswith(".npz" if algo == "ppo" else ".zip")
    assert not (run / "final.rdpolicy").exists()  # it really died mid-way

    session = TrainingSession.continue_run(run, make_toy_env)
    session.start()
    assert session.wait(60) == "finished", session.error
    assert session.config.algo.name == algo and session.resumed_from_step == checkpoint["step"]
    assert session.latest().step >= 20_000
    steps = [int(line.split(",")[0]) for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(steps) and steps[-1] >= 20_000
    policy = policy_file.load_policy(run / "final.rdpolicy")
    assert policy.metadata["num_timesteps"] >= 20_000 and policy.trainer == algo
