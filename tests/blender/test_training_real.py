"""Every algorithm learns on a real task (the twin of a Blender rig), not only on a toy.

Budgets are seconds; the assertions compare the trained deterministic policy with a
random one on the same task and seeds.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import bpy

from rig_dojo.agents.algorithms import build_model
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.evaluate import evaluate
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.kinematic.task_extract import extract_task
from rig_dojo.envs.kinematic.tasks import make_task

pytestmark = pytest.mark.slow  # trains or runs the command line in subprocesses

# our PPO: 6 updates of 512 x 16 steps. With 3 (24,576 steps) the seeded run learnt the reach on one machine and
# fell short of the +3.0 margin below on another (+1.65; same code and packages, another CPU's floating point).
BUDGETS = {"ppo": 49_152, "sb3_ppo": 24_576, "a2c": 24_576, "sac": 3_000, "td3": 3_000, "dqn": 30_000, "qlearning": 40_000}


@pytest.fixture(scope="module")
def planar_spec(dojo_registered):
    """A planar two-bone arm (rotation about Z only) reaching a fixed target: small enough for a table."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    arm = scenes.build_chain("Arm", (0.5, 0.4), ("upper", "lower"), rotation_mode='XYZ')
    for pb in arm.pose.bones:
        pb.lock_rotation = (True, True, False)
        pb.use_ik_limit_z, pb.ik_min_z, pb.ik_max_z = True, -2.0, 2.0
    scenes.add_empty("Target", (0.45, 0.5, 1.0))
    return extract_task("Arm", "reach", ["upper", "lower"], "lower", target="Target", episode_steps=30,
                        tolerance=0.05, discrete_delta=0.1, max_delta=0.15)


def _config(algo: str) -> TrainConfig:
    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for(algo)
    config.algo.total_steps = BUDGETS[algo]
    config.rig.episode_length = 30
    config.rig.discrete = algo in ("dqn", "qlearning")
    if algo in ("sac", "td3"):
        config.algo.extra["learning_starts"] = 500
    return config


class RandomPolicy:
    def __init__(self, space):
        self.space, self.rng = space, np.random.default_rng(0)

    def predict(self, obs, deterministic=True):
        if hasattr(self.space, "nvec"):
            return self.rng.integers(0, 3, size=(len(obs), len(self.space.nvec))), None
        return self.rng.uniform(-1, 1, size=(len(obs),) + self.space.shape), None


@pytest.mark.parametrize("algo", list(BUDGETS))
def test_each_algorithm_learns_the_real_reach(planar_spec, algo):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    config = _config(algo)
    spec = dataclasses.replace(planar_spec, observation="compact" if algo == "qlearning" else "full")

    def make_env(cfg, n_envs, seed):
        return make_task(spec, n_envs=n_envs, seed=seed, discrete=cfg.rig.discrete)

    env = make_env(config, config.algo.n_envs, config.algo.seed)
    model = build_model(config, env)
    random = evaluate(RandomPolicy(env.action_space), make_env, config, episodes=16)
    untrained = evaluate(model, make_env, config, episodes=16)
    model.learn(config.algo.total_steps)
    trained = evaluate(model, make_env, config, episodes=16)
    assert trained.mean_return > max(random.mean_return, untrained.mean_return) + 3.0, (algo, trained, random)
    assert trained.final_error < min(random.final_error, untrained.final_error)


def test_compact_observation_is_joints_plus_one_vector(planar_spec):
    full = make_task(planar_spec, 2, seed=0)
    compact = make_task(dataclasses.replace(planar_spec, observation="compact"), 2, seed=0)
    assert full.observation_space.shape == (2 + 12,) and compact.observation_space.shape == (2 + 3,)
    obs = compact.reset()
    np.testing.assert_allclose(obs[:, 2:], compact.target - compact.effector_pos(), rtol=1e-6)
