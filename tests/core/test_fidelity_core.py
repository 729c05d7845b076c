"""Issue 18, fidelity (no bpy): an animated rig spec (what the controls do not move, per frame), the twin reading
the frame each environment is at, episodes starting at random frames, and the reach warning."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rig_dojo.envs import kinematics as km
from rig_dojo.envs.kinematic.reach_check import out_of_reach, reach_warning
from rig_dojo.envs.kinematic.rig_spec import ConstraintSpec, RigSpec, frame_constants, with_frame_constants
from rig_dojo.envs.kinematic.task_spec import TaskSpec, TargetSpec
from rig_dojo.envs.kinematic.tasks import make_task
from rig_dojo.envs.kinematic.twin import RigTwin

PREVIOUS = Path(__file__).resolve().parents[1] / "blender" / "data" / "previous_layout"
FRAMES = 20


def _task() -> TaskSpec:
    return TaskSpec.load(PREVIOUS / "reach_task.npz")


def _sway(k: int) -> np.ndarray:
    """The armature object's world matrix at frame ``k``: swaying and turning (root motion)."""
    m = np.eye(4)
    m[:3, :3] = km.euler_xyz_to_matrix(np.array([[0.0, 0.0, 0.05 * k]]))[0]
    m[:3, 3] = [0.03 * k, 0.0, 0.01 * np.sin(k)]
    return m


def _animated(rig: RigSpec) -> RigSpec:
    """``rig`` whose object moves over FRAMES frames and whose last node's held scale breathes."""
    basis = np.repeat(rig.basis[None], FRAMES, axis=0)
    basis[:, -1, :3, :3] *= (1.0 + 0.01 * np.arange(FRAMES))[:, None, None]
    consts, infl = frame_constants(rig.constraints, rig.ik_chains)
    return dataclasses.replace(
        rig, anim_frame_start=5, anim_basis=basis, anim_parent_const=np.repeat(rig.parent_const[None], FRAMES, 0),
        anim_object_matrix=np.stack([rig.object_matrix @ _sway(k) for k in range(FRAMES)]),
        anim_constants=np.repeat(consts[None], FRAMES, 0), anim_influence=np.repeat(infl[None], FRAMES, 0))


def test_the_twin_reads_each_environments_frame_of_the_animation():
    rig = _animated(_task().rig)
    twin = RigTwin(rig)
    rng = np.random.default_rng(0)
    rot = km.euler_xyz_to_matrix(rng.uniform(-1, 1, size=(12, len(rig.controls), 3)))
    frames = np.array([0, 3, 3, 19, 7, 0, 12, 12, 12, 5, 19, 40])  # 40 is past the end: the last frame holds
    got = twin.forward(rot, frame=frames)
    for i, k in enumerate(frames):
        held = RigTwin(dataclasses.replace(rig.without_animation(), object_matrix=rig.anim_object_matrix[min(k, 19)],
                                           basis=rig.anim_basis[min(k, 19)]))
        np.testing.assert_allclose(got[i], held.forward(rot[i:i + 1])[0], atol=1e-12)
    assert not np.allclose(got[1], twin.forward(rot[1:2])[0])  # the frame matters: not the held pose
    np.testing.assert_allclose(twin.forward(rot[:1], frame=np.array([4])), twin.forward(rot[:1], frame=4), atol=0)


def test_an_animated_rig_spec_round_trips_and_a_held_one_stays_small(tmp_path):
    rig = _animated(_task().rig)
    back = RigSpec.load(rig.save(tmp_path / "rig.npz"))
    assert back.anim_frames == FRAMES and back.anim_frame_start == 5
    for name in RigSpec._ANIMATION_ARRAYS:
        np.testing.assert_array_equal(getattr(back, name), getattr(rig, name))
    held = rig.without_animation()
    assert held.anim_frames == 0 and "anim_basis" not in held.to_arrays()
    assert RigSpec.load(held.save(tmp_path / "held.npz")).anim_frames == 0


def test_frame_constants_put_back_each_frames_targets_and_influences():
    stack = [[ConstraintSpec("COPY_ROTATION", "a", 0.5, target_const=np.eye(4).tolist()),
              ConstraintSpec("ARMATURE", "arm", 1.0, params={"targets": [
                  {"node": -1, "weight": 1.0, "deform": (2 * np.eye(4)).tolist()},
                  {"node": 0, "weight": 1.0, "rest_inv": np.eye(4).tolist()}]})],
             [ConstraintSpec("LIMIT_ROTATION", "lim", 0.3)]]
    chains = [{"influence": 0.8, "target_const": (3 * np.eye(4)).tolist(), "pole_const": None}]
    consts, infl = frame_constants(stack, chains)
    assert consts.shape == (3, 4, 4) and infl.tolist() == [0.5, 1.0, 0.3, 0.8]
    new_stack, new_chains = with_frame_constants(stack, chains, consts + 1.0, infl / 2)
    again, again_infl = frame_constants(new_stack, new_chains)
    np.testing.assert_array_equal(again, consts + 1.0)
    np.testing.assert_array_equal(again_infl, infl / 2)
    assert stack[0][0].influence == 0.5  # the originals are untouched


def test_episodes_start_at_random_frames_and_a_rollout_at_the_first():
    spec = dataclasses.replace(_task(), rig=_animated(_task().rig), episode_steps=6)
    task = make_task(spec, n_envs=8, seed=3)
    starts = set()
    for _ in range(30):
        task.reset()
        assert len(set(task.frame0.tolist())) == 1  # a batch that resets together shares its frame
        starts.add(int(task.frame0[0]))
        assert 0 <= task.frame0[0] <= FRAMES - 6
    assert len(starts) > 5
    task.step(np.zeros((8, task.n_joints), dtype=np.float32))
    assert (task.anim_frame() == task.frame0 + 1).all()
    from rig_dojo.envs.kinematic.family import rollout_channels

    class Still:
        def predict(self, obs, deterministic=True):
            return np.zeros((len(obs), task.n_joints), dtype=np.float32), None

    _, _, points = rollout_channels(Still(), task, 10)
    assert task.frame0[0] == 0  # a bake's rollout starts where the bake does
    # the hand follows the swaying object although the joints stay still
    assert np.linalg.norm(points[-1] - points[0]) > 0.05


def test_a_target_out_of_reach_is_measured_and_worded():
    spec = _task()
    near = reach_warning(spec)
    assert near is None, near
    far = dataclasses.replace(spec, target=dataclasses.replace(spec.target, region_center=spec.target.region_center
                                                               + np.array([5.0, 0.0, 0.0])))
    fraction, farthest, margin = out_of_reach(far)
    assert fraction == 1.0 and farthest > 3.0 and margin >= 0.15
    assert "100% of the region" in reach_warning(far)
    fixed = dataclasses.replace(spec, target=TargetSpec(kind="fixed", position=np.array([9.0, 0.0, 0.0]), name="Far"))
    assert "the target 'Far' is" in reach_warning(fixed)


@pytest.mark.parametrize("kind", ["aim"])
def test_the_reach_warning_is_for_reach_tasks_only(kind):
    spec = dataclasses.replace(_task(), kind=kind)
    assert reach_warning(spec) is None
