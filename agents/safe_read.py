"""Reading files that may come from anyone (shared policies, run folders) with every size bounded first.

- :func:`read_npz`: the arrays of an npz (a zip of ``.npy`` members) with no pickle path
  (``allow_pickle=False``, object dtypes refused from the header) and nothing inflated or allocated
  before the members' declared sizes, and each array's declared shape, fit the caller's budget. A
  50 KB file cannot make us allocate a gigabyte: compressed members are checked by their declared
  size (zip reading stops there) and arrays by their header, before either is read.
- :func:`check_space_description`, :func:`check_policy_kwargs` (SB3's networks), :func:`check_ppo_network`
  (our PPO's), :func:`policy_weight_budget`: the
  parts of a policy file's ``metadata.json`` that size what is built (space shapes, ``net_arch``)
  are checked for type and bound before anything is built from them.

Every refusal is a :class:`RigDojoError` naming the file and what is wrong. No bpy.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RigDojoError

MAX_NPZ_MEMBERS = 4096
MAX_HEADER_BYTES = 10_000
MAX_SPACE_SIZE = 100_000  # elements of an observation or action space
MAX_DISCRETE = 1 << 31
MAX_LAYERS = 16
MAX_LAYER_UNITS = 8192
MAX_POLICY_BYTES = 1 << 30  # no policy or checkpoint we write comes near this

_BOOL_KWARGS = ("ortho_init", "use_sde", "full_std", "use_expln", "squash_output", "share_features_extractor",
                "normalize_images")
_FLOAT_KWARGS = ("log_std_init", "clip_mean")


def read_npz(source: bytes | str | Path, *, name: str, max_bytes: int) -> dict[str, np.ndarray]:
    """The arrays in the npz ``source`` (bytes or a path), refused unless every member is a plain numeric
    ``.npy`` and together they declare at most ``max_bytes``."""
    max_bytes = min(int(max_bytes), MAX_POLICY_BYTES)
    data = source if isinstance(source, bytes) else None
    try:
        if data is None:
            path = Path(source)  # type: ignore[arg-type]
            if path.stat().st_size > max_bytes + (1 << 20):
                raise RigDojoError(f"{name} is implausibly large ({path.stat().st_size} bytes)")
            data = path.read_bytes()
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise RigDojoError(f"{name} is not a valid npz archive") from None
    except OSError as exc:
        raise RigDojoError(f"cannot read {name}: {exc.strerror or exc}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_NPZ_MEMBERS:
            raise RigDojoError(f"{name} holds {len(infos)} arrays; refusing to load it")
        declared = sum(info.file_size for info in infos)
        if declared > max_bytes:
            raise RigDojoError(f"{name} would inflate to {declared:,d} bytes, more than the {max_bytes:,d} its "
                               "network can need; refusing to load it")
        seen = set()
        for info in infos:
            if not info.filename.endswith(".npy") or info.filename in seen:
                raise RigDojoError(f"{name}: member {info.filename[:80]!r} is not a numpy array; refusing to load it")
            seen.add(info.filename)
            _check_header(zf, info, name)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except ValueError as exc:  # object arrays (pickles) and malformed headers
        raise RigDojoError(f"{name} holds something other than plain numeric arrays ({exc}); refusing to load "
                           "it") from None
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
        raise RigDojoError(f"{name} is not a valid npz archive ({exc})") from None


def _check_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> None:
    """The member's .npy header: a plain numeric dtype and a shape that fits in the member's declared size."""
    fmt = np.lib.format
    try:
        with zf.open(info) as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, _fortran, dtype = fmt.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
            elif version == (2, 0):
                shape, _fortran, dtype = fmt.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
            else:
                raise ValueError(f"npy format version {version}")
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, RuntimeError) as exc:
        raise RigDojoError(f"{name}: array {info.filename[:80]!r} has no valid header ({exc}); refusing to load "
                           "it") from None
    if dtype.hasobject or dtype.kind not in "fiub":
        raise RigDojoError(f"{name}: array {info.filename[:80]!r} has dtype {dtype}, expected numbers; refusing "
                           "to load it")
    count = math.prod(int(n) for n in shape)
    if count * dtype.itemsize > info.file_size:
        raise RigDojoError(f"{name}: array {info.filename[:80]!r} declares shape {tuple(shape)}, more than the "
                           "member holds; refusing to load it")


# -- policy metadata -----------------------------------------------------------------------------
def _int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def check_space_description(desc: Any, what: str, name: str) -> None:
    """A space as ``describe_space`` writes it, with sizes a policy can have."""
    bad = f"{name}: metadata.json's {what}"
    if not isinstance(desc, dict):
        raise RigDojoError(f"{bad} is not a space description; the file is damaged or not made by Rig Dojo")
    kind = desc.get("type")
    if kind == "Box":
        shape = desc.get("shape")
        if not isinstance(shape, list) or len(shape) > 4 or not all(_int(n, 1, MAX_SPACE_SIZE) for n in shape):
            raise RigDojoError(f"{bad} has shape {str(shape)[:80]}; expected up to 4 sizes of 1..{MAX_SPACE_SIZE}")
        size = math.prod(shape)
        if size > MAX_SPACE_SIZE:
            raise RigDojoError(f"{bad} has {size} elements, more than {MAX_SPACE_SIZE}")
        for bound in ("low", "high"):
            values = desc.get(bound)
            if not isinstance(values, list) or len(values) != size or \
                    not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                raise RigDojoError(f"{bad}: {bound} is not {size} numbers")
        if desc.get("dtype", "float32") not in ("float16", "float32", "float64"):
            raise RigDojoError(f"{bad} has dtype {str(desc.get('dtype'))[:40]!r}; expected float32 or float64")
    elif kind == "MultiDiscrete":
        nvec = desc.get("nvec")
        if not isinstance(nvec, list) or not 1 <= len(nvec) <= 1000 or not all(_int(n, 1, 1 << 20) for n in nvec):
            raise RigDojoError(f"{bad}: nvec {str(nvec)[:80]} is not 1..1000 sizes of 1..{1 << 20}")
    elif kind == "Discrete":
        if not _int(desc.get("n"), 1, MAX_DISCRETE):
            raise RigDojoError(f"{bad}: n {str(desc.get('n'))[:40]} is not 1..{MAX_DISCRETE}")
    else:
        raise RigDojoError(f"{bad} is an unknown space {str(kind)[:40]!r}")


def space_size(desc: dict[str, Any]) -> int:
    """Inputs (observations) or outputs (actions) a network has for a checked space description."""
    if desc["type"] == "Box":
        return math.prod(desc["shape"])
    if desc["type"] == "MultiDiscrete":
        return sum(desc["nvec"])
    return int(desc["n"])


def _layers(value: Any, bad: str) -> list[int]:
    if not isinstance(value, list) or len(value) > MAX_LAYERS or not all(_int(n, 1, MAX_LAYER_UNITS) for n in value):
        raise RigDojoError(f"{bad}: net_arch {str(value)[:80]} is not up to {MAX_LAYERS} layer sizes of "
                           f"1..{MAX_LAYER_UNITS}")
    return value


def check_policy_kwargs(kwargs: Any, name: str) -> list[list[int]]:
    """The network settings a policy file may carry (what ``_policy_kwargs_json`` writes); returns its
    hidden-layer lists (one per network part) for sizing."""
    from .algorithms import ACTIVATIONS

    bad = f"{name}: metadata.json's policy_kwargs"
    if not isinstance(kwargs, dict):
        raise RigDojoError(f"{bad} is not a table of settings; the file is damaged or not made by Rig Dojo")
    nets: list[list[int]] = []
    for key, value in kwargs.items():
        if key == "net_arch":
            if isinstance(value, dict):
                if not value or not set(value) <= {"pi", "vf", "qf"}:
                    raise RigDojoError(f"{bad}: net_arch has parts {sorted(value)[:4]}; expected pi, vf, qf")
                nets += [_layers(v, bad) for v in value.values()]
            elif value is not None:
                nets.append(_layers(value, bad))
        elif key == "activation_fn":
            if value not in ACTIVATIONS:
                raise RigDojoError(f"{bad}: activation_fn {str(value)[:40]!r} is not one of {', '.join(ACTIVATIONS)}")
        elif key in _BOOL_KWARGS:
            if not isinstance(value, bool):
                raise RigDojoError(f"{bad}: {key} is not true or false")
        elif key in _FLOAT_KWARGS:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or abs(value) > 1e3:
                raise RigDojoError(f"{bad}: {key} is not a finite number of a plausible size")
        elif key == "n_critics":
            if not _int(value, 1, 16):
                raise RigDojoError(f"{bad}: n_critics is not 1..16")
        elif key == "features_extractor_kwargs":
            if value not in (None, {}):
                raise RigDojoError(f"{bad}: features_extractor_kwargs must be empty")
        else:
            raise RigDojoError(f"{bad}: {str(key)[:40]!r} is not a network setting Rig Dojo writes; refusing to "
                               "build from it")
    return nets or [[64, 64]]


def check_ppo_network(desc: Any, obs_space: dict[str, Any], act_space: dict[str, Any], name: str) -> list[list[int]]:
    """Our PPO's network description (``agents.ppo.ActorCritic.description``) as a policy file carries it in
    ``policy_kwargs``: every key known, sizes bounded and matching the file's (checked) spaces; returns its
    hidden layers for sizing."""
    from .algorithms import ACTIVATIONS

    bad = f"{name}: metadata.json's PPO network"
    if not isinstance(desc, dict):
        raise RigDojoError(f"{bad} is not a table of settings; the file is damaged or not made by Rig Dojo")
    from .chain_policy import NETWORK_KIND as CHAIN_KIND

    if desc.get("kind") == CHAIN_KIND:
        return check_chain_network(desc, obs_space, act_space, bad)
    unknown = sorted(set(desc) - {"kind", "obs_dim", "net_arch", "activation_fn", "obs_clip", "action"})
    if unknown:
        raise RigDojoError(f"{bad}: {str(unknown[0])[:40]!r} is not a setting Rig Dojo writes; refusing to build "
                           "from it")
    if desc.get("obs_dim") != space_size(obs_space) or not _int(desc.get("obs_dim"), 1, MAX_SPACE_SIZE):
        raise RigDojoError(f"{bad}: obs_dim {str(desc.get('obs_dim'))[:40]} does not match the observation space")
    layers = _layers(desc.get("net_arch"), bad)
    if desc.get("activation_fn") not in ACTIVATIONS:
        raise RigDojoError(f"{bad}: activation_fn {str(desc.get('activation_fn'))[:40]!r} is not one of "
                           f"{', '.join(ACTIVATIONS)}")
    clip = desc.get("obs_clip", 5.0)
    if isinstance(clip, bool) or not isinstance(clip, (int, float)) or not 0 < clip <= 1e6:
        raise RigDojoError(f"{bad}: obs_clip is not a positive number of a plausible size")
    action = desc.get("action")
    if not isinstance(action, dict) or set(action) != {"size", "nvec", "low", "high"}:
        raise RigDojoError(f"{bad}: its action layout is damaged")
    nvec, low, high = action["nvec"], action["low"], action["high"]
    if act_space["type"] == "Box":
        size = math.prod(act_space["shape"])
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (*low, *high)) \
            if isinstance(low, list) and isinstance(high, list) else False
        if action["size"] != size or nvec != [] or not numbers or len(low) != size or len(high) != size:
            raise RigDojoError(f"{bad}: its action layout does not match the action space")
    else:
        want = act_space["nvec"] if act_space["type"] == "MultiDiscrete" else [act_space["n"]]
        if nvec != want or action["size"] != len(want) or low != [] or high != []:
            raise RigDojoError(f"{bad}: its action layout does not match the action space")
    return [layers]


def check_chain_network(desc: dict[str, Any], obs_space: dict[str, Any], act_space: dict[str, Any],
                        bad: str) -> list[list[int]]:
    """The rig-agnostic chain network's description (``agents.chain_policy``): exactly the token layout this
    Rig Dojo reads; returns a layer list large enough to size its weights."""
    from .chain_policy import HIDDEN, token_shapes

    if set(desc) != {"kind", "tokens", "features", "hidden"}:
        raise RigDojoError(f"{bad}: a chain network is described by kind, tokens, features and hidden only")
    shapes = token_shapes()  # {observation size: (tokens, features)}: chains', hands', creatures'
    known = {(tokens, features, HIDDEN): obs for obs, (tokens, features) in shapes.items()}
    shape = (desc["tokens"], desc["features"], desc["hidden"])
    if shape not in known:
        raise RigDojoError(f"{bad}: a chain network of {str(desc['tokens'])[:20]} tokens x "
                           f"{str(desc['features'])[:20]} features x {str(desc['hidden'])[:20]} units; this Rig Dojo "
                           f"reads {' or '.join(f'{t} x {f} x {h}' for t, f, h in known)} (a policy from another "
                           "version)")
    obs_size, tokens = known[shape], shape[0]
    if space_size(obs_space) != obs_size or act_space.get("type") != "Box" or space_size(act_space) != tokens:
        raise RigDojoError(f"{bad}: its spaces are not the chain tokens' ({obs_size} observations, {tokens} "
                           "actions)")
    return [[4 * HIDDEN] * 4]


def policy_weight_budget(obs_size: int, act_size: int, nets: list[list[int]], *, networks: int = 8) -> int:
    """Bytes a policy's arrays can take at most: ``networks`` MLPs (actor, critics, their targets; float64
    at worst) of the widest layer list, plus optimizer-free slack."""
    widest = 0
    for layers in nets:
        sizes = [obs_size + act_size, *layers, max(act_size, 1) * 2 + 1]  # critics also read the action
        widest = max(widest, sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])))
    return min(MAX_POLICY_BYTES, networks * 8 * widest + (1 << 20))
