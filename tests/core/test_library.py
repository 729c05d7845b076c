"""The policy library (agents/library.py): the shipped reach policy, its recipe, starting a run from it, and
what is refused (no bpy: random chains as plain RigSpec data)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile

import numpy as np
import pytest

from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.library import ENTRIES, ChainRecipe, entry, open_start, pretrain_reach, resolve, teacher_actions, \
    write_entry
from rig_dojo.agents.policy_file import compatibility_problems, load_policy
from rig_dojo.envs.kinematic.chains import MAX_TOKENS, OBS_SIZE, ChainReachTask, make_chain_task, random_chain_spec
from rig_dojo.errors import RigDojoError


@pytest.fixture(autouse=True)
def training_threads():
    """Torch's threads as training sets them (agents.threads): the default of one per core spins against the
    twin and other processes (5x slower on a busy 2-core machine)."""
    import torch

    from rig_dojo.agents.threads import use_training_threads

    before = torch.get_num_threads()
    use_training_threads()
    yield
    torch.set_num_threads(before)


def _success(act, task: ChainReachTask) -> float:
    task.reset()
    obs = task._observe()
    info = {}
    for _ in range(task.episode_steps):
        _, _, info = task._step(np.asarray(act(obs)))
        obs = task._observe()
    return float(np.mean(info["success"]))


@pytest.mark.parametrize("name", ["reach", "aim", "grasp"])
def test_the_shipped_policies_are_small_safe_and_recorded(name):
    item = entry(f"library:{name}")
    assert item.path.is_file() and item.recipe_path.is_file()
    size = item.path.stat().st_size
    assert size < 256 * 1024, f"library:reach is {size} bytes"
    with zipfile.ZipFile(item.path) as zf:  # weights-only: metadata.json and an npz, nothing pickled
        assert sorted(zf.namelist()) == ["metadata.json", "weights.npz"]
    recipe = json.loads(item.recipe_path.read_text())
    assert recipe["sha256"] == hashlib.sha256(item.path.read_bytes()).hexdigest()  # the recipe is of this file
    assert recipe["recipe"]["task"] == name and recipe["samples"] > 0 and "method" in recipe
    policy = load_policy(item.path)
    assert policy.metadata["policy_kwargs"]["kind"] == "rig_dojo_chain" and policy.metadata["controls"] == []


def test_the_library_reaches_on_chains_it_never_saw_as_its_ik_teacher_does():
    """Zero-shot on chains drawn from another seed than the pretraining's (3, 5 and 7 bones, random lengths,
    rolls, locked axes and limits). Some random targets are out of a chain's reach, so the bar is the IK
    teacher's own success on the same episodes."""
    policy = load_policy(entry("reach").path)
    rng = np.random.default_rng(2024)
    rates = []
    for bones in (3, 5, 7):
        spec = random_chain_spec(rng, bones)
        learned = _success(lambda obs: policy.predict(obs)[0], ChainReachTask(spec, 64, seed=5))
        teacher = _success(teacher_actions, ChainReachTask(spec, 64, seed=5))
        rates.append(learned)
        assert learned >= teacher - 0.15, (bones, learned, teacher)
    assert np.mean(rates) >= 0.5, rates


def test_the_aim_entry_aims_chains_it_never_saw():
    """library:aim on random chains aiming one of the last bone's axes (drawn from another seed than its
    pretraining's): as good as its IK teacher, and at least 90%."""
    policy = load_policy(entry("library:aim").path)
    rng = np.random.default_rng(77)
    for bones in (2, 4, 6):
        spec = dataclasses.replace(random_chain_spec(rng, bones, kind="aim"), observation="chain")
        learned = _success(lambda obs: policy.predict(obs)[0], make_chain_task(spec, 64, seed=3))
        teacher = _success(teacher_actions, make_chain_task(spec, 64, seed=3))
        assert learned >= min(teacher, 0.9) - 0.05, (bones, spec.look_axis, learned, teacher)


