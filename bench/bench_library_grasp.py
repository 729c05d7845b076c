"""``library:grasp`` on hands it never saw: zero-shot grasp success, and time to 90% started from the library against
from scratch, same machine, same run.

    ./dojo bench library_grasp
    RIG_DOJO_BENCH_GRASP_HANDS=rigify,five,claw     # which hands (default: all three)
    RIG_DOJO_BENCH_SECONDS=120                      # each run's time limit

Hands (built here with bpy; the library was pretrained on random hands only, ``envs/kinematic/grasp_chains.py``):
**rigify** - issue 12's set-up (``scene/builders/grasp.py``): the Rigify-generated human's left FK hand, forearm,
hand, index and thumb controls (24 joints), a 4 cm ball beside the hand; **five** - the same hand with all five
fingers (17 controls, 51 joints) and the same ball; **claw** - ``build_claw``: a three-fingered hand built with bpy
(forearm, palm, a three-bone and a two-bone finger and a two-bone thumb, other lengths and rolls, IK limits, Euler and
quaternion controls, a turned and scaled object), the ball its curled fingers hold. Success: every fingertip within
2% of the chain length of the surface with the ball between them, deterministic evaluation (the ball does not move,
so every episode is alike: 0 or 100%).

*From scratch*: our PPO with grasp's defaults (``defaults_for("ppo", "grasp")``) on the rig's own observation,
evaluated about every second of training (``bench_train.time_to_target``). *From the library*: the same defaults,
``rig.observation = "chain"``, the network loaded from ``library/grasp.rdpolicy`` with the fine-tune's
``desired_kl = 0.002`` (what a start from the library sets), evaluated before any training and then as from
scratch. Wall clock from building the trainer, evaluations included; the machine may be shared, both routes run back
to back in the same process.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_train  # noqa: E402
from rig_dojo.agents.algorithms import build_model  # noqa: E402
from rig_dojo.agents.config import TrainConfig, defaults_for  # noqa: E402
from rig_dojo.agents.evaluate import evaluate  # noqa: E402
from rig_dojo.agents.library import entry  # noqa: E402
from rig_dojo.agents.policy_file import load_policy  # noqa: E402
from rig_dojo.agents.threads import use_training_threads  # noqa: E402
from rig_dojo.envs.families import env_factory  # noqa: E402
from rig_dojo.scene.builders import grasp, scenes  # noqa: E402
from rig_dojo.scene.families import spec_from_config  # noqa: E402

LIMIT = float(os.environ.get("RIG_DOJO_BENCH_SECONDS", 120))
TARGET = 0.90
EPISODES = 8  # the ball does not move: episodes are alike


def _config(select) -> TrainConfig:
    config = TrainConfig()
    select(config)
    config.algo = defaults_for("ppo", "grasp")
    return config


_RIGIFY: dict[str, Path] = {}


def _rigify_scene() -> None:
    """Issue 12's scene (built once per process, then reopened: Rigify generates in one process once)."""
    if "blend" not in _RIGIFY:
        grasp.build_rigify_grasp()
        _RIGIFY["blend"] = Path(bpy.app.tempdir or "/tmp") / "bench_grasp_rigify.blend"
        bpy.ops.wm.save_as_mainfile(filepath=str(_RIGIFY["blend"]), copy=True)
    else:
        bpy.ops.wm.open_mainfile(filepath=str(_RIGIFY["blend"]))


def build_rigify() -> TrainConfig:
    _rigify_scene()
    return _config(grasp.grasp_selection)


def build_five() -> TrainConfig:
    _rigify_scene()
    return _config(grasp.rigify_five_selection)


def build_claw() -> TrainConfig:
    scenes.empty_scene()
    grasp.build_claw()
    return _config(grasp.claw_selection)


HANDS = {"rigify": build_rigify, "five": build_five, "claw": build_claw}


