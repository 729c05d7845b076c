"""Does training starve Blender's main thread? A training thread (the GIL) against a worker process, one run.

    ./dojo bench ui                          # a quiet machine
    RIG_DOJO_BENCH_UI_LOAD=2 ./dojo bench ui # with 2 CPU-bound processes beside it (a busy machine)

The main thread plays the sidebar's part: every 1/24 s it wakes up, applies a pose
to the rig and updates the view layer (what the live preview does each tick). We
record how late each wake-up is and how long the pose update takes: with no training,
while a TrainingSession (PPO defaults, reach task) runs in a thread of this process,
and while the same training runs in a worker process (``agents/worker.py``, the
sidebar's default), reading its snapshots each tick as the sidebar does. DESIGN.md
rule 3: a thread, and a worker process where the UI starves. Issue 12's line:
p99 lateness <= 5 ms while training.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import bpy
import numpy as np
import torch

from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.session import TrainingSession
from rig_dojo.agents.worker import WorkerSession
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.kinematic.task_extract import task_from_config
from rig_dojo.envs.kinematic.family import env_factory

TICK = 1.0 / 24.0
SECONDS = float(os.environ.get("RIG_DOJO_BENCH_UI_SECONDS", "8"))
LOAD = int(os.environ.get("RIG_DOJO_BENCH_UI_LOAD", "0"))  # CPU-bound processes beside the measurement


def ui_loop(seconds: float, session=None) -> tuple[np.ndarray, np.ndarray]:
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
        if session is not None:  # what live.tick reads each tick
            session.state, session.latest(), session.history
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
    spec = task_from_config(config)
    make_env = env_factory(spec)

    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(LOAD)]
    try:
        idle_late, idle_work = ui_loop(SECONDS)
        with tempfile.TemporaryDirectory() as tmp:
            rows = {}
            for name, session in (("training thread", TrainingSession(config, make_env, f"{tmp}/thread")),
                                  ("training process", WorkerSession(config, spec, f"{tmp}/process"))):
                session.start()
                time.sleep(1.0)
                step0, t0 = session.latest().step if session.latest() else 0, time.perf_counter()
                late, work = ui_loop(SECONDS, session)
                sps = (session.latest().step - step0) / (time.perf_counter() - t0)
                session.stop()
                rows[name] = (late, work, sps)
    finally:
        for hog in hogs:
            hog.kill()

    def row(name, late, work):
        print(f"  {name:16s} tick lateness p50 {np.percentile(late, 50):6.2f} ms  p99 {np.percentile(late, 99):6.2f} ms"
              f"   pose update p50 {np.percentile(work, 50):5.2f} ms  p99 {np.percentile(work, 99):5.2f} ms")

    print(f"main-thread ticks at 24 Hz for {SECONDS:.0f} s, pose update = 3 bones + view_layer.update(); "
          f"{LOAD} CPU-bound processes beside it")
    row("no training", idle_late, idle_work)
    for name, (late, work, sps) in rows.items():
        row(name, late, work)
        print(f"  {'':16s} training ran at {sps:,.0f} env-steps/s meanwhile; p99 lateness ratio "
              f"{np.percentile(late, 99) / max(np.percentile(idle_late, 99), 1e-3):.1f}x")


if __name__ == "__main__":
    main()