def test_the_grasp_entry_closes_hands_it_never_saw_as_its_ik_teacher_does():
    """library:grasp zero-shot on random hands drawn from another seed than its pretraining's (2-5 fingers of 2-3
    bones, with and without a forearm, random limits, rolls and balls): as good as the multi-fingertip IK teacher
    on the same episodes (some balls are out of a hand's reach from its start pose, so the teacher is the bar; both
    6 of these 8, 70% each over 60 hands)."""
    from rig_dojo.envs.kinematic.grasp_chains import ChainGraspTask, random_hand_spec
    from rig_dojo.envs.kinematic.grasp_chains import teacher_actions as grasp_teacher

    policy = load_policy(entry("library:grasp").path)
    rng = np.random.default_rng(2024)
    learned, teacher = [], []
    for k in range(8):
        spec = random_hand_spec(rng, 2 + k % 4)
        learned.append(_success(lambda obs: policy.predict(obs)[0], ChainGraspTask(spec, 2, seed=k)))
        teacher.append(_success(grasp_teacher, ChainGraspTask(spec, 2, seed=k)))
    assert np.mean(learned) >= np.mean(teacher) - 0.15 and np.mean(learned) >= 0.5, (learned, teacher)


def test_grasp_pretraining_writes_a_loadable_entry_for_hands(tmp_path):
    from rig_dojo.agents.library import pretrain_grasp
    from rig_dojo.envs.kinematic import grasp_chains

    tiny = ChainRecipe(task="grasp", chains=3, envs_per_chain=4, rounds=2, updates_per_round=20, minibatch=256)
    lines = []
    network, record = pretrain_grasp(tiny, report=lines.append)
    path = write_entry("grasp", network, record, tmp_path)
    assert len(lines) == 2 and "round 2/2" in lines[1] and record["samples"] == 3 * 4 * 64 * 2
    policy = load_policy(path)
    assert policy.metadata["observation_space"]["shape"] == [grasp_chains.OBS_SIZE]
    assert policy.metadata["layout"]["observation"][0]["meaning"].startswith(f"{grasp_chains.MAX_TOKENS} joint tokens")
    obs = np.zeros((2, grasp_chains.OBS_SIZE), dtype=np.float32)
    obs[:, -grasp_chains.MAX_TOKENS:-grasp_chains.MAX_TOKENS + 30] = 1.0
    actions, _ = policy.predict(obs)
    assert actions.shape == (2, grasp_chains.MAX_TOKENS) and not actions[:, 30:].any()


def test_pretraining_writes_a_loadable_entry_with_its_recipe(tmp_path):
    tiny = ChainRecipe(chains=3, envs_per_chain=8, rounds=2, teacher_rounds=1, updates_per_round=60, minibatch=512)
    lines = []
    network, record = pretrain_reach(tiny, report=lines.append)
    path = write_entry("reach", network, record, tmp_path)
    assert len(lines) == 2 and "round 2/2" in lines[1]
    assert record["loss"] < 0.05, record  # it learns the teacher's step (tiny budget, loose bound)
    policy = load_policy(path)
    assert json.loads((tmp_path / "reach.json").read_text())["recipe"]["chains"] == 3
    obs = np.zeros((2, OBS_SIZE), dtype=np.float32)
    obs[:, -MAX_TOKENS:-MAX_TOKENS + 4] = 1.0
    actions, _ = policy.predict(obs)
    assert actions.shape == (2, MAX_TOKENS) and not actions[:, 4:].any()  # padded joints get no action


def test_a_start_fits_the_run_to_it_and_refuses_what_does_not_fit(tmp_path):
    config = TrainConfig()
    config.algo = defaults_for("ppo")
    policy = open_start("library:reach", config)
    assert config.rig.observation == "chain"  # the run observes joint tokens, as the library policy reads
    spec = random_chain_spec(np.random.default_rng(1), 4)
    assert compatibility_problems(policy.metadata, ChainReachTask(spec, 2, seed=0)) == []
    with pytest.raises(RigDojoError, match="not in the policy library; it has library:reach, library:aim"):
        open_start("library:walk", TrainConfig())
    aim = TrainConfig()
    aim.task = "aim"
    with pytest.raises(RigDojoError, match="library:reach starts reach tasks; this run's task is aim"):
        open_start("library:reach", aim)
    grasp = TrainConfig()
    grasp.task = "grasp"
    with pytest.raises(RigDojoError, match="library:aim starts aim tasks; this run's task is grasp"):
        open_start("library:aim", grasp)
    with pytest.raises(RigDojoError, match="no such policy file"):
        resolve(tmp_path / "missing.rdpolicy")
    bad = TrainConfig()
    bad.algo.start_from = "library:nope"
    with pytest.raises(RigDojoError, match="not in the policy library"):
        bad.validate()


def test_a_library_without_its_file_says_how_to_rebuild_it(monkeypatch, tmp_path):
    import rig_dojo.agents.library as library

    monkeypatch.setattr(library, "LIBRARY_DIR", tmp_path)
    with pytest.raises(RigDojoError, match="missing from this install; rebuild it with ./dojo pretrain reach"):
        resolve("library:reach")
    assert set(ENTRIES) == {"reach", "aim", "grasp", "camera", "stand", "stand_biped"}


