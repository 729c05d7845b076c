"""Sweeps on Ray against the same trainings one after another, Ray's cost per trial, two nodes, and Blender in
the loop with 1 and 2 worker processes.

    .venv/bin/python bench/run.py sweep
    RIG_DOJO_BENCH_SWEEP_STEPS=600000 .venv/bin/python bench/run.py sweep     # the default training budget

1. Eight trials of the reach task (4 seeds x 2 distance weightings, PPO defaults but the budget below):
   ``python -m rig_dojo sweep --no-early-stop`` on a local Ray with every core, against the same eight
   trainings run one after another with ``python -m rig_dojo train``: trials per hour of each, and what Ray
   costs per trial: the start (Tune launching the trial until its training starts, in the trial's process:
   Ray worker start, imports, spec and model) next to the command line's start (process, bpy, scene,
   extraction), and each ``tune.report`` call.
2. Two nodes on this machine (``ray.cluster_utils.Cluster``, one CPU each): a 4-trial sweep joins the cluster
   by its address and each trial's run folder names the node it ran on.
3. Blender in the loop on a selection the twin refuses (a wrist driven by the forearm), 64 environments per
   step: env-steps/s with 1 and 2 worker processes and the speed-up, for the bare rig and for the rig with a
   20,000-vertex skinned mesh (a character's cost per evaluation); the predicted env-steps/s for more workers
   from the measured cost of one pose and the messaging overhead.

All in one run on a shared 2-core machine: compare the figures with each other, not with another run's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

STEPS = int(os.environ.get("RIG_DOJO_BENCH_SWEEP_STEPS", 100_000))
SEEDS = (0, 1, 2, 3)
WEIGHTS = (1.0, 2.0)
LOOP_ENVS = 64
LOOP_SECONDS = float(os.environ.get("RIG_DOJO_BENCH_LOOP_SECONDS", 6.0))


def _cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rig_dojo", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def _scene(folder: Path) -> tuple[Path, Path]:
    import bpy

    from rig_dojo.agents.config import TrainConfig, defaults_for
    from rig_dojo.scene.builders import scenes

    scenes.build_demo_scene()
    scene = folder / "reach.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(scene))
    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for("ppo")
    config.algo.total_steps = STEPS
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["upper_arm", "forearm", "hand"], "hand"
    config.rig.region = "Region"
    path = folder / "run.toml"
    path.write_text(config.to_toml())
    return scene, path


def _sweep_figures(folder: Path) -> dict:
    events = {}
    for line in (folder / "trial_events.jsonl").read_text().splitlines():
        item = json.loads(line)
        events.setdefault(item["trial"], item["launched"])
    starts, reports, report_seconds, nodes = [], 0, 0.0, set()
    for run in sorted((folder / "trials").glob("t*")):
        attempt = json.loads((run / "worker.json").read_text())["attempts"][0]
        starts.append(attempt["started"] - events[run.name])
        reports += attempt.get("reports", 0)
        report_seconds += attempt.get("report_seconds", 0.0)
        nodes.add(attempt["node"])
    return {"start": float(np.mean(starts)), "reports": reports,
            "per_report": report_seconds / reports if reports else float("nan"), "nodes": nodes}


def sweep_vs_sequential(folder: Path) -> None:
    from rig_dojo.agents.config import TrainConfig
    from rig_dojo.agents.sweep import apply_overrides

    scene, config = _scene(folder)
    print(f"reach, 3-bone arm, PPO defaults with {STEPS:,d} steps: {len(SEEDS)} seeds x {len(WEIGHTS)} weightings "
          f"= {len(SEEDS) * len(WEIGHTS)} trials, {os.cpu_count()} CPUs", flush=True)
    began = time.perf_counter()
    proc = _cli("sweep", scene, "--config", config, "--seeds", f"{SEEDS[0]}-{SEEDS[-1]}", "--vary",
                "rewards.distance.weight=" + ",".join(f"{w:g}" for w in WEIGHTS), "--no-early-stop",
                "--out", folder / "sweep")
    ray_wall = time.perf_counter() - began
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    rows = json.loads((folder / "sweep" / "sweep.json").read_text())["trials"]
    figures = _sweep_figures(folder / "sweep")
    train_wall = float(np.mean([r["wall_seconds"] for r in rows]))

    base = TrainConfig.load(config)
    sequential, starts = 0.0, []
    for weight in WEIGHTS:
        weighted = folder / f"weight{weight:g}.toml"
        apply_overrides(base, {"rewards.distance.weight": weight}).save(weighted)
        for seed in SEEDS:
            run = folder / f"cli_w{weight:g}_s{seed}"
            began = time.perf_counter()
            one = _cli("train", scene, "--config", weighted, "--seed", seed, "--out", run)
            took = time.perf_counter() - began
            if one.returncode != 0:
                raise RuntimeError(one.stderr[-2000:])
            sequential += took
            starts.append(took - json.loads((run / "summary.json").read_text())["wall_seconds"])
    n = len(rows)
    print(f"  Ray, {n} trials side by side: {ray_wall:.0f} s = {n / ray_wall * 3600:.0f} trials/hour "
          f"(each trial's training {train_wall:.1f} s)")
    print(f"  CLI, one after another:     {sequential:.0f} s = {n / sequential * 3600:.0f} trials/hour "
          f"(each: training {np.mean([r['wall_seconds'] for r in _cli_rows(folder)]):.1f} s)")
    print(f"  ratio Ray / one after another: {sequential / ray_wall:.2f}x the trials per hour")
    print(f"  Ray's cost per trial: start {figures['start']:.1f} s (Tune launch -> training, in the Ray worker), "
          f"{figures['per_report'] * 1e3:.2f} ms per tune.report ({figures['reports'] / n:.0f} reports per trial); "
          f"the CLI's start and end per run (process, bpy, scene, extraction, evaluation): "
          f"{np.mean(starts):.1f} s", flush=True)


def _cli_rows(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("cli_*/summary.json"))]


def two_nodes(folder: Path) -> None:
    import ray
    from ray.cluster_utils import Cluster

    from rig_dojo.agents import sweep as sw
    from rig_dojo.agents.config import TrainConfig
    from rig_dojo.scene.families import spec_from_config

    config = TrainConfig.load(folder / "run.toml")
    config.algo.total_steps = min(STEPS, 20_000)
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        plan = sw.SweepPlan(seeds=[0, 1, 2, 3], early_stop=False, task="reach")
        out = folder / "two_nodes"
        sw.prepare_sweep(out, plan, config, spec_from_config(config), "kinematic")
        began = time.perf_counter()
        rows = sw.run_sweep(plan, out, address=cluster.address, quiet=True)
        wall = time.perf_counter() - began
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
    nodes = {r["trial"]: r["nodes"] for r in rows}
    distinct = {n for ns in nodes.values() for n in ns}
    done = sum(r["status"] == "done" for r in rows)
    print(f"two nodes (ray.cluster_utils.Cluster, 1 CPU each): {done}/{len(rows)} trials gathered in {wall:.0f} s, "
          f"on {len(distinct)} node(s): " + ", ".join(f"{t}@{ns[0][:6]}" for t, ns in sorted(nodes.items())),
          flush=True)


def _add_skinned_mesh(arm, levels: int = 1) -> int:
    """A sleeve along the arm, skinned to its bones (Armature modifier), subdivided after the deform: every pose
    re-evaluates the whole mesh, like a character's. Returns the evaluated vertex count."""
    import bpy

    bpy.ops.mesh.primitive_cylinder_add(vertices=64, radius=0.06, depth=1.1, end_fill_type='NOTHING',
                                        location=(0.55, 0.0, 1.0), rotation=(0.0, np.pi / 2, 0.0))
    obj = bpy.context.active_object
    bpy.ops.object.mode_set(mode='EDIT')
    bpy.ops.mesh.select_all(action='SELECT')
    bpy.ops.mesh.subdivide(number_cuts=8)  # rings along the arm, so the skin bends at the joints
    bpy.ops.object.mode_set(mode='OBJECT')
    for bone in arm.data.bones:
        head, tail = (arm.matrix_world @ bone.head_local).x, (arm.matrix_world @ bone.tail_local).x
        group = obj.vertex_groups.new(name=bone.name)
        ids = [v.index for v in obj.data.vertices if min(head, tail) - 1e-3 <= (obj.matrix_world @ v.co).x
               <= max(head, tail) + 1e-3]
        group.add(ids, 1.0, 'REPLACE')
    obj.modifiers.new("Armature", 'ARMATURE').object = arm
    obj.modifiers.new("Subdivision", 'SUBSURF').levels = levels
    bpy.context.view_layer.update()
    return len(obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).data.vertices)


