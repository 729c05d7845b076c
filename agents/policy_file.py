"""Policy files that are safe to share: weights as raw arrays plus JSON metadata, no code.

A ``.rdpolicy`` file is a zip holding exactly two members:

- ``metadata.json``: format and version, algorithm, the spaces and control bones the
  policy fits, the task's signature, the run's config (TOML text), hyperparameters,
  seed, steps trained, policy constructor settings and the sha256 of ``weights.npz``;
- ``weights.npz``: the policy's ``state_dict`` (or the Q-table) as plain numeric arrays.

Loading never executes code from the file: JSON is data, and ``numpy.load(...,
allow_pickle=False)`` refuses object arrays (the only way a pickle gets into an npz).
We prefer npz to ``torch.load(weights_only=True)`` because that is still an unpickler
with an allow-list (it has had bypasses, e.g. CVE-2025-32434), while the npz reader has
no pickle path at all once ``allow_pickle`` is off, and any numpy can read the file.
The network is rebuilt from the metadata and the arrays are loaded into it.

SB3's own ``.zip`` unpickles some fields, so it is never the format users share (nor, since
agents/checkpoint_file.py, our resume checkpoints).

A ``ppo`` file written before Rig Dojo had its own PPO holds Stable-Baselines3's network; it has
no ``policy_kwargs.kind`` and is read (and fine-tuned) as ``sb3_ppo`` (:func:`legacy_algo`). Our
PPO's network describes itself (``policy_kwargs`` = ``agents.ppo.ActorCritic.description()``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RigDojoError, listed
from .config import TrainConfig
from .files import write_atomic
from .safe_read import read_npz

FORMAT = "rig_dojo.policy"
VERSION = 1
SUFFIX = ".rdpolicy"
MEMBERS = ("metadata.json", "weights.npz")
MAX_MEMBER_BYTES = 1 << 30  # refuse zip bombs before inflating them (the arrays inside: agents/safe_read.py)
MAX_METADATA_BYTES = 64 << 20


# -- spaces as JSON --------------------------------------------------------------------
def describe_space(space: Any) -> dict[str, Any]:
    from gymnasium import spaces

    if isinstance(space, spaces.Box):
        return {"type": "Box", "shape": list(space.shape), "low": np.asarray(space.low).reshape(-1).tolist(),
                "high": np.asarray(space.high).reshape(-1).tolist(), "dtype": str(space.dtype)}
    if isinstance(space, spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": [int(n) for n in space.nvec]}
    if isinstance(space, spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n)}
    raise RigDojoError(f"policy files support Box, Discrete and MultiDiscrete spaces, not {type(space).__name__}")


def space_from_description(desc: dict[str, Any]) -> Any:
    from gymnasium import spaces

    kind = desc.get("type")
    if kind == "Box":
        shape = tuple(int(n) for n in desc["shape"])
        dtype = np.dtype(desc.get("dtype", "float32"))
        if dtype.kind != "f":
            raise RigDojoError(f"policy file describes a Box of {dtype}; expected floats")
        low = np.asarray(desc["low"], dtype=dtype).reshape(shape)
        high = np.asarray(desc["high"], dtype=dtype).reshape(shape)
        return spaces.Box(low, high, shape=shape, dtype=dtype)
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete([int(n) for n in desc["nvec"]])
    if kind == "Discrete":
        return spaces.Discrete(int(desc["n"]))
    raise RigDojoError(f"policy file describes an unknown space {kind!r}")


def space_text(desc: dict[str, Any]) -> str:
    if desc["type"] == "Box":
        return f"Box{tuple(desc['shape'])}"
    if desc["type"] == "MultiDiscrete":
        return f"MultiDiscrete({desc['nvec']})"
    return f"Discrete({desc['n']})"


# -- compatibility -----------------------------------------------------------------------
def compatibility_problems(metadata: dict[str, Any], env: Any) -> list[str]:
    """What differs between the task a policy was trained on and ``env`` (empty: it fits).

    Compared: observation shape, the task's action space, and the control bones in order.
    The rig's name may differ: policies transfer between rigs of the same shape.
    """
    problems = []
    want_obs = metadata["observation_space"]["shape"]
    have_obs = list(env.observation_space.shape)
    if want_obs != have_obs:
        if len(want_obs) == 1 and len(have_obs) == 1:
            problems.append(f"policy expects {want_obs[0]} observations, task has {have_obs[0]}")
        else:
            problems.append(f"policy expects observations shaped {tuple(want_obs)}, task has {tuple(have_obs)}")
    want_act, have_act = metadata["task_action_space"], describe_space(env.action_space)
    if (want_act["type"], want_act.get("shape"), want_act.get("nvec"), want_act.get("n")) != (
            have_act["type"], have_act.get("shape"), have_act.get("nvec"), have_act.get("n")):
        problems.append(f"policy acts with {space_text(want_act)}, task takes {space_text(have_act)}")
    want_controls, have_controls = list(metadata["controls"]), list(env.control_names)
    if is_rig_agnostic(metadata):  # joint tokens: any chain's controls (the task refuses chains that do not fit)
        if getattr(env, "policy_network", "") != "chain":
            problems.append("policy reads rig-agnostic joint tokens; the task is not observed as a chain "
                            "(rig.observation = \"chain\")")
    elif want_controls != have_controls:
        problems.append(_controls_difference(want_controls, have_controls))
    return problems


def _controls_difference(want: list[str], have: list[str]) -> str:
    """What differs between the policy's controls and the task's, short enough to read on a 99-bone rig."""
    if len(want) + len(have) <= 12:
        text = f"policy controls {','.join(want)}; task controls {','.join(have)}"
    elif set(want) == set(have):
        text = f"policy and task control the same {len(want)} bones in another order"
    else:
        wanted, had = set(want), set(have)
        missing, extra = [n for n in want if n not in had], [n for n in have if n not in wanted]
        text = f"policy controls {len(want)} bones, task {len(have)}" + (
            f"; the task lacks {listed(missing, limit=4)}" if missing else "") + (
            f"; the policy lacks {listed(extra, limit=4)}" if extra else "")
    return text + " (use the rig and controls the policy was trained with: its run's config.toml)"


def is_rig_agnostic(metadata: dict[str, Any]) -> bool:
    """Whether a policy file holds the rig-agnostic chain network (``agents/chain_policy.py``)."""
    from .chain_policy import NETWORK_KIND

    kwargs = metadata.get("policy_kwargs")
    return isinstance(kwargs, dict) and kwargs.get("kind") == NETWORK_KIND


def check_compatible(metadata: dict[str, Any], env: Any, source: str = "policy") -> None:
    problems = compatibility_problems(metadata, env)
    if problems:
        raise RigDojoError(f"{source} does not fit this task: " + "; ".join(problems))


# -- policy constructor settings as JSON ---------------------------------------------------
_DROPPED_KWARGS = ("optimizer_class", "optimizer_kwargs", "features_extractor_class")


def _policy_kwargs_json(model: Any, algo: str) -> dict[str, Any]:
    if hasattr(model.policy, "description"):  # our PPO's network describes itself (kind "rig_dojo_ppo")
        return model.policy.description()
    kwargs = dict(model.policy_kwargs)
    if algo in ("sb3_ppo", "a2c"):
        kwargs["use_sde"] = bool(model.use_sde)  # on-policy models pass it to the policy themselves
    out: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in _DROPPED_KWARGS:  # only used for training, or the default (FlattenExtractor)
            continue
        if key == "activation_fn":
            value = value.__name__
        try:
            json.dumps(value)
        except TypeError:
            raise RigDojoError(f"policy setting {key}={value!r} cannot be stored in a shareable policy file") from None
        out[key] = value
    return out


def _policy_kwargs_live(kwargs: dict[str, Any]) -> dict[str, Any]:
    from .algorithms import activation_class

    live = dict(kwargs)
    if "activation_fn" in live:
        live["activation_fn"] = activation_class(live["activation_fn"])
    return live


# -- save ----------------------------------------------------------------------------------
def model_arrays(model: Any, algo: str) -> dict[str, np.ndarray]:
    if algo == "qlearning":
        return {k: np.ascontiguousarray(v) for k, v in model.arrays().items()}
    return {k: v.detach().cpu().numpy() for k, v in model.policy.state_dict().items()}


def save_policy(model: Any, path: str | Path, *, algo: str, config: TrainConfig, env: Any) -> str:
    """Write ``model``'s policy to ``path`` (atomically) in the shareable format; returns the file's sha256.

    :param model: a trained SB3 model or TabularQLearner
    :param path: where to write (``.rdpolicy`` by convention)
    :param algo: the algorithm name (config.algo.name)
    :param config: the run's configuration, stored as TOML text for provenance
    :param env: the task (its spaces, control names and signature are recorded)
    """
    weights = io.BytesIO()
    np.savez(weights, **model_arrays(model, algo))
    weights_bytes = weights.getvalue()
    metadata = {
        "format": FORMAT, "version": VERSION, "algo": algo,
        "observation_space": describe_space(env.observation_space),
        "action_space": describe_space(model.action_space),
        "task_action_space": describe_space(env.action_space),
        "controls": list(env.control_names),
        "task_signature": env.signature(),
        "config": config.to_toml(),
        "hyperparameters": dataclasses.asdict(config.algo),
        "seed": config.algo.seed,
        "num_timesteps": int(model.num_timesteps),
        "policy_kwargs": {} if algo == "qlearning" else _policy_kwargs_json(model, algo),
        "qlearning": model.hyperparameters() if algo == "qlearning" else None,
        # what the observation and action mean (joints, limits, slices): the ONNX export's sidecar shows it
        "layout": env.policy_layout() if hasattr(env, "policy_layout") else None,
    }
    return write_policy_zip(path, metadata, weights_bytes)


def write_policy_zip(path: str | Path, metadata: dict[str, Any], weights_bytes: bytes) -> str:
    """Write the shareable zip (metadata.json + weights.npz) atomically; returns the file's sha256."""
    metadata = {**metadata, "weights_sha256": hashlib.sha256(weights_bytes).hexdigest()}
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps(metadata, indent=1, sort_keys=True))
        zf.writestr("weights.npz", weights_bytes)
    data = archive.getvalue()
    write_atomic(Path(path), data)
    return hashlib.sha256(data).hexdigest()


