"""Time to skill with the default trainer, against Stable-Baselines3's PPO with its defaults in the same run.

    ./dojo bench train                                   # reach (3-bone arm), the Rigify FK arm, grasp, aim
    RIG_DOJO_BENCH_TASKS=grasp,aim ./dojo bench train    # some of them
    RIG_DOJO_BENCH_SECONDS=300                           # the SB3 baseline's time limit on the reach
    RIG_DOJO_BENCH_TASK_SECONDS=120                      # each trainer's time limit on grasp and aim
    RIG_DOJO_BENCH_SEEDS=0,1,2                           # the reach's seeds (both trainers)

Reach, 3-bone arm (the demo scene's): random targets in a region, success = the hand within 2%
of the chain length at the episode's end, measured by deterministic evaluation on 64 fresh
episodes every few iterations. Wall clock includes the evaluations. The same task is trained
with ``defaults_for("ppo", "reach")`` (ours) and ``defaults_for("sb3_ppo")`` (Stable-Baselines3's PPO
with the settings that were the default before), each on the same seeds (0, 1, 2): the ratio of their
median times to 95% is the issue's line (>= 8x); each seed's ratio and the worst seeds' are printed too.
Each run's training env-steps/s is printed next to the twin's raw env-steps/s (random actions
through the same step call, same number of environments), so the share of the twin that
training uses is visible.

Rigify FK arm: the bundled Rigify's generated human, its left FK arm (upper arm, forearm, hand
controls with natural limits) reaching random targets in a box in front of the hand.
Grasp: the Rigify human's left FK hand (forearm, hand, index and thumb controls) closing the index
and thumb tips onto a 4 cm ball beside it (``scene/builders/grasp.py``); success = both tips within
2% of the chain length of the surface with the ball between them, target 90% (the issue: <= 2 min).
Aim: the demo arm's hand aiming its Y axis at targets in the region (success within ``rig.tolerance``
= 0.02 radians), target 95%. Both are trained with the task's defaults by our PPO, then by SB3's PPO
with its defaults, in the same run.

Torch's threads are what the product uses (``agents.threads``). The machine may be shared:
the env-step counts are the figures to compare between runs, the seconds are this run's.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from rig_dojo.agents.algorithms import build_model
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.evaluate import evaluate
from rig_dojo.agents.threads import use_training_threads
from rig_dojo.envs.families import env_factory
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.families import spec_from_config

TARGET = 0.95
EVAL_EPISODES = 64
SB3_EVAL_EVERY = 16_384
SB3_LIMIT_SECONDS = float(os.environ.get("RIG_DOJO_BENCH_SECONDS", 300))
OURS_LIMIT_SECONDS = float(os.environ.get("RIG_DOJO_BENCH_OURS_SECONDS", 180))
TASK_LIMIT_SECONDS = float(os.environ.get("RIG_DOJO_BENCH_TASK_SECONDS", 120))  # grasp and aim, each trainer
GRASP_TARGET = 0.90
SEEDS = [int(s) for s in os.environ.get("RIG_DOJO_BENCH_SEEDS", "0,1,2").split(",") if s.strip()]  # the reach's
EVAL_SECONDS = 1.0  # ours: evaluate after the first update at least this much training time after the last


def reach_config(algo: str = "ppo") -> TrainConfig:
    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for(algo, "reach")  # the command line's and the sidebar's row for the task
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["upper_arm", "forearm", "hand"], "hand"
    config.rig.region = "Region"
    return config


def twin_rate(make_env, config: TrainConfig, n_envs: int, seconds: float = 1.0) -> float:
    """The task's own env-steps/s with random actions, through the step call the trainer uses."""
    env = make_env(config, n_envs, 1234)
    env.reset()
    step = env.step_arrays if hasattr(env, "step_arrays") else env.step
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (n_envs,) + env.action_space.shape).astype(np.float32) \
        if not hasattr(env.action_space, "nvec") else rng.integers(0, 3, (n_envs, len(env.action_space.nvec)))
    step(actions)
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        step(actions)
        calls += 1
    return calls * n_envs / (time.perf_counter() - began)