def blender_in_the_loop() -> None:
    import bpy

    from rig_dojo.agents.config import TrainConfig, defaults_for
    from rig_dojo.scene.builders import scenes
    from rig_dojo.scene.kinematic.family import blender_loop
    from rig_dojo.scene.kinematic.verify import verify

    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for("ppo")
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["upper_arm", "forearm"], "hand"
    config.rig.region, config.rig.episode_length = "Region", 20
    for label in ("bare rig", "rig + skinned mesh"):
        bpy.ops.wm.read_factory_settings(use_empty=True)
        objs = scenes.build_driven_arm_scene()
        extra = ""
        if label != "bare rig":
            extra = f" ({_add_skinned_mesh(objs['rig']):,d} vertices)"
        report = verify("Arm", config.rig.controls, ["hand"], samples=4)
        assert not report.exact  # the twin refuses this selection: that is the point
        rates, pools = {}, {}
        for workers in (1, 2):
            make_env, _spec, close, pool = blender_loop(config, workers)
            try:
                env = make_env(config, LOOP_ENVS, 0)
                env.reset()
                rng = np.random.default_rng(0)
                actions = rng.uniform(-1, 1, (LOOP_ENVS, env.action_space.shape[0])).astype(np.float32)
                env.step(actions)  # warm up
                pool.stats.__init__()
                began, steps = time.perf_counter(), 0
                while time.perf_counter() - began < LOOP_SECONDS:
                    env.step(actions)
                    steps += LOOP_ENVS
                rates[workers] = steps / (time.perf_counter() - began)
                pools[workers] = (pool.scaling(LOOP_ENVS), pool.stats.worker_compute / pool.stats.envs,
                                  (pool.stats.wall - pool.stats.compute) / pool.stats.calls)
            finally:
                close()
        (predicted, per_pose, overhead), two = pools[1], pools[2]
        print(f"Blender in the loop, {label}{extra}, refused by the twin ({report.problems[0][:60]}...), "
              f"{LOOP_ENVS} envs: 1 worker {rates[1]:,.0f} env-steps/s, 2 workers {rates[2]:,.0f} "
              f"({rates[2] / rates[1]:.2f}x); one worker: a pose costs {per_pose * 1e3:.3f} ms, messaging "
              f"{overhead * 1e3:.2f} ms per step (2 workers: {two[1] * 1e3:.3f} ms and {two[2] * 1e3:.2f} ms)",
              flush=True)
        print("  predicted from the 1-worker costs, a core per worker: "
              + ", ".join(f"{w}: {v:,.0f}" for w, v in predicted.items()) + " env-steps/s", flush=True)


def main() -> None:
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # the two-node cluster is joined by its address, which (unlike a local ray.init) authenticates only when told
    # to: Ray reads this once, at import
    os.environ.setdefault("RAY_AUTH_MODE", "token")
    with tempfile.TemporaryDirectory(prefix="rig_dojo_bench_sweep_") as tmp:
        folder = Path(tmp)
        sweep_vs_sequential(folder)
        two_nodes(folder)
    blender_in_the_loop()


if __name__ == "__main__":
    main()
