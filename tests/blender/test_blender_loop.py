"""Blender in the loop: a selection the twin refuses trains on Blender worker processes behind the same VecEnv, and
its bake verifies; the refusal offers this route."""

from __future__ import annotations

import json
from functools import partial

import bpy
import numpy as np
import pytest

from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.envs import kinematics as km
from rig_dojo.envs.kinematic import blender_loop
from rig_dojo.envs.kinematic.family import env_factory
from rig_dojo.envs.kinematic.twin import RigTwin
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.kinematic.task_extract import task_from_config
from rig_dojo.scene.kinematic.verify import set_control_rotations, verify
import harness


run_cli = partial(harness.run_cli, timeout=900)


def driven_config(steps: int = 2048) -> TrainConfig:
    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for("ppo")
    config.algo.total_steps, config.algo.n_envs, config.algo.n_steps, config.algo.batch_size = steps, 8, 64, 64
    config.algo.n_epochs = 2
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["upper_arm", "forearm"], "hand"
    config.rig.region, config.rig.episode_length = "Region", 20
    config.output.checkpoint_every = 1024
    return config


class TwinWorker:
    """Stands in for one worker process's transport, answering with the compiled twin (same submit/result)."""

    def __init__(self, twin):
        self.twin = twin

    def submit(self, rot3, all_nodes):
        self.pending = (rot3, all_nodes)

    def result(self):
        rot3, all_nodes = self.pending
        return self.twin.forward(rot3, all_nodes=all_nodes), 1e-4 * len(rot3)

    def close(self):
        pass


def test_workers_split_the_batch_and_serve_the_twins_own_vecenv(factory):
    scenes.build_demo_scene()
    config = driven_config()
    config.rig.controls = ["upper_arm", "forearm", "hand"]
    spec = task_from_config(config)
    setup = blender_loop.WorkerSetup(blend="", rig="Arm", controls=list(spec.rig.controls), control_modes=[],
                                     tracked=list(spec.rig.tracked), nodes=list(spec.rig.node_names))
    pool = blender_loop.BlenderWorkers([TwinWorker(RigTwin(spec.rig)) for _ in range(3)], setup)
    loop_env = blender_loop.loop_env_factory(spec, pool)(config, 7, 0)
    twin_env = env_factory(spec)(config, 7, 0)
    np.testing.assert_allclose(loop_env.reset(), twin_env.reset())
    rng = np.random.default_rng(0)
    for _ in range(30):
        actions = rng.uniform(-1, 1, (7, loop_env.action_space.shape[0])).astype(np.float32)
        obs_loop, r_loop, d_loop, info_loop = loop_env.step(actions)
        obs_twin, r_twin, d_twin, info_twin = twin_env.step(actions)
        np.testing.assert_allclose(obs_loop, obs_twin)
        np.testing.assert_allclose(r_loop, r_twin)
        assert (d_loop == d_twin).all() and [i["success"] for i in info_loop] == [i["success"] for i in info_twin]
    assert pool.stats.envs >= 30 * 7 and len(pool.stats.per_worker) == 3
    scaling = pool.scaling(64)
    assert set(scaling) == {1, 2, 4, 8, 16, 32} and all(v > 0 for v in scaling.values())


@pytest.fixture
def driven_blend(factory, tmp_path):
    scenes.build_driven_arm_scene()
    path = tmp_path / "driven.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def test_the_twin_refuses_the_driven_wrist_and_offers_blender_in_the_loop(driven_blend):
    report = verify("Arm", ["upper_arm", "forearm"], ["hand"], samples=8)
    assert not report.exact and "driver" in report.problems[0]
    assert "--blender-workers 2" in report.format() and "--blender-loop" in report.format()


@pytest.mark.slow
def test_two_local_workers_step_the_refused_rig_exactly_as_blender_does(driven_blend):
    from rig_dojo.scene.kinematic.family import blender_loop as start

    config = driven_config()
    make_env, spec, close, pool = start(config, 2)
    try:
        assert len(pool.workers) == 2
        env = make_env(config, 6, 0)
        env.reset()
        rng = np.random.default_rng(1)
        for _ in range(5):
            env.step(rng.uniform(-1, 1, (6, env.action_space.shape[0])).astype(np.float32))
        angles = env.control_angles()
        effector = env.bone_point("hand")
        twin_effector = env_factory(spec)(config, 6, 0).twin.forward(km.euler_xyz_to_matrix(angles))
        assert len(pool.stats.per_worker) == 2 and all(t > 0 for t in pool.stats.per_worker)
    finally:
        close()
    arm = bpy.data.objects["Arm"]
    for k in range(6):  # Blender itself, in this process, at the same poses
        set_control_rotations(arm, spec.rig, km.euler_xyz_to_matrix(angles[k:k + 1])[0])
        bpy.context.view_layer.update()
        ev = arm.evaluated_get(bpy.context.evaluated_depsgraph_get())
        tail = np.array(ev.matrix_world) @ np.append(np.array(ev.pose.bones["hand"].tail), 1.0)
        np.testing.assert_allclose(effector[k], tail[:3], atol=1e-6)
    # the twin (which ignores the driver) is wrong here: that is why it refused
    twin_tail = twin_effector[:, 0, :3, 3] + twin_effector[:, 0, :3, 1] * spec.rig.lengths[spec.rig.node_names.index("hand")]
    assert np.abs(twin_tail - effector).max() > 1e-3


@pytest.mark.slow
def test_train_with_two_blender_workers_then_bake_in_the_loop_verifies(driven_blend, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text(driven_config().to_toml())
    run = tmp_path / "run"
    refused = run_cli("train", driven_blend, "--config", config, "--out", run)
    assert refused.returncode == 3 and "--blender-workers 2" in refused.stderr
    proc = run_cli("train", driven_blend, "--config", config, "--out", run, "--blender-workers", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Blender in the loop: 2 worker process(es)" in proc.stdout and "env-steps/s" in proc.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["steps"] >= 2048 and summary["final_error"] > 0
    twin_bake = run_cli("bake", driven_blend, "--policy", run / "final.rdpolicy", "--frames", "1-24",
                        "--output", tmp_path / "no.blend")
    assert twin_bake.returncode == 3 and "--blender-loop" in twin_bake.stderr
    baked = tmp_path / "baked.blend"
    bake = run_cli("bake", driven_blend, "--policy", run / "final.rdpolicy", "--frames", "1-24", "--output", baked,
                   "--blender-loop", "--json")
    assert bake.returncode == 0, bake.stderr[-3000:]
    report = json.loads(bake.stdout)
    assert report["rotation_error_degrees"] < 1e-3 and report["effector_error"] < 1e-4
    bpy.ops.wm.open_mainfile(filepath=str(baked))
    action = bpy.data.objects["Arm"].animation_data.action
    assert action.name == report["action"] and action["rig_dojo_source"]["blender_in_the_loop"] == 1
