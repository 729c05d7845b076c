"""Our PPO (agents/ppo.py) without Blender: checkpoints restore the trainer exactly, settings, threads, the
slow arrays path over a plain VecEnv, stopping at an update. The real twins: tests/blender/test_ppo.py.

The task is ``test_agents.py``'s toy (a planar 2-link arm, not a ``BatchedTask``: it is stepped through
``agents.step_arrays.VecEnvArrays``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_agents import long_ppo_config, make_toy_env, toy_config, wait_for

from rig_dojo.agents.algorithms import build_model
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.ppo import PPO, RolloutStorage, settings_from_config
from rig_dojo.agents.session import TrainingSession
from rig_dojo.agents.step_arrays import VecEnvArrays
from rig_dojo.agents.threads import training_threads
from rig_dojo.errors import RigDojoError


def small(**overrides) -> TrainConfig:
    config = toy_config("ppo", n_envs=64, n_steps=8, batch_size=256, net_arch=[16, 16])
    for key, value in overrides.items():
        setattr(config.algo, key, value)
    return config


def test_a_checkpoint_restores_the_trainer_exactly():
    """Network, normaliser, optimiser, random generator, learning rate and counters: given the same
    experience, the restored trainer makes exactly the update the original makes."""
    config = small(total_steps=64 * 8 * 3)
    original = build_model(config, make_toy_env(config, 64, 0))
    original.learn(config.algo.total_steps)
    storage = RolloutStorage(8, 64, original.policy.obs_dim, original.layout.size)
    assert original.collect(storage)
    restored = build_model(config, make_toy_env(config, 64, 1))
    restored.load_checkpoint_bytes(original.checkpoint_bytes())
    assert restored.num_timesteps == original.num_timesteps == 4 * 512 and restored.iterations == 3
    assert restored.learning_rate == original.learning_rate
    for key, value in original.policy.state_dict().items():
        assert torch.equal(value, restored.policy.state_dict()[key]), key
    twin = RolloutStorage(8, 64, original.policy.obs_dim, original.layout.size)
    for name in ("obs", "actions", "log_probs", "values", "rewards", "dones", "advantages", "returns"):
        setattr(twin, name, getattr(storage, name).clone())
    original.update(storage)
    restored.update(twin)
    for key, value in original.policy.state_dict().items():
        assert torch.equal(value, restored.policy.state_dict()[key]), key
    obs = make_toy_env(config, 8, 5).reset()
    np.testing.assert_array_equal(original.predict(obs, deterministic=False)[0],
                                  restored.predict(obs, deterministic=False)[0])  # same random stream too


def test_a_checkpoint_of_another_network_is_refused_naming_the_setting():
    config = small(total_steps=512)
    model = build_model(config, make_toy_env(config, 64, 0))
    model.learn(512)
    wider = small(net_arch=[32, 32])
    other = build_model(wider, make_toy_env(wider, 64, 0))
    with pytest.raises(RigDojoError, match="net_arch"):
        other.load_checkpoint_bytes(model.checkpoint_bytes())


def test_old_configs_run_with_the_extras_ppo_understands_and_name_the_others(tmp_path):
    old = small(total_steps=1024)
    old.algo.extra = {"gae_lambda": 0.9, "ent_coef": 0.001, "clip_range": 0.1,
                      "policy_kwargs": {"log_std_init": -0.5, "activation_fn": "ReLU"}}
    model = build_model(TrainConfig.from_toml(old.to_toml()), make_toy_env(old, 64, 0))
    assert (model.settings.gae_lambda, model.settings.ent_coef, model.settings.clip_range) == (0.9, 0.001, 0.1)
    assert model.settings.activation_fn == "ReLU" and float(model.policy.log_std.detach()[0]) == -0.5
    old.algo.extra["use_sde"] = True  # Stable-Baselines3's, not ours
    session = TrainingSession(old, make_toy_env, tmp_path / "run")
    with pytest.raises(RigDojoError) as err:
        session.start()
    message = str(err.value)
    assert "algo.extra.use_sde" in message and "sb3_ppo" in message and "\n" not in message
    assert not (tmp_path / "run").exists()  # refused before anything was written
    old.algo.name = "sb3_ppo"
    assert build_model(old, make_toy_env(old, 4, 0)).use_sde


@pytest.mark.parametrize("extra,message", [
    ({"gae_lambda": 1.5}, "gae_lambda must be in"), ({"desired_kl": -1.0}, "desired_kl must not be negative"),
    ({"normalize_advantage": 1}, "must be true or false"), ({"activation_fn": "Sigmoid"}, "activation_fn"),
    ({"policy_kwargs": {"ortho_init": False}}, "policy_kwargs.ortho_init is not a setting of ppo"),
])
def test_settings_ppo_cannot_honour_are_refused(extra, message):
    config = small()
    config.algo.extra = extra
    with pytest.raises(RigDojoError, match=message):
        settings_from_config(config)


def test_minibatches_are_counted_from_the_rollout():
    settings = settings_from_config(TrainConfig(algo=defaults_for("ppo")))
    assert (settings.n_envs, settings.n_steps, settings.batch_size, settings.minibatches()) == (512, 16, 4096, 2)
    settings.num_minibatches = 4
    assert settings.minibatches() == 4


def test_torch_threads_leave_a_core_to_the_twin_and_the_ui(monkeypatch):
    monkeypatch.delenv("RIG_DOJO_TORCH_THREADS", raising=False)
    assert [training_threads(c) for c in (1, 2, 3, 4, 8, 16, 64)] == [1, 1, 1, 1, 3, 4, 4]
    monkeypatch.setenv("RIG_DOJO_TORCH_THREADS", "2")
    assert training_threads(2) == 2


def test_a_plain_vecenv_is_stepped_through_its_info_dicts():
    """``VecEnvArrays``: what a task without ``step_arrays`` reports, as arrays: terminal observations,
    time-outs, episode returns and lengths, and each term summed over the episode."""
    config = toy_config("ppo")
    config.rig.episode_length = 5
    plain, view = make_toy_env(config, 3, 0), VecEnvArrays(make_toy_env(config, 3, 0))
    np.testing.assert_array_equal(plain.reset(), view.reset())
    returns, terms = np.zeros(3), {"reach": np.zeros(3), "effort": np.zeros(3)}
    actions = np.full((3, 2), 0.5, dtype=np.float32)
    for t in range(5):
        obs, reward, dones, infos = plain.step(actions)
        step = view.step_arrays(actions)
        returns += reward
        for name in terms:
            terms[name] += [info["terms"][name] for info in infos]
        np.testing.assert_array_equal(step.obs, obs)
        assert step.term_names == ("effort", "reach")
    assert list(step.done_idx) == [0, 1, 2] and step.truncated.all() and not step.terminated.any()
    np.testing.assert_allclose(step.episode_return, returns, rtol=1e-6)
    assert list(step.episode_length) == [5, 5, 5]
    for name, total in terms.items():
        np.testing.assert_allclose(step.episode_terms[name], total)
    np.testing.assert_array_equal(step.terminal_obs, [info["terminal_observation"] for info in infos])


def test_a_stop_ends_at_an_update_and_the_checkpoint_holds_it(tmp_path):
    """Stopping mid-rollout drops that rollout: the step saved is where the last update left the trainer."""
    config = long_ppo_config()
    session = TrainingSession(config, make_toy_env, tmp_path / "run")
    session.start()
    assert isinstance(session.model, PPO)
    assert wait_for(lambda: session.latest() is not None and session.latest().step > 3000)
    session.stop()
    assert session.state == "stopped", session.error
    rollout = config.algo.n_envs * config.algo.n_steps
    step = session.latest().step
    assert step % rollout == 0 and step == session.model.iterations * rollout
    assert (tmp_path / "run" / "checkpoints" / f"step_{step:012d}.npz").is_file()
