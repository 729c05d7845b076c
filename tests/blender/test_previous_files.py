"""Files written before the family registry (commit c4dfd8e) still load: a .blend's Dojo settings, policy
files of two families, and spec files of all three (tests/blender/data/previous_layout/README.md)."""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
import pytest

from rig_dojo.agents.config import TrainConfig
from rig_dojo.agents.policy_file import load_policy
from rig_dojo.envs.families import env_factory, get_family
from rig_dojo.props import settings_to_config

DATA = Path(__file__).resolve().parent / "data" / "previous_layout"


@pytest.fixture
def previous_blend(dojo_registered):
    bpy.ops.wm.open_mainfile(filepath=str(DATA / "settings.blend"))
    return bpy.context.scene


def test_the_settings_stored_by_the_previous_layout_read_back_as_the_same_config(previous_blend):
    config = settings_to_config(previous_blend.rig_dojo)
    expected = TrainConfig.load(DATA / "settings.toml")
    assert config == expected
    # the parts that were edited, in case both sides drifted together
    assert [t.name for t in config.rewards] == ["distance", "joint_limits"] and config.rewards[0].weight == 2.0
    assert config.algo.seed == 7 and config.algo.net_arch == [32, 32] and config.curriculum.stages[0].region_scale == 0.25
    assert config.camera.framing == "right_third" and (config.camera.frame_start, config.camera.frame_end) == (3, 20)
    assert config.physics.density == 800.0 and config.physics.obstacle_heights == [0.03, 0.06]


@pytest.mark.parametrize("family, file", [("kinematic", "reach_task.npz"), ("camera", "camera_shot.npz"),
                                          ("physics", "physics_biped.npz")])
def test_spec_files_of_every_family_load(family, file):
    spec = get_family(family).hooks().load_spec(DATA / file)
    spec.validate() if hasattr(spec, "validate") else None
    assert spec is not None


def test_a_previous_sb3_policy_and_its_task_spec_still_act(dojo_registered):
    policy = load_policy(DATA / "reach_ppo.rdpolicy")
    assert policy.algo == "ppo" and policy.trainer == "sb3_ppo"  # Stable-Baselines3's network, from before ours
    spec = get_family("kinematic").hooks().load_spec(DATA / "reach_task.npz")
    env = env_factory(spec, policy.config)(policy.config, 4, 0)
    policy.check_compatible(env)
    actions, _ = policy.predict(env.reset())
    assert actions.shape == (4, env.action_space.shape[0]) and np.all(np.isfinite(actions))


def test_a_previous_camera_policy_bakes_onto_the_shot_it_was_trained_on(previous_blend):
    from rig_dojo.scene.families import bake_task_policy

    report = bake_task_policy(DATA / "camera_cem.rdpolicy")
    assert report.keys_written > 0 and report.image_error < 1e-3
