"""The library's physics stand entry (agents/library_stand.py, envs/physics/tokens.py): hinge tokens, random
creatures as plain PhysicsSpec data, the shipped file, and starting a run from it (no bpy)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile

import numpy as np
import pytest

from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.library import entry, open_start, write_entry
from rig_dojo.agents.library_stand import BIPED_RECIPE, StandRecipe, pretrain_stand, stand_survival
from rig_dojo.agents.policy_file import compatibility_problems, load_policy
from rig_dojo.envs.physics import tokens as tk
from rig_dojo.envs.physics.random_creatures import random_creature
from rig_dojo.envs.physics.task import make_physics_task
from rig_dojo.errors import RigDojoError


@pytest.fixture(autouse=True)
def training_threads():
    import torch

    from rig_dojo.agents.threads import use_training_threads

    before = torch.get_num_threads()
    use_training_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("kind", ["quadruped", "biped"])
def test_hinge_tokens_describe_any_creature_in_its_upright_frame(kind):
    spec = random_creature(np.random.default_rng(5), kind)
    task = tk.make_token_task(spec, "stand", n_envs=3, seed=0)
    obs = task.reset()
    J = task.n_joints
    assert obs.shape == (3, tk.OBS_SIZE) and task.action_space.shape == (tk.MAX_TOKENS,)
    mask = obs[:, tk.MAX_TOKENS * tk.FEATURES:]
    assert (mask[:, :J] == 1).all() and not mask[:, J:].any()
    tokens = obs[:, :tk.MAX_TOKENS * tk.FEATURES].reshape(3, tk.MAX_TOKENS, tk.FEATURES)
    assert not tokens[:, J:].any()  # padding is zeros
    names = tk.FEATURE_NAMES
    up = tokens[:, :J, names.index("up_x"):names.index("up_z") + 1]
    np.testing.assert_allclose(up, np.broadcast_to([0.0, 0.0, 1.0], up.shape), atol=1e-3)  # standing as modelled
    ratio = tokens[:, :J, names.index("height_ratio")]
    np.testing.assert_allclose(ratio, 1.0, atol=0.02)
    assert tokens[:, :J, names.index("limb_contact")].max() == 1.0  # the feet's hinges know they touch
    heights = tokens[0, :J, names.index("root_z")]
    assert heights.min() < -0.2  # the leg joints sit below the root, in creature sizes


def test_the_zero_action_drives_a_token_task_as_the_creature_s_own_task():
    spec = random_creature(np.random.default_rng(2), "quadruped")
    own = make_physics_task(spec, "stand", n_envs=2, seed=4)
    tokens = tk.make_token_task(spec, "stand", n_envs=2, seed=4)
    own.reset(), tokens.reset()
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.uniform(-0.3, 0.3, (2, own.n_joints))
        padded = np.zeros((2, tk.MAX_TOKENS))
        padded[:, :own.n_joints] = a
        own._step(a), tokens._step(padded)
    np.testing.assert_allclose(tokens.twin.qpos, own.twin.qpos, atol=1e-9)  # padding's actions are ignored


@pytest.mark.parametrize("name", ["stand", "stand_biped"])
def test_the_shipped_stand_policy_is_small_safe_and_recorded(name):
    item = entry(f"library:{name}")
    assert item.path.is_file() and item.recipe_path.is_file()
    assert item.path.stat().st_size < 300 * 1024
    with zipfile.ZipFile(item.path) as zf:
        assert sorted(zf.namelist()) == ["metadata.json", "weights.npz"]
    recipe = json.loads(item.recipe_path.read_text())
    assert recipe["sha256"] == hashlib.sha256(item.path.read_bytes()).hexdigest()
    assert recipe["task"] == "stand" and recipe["samples"] > 0 and recipe["recipe"]["seed"] == 0
    # the recipe ./dojo pretrain NAME runs is the one recorded, to the step
    want = StandRecipe() if name == "stand" else BIPED_RECIPE
    assert recipe["recipe"] == dataclasses.asdict(want) and recipe["samples"] == want.steps
    policy = load_policy(item.path)
    assert policy.metadata["policy_kwargs"] == {"kind": "rig_dojo_chain", "tokens": tk.MAX_TOKENS,
                                                "features": tk.FEATURES, "hidden": 64}


def test_a_stand_start_observes_hinge_tokens_and_refuses_what_does_not_fit():
    config = TrainConfig()
    config.task = "stand"
    config.algo = defaults_for("ppo", "stand")
    policy = open_start("library:stand", config)
    assert config.rig.observation == "chain"
    task = tk.make_token_task(random_creature(np.random.default_rng(7), "biped"), "stand", n_envs=1, seed=0)
    assert compatibility_problems(policy.metadata, task) == []
    own = make_physics_task(random_creature(np.random.default_rng(7), "biped"), "stand", n_envs=1, seed=0)
    assert any("not observed as a chain" in p for p in compatibility_problems(policy.metadata, own))
    walk = TrainConfig()
    walk.task = "locomotion"
    with pytest.raises(RigDojoError, match="library:stand starts stand tasks; this run's task is locomotion"):
        open_start("library:stand", walk)
    reach = TrainConfig()
    reach.task = "stand"
    with pytest.raises(RigDojoError, match="library:reach starts reach tasks; this run's task is stand"):
        open_start("library:reach", reach)
    reach_policy = open_start(entry("reach").path, reach)  # the reach file by its path: the sizes differ
    problems = compatibility_problems(reach_policy.metadata, task)
    assert problems and "policy expects 672 observations, task has" in problems[0]


def test_a_creature_with_more_hinges_than_tokens_is_refused():
    from rig_dojo.envs.physics.random_creatures import FREE, _spec

    bones = [("root", (0, 0, 0.5), (0, -0.1, 0.5), None, 0.05, *FREE)]
    for k in range(44):  # a tail of 44 bones turning about three axes each: 132 hinges
        bones.append((f"t{k}", (0, 0.02 * k, 0.5), (0, 0.02 * (k + 1), 0.5), "root" if k == 0 else f"t{k - 1}",
                      0.01, *FREE))
    spec = _spec("snake", bones, np.random.default_rng(0))
    with pytest.raises(RigDojoError, match=f"at most {tk.MAX_TOKENS} hinges; 'snake' has 132"):
        tk.make_token_task(spec, "stand", n_envs=1)


def test_pretraining_writes_a_loadable_stand_entry(tmp_path):
    tiny = StandRecipe(quadrupeds=1, bipeds=1, envs_per_creature=4, steps=512, n_steps=32, batch_size=256)
    network, record = pretrain_stand(tiny)
    path = write_entry("stand", network, record, tmp_path)
    assert path.stat().st_size < 300 * 1024
    policy = load_policy(path)
    assert json.loads((tmp_path / "stand.json").read_text())["recipe"]["quadrupeds"] == 1
    spec = random_creature(np.random.default_rng(11), "quadruped")
    # a network fresh from the zero action still stands what the zero action stands
    result = stand_survival(spec, policy, envs=2, seconds=1.0, shove=0.0)
    assert result["episodes"] == 2 and result["seconds_up"] > 0.5


def test_the_stand_network_exports_to_onnx_and_matches_torch(tmp_path):
    ort = pytest.importorskip("onnxruntime")  # the export extra: installed by ./dojo setup
    from rig_dojo.agents.onnx_export import export_onnx

    policy = load_policy(entry("stand").path)
    out = tmp_path / "stand.onnx"
    export_onnx(policy, out)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(32, tk.OBS_SIZE)).astype(np.float32)
    obs[:, -tk.MAX_TOKENS:] = 0.0
    for row, hinges in enumerate(rng.integers(4, tk.MAX_TOKENS + 1, 32)):
        obs[row, -tk.MAX_TOKENS:-tk.MAX_TOKENS + hinges] = 1.0
        obs[row, hinges * tk.FEATURES:tk.MAX_TOKENS * tk.FEATURES] = 0.0  # padding holds zeros
    want, _ = policy.network.predict(obs, deterministic=True)
    got = ort.InferenceSession(str(out)).run(None, {"observation": obs})[0]
    assert np.abs(want - got).max() < 1e-5


def test_tasks_the_tokens_do_not_describe_are_refused():
    spec = random_creature(np.random.default_rng(1), "quadruped")
    assert tk.make_token_task(spec, "jump", n_envs=1).observation_space.shape == (tk.OBS_SIZE,)
    with pytest.raises(RigDojoError, match="covers stand and jump; the locomotion task needs more"):
        tk.make_token_task(spec, "locomotion", n_envs=1)
