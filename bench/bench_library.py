"""The policy library on rigs it never saw: zero-shot success, and time to 95% started from ``library:reach``
against from scratch, same machine, same run.

    ./dojo bench library
    RIG_DOJO_BENCH_LIBRARY_RIGS=odd,rigify,quadruped    # which rigs (default: all three)
    RIG_DOJO_BENCH_SECONDS=180                          # each run's time limit

Rigs (built here with bpy; the library was pretrained on random chains only): **odd** - a 5-bone chain with
rolls, unconnected offsets, pose scale, a hinge, mixed rotation modes, on a rotated, non-uniformly scaled object
(``tests/blender/rigs.py``); **rigify** - the bundled Rigify's generated human, left FK arm with the demo's
natural limits, targets in a box in front of the hand (as ``./dojo bench train``); **quadruped** - Rigify's
basic quadruped metarig as its operator builds it, the left hind leg (thigh, shin, foot, toe), targets in a box
between the hoof and the hip. Targets: random in the box, success = the effector within 2% of the chain length
at the episode's end, deterministic evaluation on 64 fresh episodes.

*From scratch*: our PPO with the reach defaults on the rig's own observation (``rig.observation = "full"``),
evaluated about every second of training (``bench_train.time_to_target``). *From the library*: the same
defaults, ``rig.observation = "chain"``, the network loaded from ``library/reach.rdpolicy``, evaluated
before any training and then as from scratch. Both times are wall clock from building the trainer, including
the evaluations; before the first rig, one untimed evaluation of each route pays the process's first calls into
torch and the twin. The machine may be shared: both routes are measured back to back in the same run.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "blender"))

import bench_train  # noqa: E402
from rigs import add_region  # noqa: E402
from rig_dojo.agents.algorithms import build_model  # noqa: E402
from rig_dojo.agents.config import TrainConfig, defaults_for  # noqa: E402
from rig_dojo.agents.evaluate import evaluate  # noqa: E402
from rig_dojo.agents.library import entry  # noqa: E402
from rig_dojo.agents.policy_file import load_policy  # noqa: E402
from rig_dojo.agents.threads import use_training_threads  # noqa: E402
from rig_dojo.envs.families import env_factory  # noqa: E402
from rig_dojo.scene.builders import scenes  # noqa: E402
from rig_dojo.scene.families import spec_from_config  # noqa: E402

LIMIT = float(os.environ.get("RIG_DOJO_BENCH_SECONDS", 180))
TARGET = 0.95


def _config(rig: str, controls: list[str], effector: str) -> TrainConfig:
    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for("ppo", "reach")
    config.rig.rig, config.rig.controls, config.rig.effector, config.rig.region = rig, controls, effector, "Region"
    return config


def build_odd() -> TrainConfig:
    from rigs import build_odd_chain

    scenes.empty_scene()
    bones = ["b0", "b1", "b2", "b3", "b4"]
    add_region(build_odd_chain(), bones, "b4")
    return _config("Odd", bones, "b4")


def build_rigify() -> TrainConfig:
    bench_train.build_rigify_arm()  # enables Rigify (once per process)
    return bench_train.rigify_config()


def build_quadruped() -> TrainConfig:
    scenes.empty_scene()
    scenes.enable_rigify()
    bpy.ops.object.armature_basic_quadruped_metarig_add()
    meta = bpy.context.active_object
    bones = ["thigh.L", "shin.L", "foot.L", "toe.L"]
    add_region(meta, bones, "toe.L")
    return _config(meta.name, bones, "toe.L")


RIGS = {"odd": build_odd, "rigify": build_rigify, "quadruped": build_quadruped}


def from_library(config: TrainConfig, make_env) -> dict:
    """Time to ``TARGET`` starting from the library (evaluated before training, then about every second)."""
    began = time.perf_counter()
    library = load_policy(entry("reach").path)
    env = make_env(config, config.algo.n_envs, config.algo.seed)
    model = build_model(config, env)
    library.check_compatible(env)
    library.apply_to(model, "ppo")
    zero = evaluate(model, make_env, config, episodes=64)
    if zero.success_rate >= TARGET:
        return {"zero_shot": zero.success_rate, "reached": (time.perf_counter() - began, 0), "steps": 0}
    state = {"last": 0.0, "reached": None, "eval": 0.0}

    def on_iteration(m) -> bool:
        wall = time.perf_counter() - began
        if wall - state["last"] < bench_train.EVAL_SECONDS:
            return wall < LIMIT
        state["last"] = wall
        result = evaluate(m, make_env, config, episodes=64)
        if result.success_rate >= TARGET:
            state["reached"] = (time.perf_counter() - began, m.num_timesteps)
            return False
        return wall < LIMIT

    model.learn(config.algo.total_steps, on_iteration=on_iteration)
    return {"zero_shot": zero.success_rate, "reached": state["reached"], "steps": int(model.num_timesteps)}


def main() -> None:
    use_training_threads()
    names = [n.strip() for n in os.environ.get("RIG_DOJO_BENCH_LIBRARY_RIGS", ",".join(RIGS)).split(",") if n.strip()]
    rows = []
    for k, name in enumerate(names):
        config = RIGS[name]()
        scratch_cfg = config
        chain_cfg = TrainConfig.from_toml(config.to_toml())
        chain_cfg.rig.observation = "chain"
        if k == 0:  # untimed: the first calls into torch and the twin (paid once per process by either route)
            from_library(chain_cfg, env_factory(spec_from_config(chain_cfg), chain_cfg))
            warm = env_factory(spec_from_config(scratch_cfg), scratch_cfg)
            evaluate(build_model(scratch_cfg, warm(scratch_cfg, 64, 0)), warm, scratch_cfg, episodes=64)
        lib = from_library(chain_cfg, env_factory(spec_from_config(chain_cfg), chain_cfg))
        scratch = bench_train.time_to_target(scratch_cfg, env_factory(spec_from_config(scratch_cfg), scratch_cfg),
                                             LIMIT, label=name)
        lib_s = lib["reached"][0] if lib["reached"] else float("inf")
        scratch_s = scratch["reached"][0] if scratch["reached"] else float("inf")
        ratio = scratch_s / lib_s if lib["reached"] else 0.0
        bound = ">= " if not scratch["reached"] else ""
        print(f"{name}: zero-shot {lib['zero_shot']:.0%}; to {TARGET:.0%}: from the library {lib_s:.1f} s "
              f"({lib['steps']:,d} steps), from scratch {scratch_s:.1f} s "
              f"({scratch['steps']:,d} steps); {bound}{ratio:.1f}x faster (goal >= 5x)", flush=True)
        rows.append((name, lib["zero_shot"], lib_s, scratch_s, ratio))
    print("rig        zero-shot  library s  scratch s  ratio")
    for name, zero, lib_s, scratch_s, ratio in rows:
        print(f"{name:10s} {zero:9.0%} {lib_s:10.1f} {scratch_s:10.1f} {ratio:6.1f}x")
