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
        return length if length > 0 else 1.0

    # ---- file ---------------------------------------------------------------------
    _ARRAYS = (
        "object_matrix", "parent_node", "parent_const", "has_parent", "offs_bone", "parent_arm", "hinge",
        "inherit_scale", "no_local_location", "basis", "lengths", "rest", "control_lock", "limit_low",
        "limit_high", "has_limit", "control_rest_euler",
    )
    _LOCATION_ARRAYS = ("location_lock", "location_low", "location_high", "has_location_limit",
                        "control_rest_location", "connected")

    def to_arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        """Plain arrays (and one JSON string) for ``np.savez``; see :meth:`from_arrays`."""
        meta = {
            "version": SPEC_VERSION, "rig_name": self.rig_name, "node_names": self.node_names,
            "controls": self.controls, "tracked": self.tracked, "control_modes": self.control_modes,
            "notes": self.notes,
            "constraints": [[c.__dict__ for c in stack] for stack in self.constraints],
            "location_controls": self.location_controls, "ik_chains": self.ik_chains,
        }
        out = {prefix + "meta": np.array(json.dumps(meta))}
        out.update({prefix + k: getattr(self, k) for k in self._ARRAYS + self._LOCATION_ARRAYS})
        return out

    @classmethod
    def from_arrays(cls, data, prefix: str = "") -> "RigSpec":
        meta = json.loads(str(data[prefix + "meta"]))
        if meta.get("version") not in (1, SPEC_VERSION):
            raise RigDojoError(f"rig spec version {meta.get('version')} is not {SPEC_VERSION}; extract it again")
        arrays = {k: np.array(data[prefix + k]) for k in cls._ARRAYS}
        if meta["version"] >= 2:
            arrays.update({k: np.array(data[prefix + k]) for k in cls._LOCATION_ARRAYS})
        constraints = [[ConstraintSpec(**c) for c in stack] for stack in meta["constraints"]]
        return cls(
            rig_name=meta["rig_name"], node_names=meta["node_names"], controls=meta["controls"],
            tracked=meta["tracked"], control_modes=meta["control_modes"], notes=meta["notes"],
            constraints=constraints, location_controls=meta.get("location_controls", []),
            ik_chains=meta.get("ik_chains", []), **arrays,
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
