"""``library:camera`` (agents/library_camera.py) without bpy: the shipped file, its recipe, what it reads of the
observation, its teacher, and the camera tasks it does not fit (random shots as plain CameraSpec data)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from rig_dojo.agents.config import TrainConfig
from rig_dojo.agents.library import ENTRIES, entry, open_start
from rig_dojo.agents.library_camera import OBS_DIM, OCCLUSION_INDEX, PHASE_INDEX, CameraRecipe, blind_inputs, \
    box_triangles, new_network, random_obstacles, random_shot, shot_score, teacher_actions
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


def test_the_camera_library_is_blind_to_phase_and_reads_occlusion():
    item = entry("camera")
    assert blind_inputs(json.loads(item.recipe_path.read_text())["recipe"]) == (PHASE_INDEX,)
    assert OCCLUSION_INDEX in blind_inputs({"seed": 0})  # a recipe without obstacles never saw occlusion change
    policy = load_policy(item.path)
    task = CameraTask(random_shot(np.random.default_rng(4)), n_envs=1)
    task.reset()
    obs = np.repeat(task._observe(), 3, axis=0)
    obs[1, PHASE_INDEX] = 0.9
    obs[2, OCCLUSION_INDEX] = 1.0  # the subject hidden: the camera climbs (its local up is action 1)
    actions = policy.predict(obs)[0]
    np.testing.assert_allclose(actions[1], actions[0], atol=1e-6)
    assert actions[2, 1] > actions[0, 1] + 0.1, actions
    assert np.abs(actions[0]).max() > 0.0


def _walled_shot():
    """A subject walks 4 m across the view behind a 1.6 m wall that hides it from the camera's start height."""
    from rig_dojo.envs.camera.twin import CameraSpec, look_at_angles

    n = 96
    t = np.linspace(0.0, 1.0, n)
    path = np.stack([-2.0 + 4.0 * t, np.zeros(n), np.full(n, 1.0)], axis=1)
    points = path[:, None] + np.random.default_rng(0).normal(0.0, 0.15, (6, 3))[None]
    camera = np.array([0.0, -8.0, 1.2])
    angles = np.zeros(3)
    angles[:2] = look_at_angles(camera, path[0])
    wall = box_triangles(np.array([-4.0, -4.1, 0.0]), np.array([4.0, -3.9, 1.6]))
    return CameraSpec(camera_name="Camera", subject_name="Subject", subject_positions=path, subject_points=points,
                      camera_position=camera, camera_angles=angles, subject_radius=0.3, lens=35.0, fps=24.0,
                      frame_start=1, frame_end=n, obstacle_triangles=wall, obstacle_ids=np.zeros(12, dtype=int),
                      obstacle_names=["Wall"], obstacle_closed=np.ones(1, dtype=bool))


def test_the_camera_library_climbs_over_a_wall_that_hides_the_subject():
    spec = _walled_shot()
    lib = load_policy(entry("camera").path)
    ours = shot_score(lambda o: lib.predict(o)[0], spec)
    task = CameraTask(spec, n_envs=1)
    from rig_dojo.envs.camera.task import rollout, shot_metrics

    plain = shot_metrics(task, rollout(task, lambda _o: teacher_actions(task)))
    clear = shot_metrics(task, rollout(task, lambda _o: teacher_actions(task, clear=True)))
    assert plain["occlusion"] == 1.0 and plain["on_target"] == 0.0  # keeping its height it never sees the subject
    assert clear["occlusion"] < 0.3 and clear["on_target"] > 0.7, clear
    assert ours["occlusion"] < 0.3 and ours["on_target"] > 0.7 and ours["collisions"] == 0, ours


def test_random_obstacles_stand_in_the_line_of_sight():
    rng = np.random.default_rng(11)
    hidden = []
    for _ in range(6):
        spec = random_obstacles(rng, random_shot(rng))
        assert len(spec.obstacle_triangles) % 12 == 0 and spec.obstacle_closed.all()
        task = CameraTask(spec, n_envs=1)
        task.reset()
        assert not task._collision[0]  # never around the camera's start
        hidden.append(shot_score(None, spec)["occlusion"])
    assert max(hidden) > 0.2, hidden


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