def from_library(config: TrainConfig, make_env) -> dict:
    """Time to ``TARGET`` starting from ``library:grasp`` (evaluated before training, then about every second)."""
    began = time.perf_counter()
    library = load_policy(entry("grasp").path)
    config.algo.extra = {**config.algo.extra, "desired_kl": 0.002}  # as a start from the library sets it
    env = make_env(config, config.algo.n_envs, config.algo.seed)
    model = build_model(config, env)
    library.check_compatible(env)
    library.apply_to(model, "ppo")
    zero = evaluate(model, make_env, config, episodes=EPISODES)
    print(f"  library      {time.perf_counter() - began:7.1f} s {0:11,d} steps  success {zero.success_rate:.2f}  "
          f"final error {zero.final_error:.4f} (zero-shot)", flush=True)
    if zero.success_rate >= TARGET:
        return {"zero_shot": zero.success_rate, "zero_error": zero.final_error,
                "reached": (time.perf_counter() - began, 0), "steps": 0}
    state = {"last": 0.0, "reached": None}

    def on_iteration(m) -> bool:
        wall = time.perf_counter() - began
        if wall - state["last"] < bench_train.EVAL_SECONDS:
            return wall < LIMIT
        state["last"] = wall
        result = evaluate(m, make_env, config, episodes=EPISODES)
        print(f"  library      {time.perf_counter() - began:7.1f} s {m.num_timesteps:11,d} steps  success "
              f"{result.success_rate:.2f}  final error {result.final_error:.4f}", flush=True)
        if result.success_rate >= TARGET:
            state["reached"] = (time.perf_counter() - began, m.num_timesteps)
            return False
        return wall < LIMIT

    model.learn(config.algo.total_steps, on_iteration=on_iteration)
    return {"zero_shot": zero.success_rate, "zero_error": zero.final_error, "reached": state["reached"],
            "steps": int(model.num_timesteps)}


def main() -> None:
    use_training_threads()
    bench_train.EVAL_EPISODES = EPISODES
    names = [n.strip() for n in os.environ.get("RIG_DOJO_BENCH_GRASP_HANDS", ",".join(HANDS)).split(",") if n.strip()]
    rows = []
    for k, name in enumerate(names):
        config = HANDS[name]()
        chain_cfg = TrainConfig.from_toml(config.to_toml())
        chain_cfg.rig.observation = "chain"
        make_chain = env_factory(spec_from_config(chain_cfg), chain_cfg)
        make_full = env_factory(spec_from_config(config), config)
        if k == 0:  # untimed: the first calls into torch and the twin (paid once per process by either route)
            evaluate(build_model(config, make_full(config, 8, 0)), make_full, config, episodes=EPISODES)
            evaluate(load_policy(entry("grasp").path), make_chain, chain_cfg, episodes=EPISODES)
        joints = make_full(config, 1, 0).n_joints
        print(f"{name}: {joints} joints, fingertips {', '.join(config.rig.tracked)}", flush=True)
        lib = from_library(chain_cfg, make_chain)
        scratch = bench_train.time_to_target(config, make_full, LIMIT, target=TARGET, label="scratch")
        lib_s = lib["reached"][0] if lib["reached"] else float("inf")
        scratch_s = scratch["reached"][0] if scratch["reached"] else scratch["wall"]  # not reached: a lower bound
        ratio = scratch_s / lib_s if lib["reached"] else 0.0
        bound = ">= " if not scratch["reached"] else ""
        print(f"{name}: zero-shot {lib['zero_shot']:.0%} (final error {lib['zero_error']:.4f}); to {TARGET:.0%}: from "
              f"the library {lib_s:.1f} s ({lib['steps']:,d} steps), from scratch {scratch_s:.1f} s "
              f"({scratch['steps']:,d} steps); {bound}{ratio:.1f}x faster", flush=True)
        rows.append((name, joints, lib["zero_shot"], lib_s, scratch_s, bound, ratio))
    print("hand    joints  zero-shot  library s  scratch s   ratio")
    for name, joints, zero, lib_s, scratch_s, bound, ratio in rows:
        print(f"{name:7s} {joints:6d} {zero:10.0%} {lib_s:10.1f} {bound:>3s}{scratch_s:7.1f} {bound:>3s}{ratio:.1f}x")
