"""A policy as ONNX, for game engines (Godot, Unity Sentis, Unreal NNE): the deterministic action only.

``export_onnx(policy, path)`` writes ``path`` (``.onnx``) and a JSON sidecar beside it (the same name,
``.json``): the observation and action layout, the joints with their limits, how an action moves them, the
task and its family (:func:`sidecar`).

The graph is written node by node with ``onnx.helper`` from the policy's arrays (no tracing, no torch
exporter): observation -> the running mean/std normalisation and its clip (our PPO; part of the network, so
part of the file) -> the actor's layers -> the deterministic action as the task takes it (a Box action
clamped to its bounds, SAC/TD3's tanh scaled to the bounds, or one category per joint as int64). Opset 15,
which the engines named above read.

What exports: our PPO (``ppo``), Stable-Baselines3's PPO and A2C (``sb3_ppo``, ``a2c``), SAC and TD3. Others
(DQN, the tabular learner, the camera's searches) are refused in one line. ``onnx`` is an optional
dependency (``requirements-export.txt``): without it :func:`require_onnx` says what to install.
``RIG_DOJO_NO_ONNX=1`` makes the import fail on purpose (how the tests see that message with onnx present).
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RigDojoError
from .files import json_text, write_atomic

SIDECAR_FORMAT = "rig_dojo.onnx_policy"
SIDECAR_VERSION = 1
OPSET = 15
IR_VERSION = 8  # onnx 1.10+: what onnxruntime 1.10+, Unity Sentis and Unreal NNE read
EXPORTABLE = ("ppo", "sb3_ppo", "a2c", "sac", "td3")
INSTALL = "pip install -r requirements-export.txt (onnx, onnxruntime)"
NO_ONNX_ENV = "RIG_DOJO_NO_ONNX"


def require_onnx() -> Any:
    """The ``onnx`` module, or a RigDojoError saying what to install (one line, exit 2)."""
    try:
        if os.environ.get(NO_ONNX_ENV):
            raise ImportError(f"{NO_ONNX_ENV} is set")
        import onnx
        from onnx import helper  # noqa: F401
    except ImportError:
        raise RigDojoError(f"exporting ONNX needs the onnx package, which is not installed in this Python; "
                           f"install it with: {INSTALL}") from None
    return onnx


# ---- the graph ----------------------------------------------------------------------------
class _Graph:
    """Nodes and constants of one graph, named uniquely."""

    def __init__(self, onnx: Any):
        self.onnx, self.helper = onnx, onnx.helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem: str, array: np.ndarray) -> str:
        name = self.name(stem)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str | None = None, output: str | None = None,
           **attrs: Any) -> str:
        out = output or self.name(stem or op_type.lower())
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=self.name(op_type), **attrs))
        return out


def _f32(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def _layers(g: _Graph, x: str, modules: list[Any]) -> str:
    """The torch layers (Linear and activations, in order) as ONNX nodes on ``x``."""
    from torch import nn

    from .ppo import FastTanh

    for module in modules:
        if isinstance(module, nn.Sequential):
            x = _layers(g, x, list(module))
        elif isinstance(module, nn.Linear):
            weight = module.weight.detach().cpu().numpy().astype(np.float32)
            bias = (module.bias.detach().cpu().numpy() if module.bias is not None
                    else np.zeros(weight.shape[0])).astype(np.float32)
            x = g.op("Gemm", [x, g.const("weight", weight), g.const("bias", bias)], "linear", transB=1)
        elif isinstance(module, (nn.Tanh, FastTanh)):
            x = g.op("Tanh", [x])
        elif isinstance(module, nn.ReLU):
            x = g.op("Relu", [x])
        elif isinstance(module, nn.ELU):
            x = g.op("Elu", [x], alpha=float(module.alpha))
        elif isinstance(module, nn.LeakyReLU):
            x = g.op("LeakyRelu", [x], alpha=float(module.negative_slope))
        elif isinstance(module, nn.SiLU):
            x = g.op("Mul", [x, g.op("Sigmoid", [x])], "silu")
        elif isinstance(module, nn.GELU):  # the exact GELU, 0.5 x (1 + erf(x / sqrt 2)) (opset 15 has no Gelu)
            if module.approximate != "none":
                raise RigDojoError("a policy with the tanh-approximated GELU cannot be exported; use the exact GELU")
            erf = g.op("Erf", [g.op("Mul", [x, g.const("inv_sqrt2", _f32(1.0 / math.sqrt(2.0)))])])
            x = g.op("Mul", [g.op("Mul", [x, g.const("half", _f32(0.5))]),
                             g.op("Add", [erf, g.const("one", _f32(1.0))])], "gelu")
        elif isinstance(module, (nn.Identity, nn.Flatten)):
            continue
        else:
            raise RigDojoError(f"a policy layer of type {type(module).__name__} cannot be exported to ONNX")
    return x


def _clamp(g: _Graph, x: str, low: np.ndarray, high: np.ndarray) -> str:
    """Element-wise bounds (ONNX's Clip takes scalars only): max(min(x, high), low)."""
    return g.op("Max", [g.op("Min", [x, g.const("high", _f32(high))]), g.const("low", _f32(low))], "clamped")


def _categories(g: _Graph, logits: str, nvec: list[int], output: str) -> str:
    """One int64 category per joint: the argmax of each joint's logits."""
    picks = []
    start = 0
    for n in nvec:
        part = g.op("Slice", [logits, g.const("starts", np.array([start], np.int64)),
                              g.const("ends", np.array([start + n], np.int64)),
                              g.const("axes", np.array([1], np.int64))], "logits")
        picks.append(g.op("ArgMax", [part], "pick", axis=1, keepdims=1))
        start += n
    if len(picks) == 1:
        return g.op("Identity", picks, output=output)
    return g.op("Concat", picks, output=output, axis=1)


def _ours(g: _Graph, network: Any, x: str) -> tuple[str, Any]:
    """Our PPO (``agents.ppo.ActorCritic``): normaliser, actor, clamp or argmax."""
    norm = network.obs_norm
    if float(norm.count) > 0:  # the normaliser is identity until it has seen observations (as in torch)
        std = np.sqrt(norm.var.detach().cpu().numpy().astype(np.float32) + np.float32(1e-8))
        x = g.op("Div", [g.op("Sub", [x, g.const("obs_mean", _f32(norm.mean.detach().cpu().numpy()))]),
                         g.const("obs_std", std)], "normalised")
        x = g.op("Clip", [x, g.const("obs_clip_low", _f32(-norm.clip)), g.const("obs_clip_high", _f32(norm.clip))],
                 "observation_clipped")
    out = _layers(g, x, list(network.actor))
    layout = network.layout
    if layout.discrete:
        return _categories(g, out, list(layout.nvec), "action"), "categories"
    return g.op("Identity", [_clamp(g, out, np.array(layout.low), np.array(layout.high))], output="action"), "box"


def _chain(g: _Graph, network: Any, x: str) -> tuple[str, Any]:
    """The rig-agnostic chain network (``agents.chain_policy.ChainActorCritic``): the token MLP on every token,
    the masked mean as context, the head per token, padded tokens 0, clamped to [-1, 1]. A game engine feeds
    the tokens as the sidecar's layout describes them (``envs/kinematic/chains.py``)."""
    tokens, features, hidden = network.tokens, network.features, network.hidden
    ints = lambda stem, values: g.const(stem, np.array(values, np.int64))  # noqa: E731
    flat = g.op("Slice", [x, ints("starts", [0]), ints("ends", [tokens * features]), ints("axes", [1])], "tokens")
    mask = g.op("Slice", [x, ints("starts", [tokens * features]), ints("ends", [tokens * features + tokens]),
                          ints("axes", [1])], "mask")
    h = _layers(g, g.op("Reshape", [flat, ints("shape", [-1, features])], "token_rows"), list(network.actor.embed))
    h = g.op("Reshape", [h, ints("shape", [-1, tokens, hidden])], "embedded")
    m = g.op("Unsqueeze", [mask, ints("axes", [2])], "mask3")
    total = g.op("ReduceSum", [g.op("Mul", [h, m]), ints("axes", [1])], "pooled_sum", keepdims=1)
    count = g.op("Max", [g.op("ReduceSum", [m, ints("axes", [1])], "count", keepdims=1), g.const("one", _f32(1.0))])
    pooled = g.op("Expand", [g.op("Div", [total, count], "pooled"), g.op("Shape", [h])], "context")
    both = g.op("Reshape", [g.op("Concat", [h, pooled], "both", axis=2), ints("shape", [-1, 2 * hidden])], "rows")
    out = g.op("Reshape", [_layers(g, both, list(network.actor.head)), ints("shape", [-1, tokens])], "per_token")
    out = g.op("Mul", [out, mask], "masked")
    layout = network.layout
    return g.op("Identity", [_clamp(g, out, np.array(layout.low), np.array(layout.high))], output="action"), "box"


def _sb3_on_policy(g: _Graph, policy: Any, x: str, action_space: Any) -> tuple[str, Any]:
    """SB3's ActorCriticPolicy (PPO, A2C): flatten, policy MLP, action net; the mode of its distribution."""
    from gymnasium import spaces

    if policy.normalize_images and isinstance(policy.observation_space, spaces.Box) and \
            len(policy.observation_space.shape) > 1:
        raise RigDojoError("an SB3 policy of image observations cannot be exported")
    out = _layers(g, x, [policy.mlp_extractor.policy_net, policy.action_net])
    if isinstance(action_space, spaces.Box):
        return g.op("Identity", [_clamp(g, out, action_space.low, action_space.high)], output="action"), "box"
    nvec = [int(n) for n in action_space.nvec] if isinstance(action_space, spaces.MultiDiscrete) \
        else [int(action_space.n)]
    return _categories(g, out, nvec, "action"), "categories"


def _sb3_squashed(g: _Graph, policy: Any, x: str, action_space: Any, algo: str) -> tuple[str, Any]:
    """SAC and TD3: the actor's tanh output scaled from [-1, 1] to the action Box (SB3's unscale_action)."""
    actor = policy.actor
    if algo == "sac":
        if getattr(actor, "use_sde", False):
            raise RigDojoError("a SAC policy trained with gSDE cannot be exported; train it without use_sde")
        out = g.op("Tanh", [_layers(g, x, [actor.latent_pi, actor.mu])])
    else:
        out = _layers(g, x, [actor.mu])  # ends in Tanh
    low, high = _f32(action_space.low), _f32(action_space.high)
    half = g.const("half_range", _f32((high - low) / 2.0))
    scaled = g.op("Add", [g.op("Mul", [g.op("Add", [out, g.const("one", _f32(1.0))]), half]),
                          g.const("low", low)], "scaled")
    return g.op("Identity", [scaled], output="action"), "box"


def build_model(policy: Any) -> Any:
    """The ONNX model of a loaded policy file's deterministic action (``agents.policy_file.PolicyFile``)."""
    onnx = require_onnx()
    from .policy_file import space_from_description

    algo = policy.trainer
    if algo not in EXPORTABLE:
        raise RigDojoError(f"policies trained with {algo} cannot be exported to ONNX; exportable: "
                           f"{', '.join(EXPORTABLE)} (policies of a neural network)")
    obs_n = int(np.prod(policy.metadata["observation_space"]["shape"]))
    action_space = space_from_description(policy.metadata["action_space"])
    g = _Graph(onnx)
    x = "observation"
    if algo == "ppo" and hasattr(policy.network, "tokens"):  # the rig-agnostic chain network
        out, kind = _chain(g, policy.network, x)
    elif algo == "ppo":
        out, kind = _ours(g, policy.network, x)
    elif algo in ("sb3_ppo", "a2c"):
        out, kind = _sb3_on_policy(g, policy.network, x, action_space)
    else:
        out, kind = _sb3_squashed(g, policy.network, x, action_space, algo)
    helper, TensorProto = onnx.helper, onnx.TensorProto
    act_n = (len(policy.metadata["action_space"].get("nvec") or [1]) if kind == "categories"
             else int(np.prod(policy.metadata["action_space"]["shape"])))
    graph = helper.make_graph(
        g.nodes, "rig_dojo_policy",
        [helper.make_tensor_value_info("observation", TensorProto.FLOAT, ["batch", obs_n])],
        [helper.make_tensor_value_info(out, TensorProto.INT64 if kind == "categories" else TensorProto.FLOAT,
                                       ["batch", act_n])],
        initializer=g.initializers)
    model = helper.make_model(graph, producer_name="rig_dojo", opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    model.doc_string = f"Rig Dojo policy ({algo}, task {policy.config.task}): deterministic action"
    onnx.checker.check_model(model)
    return model


# ---- the sidecar --------------------------------------------------------------------------
def _generic_layout(metadata: dict[str, Any]) -> dict[str, Any]:
    """What any policy file says about its spaces (a task's own layout, when recorded, says more)."""
    obs_n = int(np.prod(metadata["observation_space"]["shape"]))
    return {"observation": [{"name": "observation", "start": 0, "size": obs_n,
                             "meaning": "the task's observation (this file records no finer layout)"}],
            "joints": [{"name": name, "control": name} for name in metadata["controls"]]}


def sidecar(policy: Any, onnx_bytes: bytes, onnx_name: str, layout: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON beside the .onnx: everything an engine needs to build the observation and apply the action."""
    from ..envs.families import family_of

    metadata = policy.metadata
    config = policy.config
    recorded = metadata.get("layout")
    layout = layout or (recorded if isinstance(recorded, dict) else None) or _generic_layout(metadata)
    act = metadata["action_space"]
    task_act = metadata["task_action_space"]
    discrete = act["type"] != "Box"
    normalised = policy.trainer == "ppo" and float(policy.network.obs_norm.count) > 0
    info = {
        "format": SIDECAR_FORMAT, "version": SIDECAR_VERSION,
        "onnx": onnx_name, "onnx_sha256": hashlib.sha256(onnx_bytes).hexdigest(), "opset": OPSET,
        "input": {"name": "observation", "dtype": "float32", "shape": ["batch", int(np.prod(
            metadata["observation_space"]["shape"]))]},
        "output": {"name": "action", "dtype": "int64" if discrete else "float32",
                   "shape": ["batch", len(act.get("nvec") or [1]) if discrete else int(np.prod(act["shape"]))],
                   "meaning": ("one category per joint (0 .. n-1)" if discrete else
                               "the deterministic action, clamped to its bounds")},
        "observation_normalisation": (
            f"inside the model: (x - mean) / sqrt(var + 1e-8), clipped to +-{policy.network.obs_norm.clip:g}; "
            "feed the raw observation" if normalised else "none: feed the raw observation"),
        "task": config.task, "family": family_of(config.task).name, "algo": policy.trainer,
        "rig": config.rig.rig, "controls": list(metadata["controls"]),
        "action_space": act, "task_action_space": task_act,
        "source": {"policy_sha256": policy.sha256, "seed": metadata.get("seed"),
                   "num_timesteps": metadata.get("num_timesteps"), "policy_file": policy.path.name},
    }
    for key, value in layout.items():  # observation, joints, frame, action_scaling ... (never over the above)
        info.setdefault(str(key), value)
    return info


def export_onnx(policy: Any, path: str | Path, layout: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write ``path`` (.onnx) and its sidecar (.json beside it); returns both paths.

    :param policy: a loaded policy file (``agents.policy_file.load_policy``)
    :param layout: the task's layout (``BatchedTask.policy_layout``) when the file records none
    """
    path = Path(path)
    model = build_model(policy)
    data = model.SerializeToString()
    info = sidecar(policy, data, path.name, layout)
    json_path = path.with_suffix(".json")
    write_atomic(path, data)
    write_atomic(json_path, (json_text(info, indent=1) + "\n").encode())
    return path, json_path
