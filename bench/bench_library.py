"""Rig-agnostic reach (``envs/kinematic/chains.py``, ``agents/chain_policy.py``): pretraining on random chains,
then zero-shot success on chains it never saw.

    ./dojo bench library
    RIG_DOJO_BENCH_LIBRARY_STEPS=4000000      # pretraining env-steps (default 4 M)

Pretraining: 16 random chains (2-8 bones, random lengths, bends, rolls, locked axes, limits) x 32
environments, our PPO with the shared per-joint network, seed 0, 64-step episodes, success = the tip within
0.02 chain lengths of a random target in a box of +-0.2 chain lengths at the episode's end. Every 500 k steps
the deterministic policy is evaluated (64 episodes) on three unseen chains (3, 5 and 7 bones, drawn from
another seed). The machine may be shared: compare env-steps, not seconds.

Not measured here (not built yet): time to 95% fine-tuned from the pretrained network vs from scratch. Nothing
here ships a library file or wires ``--init-from library:reach``: this measures whether the representation
transfers (see agents/README.md, "Rig-agnostic reach").
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch


def _chain_tasks(seed: int, bones: list[int | None], n_envs: int):
    from rig_dojo.envs.kinematic.chains import ChainReachTask, random_chain_spec

    rng = np.random.default_rng(seed)
    specs = [random_chain_spec(rng, b) for b in bones]
    return specs, [ChainReachTask(s, n_envs, seed=seed + i) for i, s in enumerate(specs)]


def success(policy, task, episodes: int = 64) -> float:
    """Deterministic success rate of ``policy`` on ``episodes`` fresh episodes of ``task`` (its n_envs)."""
    task.reset()
    obs = task._observe()
    info = {}
    for _ in range(task.episode_steps):
        actions, _ = policy.predict(obs, deterministic=True)
        _, _, info = task._step(np.asarray(actions))
        obs = task._observe()
    return float(np.mean(info["success"]))


def pretrain(steps: int, seed: int = 0, rigs: int = 16, per_rig: int = 32, report=None):
    """The pretrained model (our PPO with the chain network) after ``steps`` env-steps on random chains."""
    from rig_dojo.agents.chain_policy import build_chain_ppo
    from rig_dojo.agents.config import TrainConfig, defaults_for
    from rig_dojo.envs.kinematic.chains import ChainMix

    config = TrainConfig()
    config.algo = defaults_for("ppo")
    config.algo.seed = seed
    config.algo.extra = {"log_std_init": -1.0}
    _, tasks = _chain_tasks(seed, [None] * rigs, per_rig)
    model = build_chain_ppo(config, ChainMix(tasks))
    last = [0]

    def every(m):
        if report is not None and m.num_timesteps - last[0] >= 500_000:
            last[0] = m.num_timesteps
            report(m)
        return True

    model.learn(steps, on_iteration=every)
    return model


def main() -> None:
    torch.set_num_threads(1)
    steps = int(os.environ.get("RIG_DOJO_BENCH_LIBRARY_STEPS", 4_000_000))
    specs, unseen = _chain_tasks(12345, [3, 5, 7], 64)
    print(f"pretraining {steps:,d} env-steps on 16 random chains; unseen: "
          + ", ".join(f"{len(s.rig.controls)} bones / {int((~s.rig.control_lock).sum())} joints" for s in specs),
          flush=True)
    began = time.perf_counter()

    def report(m):
        rates = [success(m.policy, t) for t in unseen]
        print(f"  {m.num_timesteps:>10,d} steps {time.perf_counter() - began:7.0f} s  zero-shot "
              + " ".join(f"{r:.0%}" for r in rates), flush=True)

    model = pretrain(steps, report=report)
    rates = [success(model.policy, t) for t in unseen]
    print(f"pretrained in {time.perf_counter() - began:.0f} s ({model.num_timesteps:,d} steps): zero-shot success on "
          f"the unseen chains {' '.join(f'{r:.0%}' for r in rates)} (mean {np.mean(rates):.0%}; goal >= 50%)")
