"""IK chains, location-control bounds and switch hints for the extraction (the bpy edge).

- :func:`find_chains`: the IK chains Blender's Standard solver builds (``iksolver_plugin.cc``
  ``initialize_posetree``): per bone, the first IK constraint with a target that is neither
  muted nor at zero influence; the chain is the owner (``use_tail``) or its parent, and
  ``chain_count`` parents up (0: up to the root).
- :func:`effective_deps`: the bone dependency graph with the solve folded in: every chain bone
  reads every input of the chain (target, pole, the chain bones' own parents and constraint
  targets), and a bone that reads a chain bone waits for the chain's tip, after which the twin
  solves (``envs.kinematic.twin.RigTwin._solve_ik``).
- :func:`chain_spec`: a chain as the plain dict ``envs.kinematic.ik.solve_chain`` reads.
- :func:`location_bounds`: the location channel box of a control from its Limit Location constraints.
- :func:`switch_hint`: when the selection does not move what it should, the rig's custom property
  (an IK/FK or pole switch) whose other value would make it move, found by trying it in Blender.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import bpy
import numpy as np

_PROP_PATH = re.compile(r'pose\.bones\["((?:[^"\\]|\\.)*)"\]\["((?:[^"\\]|\\.)*)"\]$')
_CON_PATH = re.compile(r'pose\.bones\["((?:[^"\\]|\\.)*)"\]\.constraints\["((?:[^"\\]|\\.)*)"\]\.(influence|mute|enabled)$')


def _m(matrix) -> np.ndarray:
    return np.array([list(row) for row in matrix], dtype=np.float64)


@dataclass
class IKChain:
    owner: str
    constraint: str
    members: list[str]  # root first
    target: str = ""  # a bone of this armature ("" when the target is another object)
    pole: str = ""
    inputs: set[str] = field(default_factory=set)


def _valid_ik(con, obj) -> bool:
    if con.type != 'IK' or con.target is None:
        return False
    if con.target.type == 'ARMATURE' and not con.subtarget:
        return False
    return bool(getattr(con, "is_valid", True))


def find_chains(obj, ev) -> list[IKChain]:
    """Every IK chain the Standard solver evaluates (an inactive one changes nothing and is left out)."""
    chains = []
    for pb in ev.pose.bones:
        for con in pb.constraints:
            if not _valid_ik(con, obj):
                continue
            if con.mute or con.influence == 0.0 or not getattr(con, "enabled", True):
                continue  # Blender builds a tree for it, but it has no influence
            tip = pb if con.use_tail else pb.parent
            members: list[str] = []
            b = tip
            while b is not None:
                members.append(b.name)
                if len(members) == con.chain_count or len(members) > 255:
                    break
                b = b.parent
            if members:
                same = con.target.original == obj
                chains.append(IKChain(pb.name, con.name, members[::-1],
                                      target=con.subtarget if same else "",
                                      pole=con.pole_subtarget if (con.pole_target is not None
                                                                   and con.pole_target.original == obj) else ""))
            break  # Blender: one active IK constraint per bone
    return chains


def chain_problems(obj, ev, chain: IKChain) -> list[tuple[str, str, str]]:
    """What the twin's solver does not reproduce for this chain: (bone, constraint, reason)."""
    out = []
    if getattr(obj.pose, "ik_solver", 'LEGACY') != 'LEGACY':
        out.append((chain.owner, chain.constraint, "the iTaSC IK solver is not compiled; set the armature's IK "
                                                   "solver to Standard (Armature > Inverse Kinematics)"))
    for name in chain.members:
        pb = obj.pose.bones[name]
        limited = [a.upper() for a in "xyz" if getattr(pb, f"use_ik_limit_{a}")]
        if limited:
            out.append((name, chain.constraint, f"IK limits on {', '.join(limited)} are not compiled (Blender's "
                                                "solver clamps them in an inner loop); remove them or use Limit "
                                                "Rotation after the IK"))
    return out


def effective_deps(deps: dict[str, set[str]], chains: list[IKChain]) -> dict[str, set[str]]:
    """``deps`` with each IK solve folded in (see the module docstring)."""
    out = {b: set(d) for b, d in deps.items()}
    for ch in chains:
        members = set(ch.members)
        inputs = set()
        for m in ch.members:
            inputs |= deps.get(m, set()) - members
        inputs |= {x for x in (ch.target, ch.pole) if x}
        ch.inputs = inputs
        for m in ch.members:
            out[m] |= inputs
    for b, d in deps.items():
        for ch in chains:
            if b not in ch.members and d & set(ch.members):
                out[b].add(ch.members[-1])
    return out


