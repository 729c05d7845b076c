"""``RigSpec``: everything the kinematic twin needs, as numpy arrays and plain values.

Made by ``scene.kinematic.extract`` from a Blender armature (the only part that reads bpy),
saved to and loaded from one ``.npz`` file without Blender (no pickle: the
constraint program is stored as JSON beside the arrays).

The spec is a small *program*: ``nodes`` are the bones the twin evaluates, in an
order where every bone comes after what it depends on. Bones the controls do not
move are not nodes: their evaluated pose is a constant (``parent_const``, a
constraint's ``target_const``).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import RigDojoError
from ..spec_file import read_spec, save_npz, write_spec  # noqa: F401  (save_npz: re-exported)

# Bone.inherit_scale, as Blender's enum order (DNA BONE_INHERIT_SCALE_*)
INHERIT_SCALE = {"FULL": 0, "FIX_SHEAR": 1, "AVERAGE": 2, "NONE": 3, "NONE_LEGACY": 4, "ALIGNED": 5}
ROTATION_MODES = ("QUATERNION", "XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX", "AXIS_ANGLE")
SPEC_VERSION = 2  # 2: location controls and IK chains (version 1 files load with none)


@dataclass
class ConstraintSpec:
    """One supported constraint on a node, with its influence already evaluated (drivers included)."""

    type: str  # COPY_TRANSFORMS, COPY_ROTATION, COPY_LOCATION, COPY_SCALE, CHILD_OF
    name: str
    influence: float
    owner_space: str = "WORLD"
    target_space: str = "WORLD"
    target_node: int = -1  # index of a node, or -1 when the target is constant
    target_const: list | None = None  # 4x4 world matrix (row-major) of a constant target
    target_length: float = 0.0  # the target bone's length (for head_tail)
    head_tail: float = 0.0
    params: dict = field(default_factory=dict)


@dataclass
class RigSpec:
    rig_name: str
    object_matrix: np.ndarray  # (4,4) the armature object's world matrix
    node_names: list[str]  # bones the twin evaluates, dependencies first
    controls: list[str]  # what the policy moves (a subset of node_names)
    tracked: list[str]  # what rewards read (a subset of node_names)
    parent_node: np.ndarray  # (N,) int: parent's node index, -1 if none or constant
    parent_const: np.ndarray  # (N,4,4) parent's evaluated pose matrix when constant, else identity
    has_parent: np.ndarray  # (N,) bool
    offs_bone: np.ndarray  # (N,4,4) rest of the bone relative to its parent (arm_mat when no parent)
    parent_arm: np.ndarray  # (N,4,4) the parent's rest matrix (identity when none)
    hinge: np.ndarray  # (N,) bool: does not inherit rotation
    inherit_scale: np.ndarray  # (N,) int, INHERIT_SCALE codes
    no_local_location: np.ndarray  # (N,) bool
    basis: np.ndarray  # (N,4,4) the held local transform (loc, rot, scale) of every node
    lengths: np.ndarray  # (N,) bone lengths
    rest: np.ndarray  # (N,4,4) rest matrices in armature space (Bone.matrix_local)
    constraints: list[list[ConstraintSpec]]  # per node, in stack order
    control_modes: list[str]  # rotation mode of each control bone
    control_lock: np.ndarray  # (C,3) bool, rotation locks
    limit_low: np.ndarray  # (C,3) radians, Euler XYZ of the local rotation
    limit_high: np.ndarray  # (C,3)
    has_limit: np.ndarray  # (C,3) bool: the rig defines this limit (else the default range)
    control_rest_euler: np.ndarray  # (C,3) the controls' current rotation as Euler XYZ
    notes: list[str] = field(default_factory=list)  # what the extraction assumed (e.g. constant drivers)
    # location controls: bones whose location channels the policy moves (a subset of node_names)
    location_controls: list[str] = field(default_factory=list)
    location_lock: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=bool))  # (L,3)
    location_low: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (L,3) channel units
    location_high: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (L,3)
    has_location_limit: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), dtype=bool))  # (L,3)
    control_rest_location: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (L,3) current location
    # connected bones: Blender puts their head back on the parent's tail after their constraints
    connected: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (N,)
    # IK constraints the twin solves (``envs.kinematic.ik.solve_chain``), as plain dicts (see ``scene.kinematic.extract``)
    ik_chains: list[dict] = field(default_factory=list)
    # animation: what the controls do not move, per frame, sampled from Blender's evaluation at extraction (bones
    # playing their Action, an animated object or constraint target). Frame k is scene frame anim_frame_start + k;
    # the arrays above hold the state at the frame the rig was read at. Empty when nothing changes over the frames.
    anim_frame_start: int = 0
    anim_basis: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 4, 4)))  # (F,N,4,4) held local channels
    anim_parent_const: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 4, 4)))  # (F,N,4,4)
    anim_object_matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 4)))  # (F,4,4)
    anim_constants: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 4, 4)))  # (F,K,4,4), frame_constants order
    anim_influence: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (F,M), frame_constants order

    # ---- animation ----------------------------------------------------------------
    @property
    def anim_frames(self) -> int:
        """How many frames of animation the spec carries (0: the rig is held as it was read)."""
        return int(len(self.anim_basis))

    def at_frame(self, k: int) -> "RigSpec":
        """The spec with frame ``k``'s state of everything the controls do not move (no animation of its own)."""
        k = int(np.clip(k, 0, self.anim_frames - 1))
        constraints, ik_chains = with_frame_constants(self.constraints, self.ik_chains, self.anim_constants[k],
                                                      self.anim_influence[k])
        return dataclasses.replace(self, basis=self.anim_basis[k], parent_const=self.anim_parent_const[k],
                                   object_matrix=self.anim_object_matrix[k], constraints=constraints,
                                   ik_chains=ik_chains, **_NO_ANIMATION())

    def without_animation(self) -> "RigSpec":
        """The spec held at the frame it was read at."""
        return dataclasses.replace(self, **_NO_ANIMATION())

    # ---- derived ------------------------------------------------------------------
    @property
    def control_index(self) -> np.ndarray:
        return np.array([self.node_names.index(n) for n in self.controls], dtype=np.int64)

    @property
    def location_index(self) -> np.ndarray:
        return np.array([self.node_names.index(n) for n in self.location_controls], dtype=np.int64)

    @property
    def tracked_index(self) -> np.ndarray:
        return np.array([self.node_names.index(n) for n in self.tracked], dtype=np.int64)

    @property
    def chain_length(self) -> float:
        """The unit of rig-normalised observations: the summed length of the rotation controls and of the
        IK chains they or the location controls drive (an IK target's own bone is not part of the limb)."""
        bones = set(self.control_index.tolist())
        for chain in self.ik_chains:
            bones.update(chain["nodes"])
        length = float(self.lengths[sorted(bones)].sum()) if bones else 0.0
        spacing = self._joint_spacing(sorted(bones))
        if spacing > 2.0 * length:  # stub bones far apart (a glTF import under a scaled parent): their joints
            length = spacing        # set the limb's size, not the bones' drawn lengths (was ~100x too small)
        return length if length > 0 else 1.0

    def _joint_spacing(self, bones: list[int]) -> float:
        """The summed distance from each of ``bones`` to its children among them, head to head, plus the length
        of each with no child there (for a connected chain, its bones' summed length)."""
        heads = np.asarray(self.rest)[:, :3, 3]
        total = 0.0
        for b in bones:
            children = [c for c in bones if int(self.parent_node[c]) == b]
            total += sum(float(np.linalg.norm(heads[c] - heads[b])) for c in children) if children else \
                float(self.lengths[b])
        return total

    # ---- file ---------------------------------------------------------------------
    _ARRAYS = (
        "object_matrix", "parent_node", "parent_const", "has_parent", "offs_bone", "parent_arm", "hinge",
        "inherit_scale", "no_local_location", "basis", "lengths", "rest", "control_lock", "limit_low",
        "limit_high", "has_limit", "control_rest_euler",
    )
    _LOCATION_ARRAYS = ("location_lock", "location_low", "location_high", "has_location_limit",
                        "control_rest_location", "connected")
    _ANIMATION_ARRAYS = ("anim_basis", "anim_parent_const", "anim_object_matrix", "anim_constants", "anim_influence")

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Plain arrays (and one JSON string) for ``np.savez``; see :meth:`from_arrays`."""
        meta = {
            "version": SPEC_VERSION, "rig_name": self.rig_name, "node_names": self.node_names,
            "controls": self.controls, "tracked": self.tracked, "control_modes": self.control_modes,
            "notes": self.notes,
            "constraints": [[c.__dict__ for c in stack] for stack in self.constraints],
            "location_controls": self.location_controls, "ik_chains": self.ik_chains,
            "anim_frame_start": self.anim_frame_start,
        }
        out = {prefix + "meta": np.array(json.dumps(meta))}
        out.update({prefix + k: getattr(self, k) for k in self._ARRAYS + self._LOCATION_ARRAYS})
        if self.anim_frames:
            out.update({prefix + k: getattr(self, k) for k in self._ANIMATION_ARRAYS})
        return out

    @classmethod
    def from_arrays(cls, data, prefix: str = "") -> "RigSpec":
        meta = json.loads(str(data[prefix + "meta"]))
        if meta.get("version") not in (1, SPEC_VERSION):
            raise RigDojoError(f"rig spec version {meta.get('version')} is not {SPEC_VERSION}; extract it again")
        arrays = {k: np.array(data[prefix + k]) for k in cls._ARRAYS}
        if meta["version"] >= 2:
            arrays.update({k: np.array(data[prefix + k]) for k in cls._LOCATION_ARRAYS})
        if prefix + "anim_basis" in data:
            arrays.update({k: np.array(data[prefix + k]) for k in cls._ANIMATION_ARRAYS})
        constraints = [[ConstraintSpec(**c) for c in stack] for stack in meta["constraints"]]
        return cls(
            rig_name=meta["rig_name"], node_names=meta["node_names"], controls=meta["controls"],
            tracked=meta["tracked"], control_modes=meta["control_modes"], notes=meta["notes"],
            constraints=constraints, location_controls=meta.get("location_controls", []),
            ik_chains=meta.get("ik_chains", []), anim_frame_start=int(meta.get("anim_frame_start", 0)), **arrays,
        )

    def save(self, path: str | Path) -> Path:
        return write_spec(path, "kinematic.rig", {}, self.to_arrays())

    @classmethod
    def load(cls, path: str | Path) -> "RigSpec":
        _, arrays = read_spec(path, "kinematic.rig")
        try:
            return cls.from_arrays(arrays)
        except (ValueError, KeyError, TypeError) as exc:
            raise RigDojoError(f"{path} is not a Rig Dojo rig spec file ({exc}); extract it again from the .blend") from None


def _NO_ANIMATION() -> dict:
    return {"anim_frame_start": 0, "anim_basis": np.zeros((0, 0, 4, 4)), "anim_parent_const": np.zeros((0, 0, 4, 4)),
            "anim_object_matrix": np.zeros((0, 4, 4)), "anim_constants": np.zeros((0, 0, 4, 4)),
            "anim_influence": np.zeros((0, 0))}


def frame_constants(constraints: list[list[ConstraintSpec]], ik_chains: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """``(constants (K,4,4), influences (M,))``: the values of a compiled selection that an animation can change
    without changing its program (constant targets, Armature deforms of bones outside the twin, IK targets and
    poles outside it, influences), in the one order :func:`with_frame_constants` reads them back."""
    consts: list = []
    influence: list[float] = []
    for stack in constraints:
        for con in stack:
            influence.append(float(con.influence))
            if con.target_const is not None:
                consts.append(con.target_const)
            for t in con.params.get("targets", ()) if con.type == "ARMATURE" else ():
                if t["node"] < 0:
                    consts.append(t["deform"])
    for chain in ik_chains:
        influence.append(float(chain.get("influence", 1.0)))
        for key in ("target_const", "pole_const"):
            if chain.get(key) is not None:
                consts.append(chain[key])
    return np.array(consts, dtype=np.float64).reshape(-1, 4, 4), np.array(influence, dtype=np.float64)


def with_frame_constants(constraints: list[list[ConstraintSpec]], ik_chains: list[dict], consts: np.ndarray,
                         influence: np.ndarray) -> tuple[list[list[ConstraintSpec]], list[dict]]:
    """Copies of ``constraints`` and ``ik_chains`` holding ``consts`` and ``influence`` (see :func:`frame_constants`)."""
    constraints, ik_chains = copy.deepcopy(constraints), copy.deepcopy(ik_chains)
    c, m = iter(np.asarray(consts).tolist()), iter(np.asarray(influence).tolist())
    for stack in constraints:
        for con in stack:
            con.influence = next(m)
            if con.target_const is not None:
                con.target_const = next(c)
            for t in con.params.get("targets", ()) if con.type == "ARMATURE" else ():
                if t["node"] < 0:
                    t["deform"] = next(c)
    for chain in ik_chains:
        chain["influence"] = next(m)
        for key in ("target_const", "pole_const"):
            if chain.get(key) is not None:
                chain[key] = next(c)
    return constraints, ik_chains
