"""``library:stand`` and ``library:stand_biped`` on creatures they never saw: zero-shot shove survival against the
zero action (holding the rest pose), and time to the stand success target fine-tuned from the library vs from scratch, same machine,
same run.

    ./dojo bench library_stand
    RIG_DOJO_BENCH_STAND_CREATURES=metarig,biped     # which creatures (default: metarig,biped,human; also quadruped)
    RIG_DOJO_BENCH_SECONDS=240                       # each training's time limit
    RIG_DOJO_BENCH_STAND_TRAIN=0                     # 0: the zero-shot table only
    RIG_DOJO_BENCH_STAND_REPEAT=3                    # time-to-target runs of each route (median, worst)

Creatures (built here with bpy; the library was pretrained on random plain-data creatures only): **metarig** -
Rigify's basic quadruped metarig as its Add > Armature menu makes it (34 bones, 99 hinges, no limits);
**biped** - ``scene.builders.creatures.build_biped`` (9 bones; holding its rest pose falls within a second on
tiptoe, in 2-4 s on soles); **human** - Rigify's human metarig as its Add > Armature menu makes it, its body
simulated (no face or fingers: 80 hinges; the library drives at most 128); **quadruped** -
``build_quadruped``.

*Zero-shot*: 8 environments from rest, every root shoved horizontally at 0, 0.5 and 1 sizes/s after one second
(directions spread around the circle), 4 s each: falls and mean seconds up, the library's deterministic policy
against zero actions. *Time to target*: the run's stand success (still up at the end of a 10 s episode) over 8
deterministic episodes reaching 95% (all 8), evaluated about every 15 s of training; from scratch: our PPO with
the stand defaults on the creature's own observation; from the library: the same defaults, ``rig.observation =
"chain"``, the network loaded from the creature's entry (``library/stand_biped.rdpolicy`` for two legs,
``library/stand.rdpolicy`` for four) and evaluated before any training. Wall clock from
building the trainer, evaluations included.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import bpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "blender"))

from rig_dojo.agents.algorithms import build_model  # noqa: E402
from rig_dojo.agents.config import TrainConfig, defaults_for  # noqa: E402
from rig_dojo.agents.evaluate import evaluate  # noqa: E402
from rig_dojo.agents.library import entry  # noqa: E402
from rig_dojo.agents.library_stand import stand_survival  # noqa: E402
from rig_dojo.agents.policy_file import load_policy  # noqa: E402
from rig_dojo.agents.threads import use_training_threads  # noqa: E402
from rig_dojo.envs.families import env_factory  # noqa: E402
from rig_dojo.scene.builders import creatures, scenes  # noqa: E402
from rig_dojo.scene.families import spec_from_config  # noqa: E402

LIMIT = float(os.environ.get("RIG_DOJO_BENCH_SECONDS", 240))
TARGET = 0.95
EPISODES = 8
EVAL_EVERY = 15.0
REPEAT = int(os.environ.get("RIG_DOJO_BENCH_STAND_REPEAT", 1))  # time-to-target runs of each route


def _config(rig: str) -> TrainConfig:
    config = TrainConfig()
    config.task = "stand"
    config.algo = defaults_for("ppo", "stand")
    config.rig.rig = rig
    return config


def build_metarig() -> TrainConfig:
    scenes.empty_scene()
    scenes.enable_rigify()
    bpy.ops.object.armature_basic_quadruped_metarig_add()
    return _config(bpy.context.active_object.name)


def build_human() -> TrainConfig:
    scenes.empty_scene()
    scenes.enable_rigify()
    bpy.ops.object.armature_human_metarig_add()
    obj = bpy.context.active_object
    config = _config(obj.name)
    # its body without the face and fingers (474 hinges in all; the library drives at most 128)
    body = ("spine", "pelvis", "thigh", "shin", "foot", "toe", "heel", "shoulder", "upper_arm", "forearm", "hand",
            "breast")
    config.rig.controls = [b.name for b in obj.data.bones if b.name.startswith(body)]
    return config


def build_biped() -> TrainConfig:
    scenes.empty_scene()
    return _config(creatures.build_biped().name)


def build_quadruped() -> TrainConfig:
    scenes.empty_scene()
    return _config(creatures.build_quadruped().name)


CREATURES = {"metarig": build_metarig, "biped": build_biped, "human": build_human, "quadruped": build_quadruped}
# the entry each creature starts from: two legs, library:stand_biped; four, library:stand
ENTRY_FOR = {"metarig": "stand", "biped": "stand_biped", "human": "stand_biped", "quadruped": "stand"}


def time_to_target(config: TrainConfig, start=None, limit: float = LIMIT) -> dict:
    """Train ``config`` (from ``start``, a loaded policy file, or scratch) until its task's success (stand's here;
    ``bench_physics.jump_time`` uses it for the jump) reaches ``TARGET`` over ``EPISODES`` deterministic episodes
    or ``limit`` seconds pass."""
    make_env = env_factory(spec_from_config(config), config)
    began = time.perf_counter()
    env = make_env(config, config.algo.n_envs, config.algo.seed)
    model = build_model(config, env)
    if start is not None:
        start.check_compatible(env)
        start.apply_to(model, "ppo")
    state = {"last": 0.0, "reached": None, "first": None}

    def check(m) -> bool:
        result = evaluate(m, make_env, config, episodes=EPISODES)
        wall = time.perf_counter() - began
        state["first"] = result.success_rate if state["first"] is None else state["first"]
        print(f"    {wall:7.1f} s {m.num_timesteps:9,d} steps  success {result.success_rate:.2f}", flush=True)
        if result.success_rate >= TARGET:
            state["reached"] = (wall, m.num_timesteps)
            return False
        return wall < limit

    if check(model):
        def on_iteration(m) -> bool:
            wall = time.perf_counter() - began
            if wall - state["last"] < EVAL_EVERY:
                return wall < limit
            state["last"] = wall
            return check(m)

        model.learn(config.algo.total_steps, on_iteration=on_iteration)
    return {"reached": state["reached"], "first": state["first"], "steps": int(model.num_timesteps)}


def main() -> None:
    use_training_threads()
    names = [n.strip() for n in os.environ.get("RIG_DOJO_BENCH_STAND_CREATURES", "metarig,biped,human").split(",")
             if n.strip()]
    train = os.environ.get("RIG_DOJO_BENCH_STAND_TRAIN", "1") != "0"
    entries = {item: load_policy(entry(item).path) for item in ("stand", "stand_biped")}
    for name in names:
        config = CREATURES[name]()
        spec = spec_from_config(config)
        for shove in (0.0, 0.5, 1.0):
            zero = stand_survival(spec, None, shove=shove)
            libs = {item: stand_survival(spec, policy, shove=shove) for item, policy in entries.items()}
            print(f"{name}: shove {shove} sizes/s: zero action {zero['falls']}/{zero['episodes']} fell, "
                  f"{zero['seconds_up']:.2f} s up; " + "; ".join(
                      f"library:{item} {r['falls']}/{r['episodes']} fell, {r['seconds_up']:.2f} s up"
                      for item, r in libs.items()), flush=True)
        if not train:
            continue
        library = entries[ENTRY_FOR[name]]
        chain = TrainConfig.from_toml(config.to_toml())
        chain.rig.observation = "chain"
        times: dict[str, list[float]] = {"library": [], "scratch": []}
        for k in range(REPEAT):  # the same seed each time: the steps repeat, the wall clock shows the load
            print(f"  {name} from the library ({k + 1}/{REPEAT}):", flush=True)
            lib = time_to_target(chain, library)
            print(f"  {name} from scratch ({k + 1}/{REPEAT}):", flush=True)
            scratch = time_to_target(config)

            def text(r):
                return f"{r['reached'][0]:.1f} s ({r['reached'][1]:,d} steps)" if r["reached"] else \
                    f"not within {LIMIT:.0f} s ({r['steps']:,d} steps)"

            print(f"{name}: zero-shot stand success {lib['first']:.0%} (scratch's untrained {scratch['first']:.0%}); "
                  f"to {TARGET:.0%}: from the library {text(lib)}, from scratch {text(scratch)}", flush=True)
            times["library"].append(lib["reached"][0] if lib["reached"] else float("inf"))
            times["scratch"].append(scratch["reached"][0] if scratch["reached"] else float("inf"))
        if REPEAT > 1:
            print(f"{name}: seconds to {TARGET:.0%} over {REPEAT} runs: " + "; ".join(
                f"{route} median {sorted(t)[len(t) // 2]:.1f}, worst {max(t):.1f}" for route, t in times.items()),
                flush=True)


if __name__ == "__main__":
    main()
