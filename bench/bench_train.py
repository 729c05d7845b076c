"""Time to 95% success on the reach task with the default settings, and training env-steps/s.

    .venv/bin/python bench/run.py train            # default PPO settings
    RIG_DOJO_BENCH_ALGO=sac .venv/bin/python bench/run.py train

A 3-bone arm reaches random targets in a region; success = the hand within 2% of
the chain length at the episode's end, measured by deterministic evaluation on 64
fresh episodes every ``EVAL_EVERY`` steps. Wall clock includes the evaluations.
The baseline in the same run is a random policy's success rate on the same task.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch

from rig_dojo.agents.algorithms import build_model
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.evaluate import evaluate
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.kinematic.task_extract import task_from_config
from rig_dojo.envs.kinematic.family import env_factory

TARGET = 0.95
EVAL_EVERY = 16_384
LIMIT_SECONDS = float(os.environ.get("RIG_DOJO_BENCH_SECONDS", 300))


def reach_config(algo: str = "ppo") -> TrainConfig:
    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for(algo)
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["upper_arm", "forearm", "hand"], "hand"
    config.rig.region = "Region"
    return config


def main() -> None:
    torch.set_num_threads(1)
    scenes.build_demo_scene()
    algo = os.environ.get("RIG_DOJO_BENCH_ALGO", "ppo")
    config = reach_config(algo)
    make_env = env_factory(task_from_config(config))
    rng = np.random.default_rng(0)

    class Random:
        def predict(self, obs, deterministic=True):
            return rng.uniform(-1, 1, (len(obs), env.action_space.shape[0])), None

    env = make_env(config, config.algo.n_envs, config.algo.seed)
    baseline = evaluate(Random(), make_env, config, episodes=64)
    print(f"reach, 3-bone arm, {algo} defaults: n_envs={config.algo.n_envs}, episode={config.rig.episode_length} "
          f"steps; random policy success {baseline.success_rate:.2f}")
    model = build_model(config, env)
    from stable_baselines3.common.callbacks import BaseCallback

    state = {"next": EVAL_EVERY, "t0": time.perf_counter(), "eval_time": 0.0, "reached": None}

    class Stop(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps < state["next"]:
                return time.perf_counter() - state["t0"] < LIMIT_SECONDS
            state["next"] += EVAL_EVERY
            began = time.perf_counter()
            result = evaluate(model, make_env, config, episodes=64)
            state["eval_time"] += time.perf_counter() - began
            wall = time.perf_counter() - state["t0"]
            print(f"  {wall:6.1f} s  {self.num_timesteps:9,d} steps  success {result.success_rate:.2f}  "
                  f"final error {result.final_error:.4f} chain lengths", flush=True)
            if result.success_rate >= TARGET:
                state["reached"] = wall
                return False
            return wall < LIMIT_SECONDS

    model.learn(config.algo.total_steps, callback=Stop())
    wall = time.perf_counter() - state["t0"]
    sps = model.num_timesteps / max(wall - state["eval_time"], 1e-9)
    if state["reached"] is not None:
        print(f"time to {TARGET:.0%} success: {state['reached']:.1f} s (target <= 60 s), "
              f"{model.num_timesteps:,d} env-steps, training {sps:,.0f} env-steps/s")
    else:
        print(f"did not reach {TARGET:.0%} success within {LIMIT_SECONDS:.0f} s; training {sps:,.0f} env-steps/s")


if __name__ == "__main__":
    main()
