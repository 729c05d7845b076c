"""``library:camera`` on shots it never saw: zero-shot framing, and time to the shot's success fine-tuned from it.

Run: ``./dojo bench library_camera`` (``python bench/bench_library_camera.py``; Blender builds the shots). Prints

- zero-shot, per shot: success / frames on target / framing error / occlusion of the library's deterministic
  move, of an untrained network (our PPO's, as a run from scratch starts), of Track To (fixed camera aimed every
  frame) and of the library's teacher (the scripted operator it imitates, rising over occluders), on the six
  shots of the camera suite (``scene/builders/camera_shots.py``) and their jittered variant 3, the test's bpy
  shot at three scales, and 30 random shots of another seed than the library's;
- time to the shot's success (``envs.camera.task.shot_metrics``: framed and unoccluded on 90% of frames, no
  collision): our PPO fine-tuned from the library vs from scratch (same settings, the camera's PPO defaults,
  the fine-tune's desired_kl 0.002 as a run from the library sets), wall clock of training only (the check
  after every update is not counted), capped at ``RIG_DOJO_BENCH_CAP`` seconds (default 60), over 3 seeds;
  and the camera's default, the shot solver (``algo = "solve"``), to its end.

``RIG_DOJO_BENCH_FAST=1`` measures zero-shot only.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _shots() -> list[tuple[str, object]]:
    import bpy

    from rig_dojo.scene.builders import scenes
    from rig_dojo.scene.builders.camera_shots import SHOTS, build_shot, shot_config
    from rig_dojo.scene.camera.extract import extract_camera_shot
    from rig_dojo.scene.families import spec_from_config

    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "blender"))
    from test_library_camera import build_unseen_shot

    out = []
    for variant in (None, 3):
        for name in SHOTS:
            scenes.empty_scene()
            shot = build_shot(name, variant)
            out.append((f"{name}{'' if variant is None else f'_v{variant}'}", spec_from_config(shot_config(shot))))
    for scale in (1.0, 0.1, 8.0):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        camera, subject = build_unseen_shot(scale=scale)
        out.append((f"bpy_s_curve_x{scale:g}", extract_camera_shot(camera, subject)))
    return out


def _metrics(kind, spec, policy=None) -> dict:
    from rig_dojo.agents.library_camera import teacher_actions
    from rig_dojo.envs.camera.task import CameraTask, rollout, scripted_rollout, shot_metrics

    task = CameraTask(spec, n_envs=1)
    if kind == "track_to":
        move = scripted_rollout(task, "track_to")
    elif kind == "teacher":
        move = rollout(task, lambda _obs: teacher_actions(task, clear=True))
    else:
        move = rollout(task, lambda obs: policy.predict(obs)[0])
    return shot_metrics(task, move)


def zero_shot(shots) -> None:
    from rig_dojo.agents.library import entry
    from rig_dojo.agents.library_camera import CameraRecipe, new_network, random_shot
    from rig_dojo.agents.policy_file import load_policy

    lib = load_policy(entry("camera").path)
    blank = new_network(CameraRecipe(seed=3))
    cams = [("library", "policy", lib), ("untrained", "policy", blank), ("Track To", "track_to", None),
            ("teacher", "teacher", None)]
    print("zero-shot: success on_target/framing/occlusion per camera (* = success)")
    print(f"  {'shot':22s}" + "".join(f"{c[0]:>24s}" for c in cams))
    totals = {c[0]: [] for c in cams}
    for name, spec in shots:
        cells = []
        for label, kind, pol in cams:
            m = _metrics(kind, spec, pol)
            totals[label].append(m)
            cells.append(f"{'*' if m['success'] else ' '}{m['on_target']:.2f}/{m['framing']:.3f}/{m['occlusion']:.2f}")
        print(f"  {name:22s}" + "".join(f"{c:>24s}" for c in cells))
    for label in totals:
        ms = totals[label]
        print(f"  {label:10s} named shots: success {sum(m['success'] for m in ms)}/{len(ms)}, mean framing "
              f"{np.mean([m['framing'] for m in ms]):.3f}, mean on target {np.mean([m['on_target'] for m in ms]):.2f}")
    rng = np.random.default_rng(2026)
    rand = [random_shot(rng) for _ in range(30)]
    for label, kind, pol in cams:
        ms = [_metrics(kind, s, pol) for s in rand]
        print(f"  {label:10s} 30 random shots (seed 2026): success {sum(m['success'] for m in ms)}/30, mean framing "
              f"{np.mean([m['framing'] for m in ms]):.3f}")


def time_to_success(spec, start: bool, seed: int, cap: float) -> tuple[float, int]:
    """Seconds of our PPO's training until the deterministic move is a success (inf past ``cap``), and steps."""
    from rig_dojo.agents.config import TrainConfig, defaults_for
    from rig_dojo.agents.library import entry
    from rig_dojo.agents.policy_file import load_policy
    from rig_dojo.agents.ppo import build
    from rig_dojo.agents.session import FINE_TUNE_KL
    from rig_dojo.envs.camera.family import env_factory
    from rig_dojo.envs.camera.task import CameraTask, rollout, shot_metrics

    config = TrainConfig(task="camera")
    config.algo = defaults_for("ppo", "camera")
    config.algo.seed = seed
    if start:
        config.algo.extra["desired_kl"] = FINE_TUNE_KL
    env = env_factory(spec)(config, config.algo.n_envs, seed)
    model = build(config, env)
    if start:
        load_policy(entry("camera").path).apply_to(model, "ppo")
    check = CameraTask(spec, n_envs=1)
    spent = [0.0]
    result = [float("inf")]

    def success() -> bool:
        return shot_metrics(check, rollout(check, lambda obs: model.policy.predict(obs)[0]))["success"]

    if success():
        return 0.0, 0
    mark = [time.perf_counter()]

    def on_iteration(_model) -> bool:
        spent[0] += time.perf_counter() - mark[0]
        if success():
            result[0] = spent[0]
            return False
        mark[0] = time.perf_counter()
        return spent[0] < cap

    model.learn(total_timesteps=10**12, on_iteration=on_iteration)
    return result[0], int(model.num_timesteps)


