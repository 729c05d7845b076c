"""Resume checkpoints of the Stable-Baselines3 algorithms that load no code: arrays plus JSON.

SB3's own ``model.save`` zip keeps some fields as pickles (spaces, schedules) that ``model.load``
unpickles: a run folder someone shares could run their code on ``--resume``. Ours is an npz (a zip
of ``.npy`` arrays, read with ``allow_pickle=False`` and every size bounded, agents/safe_read.py):

- ``policy/<key>``: the policy's ``state_dict`` (actor, critics and their targets);
- ``opt/<optimizer>/<param index>/<key>``: each optimizer's per-parameter state (Adam's moments, step);
- ``var/<name>``: other trained tensors (SAC's ``log_ent_coef``);
- ``meta``: JSON as bytes: format, version, algorithm, counters (``_n_updates``...), the scalar
  optimizer state.

Loading builds a fresh model from the run's config.toml (as a new run would) and copies the arrays in,
after checking every name and shape against that model. The learning-rate schedules, spaces and
hyperparameters come from the config, never from the file. The replay buffers of SAC, TD3 and DQN
are not kept (nor were they in SB3's checkpoints): an off-policy run continues with an empty buffer.

Run folders from before this format hold SB3's zip (``data`` + ``*.pth``). Those are read without
unpickling ``data`` (its counters are read as JSON) and with ``torch.load(weights_only=True)`` for the
tensors; a ``data`` whose pickles name anything but the classes SB3 and Rig Dojo put there is refused.
"""

from __future__ import annotations

import base64
import io
import json
import math
import pickletools
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..errors import RigDojoError
from .safe_read import read_npz

FORMAT = "rig_dojo.checkpoint"
VERSION = 1
COUNTERS = ("_n_updates", "_n_calls", "_episode_num")
MAX_DATA_BYTES = 64 << 20


def _optimizers(model: Any) -> dict[str, Any]:
    """The model's optimizers by SB3's names for them (``policy.optimizer``, ``actor.optimizer`` ...)."""
    names = model._get_torch_save_params()[0]
    out = {}
    for name in names:
        if name == "policy":
            continue
        obj = model
        for part in name.split("."):
            obj = getattr(obj, part)
        out[name] = obj
    return out


def _variables(model: Any) -> dict[str, Any]:
    import torch

    value = getattr(model, "log_ent_coef", None)
    return {"log_ent_coef": value} if isinstance(value, torch.Tensor) else {}


def save_checkpoint(model: Any, file: BinaryIO, algo: str) -> None:
    """Write ``model``'s trained state to ``file`` in the format above."""
    arrays: dict[str, np.ndarray] = {}
    for key, tensor in model.policy.state_dict().items():
        arrays[f"policy/{key}"] = tensor.detach().cpu().numpy()
    scalars: dict[str, dict[str, dict[str, Any]]] = {}
    for name, optimizer in _optimizers(model).items():
        scalars[name] = {}
        for index, state in optimizer.state_dict()["state"].items():
            for key, value in state.items():
                if hasattr(value, "detach"):
                    arrays[f"opt/{name}/{index}/{key}"] = value.detach().cpu().numpy()
                elif isinstance(value, (int, float, bool)):
                    scalars[name].setdefault(str(index), {})[key] = value
    for name, tensor in _variables(model).items():
        arrays[f"var/{name}"] = tensor.detach().cpu().numpy()
    meta = {"format": FORMAT, "version": VERSION, "algo": algo,
            "counters": {k: int(getattr(model, k)) for k in COUNTERS if isinstance(getattr(model, k, None), int)},
            "optimizer_scalars": scalars}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buffer = io.BytesIO()  # built in memory: a full disk then fails in one write, not inside numpy's zip writer
    np.savez(buffer, **arrays)
    file.write(buffer.getvalue())