# -- load ----------------------------------------------------------------------------------
@dataclass
class PolicyFile:
    """A policy loaded from a shareable file: ``predict`` as in SB3, actions in the task's form."""

    path: Path
    metadata: dict[str, Any]
    arrays: dict[str, np.ndarray]
    sha256: str  # of the whole file: recorded on baked Actions for provenance
    network: Any = field(repr=False, default=None)

    @property
    def algo(self) -> str:
        return self.metadata["algo"]

    @property
    def trainer(self) -> str:
        """The algorithm whose network this is: ``algo``, except ``sb3_ppo`` for a ``ppo`` file written before
        Rig Dojo had its own PPO (Stable-Baselines3's layout, recognised by the missing network kind)."""
        return legacy_algo(self.metadata)

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_toml(self.metadata["config"])

    def check_compatible(self, env: Any) -> None:
        check_compatible(self.metadata, env, source=f"policy {self.path.name}")

    def predict(self, observation: np.ndarray, state: Any = None, episode_start: Any = None,
                deterministic: bool = True) -> tuple[np.ndarray, None]:
        from .algorithms import task_actions

        obs = np.asarray(observation, dtype=np.float32)
        single = obs.ndim == len(self.metadata["observation_space"]["shape"])
        batch = obs[None] if single else obs
        actions, _ = self.network.predict(batch, deterministic=deterministic)
        actions = task_actions(actions, space_from_description(self.metadata["task_action_space"]))
        return (actions[0] if single else actions), None

    def apply_to(self, model: Any, algo: str) -> None:
        """Load these weights into a freshly built ``model`` (fine-tuning from another run)."""
        if algo != self.trainer:
            raise RigDojoError(f"policy {self.path.name} was trained with {self.trainer}; this run uses {algo}. "
                               f"Set algo.name = \"{self.trainer}\" to fine-tune it")
        if algo == "qlearning":
            model.load_arrays(self.arrays)
            return
        _load_state(model.policy, self.arrays, self.path.name)


