"""agents/: TrainConfig, algorithms, the training session, run folders, policy files, evaluation.

Everything here runs without Blender. The task is a TEST FIXTURE (``ToyReach`` below):
a planar 2-link arm reaching random targets, written to the task contract the real
twins implement, so the agents are tested against that contract and nothing else.
"""

from __future__ import annotations

import json
import math
import os
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

TESTS_DIR = Path(__file__).resolve().parent


# ------------------------------------------------------------------------------------------
# Test fixture: a toy task following the task contract (replaced by the real twins later).
# ------------------------------------------------------------------------------------------
class ToyReach(VecEnv):
    """Planar arm with links summing to 1 (chain-length units) reaching random targets.

    Observation: joint angles / limit (J) and target - effector (2). Actions: Box(-1, 1)^J
    scaled to +-0.15 rad per step, or MultiDiscrete([3]*J) (-0.15 / 0 / +0.15 rad).
    ``fail_at_step`` makes step() raise, to test how the session reports errors; ``step_delay``
    slows it down (seconds per step) so a run can be killed mid-way.
    """

    LIMIT = 2.5
    DELTA = 0.15

    def __init__(self, config, n_envs, seed, joints=2, fail_at_step=None, step_delay=0.0):
        self.J = joints
        self.step_delay = step_delay
        self.links = np.full(joints, 1.0 / joints)
        self.length = config.rig.episode_length
        self.discrete = config.rig.discrete
        self.stages = [(s.region_scale, s.tolerance) for s in config.curriculum.stages] if config.curriculum.enabled else []
        self.threshold = config.curriculum.threshold
        self.curriculum_stage = 0
        self.weights = {t.name: (t.weight if t.enabled else 0.0) for t in config.rewards} or {"reach": 1.0, "effort": 0.01}
        self.control_names = [f"joint{i}" for i in range(joints)] if not config.rig.controls else list(config.rig.controls)
        self.tolerance, self.region = config.rig.tolerance, 1.0
        self._apply_stage()
        self.fail_at_step = fail_at_step
        self.steps_taken = 0
        self.rng = np.random.default_rng(seed)
        obs_space = spaces.Box(-3.0, 3.0, shape=(joints + 2,), dtype=np.float32)
        act_space = spaces.MultiDiscrete([3] * joints) if self.discrete else spaces.Box(-1.0, 1.0, (joints,), np.float32)
        self.render_mode = None
        super().__init__(n_envs, obs_space, act_space)
        self.q = np.zeros((n_envs, joints))
        self.target = np.zeros((n_envs, 2))
        self.t = np.zeros(n_envs, dtype=np.int64)
        self._term_sums, self._term_count = {}, 0

    def _apply_stage(self):
        if self.stages:
            self.region, self.tolerance = self.stages[self.curriculum_stage]

    def effector(self, q):
        angles = np.cumsum(q, axis=1)
        return np.stack([(self.links * np.cos(angles)).sum(1), (self.links * np.sin(angles)).sum(1)], axis=1)

    def _reset_envs(self, idx):
        self.q[idx] = 0.0
        goal = self.rng.uniform(-1.5, 1.5, (len(idx), self.J)) * self.region
        self.target[idx] = self.effector(goal)
        self.t[idx] = 0

    def _obs(self):
        return np.concatenate([self.q / self.LIMIT, self.target - self.effector(self.q)], axis=1).astype(np.float32)

    def reset(self):
        self._reset_envs(np.arange(self.num_envs))
        return self._obs()

    def step_async(self, actions):
        self._actions = np.asarray(actions)

    def step_wait(self):
        self.steps_taken += 1
        if self.step_delay:
            time.sleep(self.step_delay)
        if self.fail_at_step is not None and self.steps_taken >= self.fail_at_step:
            raise FloatingPointError("toy twin diverged at step %d" % self.steps_taken)
        a = self._actions.reshape(self.num_envs, self.J).astype(np.float64)
        delta = (a - 1.0) * self.DELTA if self.discrete else np.clip(a, -1, 1) * self.DELTA
        wanted = self.q + delta
        self.q = np.clip(wanted, -self.LIMIT, self.LIMIT)
        violation = np.abs(wanted - self.q).sum(1)
        self.t += 1
        err = np.linalg.norm(self.target - self.effector(self.q), axis=1)
        terms = {"reach": -self.weights.get("reach", 0.0) * err,
                 "effort": -self.weights.get("effort", 0.0) * (delta ** 2).sum(1) / self.DELTA ** 2}
        reward = sum(terms.values()).astype(np.float32)
        for k, v in terms.items():
            self._term_sums[k] = self._term_sums.get(k, 0.0) + float(v.sum())
        self._term_count += self.num_envs
        done = self.t >= self.length
        obs = self._obs()
        infos = [{"success": bool(err[i] < self.tolerance), "error": float(err[i]), "limit_violation": float(violation[i]),
                  "terms": {k: float(v[i]) for k, v in terms.items()}} for i in range(self.num_envs)]
        ended = np.flatnonzero(done)
        if ended.size:
            for i in ended:
                infos[i]["terminal_observation"] = obs[i].copy()
                infos[i]["TimeLimit.truncated"] = True
            self._reset_envs(ended)
            obs = self._obs()
        return obs, reward, done, infos

    # the contract's extras
    def control_angles(self):
        out = np.zeros((self.num_envs, self.J, 3))
        out[:, :, 2] = self.q  # planar arm: bends about Z
        return out

    def term_means(self):
        means = {k: v / max(self._term_count, 1) for k, v in self._term_sums.items()}
        self._term_sums, self._term_count = {}, 0
        return means

    def advance_curriculum(self, success_rate):
        if self.stages and success_rate >= self.threshold and self.curriculum_stage < len(self.stages) - 1:
            self.curriculum_stage += 1
            self._apply_stage()
            return True
        return False

    def signature(self):
        return {"rig": "toy_arm", "controls": list(self.control_names), "observation_shape": list(self.observation_space.shape),
                "action_space": "MultiDiscrete" if self.discrete else "Box"}

    # VecEnv plumbing
    def close(self):
        pass

    def get_attr(self, attr_name, indices=None):
        return [getattr(self, attr_name)] * self.num_envs

    def set_attr(self, attr_name, value, indices=None):
        setattr(self, attr_name, value)

    def env_method(self, method_name, *args, indices=None, **kwargs):
        return [getattr(self, method_name)(*args, **kwargs)] * self.num_envs

    def env_is_wrapped(self, wrapper_class, indices=None):
        return [False] * self.num_envs


