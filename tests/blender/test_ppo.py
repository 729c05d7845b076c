"""Our PPO (agents/ppo.py) on real twins: the arrays fast path, learning, resume, a run from before our PPO.

The rigs are built with bpy (the demo scene's 3-bone arm); the policy files, checkpoints and the run from
before our own PPO (``data/legacy_ppo_run``, written by the code of commit c4dfd8e, when ``ppo`` was
Stable-Baselines3's) are read with today's code. What needs no Blender (checkpoints restoring the trainer
exactly, settings, threads, pickles refused) is in ``tests/core/test_ppo.py`` and ``test_reliability.py``.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import bpy
import numpy as np
import pytest

from rig_dojo.agents import policy_file
from rig_dojo.agents.algorithms import build_model
from rig_dojo.agents.config import TrainConfig, defaults_for
from rig_dojo.agents.evaluate import evaluate
from rig_dojo.agents.ppo import PPO
from rig_dojo.agents.session import TrainingSession
from rig_dojo.envs.families import env_factory
from rig_dojo.errors import RigDojoError
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.families import bake_task_policy, spec_from_config

DATA = Path(__file__).resolve().parent / "data"


def arm_config(algo: str = "ppo", **algo_overrides) -> TrainConfig:
    config = TrainConfig()
    config.task = "reach"
    config.algo = defaults_for(algo)
    for key, value in algo_overrides.items():
        setattr(config.algo, key, value)
    config.rig.rig, config.rig.controls, config.rig.effector = "Arm", ["upper_arm", "forearm", "hand"], "hand"
    config.rig.region = "Region"
    return config


@pytest.fixture(scope="module")
def arm_spec(dojo_registered):
    """The demo scene's 3-bone arm with its target region, read once into a spec."""
    scenes.build_demo_scene()
    return spec_from_config(arm_config())


@pytest.fixture
def make_env(arm_spec):
    return env_factory(arm_spec, arm_config())


def _small(config: TrainConfig) -> TrainConfig:
    config.algo.n_envs, config.algo.n_steps, config.algo.batch_size = 64, 8, 256
    return config