def solve_time(spec, seed: int) -> tuple[float, bool]:
    from rig_dojo.agents.config import TrainConfig, defaults_for
    from rig_dojo.agents.policy_file import load_policy
    from rig_dojo.agents.session import make_session
    from rig_dojo.envs.families import env_factory, training_report

    config = TrainConfig(task="camera")
    config.algo = defaults_for("solve", "camera")
    config.algo.seed = seed
    with tempfile.TemporaryDirectory() as tmp:
        session = make_session(config, env_factory(spec, config), Path(tmp) / "run")
        began = time.perf_counter()
        session.start()
        session.wait()
        seconds = time.perf_counter() - began
        report = training_report(load_policy(Path(tmp) / "run" / "final.rdpolicy"), spec, config)["shot"]
    return seconds, bool(report["trained"]["success"])


def fine_tune(shots, names, cap: float) -> None:
    from rig_dojo.agents.threads import use_training_threads

    use_training_threads()
    print(f"\ntime to the shot's success (s of training; inf: not within {cap:g} s), 3 seeds: median / worst")
    for name, spec in shots:
        if name not in names:
            continue
        row = {}
        for label, start in (("library", True), ("scratch", False)):
            runs = [time_to_success(spec, start, seed, cap) for seed in range(3)]
            secs = sorted(r[0] for r in runs)
            row[label] = f"{statistics.median(secs):.1f} / {secs[-1]:.1f} s ({', '.join(f'{s:.1f}' for s in secs)})"
        solves = [solve_time(spec, seed) for seed in range(3)]
        secs = sorted(s for s, _ in solves)
        row["solve"] = (f"{statistics.median(secs):.1f} / {secs[-1]:.1f} s to its end, success "
                        f"{sum(ok for _, ok in solves)}/3")
        print(f"  {name}: " + "; ".join(f"{k} {v}" for k, v in row.items()), flush=True)


def main() -> None:
    shots = _shots()
    zero_shot(shots)
    if os.environ.get("RIG_DOJO_BENCH_FAST") != "1":
        names = os.environ.get("RIG_DOJO_BENCH_TUNE", "bpy_s_curve_x1,rigify_walk,straight_run,stop_and_turn")
        fine_tune(shots, names.split(","), float(os.environ.get("RIG_DOJO_BENCH_CAP", "60")))


if __name__ == "__main__":
    main()
