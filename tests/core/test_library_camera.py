"""``library:camera`` (agents/library_camera.py) without bpy: the shipped file, its recipe, what it reads of the
observation, its teacher, and the camera tasks it does not fit (random shots as plain CameraSpec data)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from rig_dojo.agents.config import TrainConfig
from rig_dojo.agents.library import ENTRIES, entry, open_start
from rig_dojo.agents.library_camera import BLIND, OBS_DIM, PHASE_INDEX, CameraRecipe, new_network, random_shot, \
    shot_score
from rig_dojo.agents.policy_file import compatibility_problems, load_policy
from rig_dojo.envs.camera.task import CameraTask
from rig_dojo.errors import RigDojoError


@pytest.fixture(autouse=True)
def training_threads():
    import torch

    from rig_dojo.agents.threads import use_training_threads

    before = torch.get_num_threads()
    use_training_threads()
    yield
    torch.set_num_threads(before)


def test_the_shipped_camera_entry_is_small_weights_only_and_recorded():
    item = entry("library:camera")
    assert item.path.stat().st_size < 300_000
    with zipfile.ZipFile(item.path) as zf:
        assert sorted(zf.namelist()) == ["metadata.json", "weights.npz"]
        with zf.open("weights.npz") as f:
            np.load(f, allow_pickle=False)  # raises on any object (pickled) array
    recipe = json.loads(item.recipe_path.read_text())
    assert recipe["recipe"]["seed"] == CameraRecipe().seed and recipe["samples"] > 100_000 and recipe["seconds"] > 0
    policy = load_policy(item.path)
    assert policy.algo == "ppo" and policy.metadata["observation_space"]["shape"] == [OBS_DIM]
    assert policy.config.task == "camera" and policy.config.camera.mode == "free"


def test_the_camera_library_is_blind_to_phase_and_occlusion():
    policy = load_policy(entry("camera").path)
    task = CameraTask(random_shot(np.random.default_rng(4)), n_envs=1)
    task.reset()
    obs = np.repeat(task._observe(), 3, axis=0)
    obs[1, PHASE_INDEX] = 0.9
    obs[2, BLIND[0]] = 0.8  # the occlusion
    actions = policy.predict(obs)[0]
    np.testing.assert_allclose(actions[1], actions[0], atol=1e-6)
    np.testing.assert_allclose(actions[2], actions[0], atol=1e-6)
    assert np.abs(actions[0]).max() > 0.0


def test_the_camera_library_frames_random_shots_it_never_saw():
    lib = load_policy(entry("camera").path)
    blank = new_network(CameraRecipe(seed=9))
    rng = np.random.default_rng(77)  # not the recipe's seed: shots the library never trained on
    shots = [random_shot(rng) for _ in range(8)]
    ours = [shot_score(lambda o: lib.predict(o)[0], s) for s in shots]
    untrained = [shot_score(lambda o: blank.predict(o)[0], s) for s in shots]
    teacher = [shot_score(None, s) for s in shots]
    assert sum(m["success"] for m in ours) >= 7, ours
    assert sum(m["success"] for m in untrained) == 0
    assert sum(m["success"] for m in teacher) >= 7
    assert np.mean([m["framing"] for m in ours]) < 0.05 < np.mean([m["framing"] for m in untrained])


def test_camera_tasks_the_library_does_not_fit_say_what_differs():
    policy = load_policy(entry("camera").path)
    spec = random_shot(np.random.default_rng(5))
    assert compatibility_problems(policy.metadata, CameraTask(spec, mode="free")) == []
    assert "acts with" in "; ".join(compatibility_problems(policy.metadata, CameraTask(spec, mode="dolly")))
    lens = "; ".join(compatibility_problems(policy.metadata, CameraTask(spec, use_lens=True)))
    assert "expects 24 observations, task has 25" in lens
    config = TrainConfig(task="reach")
    with pytest.raises(RigDojoError, match="library:camera starts camera tasks; this run's task is reach"):
        open_start("library:camera", config)
    config = TrainConfig(task="camera")
    open_start("library:camera", config)
    assert config.rig.observation == "full"
    assert "camera" in ENTRIES


def test_baking_the_camera_library_itself_says_how_to_bind_it_to_a_shot():
    from rig_dojo.agents.library import refuse_unbound

    with pytest.raises(RigDojoError, match="--init-from library:camera --zero-shot --task camera --camera CAMERA "
                                           "--subject OBJECT"):
        refuse_unbound("library:camera")
    with pytest.raises(RigDojoError, match="--zero-shot --rig RIG --controls BONES --effector BONE --target OBJECT"):
        refuse_unbound("library:reach")