def time_to_target(config: TrainConfig, make_env, limit: float, target: float = TARGET, label: str = "") -> dict:
    """Train ``config`` until deterministic evaluation reaches ``target`` success or ``limit`` seconds pass."""
    env = make_env(config, config.algo.n_envs, config.algo.seed)
    model = build_model(config, env)
    state: dict[str, Any] = {"t0": time.perf_counter(), "eval": 0.0, "reached": None, "last": 0.0, "next": SB3_EVAL_EVERY,
             "success": 0.0, "error": float("nan")}

    def check(steps: int) -> bool:
        began = time.perf_counter()
        result = evaluate(model, make_env, config, episodes=EVAL_EPISODES)
        state["eval"] += time.perf_counter() - began
        wall = time.perf_counter() - state["t0"]
        state["success"], state["error"] = result.success_rate, result.final_error
        print(f"  {label:8s}{wall:7.1f} s {steps:11,d} steps  success {result.success_rate:.2f}  "
              f"final error {result.final_error:.4f}", flush=True)
        if result.success_rate >= target:
            state["reached"] = (wall, steps)
            return False
        return wall < limit

    if config.algo.name == "ppo":
        def on_iteration(m) -> bool:
            training = time.perf_counter() - state["t0"] - state["eval"]
            if training - state["last"] < EVAL_SECONDS:
                return time.perf_counter() - state["t0"] < limit
            state["last"] = training
            return check(m.num_timesteps)

        model.learn(config.algo.total_steps, on_iteration=on_iteration)
    else:
        from stable_baselines3.common.callbacks import BaseCallback

        class Stop(BaseCallback):
            def _on_step(self) -> bool:
                if self.num_timesteps < state["next"]:
                    return time.perf_counter() - state["t0"] < limit
                state["next"] += SB3_EVAL_EVERY
                return check(self.num_timesteps)

        model.learn(config.algo.total_steps, callback=Stop())
    wall = time.perf_counter() - state["t0"]
    sps = model.num_timesteps / max(wall - state["eval"], 1e-9)
    return {"reached": state["reached"], "steps": int(model.num_timesteps), "wall": wall, "train_sps": sps,
            "limit": limit, "success": state["success"], "error": state["error"]}


def report(name: str, run: dict, twin: float, goal: str, target: float = TARGET) -> None:
    share = f"{run['train_sps'] / twin:.1%} of the twin's {twin:,.0f}"
    if run["reached"] is not None:
        wall, steps = run["reached"]
        print(f"{name}: {target:.0%} success after {wall:.1f} s, {steps:,d} env-steps ({goal}); "
              f"training {run['train_sps']:,.0f} env-steps/s = {share}", flush=True)
    else:
        ended = "its step budget" if run["wall"] < run["limit"] else "the time limit"
        print(f"{name}: did not reach {target:.0%} within {run['wall']:.0f} s, ended by {ended} ({run['steps']:,d} "
              "env-steps, last "
              f"success {run['success']:.2f}, final error {run['error']:.4f}); training {run['train_sps']:,.0f} "
              f"env-steps/s = {share}", flush=True)


def bench_arm() -> None:
    """The reach on each of SEEDS (ours and SB3's defaults on the same seeds): time to 95% per seed, the ratio of
    the medians (the issue's >= 8x) and of the worst seed's pair."""
    scenes.build_demo_scene()
    ours_cfg, sb3_cfg = reach_config("ppo"), reach_config("sb3_ppo")
    make_env = env_factory(spec_from_config(ours_cfg), ours_cfg)
    a, b = ours_cfg.algo, sb3_cfg.algo
    print(f"reach, 3-bone arm, episode {ours_cfg.rig.episode_length} steps, torch threads {use_training_threads()}, "
          f"seeds {', '.join(map(str, SEEDS))}")
    print(f"  ppo (ours) defaults: n_envs {a.n_envs}, n_steps {a.n_steps}, minibatch {a.batch_size}, "
          f"epochs {a.n_epochs}, lr {a.learning_rate:g}, extra {a.extra}")
    print(f"  sb3_ppo defaults:    n_envs {b.n_envs}, n_steps {b.n_steps}, minibatch {b.batch_size}, "
          f"epochs {b.n_epochs}, lr {b.learning_rate:g} ({b.lr_schedule})")
    twin_ours, twin_sb3 = twin_rate(make_env, ours_cfg, a.n_envs), twin_rate(make_env, sb3_cfg, b.n_envs)
    times: dict[str, list[float]] = {"ppo": [], "sb3_ppo": []}
    for label, config, twin, limit, goal in (("ppo", ours_cfg, twin_ours, OURS_LIMIT_SECONDS, "target <= 15 s"),
                                             ("sb3_ppo", sb3_cfg, twin_sb3, SB3_LIMIT_SECONDS, "the baseline")):
        for seed in SEEDS:
            config.algo.seed = seed
            run = time_to_target(config, make_env, limit, label=label)
            report(f"{'ppo (ours)' if label == 'ppo' else label}, seed {seed}", run, twin, goal)
            times[label].append(run["reached"][0] if run["reached"] is not None else float("inf"))
    ours, sb3 = np.array(times["ppo"]), np.array(times["sb3_ppo"])
    if np.isfinite(ours).all():
        bound = "" if np.isfinite(sb3).all() else ">= "  # SB3 cut off by its limit: its time is at least the limit
        sb3 = np.minimum(sb3, SB3_LIMIT_SECONDS)
        per_seed = ", ".join(f"{r:.1f}x" for r in sb3 / ours)
        print(f"reach, ours to 95%: median {np.median(ours):.1f} s, worst seed {ours.max():.1f} s (target <= 15 s); "
              f"SB3's defaults: median {np.median(sb3):.1f} s, worst seed {sb3.max():.1f} s")
        print(f"ratio: ours is {bound}{np.median(sb3) / np.median(ours):.1f}x faster to {TARGET:.0%} than SB3's PPO "
              f"with its defaults, median over seeds (target >= 8x); by seed {per_seed}; "
              f"worst seed against worst seed {bound}{sb3.max() / ours.max():.1f}x")