def _wait(predicate, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


# ---- the arrays fast path --------------------------------------------------------------------
def test_step_arrays_reports_what_step_wait_reports_without_info_dicts(make_env):
    config = arm_config()
    config.rig.episode_length = 7
    slow, fast = make_env(config, 6, 3), make_env(config, 6, 3)
    np.testing.assert_array_equal(slow.reset(), fast.reset())
    rng = np.random.default_rng(0)
    sums = {name: np.zeros(6) for name in fast.last_terms()} if fast.last_terms() else {}
    episodes = 0
    for _ in range(20):  # two whole episodes each (steps 7 and 14)
        actions = rng.uniform(-1, 1, (6, fast.action_space.shape[0])).astype(np.float32)
        obs, reward, dones, infos = slow.step(actions)
        step = fast.step_arrays(actions)
        for name, value in fast.last_terms().items():
            sums.setdefault(name, np.zeros(6))
            sums[name] += value
        np.testing.assert_array_equal(step.obs, obs)
        np.testing.assert_array_equal(step.reward, reward)
        np.testing.assert_array_equal(step.dones, dones)
        for key in ("success", "error", "limit_violation"):
            np.testing.assert_array_equal(step.info[key], [info[key] for info in infos])
        assert list(step.done_idx) == list(np.flatnonzero(dones))
        for k, i in enumerate(step.done_idx):
            np.testing.assert_array_equal(step.terminal_obs[k], infos[i]["terminal_observation"])
            assert step.truncated[i] == infos[i]["TimeLimit.truncated"]
            assert step.episode_return[k] == pytest.approx(infos[i]["episode"]["r"])
            assert step.episode_length[k] == infos[i]["episode"]["l"] == 7
            for name, total in sums.items():  # per-term sums over the whole episode, not the last step
                assert step.episode_terms[name][k] == pytest.approx(total[i])
                total[i] = 0.0
            episodes += 1
    assert episodes == 12 and set(sums)


def test_staggered_episodes_end_out_of_step_and_resets_keep_the_other_poses(make_env):
    """Staggered time limits spread the episode ends; a reset recomputes only the reset environments' poses
    (``KinematicTask._forward(idx)``), which must equal a full recomputation."""
    config = arm_config()
    env = make_env(config, 64, 0)
    env.reset()
    env.stagger_episodes()
    rng = np.random.default_rng(1)
    ends = []
    for _ in range(config.rig.episode_length):
        step = env.step_arrays(rng.uniform(-1, 1, (64, env.action_space.shape[0])).astype(np.float32))
        ends.append(step.done_idx.size)
        partial = env._tracked_world.copy()
        env._forward()
        np.testing.assert_allclose(partial, env._tracked_world, rtol=0, atol=1e-12)
    assert sum(ends) == 64 and max(ends) < 16  # every environment ended once, not all at the same step


def test_sb3_snapshots_sum_each_term_over_the_episode(make_env, tmp_path):
    """Stable-Baselines3's path (one info dict per environment) reports per-term sums over whole episodes too,
    as our PPO's arrays do, so a snapshot's term means add up to its mean return."""
    config = arm_config("sb3_ppo", total_steps=4096)
    config.rig.episode_length = 16
    session = TrainingSession(config, make_env, tmp_path / "run")
    session.start()
    assert session.wait(120) == "finished", session.error
    snap = session.latest()
    assert snap.term_means and sum(snap.term_means.values()) == pytest.approx(snap.mean_return, rel=1e-4)


# ---- learning --------------------------------------------------------------------------------
@pytest.mark.slow
def test_ppo_with_its_defaults_learns_the_real_reach_to_high_success(make_env):
    """The demo arm's reach (success within 2% of the chain length) with the default settings."""
    config = arm_config(total_steps=1_600_000)
    env = make_env(config, config.algo.n_envs, config.algo.seed)
    model = build_model(config, env)
    assert isinstance(model, PPO)
    before = evaluate(model, make_env, config, episodes=64)
    model.learn(config.algo.total_steps)
    after = evaluate(model, make_env, config, episodes=64)
    assert before.success_rate < 0.1
    assert after.success_rate >= 0.9, after
    assert after.final_error < 0.5 * before.final_error


@pytest.mark.slow
def test_discrete_actions_learn_too(make_env):
    config = arm_config(total_steps=400_000)
    config.rig.discrete = True
    env = make_env(config, config.algo.n_envs, 0)
    model = build_model(config, env)
    before = evaluate(model, make_env, config, episodes=32)
    model.learn(config.algo.total_steps)
    after = evaluate(model, make_env, config, episodes=32)
    assert after.final_error < 0.6 * before.final_error and after.mean_return > before.mean_return


@pytest.mark.slow
def test_a_stopped_session_resumes_from_its_checkpoint_and_learns_the_reach(make_env, tmp_path):
    config = arm_config(total_steps=1_600_000)
    config.output.checkpoint_every = 200_000
    session = TrainingSession(config, make_env, tmp_path / "run")
    session.start()
    try:
        assert _wait(lambda: (tmp_path / "run" / "checkpoint.json").exists(), 300)
    finally:
        session.stop()
    assert session.state == "stopped", session.error
    meta = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert meta["checkpoint"].endswith(".npz") and meta["step"] == session.latest().step < 1_600_000
    assert session.latest().step % (config.algo.n_envs * config.algo.n_steps) == 0  # at an update, not mid-rollout

    again = TrainingSession.continue_run(tmp_path / "run", make_env)
    again.start()
    assert again.wait(600) == "finished", again.error
    assert again.resumed_from_step == meta["step"] and again.latest().step >= 1_600_000
    policy = policy_file.load_policy(tmp_path / "run" / "final.rdpolicy")
    assert policy.algo == policy.trainer == "ppo" and {"obs_norm.mean", "obs_norm.var"} <= set(policy.arrays)
    result = evaluate(policy, make_env, config, episodes=64)
    assert result.success_rate >= 0.9, result


# ---- a run from before our own PPO -------------------------------------------------------------
def test_a_run_from_before_our_ppo_loads_bakes_fine_tunes_and_resumes(make_env, tmp_path):
    scenes.build_demo_scene()
    run = tmp_path / "legacy"
    shutil.copytree(DATA / "legacy_ppo_run", run)
    policy = policy_file.load_policy(run / "final.rdpolicy")
    assert policy.algo == "ppo" and policy.trainer == "sb3_ppo"  # recognised by its network (SB3's layout)
    assert "mlp_extractor.policy_net.0.weight" in policy.arrays
    config = policy.config
    result = evaluate(policy, make_env, config, episodes=8)
    assert result.episodes == 8 and np.isfinite(result.final_error)

    report = bake_task_policy(run / "final.rdpolicy", frames=(1, 20), action_name="Legacy")
    assert report.keys_written > 0 and report.rotation_error_degrees < 0.01
    assert "Legacy" in bpy.data.actions

    # fine-tuning: our PPO cannot take SB3's network and says which algorithm can
    ours = _small(arm_config(total_steps=512))
    with pytest.raises(RigDojoError, match='algo.name = "sb3_ppo"'):
        TrainingSession(ours, make_env, tmp_path / "ours", init_from=run / "final.rdpolicy").start()
    theirs = TrainConfig.from_toml(config.to_toml())
    theirs.algo.name, theirs.algo.total_steps = "sb3_ppo", 768
    tuned = TrainingSession(theirs, make_env, tmp_path / "theirs", init_from=run / "final.rdpolicy")
    tuned.start()
    assert tuned.wait(120) == "finished", tuned.error

    # resume: the old checkpoint is SB3's zip, so the run continues as sb3_ppo
    text = (run / "config.toml").read_text().replace("total_steps = 512", "total_steps = 1024")
    (run / "config.toml").write_text(text)
    resumed = TrainingSession.continue_run(run, make_env)
    resumed.start()
    assert resumed.wait(120) == "finished", resumed.error
    assert resumed.resumed_from_step == 512 and resumed.latest().step >= 1024
    assert TrainConfig.load(run / "config.toml").algo.name == "sb3_ppo"
    assert policy_file.load_policy(run / "final.rdpolicy").trainer == "sb3_ppo"


# ---- the command line --------------------------------------------------------------------------
def test_the_command_line_picks_the_algorithm_and_the_budget_as_the_sidebar_does(tmp_path):
    """A task's tuning of another algorithm than the default (sb3_ppo's for locomotion) stays with the task; another
    task then starts from its family's default (our PPO), as the sidebar's task switch does. ``--minutes`` alone
    trains the whole time budget, and the progress line shows that budget's clock."""
    from types import SimpleNamespace

    from rig_dojo import cli
    from rig_dojo.headless import progress_line

    config = TrainConfig(task="locomotion")
    config.algo = defaults_for("sb3_ppo", "locomotion")
    assert config.algo != defaults_for("sb3_ppo") and defaults_for("ppo", "locomotion").name == "ppo"
    (tmp_path / "walk.toml").write_text(config.to_toml())

    def resolve(*flags):
        args = cli.build_parser().parse_args(["train", "scene.blend", "--config", str(tmp_path / "walk.toml"), *flags])
        return cli._config_from_args(args)

    assert resolve().algo == defaults_for("sb3_ppo", "locomotion")
    assert resolve("--task", "stand").algo == defaults_for("ppo", "stand")
    assert resolve("--task", "reach").algo == defaults_for("ppo", "reach")
    assert resolve("--task", "reach", "--algo", "sb3_ppo").algo == defaults_for("sb3_ppo")
    timed = resolve("--task", "reach", "--minutes", "2")
    assert (timed.algo.minutes, timed.algo.total_steps) == (2.0, 0)
    assert resolve("--task", "reach", "--minutes", "2", "--steps", "5000").algo.total_steps == 5000
    snap = SimpleNamespace(step=1_000_000, steps_per_second=20_000.0, eta_seconds=70.0, mean_return=1.5,
                           success_rate=0.5, wall_time=50.0)
    assert progress_line(snap, 0, False).startswith("step 1,000,000, 50/120 s")
    assert progress_line(snap, 0, True).startswith("[##########--------------]  42%")
    nan = float("nan")  # the first half second of a run has no rate yet: said as "--", never "nan"
    first = SimpleNamespace(step=256, steps_per_second=nan, eta_seconds=nan, mean_return=nan, success_rate=nan,
                            wall_time=0.03)
    line = progress_line(first, 3_000_000, False)
    assert line.startswith("step 256/3,000,000") and "-- steps/s  ETA --:--" in line and "nan" not in line
