"""ONNX export (agents/onnx_export.py) without Blender: onnxruntime runs the exported file and gives the
torch policy's deterministic action to 1e-5 on random observations; what cannot export is refused in one
line; without onnx the message says what to install. The command line: tests/blender/test_export.py.

onnx and onnxruntime are optional (requirements-export.txt): these tests skip without them, except the
one that checks the message a user without them gets.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_agents import make_toy_env, toy_config

from rig_dojo.agents import onnx_export, policy_file
from rig_dojo.agents.algorithms import build_model
from rig_dojo.errors import RigDojoError

try:
    import onnx  # noqa: F401
    import onnxruntime as ort
except ImportError:  # the optional extra is not installed: only the message about it is tested
    ort = None
needs_onnx = pytest.mark.skipif(ort is None, reason="onnx/onnxruntime not installed (requirements-export.txt)")


def _policy(tmp_path, algo, steps=0, discrete=False, activation=None, **overrides):
    config = toy_config(algo, n_envs=8 if algo != "ppo" else 64, n_steps=8, batch_size=64, net_arch=[16, 16],
                        **overrides)
    config.rig.discrete = discrete
    if activation:
        key = "activation_fn"
        config.algo.extra = ({**config.algo.extra, key: activation} if algo == "ppo" else
                             {**config.algo.extra, "policy_kwargs": {key: activation}})
    env = make_toy_env(config, config.algo.n_envs, 0)
    model = build_model(config, env)
    if steps:
        model.learn(steps)
    path = tmp_path / f"{algo}.rdpolicy"
    policy_file.save_policy(model, path, algo=algo, config=config, env=env)
    return policy_file.load_policy(path)


def _torch_actions(policy, obs):
    return np.asarray(policy.network.predict(obs, deterministic=True)[0])


def _onnx_actions(path, obs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"observation": obs})[0]


def _observations(n=512, dims=4, seed=0):
    # wide enough to pass the normaliser's clip and the action bounds
    return (np.random.default_rng(seed).normal(size=(n, dims)) * 4.0).astype(np.float32)


@needs_onnx
@pytest.mark.parametrize("activation", [None, "ReLU", "ELU", "LeakyReLU", "GELU", "SiLU"])
def test_our_ppo_exports_with_its_normaliser_and_matches_torch(tmp_path, activation):
    policy = _policy(tmp_path, "ppo", steps=64 * 8 * 2, activation=activation)
    norm = policy.network.obs_norm
    assert float(norm.count) > 0 and not torch.allclose(norm.mean, torch.zeros_like(norm.mean))
    with torch.no_grad():  # a short training leaves small actions: widen them so the Box's clamp is exercised
        policy.network.actor[-1].weight.mul_(100.0)
    onnx_path, json_path = onnx_export.export_onnx(policy, tmp_path / "out.onnx")
    obs = _observations()
    expected = _torch_actions(policy, obs)
    got = _onnx_actions(onnx_path, obs)
    assert got.shape == expected.shape == (512, 2) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    assert (np.abs(expected) == 1.0).any()  # some actions were clamped to the Box: the clamp is exported too
    # the normaliser is in the file: the same graph without it would give other actions
    raw = policy.network.actor(torch.as_tensor(obs)).detach().clamp(-1, 1).numpy()
    assert np.abs(raw - got).max() > 1e-3
    info = json.loads(json_path.read_text())
    assert info["format"] == "rig_dojo.onnx_policy" and info["onnx"] == "out.onnx"
    assert info["input"]["shape"] == ["batch", 4] and info["output"]["shape"] == ["batch", 2]
    assert info["algo"] == "ppo" and info["task"] == "reach" and info["family"] == "kinematic"
    assert "inside the model" in info["observation_normalisation"]
    assert [j["name"] for j in info["joints"]] == ["joint0", "joint1"]


@needs_onnx
def test_an_untrained_ppo_exports_without_normalisation(tmp_path):
    policy = _policy(tmp_path, "ppo")
    onnx_path, json_path = onnx_export.export_onnx(policy, tmp_path / "fresh.onnx")
    obs = _observations()
    np.testing.assert_allclose(_onnx_actions(onnx_path, obs), _torch_actions(policy, obs), atol=1e-5, rtol=0)
    assert json.loads(json_path.read_text())["observation_normalisation"].startswith("none")


@needs_onnx
def test_discrete_actions_export_as_one_category_per_joint(tmp_path):
    policy = _policy(tmp_path, "ppo", steps=64 * 8, discrete=True)
    onnx_path, json_path = onnx_export.export_onnx(policy, tmp_path / "discrete.onnx")
    obs = _observations()
    got = _onnx_actions(onnx_path, obs)
    assert got.dtype == np.int64 and got.shape == (512, 2)
    np.testing.assert_array_equal(got, _torch_actions(policy, obs))
    assert json.loads(json_path.read_text())["output"]["dtype"] == "int64"


@needs_onnx
@pytest.mark.parametrize("algo", ["sb3_ppo", "a2c", "sac", "td3"])
def test_stable_baselines3_policies_export_and_match_torch(tmp_path, algo):
    policy = _policy(tmp_path, algo)
    with torch.no_grad():  # random init has small outputs: widen the last layer so clamping is exercised
        for p in policy.network.parameters():
            p.mul_(3.0)
    onnx_path, _ = onnx_export.export_onnx(policy, tmp_path / f"{algo}.onnx")
    obs = _observations()
    np.testing.assert_allclose(_onnx_actions(onnx_path, obs), _torch_actions(policy, obs), atol=1e-5, rtol=0)


@needs_onnx
@pytest.mark.parametrize("algo", ["dqn", "qlearning"])
def test_policies_without_a_network_to_export_are_refused_naming_what_exports(tmp_path, algo):
    policy = _policy(tmp_path, algo, discrete=True)
    with pytest.raises(RigDojoError, match=rf"trained with {algo} cannot be exported to ONNX; exportable: ppo"):
        onnx_export.export_onnx(policy, tmp_path / "no.onnx")
    assert not (tmp_path / "no.onnx").exists() and not (tmp_path / "no.json").exists()


def test_without_onnx_the_export_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv(onnx_export.NO_ONNX_ENV, "1")
    with pytest.raises(RigDojoError) as err:
        onnx_export.require_onnx()
    assert "pip install -r requirements-export.txt" in str(err.value) and "\n" not in str(err.value)


def test_a_missing_onnx_module_gives_the_same_line():
    """The real import failure path: ``onnx`` made unimportable in a fresh interpreter."""
    code = ("import sys; sys.modules['onnx'] = None\n"
            "from rig_dojo.agents.onnx_export import require_onnx\n"
            "from rig_dojo.errors import RigDojoError\n"
            "try:\n    require_onnx()\nexcept RigDojoError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "install it with: pip install -r requirements-export.txt" in out.stdout


@needs_onnx
def test_the_sidecar_is_strict_json_even_for_unbounded_joints(tmp_path):
    """A joint without bounds (+-inf) is null in the sidecar: engines' JSON parsers reject Infinity."""
    policy = _policy(tmp_path, "ppo")
    layout = {"joints": [{"name": "joint0", "low": float("-inf"), "high": float("inf")}]}
    _, json_path = onnx_export.export_onnx(policy, tmp_path / "strict.onnx", layout)
    text = json_path.read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text)["joints"] == [{"name": "joint0", "low": None, "high": None}]