def _load_state(policy: Any, arrays: dict[str, np.ndarray], name: str) -> None:
    import torch

    own = policy.state_dict()
    missing = sorted(set(own) - set(arrays))
    unexpected = sorted(set(arrays) - set(own))
    shapes = [f"{k} is {tuple(arrays[k].shape)} in the file, {tuple(own[k].shape)} here"
              for k in own if k in arrays and tuple(arrays[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shapes:
        details = "; ".join(filter(None, [
            f"missing {', '.join(missing[:4])}" if missing else "",
            f"unexpected {', '.join(unexpected[:4])}" if unexpected else "",
            "; ".join(shapes[:4])]))
        raise RigDojoError(f"policy {name}: its network differs from this run's (check algo.net_arch): {details}")
    policy.load_state_dict({k: torch.as_tensor(np.array(v)) for k, v in arrays.items()}, strict=True)


def _read_zip(path: Path) -> tuple[bytes, dict[str, bytes]]:
    try:
        if path.stat().st_size > 2 * MAX_MEMBER_BYTES:
            raise RigDojoError(f"{path.name} is implausibly large for a policy file ({path.stat().st_size} bytes)")
        data = path.read_bytes()
    except OSError as exc:
        raise RigDojoError(f"cannot read policy file {path}: {exc.strerror}") from None
    not_ours = f"{path.name} is not a Rig Dojo policy file (expected a .rdpolicy zip with metadata.json and weights.npz)"
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise RigDojoError(not_ours) from None
    with zf:
        names = sorted(zf.namelist())
        if names != sorted(MEMBERS):
            raise RigDojoError(f"{not_ours}; it holds {', '.join(names[:6]) or 'nothing'}")
        members = {}
        for info in zf.infolist():
            limit = MAX_METADATA_BYTES if info.filename == "metadata.json" else MAX_MEMBER_BYTES
            if info.file_size > limit:
                raise RigDojoError(f"{path.name}: {info.filename} is implausibly large ({info.file_size} bytes)")
            members[info.filename] = zf.read(info)
    return data, members


def load_policy(path: str | Path) -> PolicyFile:
    """Read a shareable policy file and rebuild its network. Never executes code from the file."""
    path = Path(path)
    data, members = _read_zip(path)
    try:
        metadata = json.loads(members["metadata.json"].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RigDojoError(f"{path.name}: metadata.json is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise RigDojoError(f"{path.name} is not a Rig Dojo policy file (metadata.json has no format {FORMAT!r})")
    if metadata.get("version") != VERSION:
        raise RigDojoError(f"{path.name} is policy format version {metadata.get('version')}; this Rig Dojo reads "
                           f"version {VERSION}. Update Rig Dojo")
    if hashlib.sha256(members["weights.npz"]).hexdigest() != metadata.get("weights_sha256"):
        raise RigDojoError(f"{path.name}: weights.npz does not match the sha256 in metadata.json (damaged or edited)")
    budget = check_metadata(metadata, path.name)
    arrays = read_npz(members["weights.npz"], name=f"{path.name}: weights.npz", max_bytes=budget)
    for name, array in arrays.items():
        if array.dtype.kind not in "fiub":
            raise RigDojoError(f"{path.name}: weight {name} has dtype {array.dtype}, expected numbers")
    policy = PolicyFile(path=path, metadata=metadata, arrays=arrays, sha256=hashlib.sha256(data).hexdigest())
    policy.network = _rebuild(metadata, arrays, path.name)
    return policy


def check_metadata(metadata: dict[str, Any], name: str) -> int:
    """Types and sizes of everything in ``metadata`` that is built from or compared (malformed or hostile
    files end here, in one RigDojoError); returns how many bytes the weights can take at most."""
    from .safe_read import check_policy_kwargs, check_space_description, policy_weight_budget, space_size

    for key in ("observation_space", "action_space", "task_action_space"):
        check_space_description(metadata.get(key), key, name)
    if metadata["observation_space"]["type"] != "Box":
        raise RigDojoError(f"{name}: metadata.json's observation_space is not a Box; the file is not made by Rig Dojo")
    if not isinstance(metadata.get("config"), str) or len(metadata["config"]) > MAX_METADATA_BYTES:
        raise RigDojoError(f"{name}: metadata.json has no config text; the file is damaged or not made by Rig Dojo")
    controls = metadata.get("controls")
    if not isinstance(controls, list) or len(controls) > 100_000 or not all(isinstance(c, str) for c in controls):
        raise RigDojoError(f"{name}: metadata.json's controls are not a list of bone names")
    algo = metadata.get("algo")
    if not isinstance(algo, str):
        raise RigDojoError(f"{name}: metadata.json names no algorithm")
    obs_n = space_size(metadata["observation_space"])
    act_n = space_size(metadata["action_space"])
    if algo == "qlearning":
        q = metadata.get("qlearning")
        if not isinstance(q, dict) or not isinstance(q.get("bins"), int) or not 1 <= q["bins"] <= 1024 \
                or not isinstance(q.get("gamma"), (int, float)) or not isinstance(q.get("seed"), int) \
                or isinstance(q.get("bins"), bool):
            raise RigDojoError(f"{name}: metadata.json's qlearning settings are damaged")
        from .qlearning import MAX_TABLE_ENTRIES

        act = metadata["action_space"]
        actions = math.prod(act["nvec"]) if act["type"] == "MultiDiscrete" else act.get("n", 1)
        entries = q["bins"] ** min(obs_n, 64) * actions if obs_n <= 64 else MAX_TABLE_ENTRIES + 1
        if entries > MAX_TABLE_ENTRIES:
            raise RigDojoError(f"{name}: a qlearning table of {obs_n} observations at {q['bins']} bins is larger "
                               "than Rig Dojo ever writes; refusing to load it")
        return entries * 8 + 16 * obs_n + (1 << 20)
    if algo == "cem":
        return 16 * (obs_n + 1) * act_n + (1 << 20)
    from ..envs.families import algorithm_hooks

    hooks = algorithm_hooks(algo)
    if hooks is not None:  # an algorithm a family brings says how large its files can be (default 64 MB)
        budget = getattr(hooks, "policy_weight_budget", None)
        return int(budget(metadata, name)) if budget is not None else 64 << 20
    if legacy_algo(metadata) == "ppo":  # our PPO's network (agents/ppo.py): its description, bounded
        from .safe_read import check_ppo_network

        nets = check_ppo_network(metadata.get("policy_kwargs"), metadata["observation_space"],
                                 metadata["action_space"], name)
        return policy_weight_budget(obs_n, act_n, nets, networks=2)
    nets = check_policy_kwargs(metadata.get("policy_kwargs"), name)
    return policy_weight_budget(obs_n, act_n, nets)


def legacy_algo(metadata: dict[str, Any]) -> str:
    """The algorithm that reads a policy file's network: files of ``algo = "ppo"`` written before our own
    PPO hold Stable-Baselines3's network (no ``policy_kwargs.kind``) and are read as ``sb3_ppo``."""
    algo = metadata.get("algo")
    if algo != "ppo":
        return str(algo)
    from .ppo import NETWORK_KIND

    kwargs = metadata.get("policy_kwargs") or {}
    ours = isinstance(kwargs, dict) and kwargs.get("kind") == NETWORK_KIND
    return "ppo" if ours or is_rig_agnostic(metadata) else "sb3_ppo"


def _rebuild(metadata: dict[str, Any], arrays: dict[str, np.ndarray], name: str) -> Any:
    from .algorithms import model_class

    algo = legacy_algo(metadata)
    if algo == "ppo":  # our PPO: the network rebuilds from its description (checked by check_metadata)
        from .chain_policy import ChainActorCritic
        from .ppo import ActorCritic

        try:
            builder = ChainActorCritic if is_rig_agnostic(metadata) else ActorCritic
            network = builder.from_description(metadata["policy_kwargs"])
        except (KeyError, TypeError, ValueError) as exc:
            raise RigDojoError(f"{name}: metadata.json does not describe a PPO network ({exc})") from None
        _load_state(network, arrays, name)
        network.eval()
        return network
    obs_space = space_from_description(metadata["observation_space"])
    act_space = space_from_description(metadata["action_space"])
    if algo == "qlearning":
        from .qlearning import TabularQLearner

        q = metadata["qlearning"]

        class _Spaces:  # the learner only reads the spaces at construction
            observation_space, action_space = obs_space, act_space

        learner = TabularQLearner(_Spaces(), gamma=q["gamma"], bins=q["bins"], obs_clip=np.inf, seed=q["seed"])
        learner.load_arrays(arrays)
        return learner
    if algo == "cem":  # a linear policy from the cross-entropy search (agents.cem)
        from .cem import LinearPolicy

        obs_n, act_n = int(np.prod(obs_space.shape)), int(np.prod(act_space.shape))
        w, b = arrays.get("weights"), arrays.get("bias")
        if set(arrays) != {"weights", "bias"} or w.shape != (act_n, obs_n) or b.shape != (act_n,) \
                or w.dtype.kind != "f" or b.dtype.kind != "f":
            raise RigDojoError(f"{name}: a linear (cem) policy holds weights ({act_n}, {obs_n}) and bias ({act_n},) "
                               "as floats; this file does not")
        return LinearPolicy(w, b)
    if algo not in ("sb3_ppo", "a2c", "sac", "td3", "dqn"):
        from ..envs.families import algorithm_hooks

        hooks = algorithm_hooks(str(algo))  # an algorithm a family brings (the camera's solved paths)
        if hooks is not None and hasattr(hooks, "rebuild_policy"):
            return hooks.rebuild_policy(metadata, arrays, name)
        raise RigDojoError(f"{name}: unknown algorithm {algo!r} in metadata.json")
    policy_cls = model_class(algo).policy_aliases["MlpPolicy"]
    policy = policy_cls(obs_space, act_space, lambda _progress: 0.0, **_policy_kwargs_live(metadata["policy_kwargs"]))
    _load_state(policy, arrays, name)
    policy.set_training_mode(False)
    return policy