def is_legacy(path: Path) -> bool:
    """SB3's own zip (a ``data`` member) rather than ours."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "data" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def _budget(model: Any) -> int:
    """Bytes a checkpoint of ``model`` can hold: its parameters, three optimizer slots each, slack."""
    params = sum(t.numel() * 8 for t in model.policy.state_dict().values())
    return 4 * params + (4 << 20)


def load_into(model: Any, path: Path, name: str) -> None:
    """Copy the checkpoint at ``path`` into the freshly built ``model``; RigDojoError when it does not fit."""
    if is_legacy(path):
        state = _legacy_state(model, path, name)
    else:
        arrays = read_npz(path, name=name, max_bytes=_budget(model))
        if "meta" not in arrays or arrays["meta"].dtype != np.uint8 or arrays["meta"].ndim != 1:
            raise RigDojoError(f"{name} is not a Rig Dojo checkpoint (no metadata)")
        try:
            meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise RigDojoError(f"{name}: its metadata is not valid JSON; the checkpoint is damaged") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise RigDojoError(f"{name} is not a Rig Dojo checkpoint of version {VERSION}")
        state = {"policy": {}, "optimizers": {}, "variables": {}, "counters": meta.get("counters"),
                 "scalars": meta.get("optimizer_scalars")}
        for key, array in arrays.items():
            kind, _, rest = key.partition("/")
            if kind == "policy":
                state["policy"][rest] = array
            elif kind == "opt":
                opt, _, slot = rest.rpartition("/") if rest.count("/") >= 2 else ("", "", "")
                opt_name, _, index = opt.rpartition("/")
                if not opt_name or not index.isdigit():
                    raise RigDojoError(f"{name}: unexpected array {key[:80]!r}; the checkpoint is damaged")
                state["optimizers"].setdefault(opt_name, {}).setdefault(int(index), {})[slot] = array
            elif kind == "var":
                state["variables"][rest] = array
            else:
                raise RigDojoError(f"{name}: unexpected array {key[:80]!r}; the checkpoint is damaged")
    _apply(model, state, name)


def _apply(model: Any, state: dict[str, Any], name: str) -> None:
    import torch

    from .policy_file import _load_state

    try:
        _load_state(model.policy, state["policy"], name)
    except RigDojoError as exc:
        raise RigDojoError(f"checkpoint {exc}".replace("policy ", "", 1)) from None
    optimizers = _optimizers(model)
    unknown = set(state["optimizers"]) - set(optimizers)
    if unknown:
        raise RigDojoError(f"{name}: optimizer state for {sorted(unknown)[0]!r}, which this run's "
                           f"{type(model).__name__} does not have; the checkpoint is from another algorithm")
    scalars = state.get("scalars") if isinstance(state.get("scalars"), dict) else {}
    for opt_name, optimizer in optimizers.items():
        slots = state["optimizers"].get(opt_name, {})
        fresh = optimizer.state_dict()
        params = [p for group in optimizer.param_groups for p in group["params"]]
        new_state: dict[int, dict[str, Any]] = {}
        for index, values in slots.items():
            if index >= len(params):
                raise RigDojoError(f"{name}: optimizer {opt_name} has state for parameter {index}; this network "
                                   f"has {len(params)} (check algo.net_arch)")
            shape = tuple(params[index].shape)
            entry: dict[str, Any] = {}
            for key, array in values.items():
                if array.dtype.kind != "f" or (tuple(array.shape) != shape and array.size != 1):
                    raise RigDojoError(f"{name}: optimizer {opt_name} state {key} of parameter {index} is "
                                       f"{array.dtype} {tuple(array.shape)}; expected floats shaped {shape}")
                entry[key] = torch.as_tensor(np.array(array, dtype=np.float32))
            extra = scalars.get(opt_name, {}).get(str(index), {}) if isinstance(scalars.get(opt_name), dict) else {}
            for key, value in (extra.items() if isinstance(extra, dict) else ()):
                if isinstance(value, (int, float, bool)) and (not isinstance(value, float) or math.isfinite(value)):
                    entry[str(key)] = value
            new_state[index] = entry
        fresh["state"] = new_state
        try:
            optimizer.load_state_dict(fresh)
        except (ValueError, KeyError, RuntimeError, TypeError) as exc:
            raise RigDojoError(f"{name}: optimizer {opt_name} state does not fit ({exc})") from None
    for var_name, tensor in _variables(model).items():
        array = state["variables"].get(var_name)
        if array is None:
            continue
        if array.dtype.kind != "f" or tuple(array.shape) != tuple(tensor.shape):
            raise RigDojoError(f"{name}: {var_name} is {tuple(array.shape)}; expected {tuple(tensor.shape)}")
        with torch.no_grad():
            tensor.copy_(torch.as_tensor(np.array(array, dtype=np.float32)))
    counters = state.get("counters") if isinstance(state.get("counters"), dict) else {}
    for key in COUNTERS:
        value = counters.get(key)
        if hasattr(model, key) and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15:
            setattr(model, key, value)


# -- SB3's own zip (run folders from before this format) -------------------------------------------
# Every global the pickles in SB3's ``data`` name for the algorithms and settings Rig Dojo uses (read from
# checkpoints of each algorithm): spaces, numpy arrays and random generators, schedules, buffers' classes.
# ``data`` is never unpickled either way; this refuses a crafted checkpoint outright instead of ignoring it.
_NUMPY = ("multiarray.scalar", "multiarray._reconstruct", "numeric._frombuffer")
_LEGACY_GLOBALS = frozenset({
    "collections.deque", "collections.OrderedDict", "gymnasium.spaces.box.Box", "gymnasium.spaces.discrete.Discrete",
    "gymnasium.spaces.multi_discrete.MultiDiscrete", "numpy.dtype", "numpy.ndarray", "numpy.float32", "numpy.float64",
    "numpy.int64", *(f"numpy.{core}.{name}" for core in ("core", "_core") for name in _NUMPY),
    "numpy.random._pickle.__bit_generator_ctor", "numpy.random._pickle.__generator_ctor",
    "numpy.random._pickle.__randomstate_ctor", "stable_baselines3.common.buffers.ReplayBuffer",
    "stable_baselines3.common.buffers.RolloutBuffer", "stable_baselines3.common.noise.NormalActionNoise",
    "stable_baselines3.common.noise.VectorizedActionNoise", "stable_baselines3.common.noise.OrnsteinUhlenbeckActionNoise",
    "stable_baselines3.common.policies.ActorCriticPolicy", "stable_baselines3.common.type_aliases.TrainFreq",
    "stable_baselines3.common.type_aliases.TrainFrequencyUnit", "stable_baselines3.common.utils.ConstantSchedule",
    "stable_baselines3.common.utils.FloatSchedule", "stable_baselines3.common.utils.LinearSchedule",
    "stable_baselines3.dqn.policies.DQNPolicy", "stable_baselines3.sac.policies.SACPolicy",
    "stable_baselines3.td3.policies.TD3Policy", "torch.optim.adam.Adam", "torch.optim.rmsprop.RMSprop",
    *(f"torch.nn.modules.activation.{a}" for a in ("Tanh", "ReLU", "ELU", "LeakyReLU", "GELU", "SiLU")),
})
_OUR_SCHEDULE = "rig_dojo.agents.algorithms.LearningRateSchedule"  # under Blender: bl_ext.<repo>.rig_dojo...


def _legacy_global_allowed(name: str) -> bool:
    return name in _LEGACY_GLOBALS or name == _OUR_SCHEDULE or name.endswith("." + _OUR_SCHEDULE)
_STRING_OPS = {"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING", "BINSTRING",
               "STRING"}


def pickle_globals(data: bytes) -> list[str]:
    """``module.name`` of every global a pickle would import, read without unpickling; ``?`` where the
    name is computed (which a legitimate checkpoint never does)."""
    found: list[str] = []
    recent: list[str | None] = []
    memo: dict[int, str | None] = {}
    try:
        for op, arg, _pos in pickletools.genops(data):
            name = op.name
            if name in _STRING_OPS:
                recent.append(arg if isinstance(arg, str) else None)
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                recent.append(memo.get(int(arg)))
            elif name == "MEMOIZE":
                memo[len(memo)] = recent[-1] if recent else None
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[int(arg)] = recent[-1] if recent else None
            elif name in ("GLOBAL", "INST"):
                found.append(str(arg).replace(" ", "."))
                recent.append(None)
            elif name == "STACK_GLOBAL":
                module, attr = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
                found.append(f"{module}.{attr}" if module and attr else "?")
                recent.append(None)
            elif name in ("OBJ", "NEWOBJ", "NEWOBJ_EX", "REDUCE", "BUILD") or "FRAME" not in name:
                recent.append(None)
    except Exception:  # a malformed pickle: nothing legitimate
        found.append("?")
    return found


def _legacy_data(zf: zipfile.ZipFile, name: str) -> dict[str, Any]:
    info = zf.getinfo("data")
    if info.file_size > MAX_DATA_BYTES:
        raise RigDojoError(f"{name}: its settings are implausibly large; refusing to load it")
    try:
        data = json.loads(zf.read(info).decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RigDojoError(f"{name}: its settings are not valid JSON; the checkpoint is damaged") from None
    if not isinstance(data, dict):
        raise RigDojoError(f"{name}: its settings are damaged")
    for key, value in data.items():
        if isinstance(value, dict) and ":serialized:" in value:
            try:
                raw = base64.b64decode(str(value[":serialized:"]).encode(), validate=False)
            except (ValueError, TypeError):
                raw = b""
            for name_ in pickle_globals(raw):
                if not _legacy_global_allowed(name_):
                    raise RigDojoError(f"{name}: its setting {key!r} holds pickled code ({name_[:80]}); refusing "
                                       "to resume from it. Rig Dojo resumes only checkpoints it wrote; to continue "
                                       "from this run's policy use --init-from FINAL.rdpolicy in a new run")
    return data


def _legacy_state(model: Any, path: Path, name: str) -> dict[str, Any]:
    import torch

    budget = _budget(model)
    try:
        with zipfile.ZipFile(path) as zf:
            data = _legacy_data(zf, name)
            tensors: dict[str, Any] = {}
            for info in zf.infolist():
                if not info.filename.endswith(".pth"):
                    continue
                if info.file_size > budget:
                    raise RigDojoError(f"{name}: {info.filename} is implausibly large; refusing to load it")
                raw = zf.read(info)
                with zipfile.ZipFile(io.BytesIO(raw)) as inner:  # torch's own zip: sizes before torch reads it
                    if sum(i.file_size for i in inner.infolist()) > budget:
                        raise RigDojoError(f"{name}: {info.filename} would inflate to an implausible size")
                try:
                    tensors[info.filename[: -len(".pth")]] = torch.load(io.BytesIO(raw), map_location="cpu",
                                                                        weights_only=True)
                except Exception as exc:  # torch refuses anything but tensors and plain containers
                    raise RigDojoError(f"{name}: {info.filename} holds something other than weights "
                                       f"({str(exc).splitlines()[0][:160]}); refusing to load it") from None
    except zipfile.BadZipFile as exc:
        raise RigDojoError(f"{name} is damaged ({exc})") from None
    policy = tensors.pop("policy", None)
    if not isinstance(policy, dict):
        raise RigDojoError(f"{name} holds no policy weights")
    state: dict[str, Any] = {"policy": {k: _array(v, name) for k, v in policy.items()}, "optimizers": {},
                             "variables": {}, "scalars": {},
                             "counters": {k: data[k] for k in COUNTERS if isinstance(data.get(k), int)}}
    variables = tensors.pop("pytorch_variables", None) or {}
    if isinstance(variables, dict):
        state["variables"] = {k: _array(v, name) for k, v in variables.items() if hasattr(v, "detach")}
    for opt_name, opt_state in tensors.items():
        if not isinstance(opt_state, dict) or not isinstance(opt_state.get("state"), dict):
            raise RigDojoError(f"{name}: {opt_name}.pth is not an optimizer state")
        slots: dict[int, dict[str, np.ndarray]] = {}
        for index, values in opt_state["state"].items():
            if not isinstance(index, int) or not isinstance(values, dict):
                raise RigDojoError(f"{name}: {opt_name}.pth is not an optimizer state")
            slots[index] = {str(k): _array(v, name) for k, v in values.items() if hasattr(v, "detach")}
        state["optimizers"][opt_name] = slots
    return state


def _array(value: Any, name: str) -> np.ndarray:
    if not hasattr(value, "detach"):
        raise RigDojoError(f"{name}: expected a tensor, found {type(value).__name__}")
    return value.detach().cpu().numpy()