def make_toy_env(config, n_envs, seed, **kwargs):
    return ToyReach(config, n_envs, seed, **kwargs)


# ------------------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------------------
import dataclasses  # noqa: E402

import torch  # noqa: E402

from rig_dojo.agents import policy_file  # noqa: E402
from rig_dojo.agents.algorithms import LearningRateSchedule, build_model  # noqa: E402
from rig_dojo.agents.config import (ALGORITHMS, CurriculumStage, RewardTermConfig, TrainConfig,  # noqa: E402
                                    defaults_for)
from rig_dojo.agents.evaluate import evaluate  # noqa: E402
from rig_dojo.agents.session import TrainingSession  # noqa: E402
from rig_dojo.errors import RigDojoError  # noqa: E402

torch.set_num_threads(1)
DISCRETE = {"dqn", "qlearning"}


def toy_config(algo="ppo", **algo_overrides):
    config = TrainConfig()
    config.rig.episode_length = 24
    config.rig.tolerance = 0.1
    config.rig.discrete = algo in DISCRETE
    config.algo = defaults_for(algo)
    for key, value in algo_overrides.items():
        setattr(config.algo, key, value)
    return config


class RandomPolicy:
    def __init__(self, space, seed=0):
        self.space = space
        self.space.seed(seed)

    def predict(self, obs, deterministic=True):
        return np.stack([self.space.sample() for _ in range(len(obs))]), None


def wait_for(predicate, timeout=30.0, every=0.01):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return False