def _target_point(con, obj, ev, node_key: str, sub: str, target, index_of: dict[str, int]) -> dict:
    if target is None:
        return {}
    if target.original == obj and sub:
        if sub in index_of:
            return {f"{node_key}_node": index_of[sub], f"{node_key}_length": float(obj.data.bones[sub].length)}
        return {f"{node_key}_node": -1, f"{node_key}_const": (_m(ev.matrix_world) @ _m(ev.pose.bones[sub].matrix)).tolist()}
    depsgraph = bpy.context.evaluated_depsgraph_get()
    tev = target.evaluated_get(depsgraph)
    if sub and target.type == 'ARMATURE':
        world = _m(tev.matrix_world) @ _m(tev.pose.bones[sub].matrix)
    else:
        world = _m(tev.matrix_world)
    return {f"{node_key}_node": -1, f"{node_key}_const": world.tolist()}


def chain_spec(obj, ev, chain: IKChain, index_of: dict[str, int]) -> dict:
    """The plain dict of ``envs.kinematic.ik.solve_chain`` for a chain whose bones are all twin nodes."""
    con = ev.pose.bones[chain.owner].constraints[chain.constraint]
    spec: dict[str, Any] = {
        "name": chain.constraint, "owner": chain.owner, "bones": list(chain.members),
        "nodes": [index_of[m] for m in chain.members], "pole_angle": float(con.pole_angle),
        "iterations": int(con.iterations), "stretch": bool(con.use_stretch), "weight": float(con.weight),
        "orient_weight": float(con.orient_weight), "use_location": bool(con.use_location),
        "use_rotation": bool(con.use_rotation), "influence": float(con.influence),
        "segments": [],
    }
    spec.update(_target_point(con, obj, ev, "target", con.subtarget, con.target, index_of))
    if con.pole_target is not None:
        spec.update(_target_point(con, obj, ev, "pole", con.pole_subtarget, con.pole_target, index_of))
    for name in chain.members:
        pb = ev.pose.bones[name]
        spec["segments"].append({
            "dof": [not pb.lock_ik_x, not pb.lock_ik_y, not pb.lock_ik_z],
            "stiffness": [float(pb.ik_stiffness_x), float(pb.ik_stiffness_y), float(pb.ik_stiffness_z)],
            "ikstretch": float(pb.ik_stretch),
        })
    return spec


def location_bounds(pb) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(low, high, has) of the location channels from Limit Location constraints in Local space that open
    the bone's stack (there the local matrix is the channels, so the box is exact)."""
    low, high = np.full(3, -np.inf), np.full(3, np.inf)
    for con in pb.constraints:
        if con.mute or con.influence == 0.0:
            continue
        if con.type != 'LIMIT_LOCATION' or con.owner_space != 'LOCAL' or con.influence < 1.0:
            break
        for k, a in enumerate("xyz"):
            if getattr(con, f"use_min_{a}"):
                low[k] = max(low[k], getattr(con, f"min_{a}"))
            if getattr(con, f"use_max_{a}"):
                high[k] = min(high[k], getattr(con, f"max_{a}"))
    has = np.isfinite(low) & np.isfinite(high)
    return low, high, has


def _switch_properties(obj) -> list[tuple[str, str]]:
    """Custom properties of pose bones that drivers of constraint influence or mute read: (bone, property)."""
    found: list[tuple[str, str]] = []
    anim = obj.animation_data
    for fc in (anim.drivers if anim else []):
        if not _CON_PATH.match(fc.data_path):
            continue
        for var in fc.driver.variables:
            for t in var.targets:
                m = _PROP_PATH.match(t.data_path or "") if t.id == obj else None
                if m and (m.group(1), m.group(2)) not in found:
                    found.append((m.group(1), m.group(2)))
    return found


def _other_values(value) -> list:
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, (int, float)):
        return [type(value)(v) for v in (1, 0) if v != value]
    return []


def switch_hint(obj, reaches) -> str:
    """``reaches()`` says whether the selection moves what it must in the current state. Try each switch
    property's other values, then pairs on one bone (an IK/FK switch with its pole switch); return
    "set BONE["PROP"] = VALUE" for the first that works, else ""."""
    props = [(b, p) for b, p in _switch_properties(obj) if b in obj.pose.bones and p in obj.pose.bones[b].keys()]
    trials: list[list[tuple[str, str, object]]] = []
    for bone, prop in props:
        trials += [[(bone, prop, v)] for v in _other_values(obj.pose.bones[bone][prop])]
    for i, (b1, p1) in enumerate(props):
        for b2, p2 in props[i + 1:]:
            if b1 != b2:
                continue
            for v1 in _other_values(obj.pose.bones[b1][p1]):
                for v2 in _other_values(obj.pose.bones[b2][p2]):
                    trials.append([(b1, p1, v1), (b2, p2, v2)])
    for trial in trials:
        old = [(b, p, obj.pose.bones[b][p]) for b, p, _ in trial]
        try:
            for b, p, v in trial:
                obj.pose.bones[b][p] = v
            obj.update_tag()
            bpy.context.view_layer.update()
            if reaches():
                return " and ".join(f'set {b}["{p}"] = {v!r} (it is {o!r})' for (b, p, v), (_, _, o) in zip(trial, old))
        finally:
            for b, p, o in old:
                obj.pose.bones[b][p] = o
            obj.update_tag()
            bpy.context.view_layer.update()
    return ""
