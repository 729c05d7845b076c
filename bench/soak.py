"""Soak: many train / stop / resume cycles, watching memory, threads, timers, file descriptors and locks.

    nice -n 15 .venv/bin/python bench/soak.py [--minutes 30] [--cycles 50]

Not a ``bench_*.py`` (``./dojo bench`` skips it): it takes as long as it is told to. Cycles alternate:

- session: ``TrainingSession.continue_run`` on one run folder (a new run the first time), train, stop
  (which saves a checkpoint and final.rdpolicy), so the run grows across cycles as a user's would;
- sidebar: the Train operator on the demo arm, ``live.tick()`` called as Blender's timer would (the wheel
  has no event loop), Pause, Resume, Stop, each through its operator, in a fresh run folder.

After every cycle it records the process's resident memory, Python threads, native threads
(``/proc/self/task``), open file descriptors, whether ``live.tick`` is still registered as a timer and
whether the run folder's lock was released (another claim succeeds). It prints one line per cycle and a
summary: memory after the first cycles against the end, the slope of a line fitted to the second half,
and the most threads, descriptors and timers seen between cycles.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import bpy
import numpy as np
import torch

import rig_dojo
from rig_dojo import live
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.run_folder import claim
from rig_dojo.agents.session import TrainingSession
from rig_dojo.envs.kinematic.family import env_factory
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.kinematic.task_extract import task_from_config


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def lock_released(run_dir: Path) -> bool:
    try:
        claim(run_dir).release()
        return True
    except Exception:
        return False


def session_config() -> TrainConfig:
    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for("ppo")
    config.algo.total_steps = 10**10  # open-ended: every cycle stops it
    config.algo.n_envs, config.algo.n_steps, config.algo.batch_size, config.algo.n_epochs = 16, 64, 256, 2
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["upper_arm", "forearm", "hand"], "hand"
    config.rig.region, config.rig.episode_length = "Region", 32
    config.output.checkpoint_every = 20_000
    return config


def session_cycle(run_dir: Path, make_env, seconds: float) -> tuple[int, str]:
    if (run_dir / "config.toml").exists():
        session = TrainingSession.continue_run(run_dir, make_env)
    else:
        session = TrainingSession(session_config(), make_env, run_dir)
    session.start()
    end = time.monotonic() + seconds
    while time.monotonic() < end and session.wait(0.25) == "running":
        pass
    session.stop()
    return session.latest().step if session.latest() else 0, session.state


def sidebar_cycle(run_dir: Path, seconds: float) -> tuple[int, str]:
    settings = bpy.context.scene.rig_dojo
    settings.run_dir = str(run_dir)
    assert bpy.ops.rig_dojo.train() == {'FINISHED'}
    run = live.current()

    def tick_for(duration: float) -> None:
        end = time.monotonic() + duration
        while time.monotonic() < end:
            if live.tick() is None:
                return
            time.sleep(live.TICK_SECONDS)

    tick_for(seconds * 0.5)
    assert bpy.ops.rig_dojo.pause() == {'FINISHED'}
    tick_for(min(2.0, seconds * 0.1))
    assert bpy.ops.rig_dojo.resume() == {'FINISHED'}
    tick_for(seconds * 0.4)
    assert bpy.ops.rig_dojo.stop() == {'FINISHED'}
    return run.snapshot.step if run.snapshot else 0, run.state


def build_sidebar_scene(objs) -> None:
    s = bpy.context.scene.rig_dojo
    s.rig = objs["rig"]
    s.task = 'reach'
    s.controls = "upper_arm, forearm, hand"
    s.effector = "hand"
    s.region = objs["region"]
    s.episode_length = 32
    algo = s.algo
    algo.total_steps, algo.n_envs, algo.n_steps, algo.batch_size, algo.n_epochs = 10**9, 16, 64, 256, 2
    algo.net_arch = "64, 64"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the run folders")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if not hasattr(bpy.types.Scene, "rig_dojo"):
        rig_dojo.register()
    objs = scenes.build_demo_scene()
    build_sidebar_scene(objs)
    config = session_config()
    make_env = env_factory(task_from_config(config))
    work = Path(tempfile.mkdtemp(prefix="rig_dojo_soak_"))
    seconds = max(2.0, args.minutes * 60.0 / args.cycles - 3.0)  # minus what starting and stopping take
    rows = []
    rss_before = rss_mb()
    print(f"{args.cycles} cycles of about {seconds:.0f} s in {work}; {rss_before:.1f} MB resident before the first",
          flush=True)
    print(f"{'cycle':>5} {'kind':8} {'steps':>9} {'state':8} {'rss MB':>8} {'py thr':>6} {'native':>6} "
          f"{'fds':>4} {'timer':>5} {'lock':>5} {'secs':>5}", flush=True)
    began = time.monotonic()
    for cycle in range(args.cycles):
        t0 = time.monotonic()
        if cycle % 2 == 0:
            kind, run_dir = "session", work / "session_run"
            steps, state = session_cycle(run_dir, make_env, seconds)
        else:
            kind, run_dir = "sidebar", work / f"sidebar_{cycle:03d}"
            steps, state = sidebar_cycle(run_dir, seconds)
            live.results.clear()
        gc.collect()
        row = dict(cycle=cycle + 1, kind=kind, steps=steps, state=state, rss=rss_mb(),
                   py_threads=threading.active_count(), native=native_threads(), fds=open_fds(),
                   timer=bpy.app.timers.is_registered(live.tick), lock=lock_released(run_dir),
                   secs=time.monotonic() - t0)
        rows.append(row)
        print(f"{row['cycle']:>5} {kind:8} {steps:>9,d} {state:8} {row['rss']:8.1f} {row['py_threads']:>6} "
              f"{row['native']:>6} {row['fds']:>4} {str(row['timer']):>5} {str(row['lock']):>5} {row['secs']:5.1f}",
              flush=True)
        if kind == "sidebar" and not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
    live.shutdown()
    rss = np.array([r["rss"] for r in rows])
    half = len(rss) // 2
    slope = np.polyfit(np.arange(half, len(rss)), rss[half:], 1)[0] if len(rss) - half >= 2 else float("nan")
    warm = min(5, len(rss) - 1)
    print(f"\nwall {(time.monotonic() - began) / 60:.1f} min over {len(rows)} cycles "
          f"(session steps now {rows[-2 if len(rows) > 1 and rows[-1]['kind'] != 'session' else -1]['steps']:,d})")
    print(f"resident memory: {rss_before:.1f} MB before, {rss[0]:.1f} MB after cycle 1, {rss[warm]:.1f} MB after cycle {warm + 1}, "
          f"{rss[-1]:.1f} MB at the end (max {rss.max():.1f}); second half slope {slope:+.3f} MB/cycle")
    print(f"between cycles: Python threads max {max(r['py_threads'] for r in rows)} "
          f"(start {rows[0]['py_threads']}), native threads max {max(r['native'] for r in rows)} "
          f"(first {rows[0]['native']}), fds {rows[0]['fds']}..{max(r['fds'] for r in rows)}, "
          f"live.tick left registered {sum(r['timer'] for r in rows)} times, locks left held "
          f"{sum(not r['lock'] for r in rows)} times, states {sorted({r['state'] for r in rows})}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