# ------------------------------------------------------------------------------------------
# TrainConfig
# ------------------------------------------------------------------------------------------
def full_config():
    config = toy_config("sac", learning_rate=0.00123, lr_schedule="cosine", minutes=2.5, net_arch=[32, 16])
    config.rig.rig = 'Arm "Rig" ü'
    config.rig.controls = ["upper_arm.L", "forearm.L"]
    config.rig.tracked = ["hand.L"]
    config.rewards = [RewardTermConfig("reach", 1.0, True, {"sigma": 0.1, "shape": "gauss"}),
                      RewardTermConfig("smooth", 0.05, False, {})]
    config.algo.extra = {"tau": 0.02, "policy_kwargs": {"log_std_init": -1.0, "activation_fn": "Tanh"}}
    config.curriculum.enabled = True
    config.curriculum.stages = [CurriculumStage(0.25, 0.1), CurriculumStage(1.0, 0.02)]
    config.output.run_dir = "C:\\runs\\shot 010"
    return config


def test_config_round_trips_through_toml(tmp_path):
    config = full_config()
    text = config.to_toml()
    assert "[[rewards]]" in text and "[[curriculum.stages]]" in text and "[algo.extra.policy_kwargs]" in text
    assert TrainConfig.from_toml(text) == config
    config.save(tmp_path / "config.toml")
    assert TrainConfig.load(tmp_path / "config.toml") == config
    # an empty file: TrainConfig's defaults, with the algorithm's tuned settings for the task (see below)
    assert TrainConfig.from_toml("") == dataclasses.replace(TrainConfig(), algo=defaults_for("ppo", "reach"))


def test_unknown_key_is_an_error_naming_key_and_allowed_keys():
    with pytest.raises(RigDojoError) as err:
        TrainConfig.from_toml("[algo]\nlerning_rate = 0.1\n")
    assert "algo.lerning_rate" in str(err.value) and "learning_rate" in str(err.value) and "gamma" in str(err.value)
    with pytest.raises(RigDojoError, match=r"rewards\[1\]\.wieght"):
        TrainConfig.from_toml('[[rewards]]\nname = "a"\n[[rewards]]\nname = "b"\nwieght = 2.0\n')
    with pytest.raises(RigDojoError, match="'colour'.*allowed keys: task, rig, rewards"):
        TrainConfig.from_toml('colour = "red"\n')


def test_wrong_type_names_key_expected_and_found_type():
    with pytest.raises(RigDojoError) as err:
        TrainConfig.from_toml('[algo]\ngamma = "0.99"\n')
    assert "algo.gamma" in str(err.value) and "expected float" in str(err.value) and "found string" in str(err.value)
    with pytest.raises(RigDojoError, match=r"algo\.n_envs: expected integer, found boolean"):
        TrainConfig.from_toml("[algo]\nn_envs = true\n")
    with pytest.raises(RigDojoError, match=r"algo\.net_arch\[1\]: expected integer, found float"):
        TrainConfig.from_toml("[algo]\nnet_arch = [64, 6.5]\n")
    assert TrainConfig.from_toml("[algo]\ngamma = 1\n").algo.gamma == 1.0  # an integer is a fine float


def test_values_that_make_no_sense_are_refused():
    with pytest.raises(RigDojoError, match="sac needs continuous actions"):
        TrainConfig.from_toml('[rig]\ndiscrete = true\n[algo]\nname = "sac"\n')
    with pytest.raises(RigDojoError, match="algo.lr_schedule"):
        TrainConfig.from_toml('[algo]\nlr_schedule = "step"\n')


@pytest.mark.parametrize("algo", ALGORITHMS)
def test_defaults_for_every_algorithm_are_a_valid_config(algo):
    config = toy_config(algo)
    config.validate()
    assert TrainConfig.from_toml(config.to_toml()) == config
    assert config.algo.name == algo


def test_learning_rate_schedules():
    assert LearningRateSchedule("constant", 0.1)(0.3) == pytest.approx(0.1)
    assert LearningRateSchedule("linear", 0.1)(0.3) == pytest.approx(0.03)
    cosine = LearningRateSchedule("cosine", 0.1)
    assert cosine(1.0) == pytest.approx(0.1) and cosine(0.5) == pytest.approx(0.05) and cosine(0.0) == pytest.approx(0.0)


# The algorithms learning on the toy task: tests/training/test_toy_learning.py (slow)