@pytest.mark.parametrize("name", ["reach", "grasp"])
def test_the_chain_network_exports_to_onnx_and_matches_torch(tmp_path, name):
    ort = pytest.importorskip("onnxruntime")  # the export extra: installed by ./dojo setup
    from rig_dojo.agents.onnx_export import export_onnx

    policy = load_policy(entry(name).path)
    out = tmp_path / f"{name}.onnx"
    export_onnx(policy, out)
    tokens, features = policy.network.tokens, policy.network.features
    size = tokens * features + tokens
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(96, size)).astype(np.float32)
    obs[:, -tokens:] = 0.0
    for row, joints in enumerate(rng.integers(2, tokens + 1, 96)):
        obs[row, -tokens:-tokens + joints] = 1.0
        obs[row, joints * features:tokens * features] = 0.0  # padding holds zeros, as the task writes it
    want, _ = policy.network.predict(obs, deterministic=True)
    got = ort.InferenceSession(str(out)).run(None, {"observation": obs})[0]
    assert np.abs(want - got).max() < 1e-5


def test_the_camera_entry_exports_to_onnx_and_matches_torch(tmp_path):
    """The camera entry is our PPO's plain network with its observation normaliser: the export carries both."""
    ort = pytest.importorskip("onnxruntime")
    from rig_dojo.agents.onnx_export import export_onnx

    policy = load_policy(entry("camera").path)
    out = tmp_path / "camera.onnx"
    export_onnx(policy, out)
    from rig_dojo.agents.library_camera import OBS_DIM  # free mode without lens: 24 numbers

    obs = np.random.default_rng(1).normal(size=(128, OBS_DIM)).astype(np.float32)
    want, _ = policy.predict(obs, deterministic=True)
    got = ort.InferenceSession(str(out)).run(None, {"observation": obs})[0]
    assert np.abs(np.asarray(want) - got).max() < 1e-5


def test_a_zero_shot_run_writes_the_start_as_a_run_without_training_and_resumes_into_a_fine_tune(tmp_path):
    from rig_dojo.agents.session import TrainingSession
    from rig_dojo.agents.run_folder import find_resume_point

    spec = dataclasses.replace(random_chain_spec(np.random.default_rng(5), 4), observation="chain")

    def make_env(_config, n_envs, seed):
        return make_chain_task(spec, n_envs, seed=seed)

    config = TrainConfig()
    config.algo = defaults_for("ppo")
    config.algo.n_envs, config.algo.total_steps = 16, 2048
    run = tmp_path / "run"
    session = TrainingSession(config, make_env, run, init_from="library:reach", zero_shot=True)
    session.start()
    assert session.wait(60) == "finished", session.error
    assert session.latest().step == 0  # nothing trained
    written = load_policy(run / "final.rdpolicy")
    shipped = load_policy(entry("reach").path)
    obs = make_env(config, 8, 3).reset()
    assert np.array_equal(written.predict(obs)[0], shipped.predict(obs)[0])  # the library's weights, as shipped
    saved = TrainConfig.load(run / "config.toml")
    assert saved.rig.observation == "chain" and saved.algo.extra["desired_kl"] == 0.002
    assert find_resume_point(run).meta["step"] == 0  # a checkpoint at step 0: --resume fine-tunes from it
    resumed = TrainingSession.continue_run(run, make_env)
    resumed.start()
    assert resumed.wait(120) == "finished", resumed.error
    assert resumed.latest().step >= 2048

    for algo, own in ((defaults_for("ppo", "reach"), None), (defaults_for("ppo"), 0.03)):
        config.algo = algo  # the reach's own row, or the generic one, untouched: a fine-tune's small steps
        config.algo.n_envs, config.algo.total_steps = 16, 2048
        if own is not None:
            config.algo.extra["desired_kl"] = own  # the user's own value is kept
        session = TrainingSession(config, make_env, tmp_path / f"run_{own}", init_from="library:reach", zero_shot=True)
        session.start()
        assert session.wait(60) == "finished", session.error
        saved = TrainConfig.load(tmp_path / f"run_{own}" / "config.toml")
        assert saved.algo.extra["desired_kl"] == (own or 0.002)

    nothing = TrainConfig()
    nothing.algo = defaults_for("ppo")
    with pytest.raises(RigDojoError, match="a run without training uses a start policy"):
        TrainingSession(nothing, make_env, tmp_path / "none", zero_shot=True).start()