def rigify_config(task: str = "reach") -> TrainConfig:
    from rig_dojo.demo import HUMAN_ARM

    config = TrainConfig()
    config.task = task
    config.algo = defaults_for("ppo", task)
    config.rig.rig, config.rig.controls, config.rig.effector = "rig", list(HUMAN_ARM), "DEF-hand.L"
    config.rig.region = "HandRegion"
    return config


def build_rigify_arm() -> None:
    """The Rigify human with the demo's natural limits on the left FK arm and a box in front of the hand."""
    from rig_dojo.demo import HUMAN_LIMITS
    from rig_dojo.headless import quiet_blender

    scenes.empty_scene()
    with quiet_blender():  # Rigify prints its progress
        human = scenes.build_rigify_human(fk_arms=True)
    scenes.limit_rotations(human, HUMAN_LIMITS)
    # the hand hangs at about (0.72, 0.04, 1.26), the shoulder at (0.2, 0.03, 1.59); the arm is 0.63 long
    scenes.add_empty("HandRegion", (0.45, -0.2, 1.35), display="CUBE", size=0.1)


def bench_rigify() -> None:
    build_rigify_arm()
    config = rigify_config()
    make_env = env_factory(spec_from_config(config), config)
    twin = twin_rate(make_env, config, config.algo.n_envs)
    print(f"reach, Rigify FK arm ({', '.join(config.rig.controls)}), episode {config.rig.episode_length} steps")
    run = time_to_target(config, make_env, OURS_LIMIT_SECONDS, label="rigify")
    report("rigify FK arm (ours)", run, twin, "target <= 60 s")


def against_sb3(name: str, configure, target: float, goal: str) -> None:
    """``configure(algo)`` -> the task's TrainConfig with ``algo``'s task defaults; trains ours, then SB3's PPO with
    its defaults, each until deterministic evaluation reaches ``target`` or ``TASK_LIMIT_SECONDS`` pass."""
    ours_cfg, sb3_cfg = configure("ppo"), configure("sb3_ppo")
    make_env = env_factory(spec_from_config(ours_cfg), ours_cfg)
    runs = {}
    for label, config in (("ppo", ours_cfg), ("sb3_ppo", sb3_cfg)):
        twin = twin_rate(make_env, config, config.algo.n_envs)
        runs[label] = time_to_target(config, make_env, TASK_LIMIT_SECONDS, target=target, label=label)
        report(f"{name}, {'ppo (ours)' if label == 'ppo' else label}", runs[label], twin,
               goal if label == "ppo" else "the baseline", target)
    ours, sb3 = runs["ppo"], runs["sb3_ppo"]
    if ours["reached"] is not None:
        theirs = sb3["reached"][0] if sb3["reached"] is not None else sb3["wall"]
        bound = "" if sb3["reached"] is not None else ">= "
        print(f"{name} ratio: ours is {bound}{theirs / ours['reached'][0]:.1f}x faster to {target:.0%} than SB3's PPO "
              "with its defaults", flush=True)


def bench_grasp() -> None:
    from rig_dojo.scene.builders.grasp import build_rigify_grasp, grasp_selection

    build_rigify_grasp()

    def configure(algo: str) -> TrainConfig:
        config = TrainConfig()
        grasp_selection(config)
        config.algo = defaults_for(algo, "grasp")
        return config

    sel = configure("ppo").rig
    print(f"grasp, Rigify FK hand ({', '.join(sel.controls)}), fingertips {', '.join(sel.tracked)}, a 4 cm ball; "
          f"episode {sel.episode_length} steps, success within {sel.tolerance} chain lengths, ball between the tips")
    against_sb3("grasp", configure, GRASP_TARGET, "target <= 120 s")


def bench_aim() -> None:
    scenes.build_demo_scene()

    def configure(algo: str) -> TrainConfig:
        config = reach_config(algo)
        config.task = "aim"
        config.algo = defaults_for(algo, "aim")
        return config

    print(f"aim, 3-bone arm: the hand's Y axis at targets in the region, success within "
          f"{configure('ppo').rig.tolerance} rad")
    against_sb3("aim", configure, TARGET, "reported")


def main() -> None:
    tasks = [t.strip() for t in os.environ.get("RIG_DOJO_BENCH_TASKS", "arm,rigify,grasp,aim").split(",") if t.strip()]
    if "arm" in tasks:
        bench_arm()
    if "rigify" in tasks:
        bench_rigify()
    if "grasp" in tasks:
        bench_grasp()
    if "aim" in tasks:
        bench_aim()


if __name__ == "__main__":
    main()