# ------------------------------------------------------------------------------------------
# Evaluation
# ------------------------------------------------------------------------------------------
class ConstantPolicy:
    def __init__(self, action):
        self.action = np.asarray(action)

    def predict(self, obs, deterministic=True):
        return np.repeat(self.action[None], len(obs), axis=0), None


def test_evaluation_measures_jerk_and_limit_violations():
    config = toy_config("ppo")
    config.rig.episode_length = 10  # 10 steps of +0.15 rad: a straight ramp within the 2.5 rad limit
    smooth = evaluate(ConstantPolicy([1.0, 1.0]), make_toy_env, config, episodes=4)
    assert smooth.mean_jerk == pytest.approx(0.0, abs=1e-12) and smooth.limit_violation_total == 0.0
    config.rig.episode_length = 24  # now the ramp hits the limit: a kink, and violations
    pushing = evaluate(ConstantPolicy([1.0, 1.0]), make_toy_env, config, episodes=4)
    assert pushing.mean_jerk > 0.0 and pushing.limit_violation_total > 0.0
    assert set(pushing.to_dict()) >= {"success_rate", "final_error", "mean_jerk", "limit_violation_mean"}


# ------------------------------------------------------------------------------------------
# TrainingSession
# ------------------------------------------------------------------------------------------
def long_ppo_config(algo="ppo", **overrides):
    """A run that goes on until stopped: our PPO (or ``algo``, e.g. ``sb3_ppo``) sized for the toy."""
    config = toy_config(algo, total_steps=10**7, n_envs=8, n_steps=64, batch_size=256, n_epochs=2, net_arch=[16])
    config.output.checkpoint_every = 10**9
    for key, value in overrides.items():
        setattr(config.algo, key, value)
    return config


def test_session_pauses_resumes_stops_and_continues_from_its_checkpoint(tmp_path):
    session = TrainingSession(long_ppo_config(), make_toy_env, tmp_path / "run")
    session.start()
    try:
        assert wait_for(lambda: session.latest() is not None and session.latest().step > 2000)
        session.pause()
        assert session.state == "paused"
        time.sleep(0.2)  # the step in flight finishes, then the callback blocks
        paused_at = session.model.num_timesteps
        time.sleep(0.4)
        assert session.model.num_timesteps == paused_at
        session.resume()
        assert session.state == "running"
        assert wait_for(lambda: session.model.num_timesteps > paused_at + 1000)
    finally:
        session.stop()
    assert session.state == "stopped" and session.error is None
    stopped_at = session.latest().step
    assert session.latest().state == "stopped"
    assert (tmp_path / "run" / "final.rdpolicy").exists()
    assert json_load(tmp_path / "run" / "checkpoint.json")["step"] == stopped_at
    curve = session.history

    again = TrainingSession.continue_run(tmp_path / "run", make_toy_env)
    again.start()
    try:
        assert again.resumed_from_step == stopped_at
        # the curve continues (read back from metrics.csv), it does not restart
        assert [p.step for p in again.history[: len(curve)]] == [p.step for p in curve]
        assert wait_for(lambda: again.latest() is not None and again.latest().step > stopped_at + 1000)
        assert all(point.step >= stopped_at for point in again.history[len(curve):])
    finally:
        again.stop()
    assert again.state == "stopped" and again.latest().episodes > session.latest().episodes
    with pytest.raises(RigDojoError, match="already holds a run"):  # a new run never overwrites it
        TrainingSession(long_ppo_config(), make_toy_env, tmp_path / "run").start()


def json_load(path):
    import json

    return json.loads(Path(path).read_text())


# A killed run resumes from its last checkpoint: tests/training/test_toy_learning.py (slow)


def test_an_exception_in_the_task_becomes_state_error_with_traceback(tmp_path):
    broken = partial(make_toy_env, fail_at_step=40)
    session = TrainingSession(long_ppo_config(), broken, tmp_path / "run")
    session.start()
    assert session.wait(30) == "error"
    assert "FloatingPointError: toy twin diverged at step 40" in session.error
    assert "Traceback" in session.error and "step_wait" in session.error


