"""The rig-agnostic reach's representation (envs/kinematic/chains.py) and network (agents/chain_policy.py),
without Blender: the joint tokens are what they say (a lever is how the tip moves per radian), they do not
change when the whole rig is moved, turned or scaled, any chain of 2-8 bones fits one observation and one
network, and a rig that does not fit is refused naming what differs. Pretraining: bench/bench_library.py.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rig_dojo.agents.chain_policy import ChainActorCritic
from rig_dojo.envs.kinematic.chains import (FEATURES, MAX_TOKENS, OBS_SIZE, ChainMix, ChainReachTask, chain_rig,
                                            random_chain_spec)
from rig_dojo.envs.kinematic.task_spec import TargetSpec, TaskSpec
from rig_dojo.errors import RigDojoError


def test_a_tokens_lever_is_how_the_tip_moves_per_radian_of_its_joint():
    rng = np.random.default_rng(0)
    for bones in (2, 5, 8):
        task = ChainReachTask(random_chain_spec(rng, bones), n_envs=3, seed=1)
        task.reset()
        task.q = np.clip(task.q + rng.uniform(-0.5, 0.5, task.q.shape), task.q_low, task.q_high)
        task._forward()
        tokens = task.tokens()
        tip = task._to_root(task.effector_pos())
        for j in range(task.n_joints):
            q = task.q.copy()
            task.q[:, j] += 1e-6
            task._forward()
            moved = (task._to_root(task.effector_pos()) - tip) / 1e-6
            task.q = q
            task._forward()
            np.testing.assert_allclose(tokens[:, j, 9:12], moved, atol=1e-5)
        # gain = lever . (target - tip): the direction a Jacobian-transpose step would turn each joint
        np.testing.assert_allclose(tokens[:, :, 18], np.sum(tokens[:, :, 9:12] * tokens[:, :, 15:18], -1))


def _moved(spec: TaskSpec, rotation: np.ndarray, offset: np.ndarray, scale: float) -> TaskSpec:
    """The same task with the whole armature object turned, moved and scaled (and its target region with it)."""
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rotation * scale, offset
    target = spec.target
    moved_target = dataclasses.replace(
        target, position=m[:3, :3] @ target.position + offset, region_center=m[:3, :3] @ target.region_center + offset,
        region_half=target.region_half * scale, region_rot=rotation @ target.region_rot)
    return dataclasses.replace(spec, rig=dataclasses.replace(spec.rig, object_matrix=m), target=moved_target)


def test_tokens_are_the_same_when_the_whole_rig_is_moved_turned_and_scaled():
    rng = np.random.default_rng(4)
    spec = random_chain_spec(rng, 4)
    c, s = np.cos(0.7), np.sin(0.7)
    turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])
    a = ChainReachTask(spec, n_envs=8, seed=3)
    b = ChainReachTask(_moved(spec, turn, np.array([3.0, -2.0, 5.0]), 2.5), n_envs=8, seed=3)
    a_obs, b_obs = a.reset(), b.reset()
    np.testing.assert_allclose(b_obs, a_obs, atol=1e-5)
    actions = np.random.default_rng(1).uniform(-1, 1, (8, MAX_TOKENS)).astype(np.float32)
    np.testing.assert_allclose(b.step_arrays(actions).obs, a.step_arrays(actions).obs, atol=1e-5)


def test_every_chain_of_2_to_8_bones_fits_one_observation_and_its_padding_is_ignored():
    rng = np.random.default_rng(2)
    for bones in range(2, 9):
        task = ChainReachTask(random_chain_spec(rng, bones), n_envs=4, seed=0)
        obs = task.reset()
        assert obs.shape == (4, OBS_SIZE) and task.action_space.shape == (MAX_TOKENS,)
        mask = obs[:, MAX_TOKENS * FEATURES:]
        assert mask.sum(1).tolist() == [task.n_joints] * 4 and mask[0, :task.n_joints].all()
        assert not obs[:, task.n_joints * FEATURES:MAX_TOKENS * FEATURES].any()
        actions = np.zeros((4, MAX_TOKENS), dtype=np.float32)
        actions[:, :task.n_joints] = 0.5
        padded = actions.copy()
        padded[:, task.n_joints:] = 1.0  # padding's actions move nothing
        q = task.q.copy()
        task._step(actions)
        q_plain = task.q.copy()
        task.q = q
        task._step(padded)
        np.testing.assert_array_equal(task.q, q_plain)


def test_one_network_acts_on_any_chain_and_ignores_the_padding():
    torch.manual_seed(0)
    net = ChainActorCritic(MAX_TOKENS, FEATURES)
    rng = np.random.default_rng(5)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    for bones in (2, 8):
        task = ChainReachTask(random_chain_spec(rng, bones), n_envs=4, seed=0)
        obs = torch.as_tensor(task.reset())
        out = net.actor(obs)
        assert out.shape == (4, MAX_TOKENS) and not out[:, task.n_joints:].any()
        junk = obs.clone()
        junk[:, task.n_joints * FEATURES:MAX_TOKENS * FEATURES] = 7.0  # what padding holds cannot matter
        torch.testing.assert_close(net.actor(junk), out)
        torch.testing.assert_close(net.critic(junk), net.critic(obs))
    # the weights do not depend on the rig: a description rebuilds the same shapes
    rebuilt = ChainActorCritic.from_description(net.description())
    assert {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()} == shapes


def test_a_batch_mostly_padding_embeds_only_its_real_tokens_with_the_same_numbers(monkeypatch):
    from rig_dojo.agents import chain_policy

    torch.manual_seed(0)
    net = ChainActorCritic(MAX_TOKENS, FEATURES)
    for p in net.parameters():  # weights of a trained size, not the near-zero last layer of a fresh network
        torch.nn.init.normal_(p, std=0.3)
    rng = np.random.default_rng(2)
    tasks = [ChainReachTask(random_chain_spec(rng, bones), n_envs=3, seed=0) for bones in (2, 3, 8, 2)]
    obs = torch.as_tensor(np.concatenate([task.reset() for task in tasks]))
    joints = 3 * sum(task.n_joints for task in tasks)
    assert joints < 0.75 * 12 * max(task.n_joints for task in tasks)  # mostly padding, even cut to the longest
    calls = []
    real = chain_policy._embed

    def counted(embed, tokens, mask):
        h, index = real(embed, tokens, mask)
        calls.append(index)
        return h, index

    def answers():
        net.zero_grad()
        actions, value = net.actor(obs), net.critic(obs)
        (actions.pow(2).sum() + value.sum()).backward()
        return actions.detach(), value.detach(), [p.grad.clone() for p in net.parameters() if p.grad is not None]

    monkeypatch.setattr(chain_policy, "_embed", counted)
    packed = answers()
    assert calls and all(index is not None and len(index) == joints for index in calls)
    monkeypatch.setattr(chain_policy, "_embed", lambda embed, tokens, mask: (embed(tokens), None))  # every token
    dense = answers()
    torch.testing.assert_close(packed[0], dense[0])
    torch.testing.assert_close(packed[1], dense[1])
    for a, b in zip(packed[2], dense[2]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5 * float(b.abs().max()))  # sums in another order


def test_a_mix_of_rigs_steps_as_one_batch():
    rng = np.random.default_rng(6)
    tasks = [ChainReachTask(random_chain_spec(rng, b), n_envs=n, seed=b) for b, n in ((2, 3), (6, 5))]
    mix = ChainMix(tasks)
    obs = mix.reset()
    assert obs.shape == (8, OBS_SIZE) and mix.num_envs == 8
    step = mix.step_arrays(np.zeros((8, MAX_TOKENS), dtype=np.float32))
    assert step.obs.shape == (8, OBS_SIZE) and step.reward.shape == (8,) and set(step.info) >= {"success", "error"}


def test_a_rig_that_does_not_fit_is_refused_naming_what_differs():
    rng = np.random.default_rng(7)
    nine = random_chain_spec(rng, 8)
    rig = nine.rig
    long = chain_rig(np.full(9, 0.3), np.zeros((9, 3)), np.zeros(9), np.eye(3), np.ones((9, 3), bool),
                     -np.ones((9, 3)), np.ones((9, 3)), np.ones((9, 3), bool))
    with pytest.raises(RigDojoError, match="chains of 2-8 bones; this one has 9"):
        ChainReachTask(dataclasses.replace(nine, rig=long, effector="bone8"), n_envs=1)
    with pytest.raises(RigDojoError, match="it reaches or aims; this task is grasp"):
        ChainReachTask(dataclasses.replace(nine, kind="grasp"), n_envs=1)
    with pytest.raises(RigDojoError, match="reaches with the chain's end; the effector bone3 is in the middle"):
        ChainReachTask(dataclasses.replace(nine, rig=dataclasses.replace(rig, tracked=["bone3", "bone7"]),
                                           effector="bone3"), n_envs=1)
    with pytest.raises(RigDojoError, match="continuous actions"):
        ChainReachTask(nine, n_envs=1, discrete=True)
    assert isinstance(nine.target, TargetSpec)
