"""Does training in a background thread starve Blender's main thread (the GIL)? Measured in one run.

    .venv/bin/python bench/run.py ui

The main thread plays the sidebar's part: every 1/24 s it wakes up, applies a pose
to the rig and updates the view layer (what the live preview does each tick). We
record how late each wake-up is and how long the pose update takes, first with no
training and then while a TrainingSession (PPO defaults, reach task) runs in its
thread. DESIGN.md rule 3 says to move the trainer to a worker process if this shows
starvation.
"""

from __future__ import annotations

import tempfile
import time

import bpy
import numpy as np
import torch

from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.session import TrainingSession
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.kinematic.task_extract import task_from_config
from rig_dojo.envs.kinematic.family import env_factory

TICK = 1.0 / 24.0
SECONDS = 8.0


def ui_loop(seconds: float) -> tuple[np.ndarray, np.ndarray]:
    rig = bpy.data.objects["Arm"]
    bones = list(rig.pose.bones)
    late, work = [], []
    rng = np.random.default_rng(0)
    end = time.perf_counter() + seconds
    due = time.perf_counter() + TICK
    while time.perf_counter() < end:
        time.sleep(max(0.0, due - time.perf_counter()))
        woke = time.perf_counter()
        late.append(woke - due)
        for pb in bones:
            pb.rotation_quaternion = rng.normal(size=4)
        bpy.context.view_layer.update()
        work.append(time.perf_counter() - woke)
        due += TICK
    return np.array(late) * 1e3, np.array(work) * 1e3


def main() -> None:
    torch.set_num_threads(1)
    scenes.build_demo_scene()
    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for("ppo")
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["upper_arm", "forearm", "hand"], "hand"
    config.rig.region = "Region"
    make_env = env_factory(task_from_config(config))

    idle_late, idle_work = ui_loop(SECONDS)
    with tempfile.TemporaryDirectory() as tmp:
        session = TrainingSession(config, make_env, f"{tmp}/run")
        session.start()
        time.sleep(1.0)
        step0, t0 = session.latest().step if session.latest() else 0, time.perf_counter()
        busy_late, busy_work = ui_loop(SECONDS)
        snap = session.latest()
        sps = (snap.step - step0) / (time.perf_counter() - t0)
        session.stop()

    def row(name, late, work):
        print(f"  {name:16s} tick lateness p50 {np.percentile(late, 50):6.2f} ms  p99 {np.percentile(late, 99):6.2f} ms"
              f"   pose update p50 {np.percentile(work, 50):5.2f} ms  p99 {np.percentile(work, 99):5.2f} ms")

    print(f"main-thread ticks at 24 Hz for {SECONDS:.0f} s, pose update = 3 bones + view_layer.update()")
    row("no training", idle_late, idle_work)
    row("training", busy_late, busy_work)
    print(f"  training ran at {sps:,.0f} env-steps/s meanwhile; p99 lateness ratio "
          f"{np.percentile(busy_late, 99) / max(np.percentile(idle_late, 99), 1e-3):.1f}x")


if __name__ == "__main__":
    main()