def test_snapshots_are_immutable_and_throttled(tmp_path):
    session = TrainingSession(long_ppo_config(), make_toy_env, tmp_path / "run", snapshot_interval=0.25,
                              preview_interval=0.5)
    seen, previews = {}, {}
    session.start()
    began = time.monotonic()
    try:
        while time.monotonic() - began < 2.0:
            snap = session.latest()
            if snap is not None:
                seen[id(snap)] = snap
                if snap.preview is not None:
                    previews[snap.preview_step] = snap.preview
            time.sleep(0.005)
    finally:
        session.stop()
    elapsed = time.monotonic() - began
    assert 3 <= len(seen) <= elapsed / 0.25 + 2  # a few per second, not one per step
    assert 1 <= len(previews) <= elapsed / 0.5 + 2
    snap = next(iter(seen.values()))
    preview = next(iter(previews.values()))
    assert preview.shape == (24, 2, 3) and not preview.flags.writeable
    with pytest.raises(ValueError):
        preview[0, 0, 2] = 1.0
    with pytest.raises(AttributeError):
        snap.step = 0
    with pytest.raises(TypeError):
        snap.term_means["reach"] = 0.0
    assert set(session.latest().term_means) == {"reach", "effort"}
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("step,wall_time,mean_return,success_rate,steps_per_second") and "term_reach" in rows[0]


def test_steps_per_second_and_eta_wait_for_half_a_second_of_the_run(tmp_path):
    # the first step carries the start's one-off costs: a rate over it misled (the demo's first line said
    # 7,932 steps/s, "ETA 6:18", for a 32 s run), so a snapshot says NaN ("--") until RATE_SECONDS have run
    from rig_dojo.agents.session import RATE_SECONDS

    session = TrainingSession(long_ppo_config(total_steps=10**8), make_toy_env, tmp_path / "run")
    seen = {}
    session.start()
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end and (not seen or max(seen) < RATE_SECONDS + 1.0):
            snap = session.latest()
            if snap is not None:
                seen[snap.wall_time] = snap
            time.sleep(0.001)
    finally:
        session.stop()
        session.wait(30)
    early = [s for t, s in seen.items() if t < RATE_SECONDS - 0.05]
    later = [s for t, s in seen.items() if t > RATE_SECONDS + 0.05]
    assert early and later, sorted(seen)
    assert all(math.isnan(s.steps_per_second) and math.isnan(s.eta_seconds) for s in early)
    assert all(s.steps_per_second > 0 and 0 < s.eta_seconds < float("inf") for s in later)


def test_time_budget_ends_the_run(tmp_path):
    session = TrainingSession(long_ppo_config(total_steps=0, minutes=0.01), make_toy_env, tmp_path / "run")
    began = time.monotonic()
    session.start()
    assert session.wait(30) == "finished", session.error
    assert 0.5 < time.monotonic() - began < 10
    assert 0.6 <= session.latest().wall_time < 5


def test_a_time_budget_shorter_than_one_rollout_abandons_the_rollout(tmp_path):
    # a big creature on a busy machine: one rollout (400 steps x 20 ms) takes 8 s; the budget is 0.6 s
    config = long_ppo_config(total_steps=0, minutes=0.01, n_steps=400)
    session = TrainingSession(config, lambda c, n, s, **k: ToyReach(c, n, s, step_delay=0.02, **k), tmp_path / "run")
    began = time.monotonic()
    session.start()
    assert session.wait(30) == "finished", session.error
    assert time.monotonic() - began < 5  # the budget and its grace (2 s), not the rollout's 8 s
    assert session.latest().wall_time < 4 and (tmp_path / "run" / "final.rdpolicy").exists()
    # metrics.csv ends at the policy's step: rows of the abandoned rollout were past it (the step column went back)
    steps = [int(row.split(",")[0]) for row in (tmp_path / "run" / "metrics.csv").read_text().splitlines()[1:]]
    assert steps and steps == sorted(steps) and steps[-1] == session.latest().step == 0, steps


