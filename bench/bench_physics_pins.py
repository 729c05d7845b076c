"""Pins on a physics task: the test quadruped standing, its neck keyed up at frame 30 and down at 60.

    ./dojo bench physics_pins            (or: .venv/bin/python bench/run.py physics_pins)
    RIG_DOJO_BENCH_PINS_SEEDS=0,1,2      one training per seed (default 0,1,2)
    RIG_DOJO_BENCH_PINS_STEPS=250000     steps per training (default 250,000)
    RIG_DOJO_BENCH_PINS_ROOT=1           also key the torso's location at 60 (0.2 forward): a root position pin

Each training is ``python -m rig_dojo train SCENE --config stand.toml --steps N`` in a fresh process, exactly
what a user runs (the stand's defaults, 3 s episodes, the pins' default terms); wall time is the whole command.
Its report (``summary.json``) measures the trained policy and, as the baseline in the same run, zero actions
(with the pins' guide, the default: the keys' in-betweens played in physics; ``RIG_DOJO_BENCH_PINS_GUIDE=0``: the
rest pose held) over 4 episodes from the first frame: the pins' hit rate (every pinned bone within
``physics.pin_tolerance``, 10°, of its key; a root pin within 0.1 sizes), the bones' mean angle from their keys
and the root's distance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEEDS = [int(s) for s in os.environ.get("RIG_DOJO_BENCH_PINS_SEEDS", "0,1,2").split(",") if s.strip()]
STEPS = int(os.environ.get("RIG_DOJO_BENCH_PINS_STEPS", 250_000))
ROOT_PIN = os.environ.get("RIG_DOJO_BENCH_PINS_ROOT", "0") == "1"
GUIDE = os.environ.get("RIG_DOJO_BENCH_PINS_GUIDE", "1") == "1"

BUILD = """
import bpy, sys
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.scene.builders import creatures
bpy.ops.wm.read_factory_settings(use_empty=True)
quad = creatures.build_quadruped()
scene = bpy.context.scene
scene.frame_start, scene.frame_end = 1, 72
quad.animation_data_create()
action = bpy.data.actions.new("Pose")
action.use_fake_user = True
quad.animation_data.action = action
for frame, x in ((1, 0.0), (30, 0.6), (60, -0.4)):
    quad.pose.bones["neck"].rotation_euler = (x, 0.0, 0.0)
    quad.pose.bones["neck"].keyframe_insert("rotation_euler", frame=frame)
if {root}:
    quad.pose.bones["torso"].location = (0.0, 0.2, 0.0)
    quad.pose.bones["torso"].keyframe_insert("location", frame=60)
quad.animation_data.action = None
for pb in quad.pose.bones:
    pb.rotation_euler = (0.0, 0.0, 0.0)
    pb.location = (0.0, 0.0, 0.0)
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
config = TrainConfig(task="stand")
config.rig.rig = quad.name
config.reference.pins = "Pose"
config.reference.guide = {guide}
config.physics.episode_seconds = 3.0
config.algo = defaults_for("ppo", "stand")
config.save(sys.argv[2])
"""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scene, toml = tmp / "quad.blend", tmp / "stand.toml"
        subprocess.run([sys.executable, "-c", BUILD.format(root=ROOT_PIN, guide=GUIDE), str(scene), str(toml)],
                       check=True, capture_output=True)
        print(f"stand with pins (neck at 30 and 60{', root at 60' if ROOT_PIN else ''}), {STEPS:,d} steps a run, "
              f"guide {'on' if GUIDE else 'off'}", flush=True)
        times = []
        for seed in SEEDS:
            run = tmp / f"run{seed}"
            began = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "rig_dojo", "train", str(scene), "--config", str(toml),
                                   "--steps", str(STEPS), "--seed", str(seed), "--out", str(run)],
                                  capture_output=True, text=True)
            seconds = time.perf_counter() - began
            if proc.returncode:
                print(f"  seed {seed}: failed ({proc.returncode}): {proc.stderr.strip()[-300:]}", flush=True)
                continue
            times.append(seconds)
            summary = json.loads((run / "summary.json").read_text())
            report = summary["report"]["physics"] if "report" in summary else summary["physics"]
            t, z = report["trained"]["pins"], report["zero_actions"]["pins"]
            point = (f", point {t['mean_point_error_sizes']:.3f} vs {z['mean_point_error_sizes']:.3f} sizes"
                     if t["mean_point_error_sizes"] is not None else "")
            print(f"  seed {seed}: {seconds:.0f} s; pins hit {t['pin_hit_rate']:.0%} (zero actions: "
                  f"{z['pin_hit_rate']:.0%}), pose error {t['mean_angle_error_degrees']:.1f}° vs "
                  f"{z['mean_angle_error_degrees']:.1f}° (ratio {t['mean_angle_error_degrees'] / z['mean_angle_error_degrees']:.2f})"
                  f"{point}; {report['trained']['falls']} falls", flush=True)
        if times:
            times.sort()
            print(f"  wall time: median {times[len(times) // 2]:.0f} s, worst {times[-1]:.0f} s", flush=True)


if __name__ == "__main__":
    main()