def test_json_text_writes_strict_json_with_null_for_numbers_that_are_not_finite():
    from rig_dojo.agents.files import json_text

    text = json_text({"error": float("nan"), "travel": [1.5, float("inf")], "falls": 2, "up": np.float64("-inf")})
    assert json.loads(text) == {"error": None, "travel": [1.5, None], "falls": 2, "up": None}
    assert "NaN" not in text and "Infinity" not in text


def test_curriculum_advances_on_recent_success(tmp_path):
    config = long_ppo_config(total_steps=6_000)
    config.curriculum.enabled = True
    config.curriculum.threshold = 0.5
    # stage 0: targets next to the start pose, loose tolerance: nearly every episode succeeds
    config.curriculum.stages = [CurriculumStage(0.02, 0.5), CurriculumStage(1.0, 0.1)]
    session = TrainingSession(config, make_toy_env, tmp_path / "run", curriculum_window=20)
    session.start()
    assert session.wait(60) == "finished", session.error
    assert session.latest().curriculum_stage == 1
    assert session.preview_env.curriculum_stage == 1


# ------------------------------------------------------------------------------------------
# Policy files
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", ALGORITHMS)
def test_policy_file_rebuilds_the_same_policy(tmp_path, algo):
    config = toy_config(algo, n_envs=2, net_arch=[8, 8])
    if algo in ("sac", "td3", "dqn"):
        config.algo.extra["buffer_size"] = 1000
    env = make_toy_env(config, 2, seed=0)
    model = build_model(config, env)
    if algo == "qlearning":  # a table of zeros would agree with anything
        model.q_table[:] = np.random.default_rng(0).normal(size=model.q_table.shape)
    digest = policy_file.save_policy(model, tmp_path / "p.rdpolicy", algo=algo, config=config, env=env)
    loaded = policy_file.load_policy(tmp_path / "p.rdpolicy")
    assert loaded.sha256 == digest and loaded.algo == algo and loaded.config == config
    obs = np.random.default_rng(1).uniform(-1, 1, (32, 4)).astype(np.float32)
    from rig_dojo.agents.algorithms import task_actions

    expected = task_actions(model.predict(obs, deterministic=True)[0], env.action_space)
    np.testing.assert_allclose(loaded.predict(obs)[0], expected, rtol=1e-6)
    # evaluation runs from the file alone
    result = evaluate(loaded, make_toy_env, config, episodes=4)
    assert result.episodes == 4


def test_a_policy_for_another_big_rig_is_refused_in_a_line_that_says_what_differs():
    from rig_dojo.agents.policy_file import _controls_difference

    cat = [f"spine.{i:03d}" for i in range(40)] + ["tail", "tail.001"]
    horse = [f"spine.{i:03d}" for i in range(40)] + ["neck", "head", "ear.L"]
    text = _controls_difference(cat, horse)
    assert len(text) < 250, text  # it listed all 87 bones (5,000 characters on two Rigify metarigs)
    assert "policy controls 42 bones, task 43" in text and "the task lacks tail, tail.001" in text
    assert "the policy lacks neck, head, ear.L" in text and "config.toml" in text
    assert "same 42 bones in another order" in _controls_difference(cat, cat[::-1])


def test_fine_tuning_refuses_a_policy_that_does_not_fit_and_loads_one_that_does(tmp_path):
    config = toy_config("ppo", n_envs=2, net_arch=[8])
    env = make_toy_env(config, 2, seed=0)
    model = build_model(config, env)
    policy_file.save_policy(model, tmp_path / "two.rdpolicy", algo="ppo", config=config, env=env)

    three_joints = partial(make_toy_env, joints=3)
    session = TrainingSession(config, three_joints, tmp_path / "run", init_from=tmp_path / "two.rdpolicy")
    with pytest.raises(RigDojoError) as err:
        session.start()
    message = str(err.value)
    assert "policy expects 4 observations, task has 5" in message
    assert "policy controls joint0,joint1; task controls joint0,joint1,joint2" in message
    assert "policy acts with Box(2,), task takes Box(3,)" in message
    assert session.state == "error"

    config.algo.total_steps = 64
    # slow steps: the first update (after a rollout) comes well after the weights are compared; only the
    # trained parameters are compared (our PPO's observation normaliser adapts from the first step)
    def slow(config, n_envs, seed):  # the training's task, not the preview's
        return make_toy_env(config, n_envs, seed, step_delay=0.02 if n_envs > 1 else 0.0)

    tuned = TrainingSession(config, slow, tmp_path / "tuned", init_from=tmp_path / "two.rdpolicy")
    tuned.start()
    try:
        weights = {k: v.detach().clone() for k, v in model.policy.named_parameters()}
        assert all(torch.equal(weights[k], v) for k, v in tuned.model.policy.named_parameters())
    finally:
        assert tuned.wait(60) == "finished", tuned.error

    config.algo.net_arch = [16]
    with pytest.raises(RigDojoError, match="network differs"):
        TrainingSession(config, make_toy_env, tmp_path / "wide", init_from=tmp_path / "two.rdpolicy").start()


class Payload:
    """Unpickling this runs a shell command that creates the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch '{self.marker}'",))


def test_a_policy_file_with_a_pickle_payload_is_rejected_without_running_it(tmp_path):
    import hashlib
    import io
    import json
    import pickle
    import zipfile

    # the payload is real: unpickling it elsewhere does create its marker
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(Payload(probe)))
    assert probe.exists()

    marker = tmp_path / "pwned"
    config = toy_config("ppo", n_envs=2, net_arch=[8])
    env = make_toy_env(config, 2, seed=0)
    good = tmp_path / "good.rdpolicy"
    policy_file.save_policy(build_model(config, env), good, algo="ppo", config=config, env=env)
    with zipfile.ZipFile(good) as zf:
        metadata = json.loads(zf.read("metadata.json"))
    weights = io.BytesIO()
    np.savez(weights, **{"action_net.weight": np.array([Payload(marker)], dtype=object)})
    metadata["weights_sha256"] = hashlib.sha256(weights.getvalue()).hexdigest()  # a careful forger
    evil = tmp_path / "evil.rdpolicy"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("weights.npz", weights.getvalue())
    with pytest.raises(RigDojoError, match="refusing to load"):
        policy_file.load_policy(evil)

    # the other ways pickles travel: a raw pickle, SB3's own zip, torch.save
    raw = tmp_path / "raw.rdpolicy"
    raw.write_bytes(pickle.dumps(Payload(marker)))
    sb3_zip = tmp_path / "sb3.zip"
    sb3 = toy_config("sb3_ppo", n_envs=2, net_arch=[8])
    build_model(sb3, make_toy_env(sb3, 2, seed=0)).save(sb3_zip)
    torch_file = tmp_path / "torch.rdpolicy"
    torch.save({"payload": Payload(marker)}, torch_file)
    for path in (raw, sb3_zip, torch_file):
        with pytest.raises(RigDojoError, match="not a Rig Dojo policy file"):
            policy_file.load_policy(path)
    assert not marker.exists()


def test_settings_a_toml_leaves_out_are_the_tuned_defaults_not_the_bare_dataclass():
    """A hand-written TOML with no [algo] table trains like the sidebar's defaults; one that names some settings
    keeps them and takes the rest from its algorithm's tuning for its task."""
    from rig_dojo.agents.config import TrainConfig, defaults_for

    bare = TrainConfig.from_toml('task = "reach"\n[rig]\nrig = "Arm"\n')
    assert bare.algo == defaults_for("ppo", "reach")
    grasp = TrainConfig.from_toml('task = "grasp"\n')
    assert grasp.algo == defaults_for("ppo", "grasp") and grasp.algo.n_envs != defaults_for("ppo").n_envs
    camera = TrainConfig.from_toml('task = "camera"\n')
    assert camera.algo.name == "solve" and camera.algo == defaults_for("solve", "camera")
    partial = TrainConfig.from_toml('task = "reach"\n[algo]\nname = "sb3_ppo"\ntotal_steps = 1234\n')
    tuned = defaults_for("sb3_ppo", "reach")
    assert partial.algo.total_steps == 1234 and partial.algo.n_envs == tuned.n_envs
    assert partial.algo.learning_rate == tuned.learning_rate
    whole = TrainConfig.from_toml(partial.to_toml())  # a file we wrote is read back as it is
    assert whole == partial
