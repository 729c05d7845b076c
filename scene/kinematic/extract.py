"""Compile a Blender armature and a selection of bones into a ``RigSpec`` (the bpy edge).

Reads the *evaluated* rig once: drivers, constraint influences and the pose of
every bone the controls do not move are captured as constants. IK chains are
compiled for ``envs.kinematic.ik`` (``scene.kinematic.extract_ik``). What the twin cannot reproduce
exactly (an unsupported constraint, IK limits or tree IK, a driver that reads a
moving bone) is reported by bone, constraint and reason, never approximated.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass

import bpy
import numpy as np

from ...errors import NotExactError, RigDojoError, did_you_mean, listed
from ...envs import kinematics as km
from ...envs.kinematic.constraints import TARGETLESS
from ...envs.kinematic.rig_spec import INHERIT_SCALE, ConstraintSpec, RigSpec, frame_constants, with_frame_constants
from ...envs.kinematic.twin import SUPPORTED_CONSTRAINTS
from ..pose import PoseBackup, frames_preserved
from . import extract_ik

DEFAULT_LIMIT = np.pi  # radians, for an axis the rig does not limit
_BONE_PATH = re.compile(r'pose\.bones\["((?:[^"\\]|\\.)*)"\]')
_TRANSFORM_PROPS = ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale",
                    "matrix", "head", "tail")


@dataclass(frozen=True)
class Problem:
    bone: str
    constraint: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.bone}" + (f" / {self.constraint}" if self.constraint else "")
        return f"{where}: {self.reason}"


def _m(matrix) -> np.ndarray:
    return np.array([list(row) for row in matrix], dtype=np.float64)


def get_armature(name_or_obj) -> bpy.types.Object:
    obj = bpy.data.objects.get(name_or_obj) if isinstance(name_or_obj, str) else name_or_obj
    if obj is None:
        armatures = [o.name for o in bpy.data.objects if o.type == 'ARMATURE']
        hint = did_you_mean(str(name_or_obj), armatures)  # only an armature would do
        raise RigDojoError(f"no object named {name_or_obj!r}{hint or ''}; armatures in this file: {listed(armatures)}")
    if obj.type != 'ARMATURE':
        kind = obj.type.lower().replace("_", " ")
        article = "an" if kind[0] in "aeiou" else "a"
        raise RigDojoError(f"{obj.name!r} is {article} {kind}, not an armature; pick an armature object")
    return obj


def _check_bones(obj, names: list[str], what: str) -> None:
    if not names:
        raise RigDojoError(f"no {what} bones given; name at least one bone of {obj.name!r}")
    missing = [n for n in names if n not in obj.pose.bones]
    if missing:
        hint = did_you_mean(missing[0], obj.pose.bones.keys())
        raise RigDojoError(f"{obj.name!r} has no bone named {', '.join(map(repr, missing))} ({what}){hint}")


def _active(con) -> bool:
    return not con.mute and con.influence > 0.0 and getattr(con, "enabled", True)


def _full_override(con, obj) -> bool:
    """A constraint whose result does not depend on the owner's parent or earlier stack."""
    return (con.type == 'COPY_TRANSFORMS' and con.mix_mode == 'REPLACE' and con.influence >= 1.0
            and con.owner_space in ('WORLD', 'POSE') and con.target_space in ('WORLD', 'POSE'))


def _bone_deps(obj, pb_eval, loose: frozenset = frozenset()) -> set[str]:
    """Bones of ``obj`` whose evaluated pose ``pb_eval`` reads (parent, constraint targets).

    A connected bone keeps its head on its parent's tail whatever its constraints do, so it reads its
    parent, unless it is ``loose``: its constraints put the head there anyway (see :func:`_loose_heads`)."""
    deps: set[str] = set()
    stack = [c for c in pb_eval.constraints if _active(c)]
    override = max((k for k, c in enumerate(stack) if _full_override(c, obj)), default=None)
    connected = pb_eval.bone.use_connect and pb_eval.name not in loose
    if (override is None or connected) and pb_eval.parent is not None:
        deps.add(pb_eval.parent.name)
    for con in stack[override or 0:]:
        for target, sub in _targets(con):
            if target is not None and target.original == obj and sub:
                deps.add(sub)
    return deps


def _targets(con):
    if hasattr(con, "targets"):  # Armature constraint: a target at weight 0 is skipped by Blender
        return [(t.target, t.subtarget) for t in con.targets if t.weight > 0.0]
    target = getattr(con, "target", None)
    return [(target, getattr(con, "subtarget", ""))]


def _driver_problems(obj, nodes: set[str], moving: set[str], controls: set[str]) -> tuple[list[Problem], list[str]]:
    problems, notes = [], []
    anim = obj.animation_data
    for fc in (anim.drivers if anim else []):
        m = _BONE_PATH.match(fc.data_path)
        if not m or m.group(1) not in nodes:
            continue
        bone = m.group(1)
        reads = []
        for var in fc.driver.variables:
            for t in var.targets:
                reads += _moving_reads(obj, var, t, moving, controls)
        channel = fc.data_path[m.end():]
        if bone in controls and any(channel.startswith("." + p) for p in _TRANSFORM_PROPS):
            problems.append(Problem(bone, "", f"a driver sets {channel.lstrip('.')}, so the policy cannot move it; "
                                               "pick a control bone without drivers"))
        elif reads:
            problems.append(Problem(bone, "", f"a driver on {channel.lstrip('.')} reads {', '.join(sorted(set(reads)))}, "
                                               "which the controls move; drivers are not compiled"))
        else:
            notes.append(f"driver on {bone}{channel} is constant for this selection")
    return problems, notes


_CHANNELS = ("location", "rotation_quaternion", "rotation_euler", "rotation_axis_angle", "scale")


def _moving_reads(obj, var, target, moving: set[str], controls: set[str]) -> list[str]:
    """Bones whose motion a driver variable reads (empty when its value is constant for this selection).

    A bone's own channels (location, rotation, scale) change only if the policy sets them, i.e. for a
    control; its pose matrix, head and tail change whenever the controls move it; a Transform Channel
    variable in local space reads channels plus constraints, in world or transform space the pose.
    """
    if target.id != obj:
        return []
    if var.type in ('ROTATION_DIFF', 'LOC_DIFF'):
        return [target.bone_target] if target.bone_target in moving else []
    if var.type == 'TRANSFORMS':
        bone = target.bone_target
        if target.transform_space == 'LOCAL_SPACE':
            constrained = bool(obj.pose.bones[bone].constraints) if bone in obj.pose.bones else False
            return [bone] if bone in controls or (bone in moving and constrained) else []
        return [bone] if bone in moving else []
    match = _BONE_PATH.match(target.data_path or "")
    if not match:
        return []
    bone, rest = match.group(1), target.data_path[match.end():]
    if rest.startswith("[") or not rest:  # a custom property: constant
        return []
    if rest.lstrip(".").startswith(_CHANNELS):
        return [bone] if bone in controls else []
    return [bone] if bone in moving else []


def _ik_problems(obj, nodes: set[str]) -> list[Problem]:
    """Spline IK on the selection's bones (Standard IK is compiled: ``scene.kinematic.extract_ik``)."""
    problems = []
    for pb in obj.pose.bones:
        for con in pb.constraints:
            if con.type != 'SPLINE_IK' or not _active(con):
                continue
            chain: list[str] = []
            b, count = pb if con.use_tail else pb.parent, con.chain_count
            while b is not None and (count == 0 or len(chain) < count):
                chain.append(b.name)
                b = b.parent
            hit = sorted(set(chain) & nodes)
            if hit:
                problems.append(Problem(pb.name, con.name, f"Spline IK solves the chain of {', '.join(hit)}; "
                                        "Spline IK is not compiled: pick controls it does not drive"))
    return problems


def _armature_spec(obj, ev, pb_eval, con, index_of, spaces) -> ConstraintSpec | Problem:
    """The Armature constraint as a weighted sum of its targets' deform matrices (no envelopes, no B-Bones,
    no preserve volume)."""
    name = pb_eval.name
    if con.use_deform_preserve_volume or con.use_bone_envelopes:
        return Problem(name, con.name, "Armature constraint with Preserve Volume or Envelopes is not supported")
    targets = []
    for t in con.targets:
        if t.weight <= 0.0:
            continue
        if t.target is None or t.target.type != 'ARMATURE' or t.subtarget not in t.target.pose.bones:
            return Problem(name, con.name, "a target is not a bone of an armature")
        tb = t.target.data.bones[t.subtarget]
        if tb.bbone_segments > 1:
            return Problem(name, con.name, f"target {t.subtarget} is a B-Bone (segments are not compiled)")
        if t.target.original == obj and t.subtarget in index_of:
            targets.append({"node": index_of[t.subtarget], "weight": float(t.weight),
                            "rest_inv": np.linalg.inv(_m(tb.matrix_local)).tolist()})
        else:
            tev = t.target.evaluated_get(bpy.context.evaluated_depsgraph_get())
            world = _m(tev.matrix_world)
            deform = world @ _m(tev.pose.bones[t.subtarget].matrix) @ np.linalg.inv(_m(tb.matrix_local)) @ \
                np.linalg.inv(world)
            targets.append({"node": -1, "weight": float(t.weight), "deform": deform.tolist()})
    return ConstraintSpec(type="ARMATURE", name=con.name, influence=float(con.influence), owner_space=spaces[0],
                          target_space="WORLD", params={"targets": targets})


def _rot_order(pb) -> str:
    """The Euler order a constraint on ``pb`` uses for "Auto" (Blender's ``cob->rotOrder``)."""
    return pb.rotation_mode if pb.rotation_mode in km.EULER_ORDERS else "XYZ"


def _limit_params(con, pb) -> dict:
    axes = "xyz"
    if con.type == 'LIMIT_ROTATION':
        return {"use": [bool(getattr(con, f"use_limit_{a}")) for a in axes],
                "min": [float(getattr(con, f"min_{a}")) for a in axes],
                "max": [float(getattr(con, f"max_{a}")) for a in axes],
                "order": _rot_order(pb) if con.euler_order == 'AUTO' else con.euler_order,
                "legacy": bool(getattr(con, "use_legacy_behavior", False))}
    return {"use_min": [bool(getattr(con, f"use_min_{a}")) for a in axes],
            "use_max": [bool(getattr(con, f"use_max_{a}")) for a in axes],
            "min": [float(getattr(con, f"min_{a}")) for a in axes],
            "max": [float(getattr(con, f"max_{a}")) for a in axes]}


def _constraint_spec(obj, ev, pb_eval, con, index_of: dict[str, int]) -> ConstraintSpec | Problem:
    name = pb_eval.name
    if con.type not in SUPPORTED_CONSTRAINTS:
        return Problem(name, con.name, f"{con.type.replace('_', ' ').title()} constraints are not supported "
                                       f"(supported: {', '.join(sorted(SUPPORTED_CONSTRAINTS))})")
    spaces = (con.owner_space, getattr(con, "target_space", "WORLD"))
    if con.type in TARGETLESS:
        spaces = (spaces[0], "WORLD")
    if spaces[0] not in ("WORLD", "POSE", "LOCAL") or spaces[1] not in ("WORLD", "POSE", "LOCAL"):
        return Problem(name, con.name, f"space {spaces[0]}/{spaces[1]} is not supported "
                                       "(World, Pose or Local space)")
    if con.type in TARGETLESS:
        return ConstraintSpec(type=con.type, name=con.name, influence=float(con.influence), owner_space=spaces[0],
                              target_space="WORLD", params=_limit_params(con, pb_eval))
    if con.type == 'ARMATURE':
        return _armature_spec(obj, ev, pb_eval, con, index_of, spaces)
    target, sub = _targets(con)[0]
    if target is None:
        return Problem(name, con.name, "has no target")
    params: dict = {}
    if con.type == 'COPY_TRANSFORMS':
        if con.mix_mode not in ("REPLACE", "BEFORE_FULL", "AFTER_FULL"):
            return Problem(name, con.name, f"mix mode {con.mix_mode} is not supported")
        params = {"mix_mode": con.mix_mode, "remove_target_shear": bool(con.remove_target_shear)}
    elif con.type == 'COPY_ROTATION':
        params = {"use": [bool(con.use_x), bool(con.use_y), bool(con.use_z)],
                  "invert": [bool(con.invert_x), bool(con.invert_y), bool(con.invert_z)],
                  "mix_mode": con.mix_mode,
                  "order": _rot_order(pb_eval) if con.euler_order == 'AUTO' else con.euler_order}
    elif con.type == 'COPY_LOCATION':
        params = {"use": [con.use_x, con.use_y, con.use_z], "invert": [con.invert_x, con.invert_y, con.invert_z],
                  "use_offset": bool(con.use_offset)}
    elif con.type == 'COPY_SCALE':
        params = {"use": [con.use_x, con.use_y, con.use_z], "power": float(con.power),
                  "use_offset": bool(con.use_offset), "use_add": bool(con.use_add),
                  "uniform": bool(con.use_make_uniform)}
    elif con.type == 'DAMPED_TRACK':
        params = {"track_axis": con.track_axis}
    elif con.type == 'STRETCH_TO':
        params = {"volume": con.volume, "keep_axis": con.keep_axis, "rest_length": float(con.rest_length),
                  "bulge": float(con.bulge), "use_bulge_min": bool(con.use_bulge_min),
                  "use_bulge_max": bool(con.use_bulge_max), "bulge_min": float(con.bulge_min),
                  "bulge_max": float(con.bulge_max), "bulge_smooth": float(con.bulge_smooth)}
        if params["rest_length"] <= 0:
            return Problem(name, con.name, "Stretch To has no rest length yet; press its Reset button (R)")
    elif con.type == 'CHILD_OF':
        flags = [getattr(con, f"use_{k}_{a}") for k in ("location", "rotation", "scale") for a in "xyz"]
        if not all(flags) or con.set_inverse_pending:
            return Problem(name, con.name, "only Child Of with every channel enabled and a set inverse is supported")
        params = {"inverse_matrix": _m(con.inverse_matrix).tolist()}
    if getattr(con, "use_bbone_shape", False) and getattr(con, "head_tail", 0.0):
        return Problem(name, con.name, "Follow B-Bone shape is not supported")
    spec = ConstraintSpec(type=con.type, name=con.name, influence=float(con.influence), owner_space=spaces[0],
                          target_space=spaces[1], head_tail=float(getattr(con, "head_tail", 0.0)), params=params)
    if spec.target_space == "LOCAL":
        if target.original != obj or not sub:
            return Problem(name, con.name, "a Local-space target must be a bone of the same armature")
        if sub in index_of:
            spec.target_node = index_of[sub]
            return spec
        tpb = ev.pose.bones[sub]
        local = ev.convert_space(pose_bone=tpb, matrix=tpb.matrix, from_space='POSE', to_space='LOCAL')
        spec.target_const = _m(local).tolist()
    elif target.original == obj and sub:
        if sub in index_of:
            spec.target_node = index_of[sub]
            spec.target_length = float(obj.data.bones[sub].length)
        else:  # a bone the controls do not move: its evaluated matrix is a constant
            tpb = ev.pose.bones[sub]
            mat = _m(tpb.matrix)
            if spec.head_tail:
                mat[:3, 3] += mat[:3, 1] * (obj.data.bones[sub].length * spec.head_tail)
            spec.target_const = (_m(ev.matrix_world) @ mat).tolist()
    elif sub and target.type == 'ARMATURE':
        tev = target.evaluated_get(bpy.context.evaluated_depsgraph_get())
        spec.target_const = (_m(tev.matrix_world) @ _m(tev.pose.bones[sub].matrix)).tolist()
    else:
        spec.target_const = _m(target.evaluated_get(bpy.context.evaluated_depsgraph_get()).matrix_world).tolist()
    return spec


def _rotation_matrix(pb) -> np.ndarray:
    mode = pb.rotation_mode
    if mode == 'QUATERNION':
        return km.quaternion_to_matrix(np.array(pb.rotation_quaternion))
    if mode == 'AXIS_ANGLE':
        angle, *axis = pb.rotation_axis_angle
        return km.axis_angle_to_matrix(np.array(axis), np.array(angle))
    return km.euler_to_matrix(np.array(pb.rotation_euler), mode)


def _limits(pb) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    low, high, has = np.full(3, -DEFAULT_LIMIT), np.full(3, DEFAULT_LIMIT), np.zeros(3, bool)
    for k, axis in enumerate("xyz"):
        if getattr(pb, f"use_ik_limit_{axis}"):
            low[k], high[k], has[k] = getattr(pb, f"ik_min_{axis}"), getattr(pb, f"ik_max_{axis}"), True
    active = [c for c in pb.constraints if _active(c)]
    for con in active:  # a broken limit is bad input whatever its space
        if con.type == 'LIMIT_ROTATION':
            for axis in "xyz":
                if getattr(con, f"use_limit_{axis}") and getattr(con, f"min_{axis}") > getattr(con, f"max_{axis}"):
                    raise RigDojoError(f"bone {pb.name!r} has a {axis.upper()} rotation limit with min > max; "
                                       "fix the limit")
    for con in active[:1]:  # opening the stack in Local space, the constraint's angles are the channels'
        order = _rot_order(pb) if con.type == 'LIMIT_ROTATION' and con.euler_order == 'AUTO' else \
            getattr(con, "euler_order", "")
        if con.type == 'LIMIT_ROTATION' and con.owner_space == 'LOCAL' and order == 'XYZ' and con.influence >= 1.0:
            for k, axis in enumerate("xyz"):
                if getattr(con, f"use_limit_{axis}"):
                    lo, hi = getattr(con, f"min_{axis}"), getattr(con, f"max_{axis}")
                    low[k], high[k] = (max(low[k], lo), min(high[k], hi)) if has[k] else (lo, hi)
                    has[k] = True
    if np.any(low > high):
        axis = "xyz"[int(np.argmax(low > high))]
        raise RigDojoError(f"bone {pb.name!r} has a {axis.upper()} rotation limit with min > max; fix the limit")
    return low, high, has


def _propagate(seeds: set[str], deps: dict[str, set[str]], chains) -> set[str]:
    """Every bone whose pose the ``seeds`` change; an IK chain moves as a whole."""
    dependents: dict[str, set[str]] = {}
    for bone, ds in deps.items():
        for d in ds:
            dependents.setdefault(d, set()).add(bone)
    moving, todo = set(seeds), list(seeds)
    while todo:
        while todo:
            for child in dependents.get(todo.pop(), ()):
                if child not in moving:
                    moving.add(child)
                    todo.append(child)
        for ch in chains:
            if moving & set(ch.members):
                new = [m for m in ch.members if m not in moving]
                moving.update(new)
                todo += new
    return moving


def _graph(obj, loose: frozenset = frozenset()):
    """(evaluated object, effective dependencies, IK chains) of the rig as it is now."""
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    deps = {pb.name: _bone_deps(obj, pb, loose) for pb in ev.pose.bones}
    chains = extract_ik.find_chains(obj, ev)
    return ev, extract_ik.effective_deps(deps, chains), chains


def _location_problems(obj, names: list[str]) -> None:
    for name in names:
        bone, pb = obj.data.bones[name], obj.pose.bones[name]
        if bone.use_connect:
            raise RigDojoError(f"bone {name!r} is connected to its parent, so its location cannot move; pick an "
                               "unconnected bone (an IK target, a pole, a root) as a location control")
        if all(pb.lock_location):
            raise RigDojoError(f"every location axis of bone {name!r} is locked; unlock one or leave it out of "
                               "the location controls")


def _loose_heads(obj, spec: RigSpec, samples: int = 48) -> frozenset:
    """Connected bones (with a full Copy Transforms, so only the head rule reads the parent) whose head
    lands on the parent's tail anyway, within 1e-6 chain lengths, at every sampled pose (Rigify's DEF
    chains: the parent stretches to the bone's target): for them the twin need not evaluate the parent (a
    DEF chain is most of a limb's compiled bones). A structural identity holds at every pose; sampling
    finds it."""
    from ...envs.kinematic.location import location_box
    from ...envs.kinematic.twin import RigTwin

    candidates = []
    for i, name in enumerate(spec.node_names):
        pb = obj.pose.bones[name]
        stack = [c for c in pb.constraints if _active(c)]
        if spec.connected[i] and stack and any(_full_override(c, obj) for c in stack):
            candidates.append(i)
    if not candidates:
        return frozenset()
    rng = np.random.default_rng(7)
    u = rng.uniform(size=(samples,) + spec.limit_low.shape)
    angles = np.where(spec.control_lock, spec.control_rest_euler, spec.limit_low + u * (spec.limit_high - spec.limit_low))
    low, high = location_box(spec, 0.5)
    low = np.where(np.isfinite(low), low, spec.control_rest_location)
    high = np.where(np.isfinite(high), high, spec.control_rest_location)
    locations = low + rng.uniform(size=(samples,) + low.shape) * (high - low)
    free = spec.connected.copy()
    free[candidates] = False
    twin = RigTwin(dataclasses.replace(spec, connected=free))
    world = twin.forward(km.euler_xyz_to_matrix(angles), all_nodes=True, control_loc=locations)
    loose = []
    scale = spec.chain_length * (float(np.cbrt(abs(np.linalg.det(spec.object_matrix[:3, :3])))) or 1.0)
    ob = spec.object_matrix
    for i in candidates:
        p = int(spec.parent_node[i])
        if p >= 0:
            tail = world[:, p, :3, 3] + world[:, p, :3, 1] * spec.lengths[p]
        else:
            const = ob @ spec.parent_const[i]
            tail = np.broadcast_to(const[:3, 3] + const[:3, 1] * obj.data.bones[spec.node_names[i]].parent.length,
                                   (samples, 3))
        # 1e-6 chain lengths: a hundredth of verify's tolerance (a Stretch To's rest length is a float32
        # copy of the bone length, so its tail reaches the target within float rounding, not exactly)
        if np.abs(world[:, i, :3, 3] - tail).max() <= 1e-6 * scale:
            loose.append(spec.node_names[i])
    return frozenset(loose)


@dataclass
class _FrameState:
    """What a selection reads from the evaluated rig at one frame (besides its structure)."""

    basis: np.ndarray  # (N,4,4) held local channels of the nodes
    parent_const: np.ndarray  # (N,4,4) evaluated pose of a parent the controls do not move
    constraints: list
    ik_chains: list
    object_matrix: np.ndarray
    problems: list


def _frame_state(obj, ev, order: list[str], index_of: dict[str, int], node_chains) -> _FrameState:
    basis, parent_const, constraints, problems = [], [], [], []
    for name in order:
        pb_eval, bone = ev.pose.bones[name], obj.data.bones[name]
        parent = bone.parent
        parent_const.append(_m(ev.pose.bones[parent.name].matrix) if parent and parent.name not in index_of
                            else np.eye(4))
        loc = np.zeros(3) if bone.use_connect else np.array(pb_eval.location)
        basis.append(km.compose(loc, _rotation_matrix(pb_eval), np.array(pb_eval.scale)))
        stack = []
        active = [c for c in pb_eval.constraints if _active(c)]
        start = max([k for k, c in enumerate(active) if _full_override(c, obj)], default=0)
        for con in active[start:]:
            if con.type == 'IK':
                continue  # solved with its chain (envs.kinematic.ik), after the chain's bones are evaluated
            compiled = _constraint_spec(obj, ev, pb_eval, con, index_of)
            if isinstance(compiled, Problem):
                problems.append(compiled)
            else:
                stack.append(compiled)
        constraints.append(stack)
    ik_chains = [extract_ik.chain_spec(obj, ev, ch, index_of) for ch in node_chains]
    return _FrameState(np.array(basis).reshape(-1, 4, 4), np.array(parent_const).reshape(-1, 4, 4), constraints,
                       ik_chains, _m(ev.matrix_world), problems)


@dataclass
class _Animation:
    arrays: dict
    problems: list


def _program(constraints, ik_chains) -> str:
    """A selection's constraint program without the values an animation may change (frame_constants')."""
    consts, infl = frame_constants(constraints, ik_chains)
    blank = with_frame_constants(constraints, ik_chains, np.zeros_like(consts), np.zeros_like(infl))
    return json.dumps([[[c.__dict__ for c in stack] for stack in blank[0]], blank[1]], sort_keys=True, default=str)


def _plays_animation(obj) -> bool:
    ad = obj.animation_data
    return ad is not None and (ad.action is not None or any(not t.mute and len(t.strips) for t in ad.nla_tracks))


def _sample_animation(obj, frames: tuple[int, int], order, index_of, node_chains, now: _FrameState
                      ) -> _Animation | None:
    """The per-frame state of what the controls do not move over ``frames``, or None when it stays as it is now.

    An armature playing an Action (or NLA strips) is sampled at every frame; any other rig at five frames first
    (an animated constraint target, a driver on the frame), and at every frame only when one of them differs.
    Sampled the way Blender evaluates (frame_set, then the evaluated pose); the pose the user had on the bones
    (unkeyed changes included) and the frame are put back afterwards. A frame whose constraint program differs
    (a constraint switched on or off, an animated setting other than an influence) is a problem: not compiled.
    """
    start, end = int(frames[0]), int(frames[1])
    if end <= start:
        return None
    frame_list = list(range(start, end + 1))
    animated = _plays_animation(obj)
    probes = frame_list if animated else sorted({start, start + (end - start) // 4, (start + end) // 2,
                                                 start + 3 * (end - start) // 4, end})
    program = _program(now.constraints, now.ik_chains)
    states: dict[int, _FrameState] = {}
    backup = PoseBackup(obj, [pb.name for pb in obj.pose.bones])
    try:
        with frames_preserved() as scene:
            def read(f: int) -> _FrameState:
                scene.frame_set(f)
                ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
                return _frame_state(obj, ev, order, index_of, node_chains)

            for f in probes:
                states[f] = read(f)
            if not animated and all(_same(states[f], now) for f in probes):
                return None
            for f in frame_list:
                if f not in states:
                    states[f] = read(f)
    finally:
        backup.restore()
    seq = [states[f] for f in frame_list]
    problems = [p for st in seq for p in st.problems][:1]
    changed = next((f for f, st in zip(frame_list, seq) if _program(st.constraints, st.ik_chains) != program), None)
    if changed is not None and not problems:
        problems.append(Problem(obj.name, "", f"at frame {changed} the animation switches a constraint on or off or "
                                "changes a setting other than its influence; not compiled (bake a shorter frame "
                                "range, or leave those bones out)"))
    if all(_same(st, seq[0]) for st in seq[1:]) and _same(seq[0], now):
        return None
    consts = [frame_constants(st.constraints, st.ik_chains) for st in seq]
    return _Animation({
        "anim_frame_start": start,
        "anim_basis": np.stack([st.basis for st in seq]),
        "anim_parent_const": np.stack([st.parent_const for st in seq]),
        "anim_object_matrix": np.stack([st.object_matrix for st in seq]),
        "anim_constants": np.stack([c for c, _ in consts]) if not problems else np.zeros((0, 0, 4, 4)),
        "anim_influence": np.stack([i for _, i in consts]) if not problems else np.zeros((0, 0)),
    }, problems)


def _same(a: _FrameState, b: _FrameState) -> bool:
    if not (np.array_equal(a.basis, b.basis) and np.array_equal(a.parent_const, b.parent_const)
            and np.array_equal(a.object_matrix, b.object_matrix)):
        return False
    ca, ia = frame_constants(a.constraints, a.ik_chains)
    cb, ib = frame_constants(b.constraints, b.ik_chains)
    return ca.shape == cb.shape and ia.shape == ib.shape and np.array_equal(ca, cb) and np.array_equal(ia, ib) \
        and _program(a.constraints, a.ik_chains) == _program(b.constraints, b.ik_chains)


def extract_rig(rig, controls: list[str], tracked: list[str], strict: bool = True,
                location_controls: list[str] | None = None, _loose: frozenset | None = None,
                frames: tuple[int, int] | None = None) -> RigSpec:
    """Compile ``rig`` for moving ``controls`` (rotation) and ``location_controls`` (location) and reading
    ``tracked``. ``frames``: a frame range over which what the controls do not move is sampled from Blender
    when it is animated (``RigSpec.anim_*``; see :func:`_sample_animation`).

    Raises ``RigDojoError`` for bad input (a control that moves no tracked bone says which rig switch
    would change that) and ``NotExactError`` (with every problem listed) when the selection depends on
    something the twin cannot reproduce; with ``strict=False`` the problems are returned in
    ``spec.notes`` instead and the offending constraints are left out.
    """
    obj = get_armature(rig)
    controls, tracked = list(dict.fromkeys(controls)), list(dict.fromkeys(tracked))
    locations = list(dict.fromkeys(location_controls or []))
    if controls or not locations:
        _check_bones(obj, controls, "control")
    if locations:
        _check_bones(obj, locations, "location control")
        _location_problems(obj, locations)
    _check_bones(obj, tracked, "tracked")
    obj.update_tag()  # custom properties set from Python (e.g. an IK/FK switch) do not tag it themselves
    bpy.context.view_layer.update()
    ev, deps, chains = _graph(obj, _loose or frozenset())
    seeds = set(controls) | set(locations)

    def reaches() -> bool:  # in the rig's current state: every tracked bone moves and every control matters
        _, d, ch = _graph(obj)
        moving = _propagate(seeds, d, ch)
        if not set(tracked) <= moving:
            return False
        return all(tracked_from(c, d, ch) for c in seeds)

    def tracked_from(control: str, d, ch) -> bool:
        return bool(_propagate({control}, d, ch) & set(tracked))

    moving = _propagate(seeds, deps, chains)
    unmoved = [t for t in tracked if t not in moving]
    idle = [c for c in controls + locations if not tracked_from(c, deps, chains)] if not unmoved else []
    if (unmoved or idle) and _loose is None:  # (the second pass may find a bone moves less than 1e-6: kept)
        hint = extract_ik.switch_hint(obj, reaches)
        ev, deps, chains = _graph(obj)  # the rig as it was
        if hint:
            from .switches import switches_in

            flag = " ".join(f"--switch '{b}[\"{p}\"]={v}'" for b, p, v in switches_in(hint))
            hint = f"; this rig has a switch for it: {hint} (on the command line {flag}; in the sidebar, Set Switch)"
        if unmoved:
            raise RigDojoError(f"no control moves the tracked bone {', '.join(map(repr, unmoved))}; "
                               f"pick controls that are its parents (or that its constraints follow){hint}")
        raise RigDojoError(f"the control{'s' if len(idle) > 1 else ''} {', '.join(map(repr, idle))} "
                           f"move{'' if len(idle) > 1 else 's'} no tracked bone ({', '.join(tracked)}); "
                           f"leave {'them' if len(idle) > 1 else 'it'} out of the controls{hint}")
    for ch in chains:  # an IK target (or pole) riding on the chain it solves: Blender has a cycle too
        riders = [x for x in (ch.target, ch.pole) if x and x in moving and x in _propagate(set(ch.members), deps, [])]
        if riders:
            raise RigDojoError(f"the IK target {riders[0]!r} of {ch.owner} / {ch.constraint} follows a bone of the "
                               f"chain it solves ({', '.join(ch.members)}), a dependency cycle; parent it outside "
                               "the chain")
    # the nodes: moving bones that the tracked bones read, in dependency order
    needed, todo = set(tracked), list(tracked)
    while todo:
        for d in deps[todo.pop()]:
            if d in moving and d not in needed:
                needed.add(d)
                todo.append(d)
        if not todo:
            for ch in chains:
                if needed & set(ch.members):
                    new = [m for m in ch.members if m not in needed]
                    needed.update(new)
                    todo += new
    needed |= seeds
    order: list[str] = []
    visiting: set[str] = set()

    def visit(b: str) -> None:
        if b in order:
            return
        if b in visiting:
            raise NotExactError(f"bone {b!r} depends on itself through its constraints (a dependency cycle)")
        visiting.add(b)
        for d in sorted(deps[b] & needed):
            visit(d)
        visiting.discard(b)
        order.append(b)

    bone_order = {name: k for k, name in enumerate(obj.pose.bones.keys())}
    for b in sorted(needed, key=lambda name: bone_order[name]):
        visit(b)
    index_of = {b: i for i, b in enumerate(order)}

    problems = _ik_problems(obj, set(order))
    node_chains = [ch for ch in chains if set(ch.members) <= set(order)]
    for ch in node_chains:
        problems += [Problem(*p) for p in extract_ik.chain_problems(obj, ev, ch)]
        for other in node_chains:
            if other is not ch and set(other.members) & set(ch.members) and \
                    (ch.owner, ch.constraint) < (other.owner, other.constraint):
                problems.append(Problem(ch.owner, ch.constraint, f"shares bones with {other.owner} / "
                                        f"{other.constraint} (tree IK is not compiled)"))
    driver_problems, notes = _driver_problems(obj, set(order), moving, seeds)
    problems += driver_problems
    n = len(order)
    arrays: dict[str, list] = {k: [] for k in ("parent_node", "has_parent", "offs_bone", "parent_arm", "hinge",
                              "inherit_scale", "no_local_location", "lengths", "rest")}
    for name in order:
        bone = obj.data.bones[name]
        arm_mat = _m(bone.matrix_local)
        parent = bone.parent
        arrays["has_parent"].append(parent is not None)
        arrays["parent_node"].append(index_of.get(parent.name, -1) if parent else -1)
        parent_arm = _m(parent.matrix_local) if parent else np.eye(4)
        arrays["parent_arm"].append(parent_arm)
        arrays["offs_bone"].append(np.linalg.inv(parent_arm) @ arm_mat if parent else arm_mat)
        arrays["hinge"].append(not bone.use_inherit_rotation)
        arrays["inherit_scale"].append(INHERIT_SCALE[bone.inherit_scale])
        arrays["no_local_location"].append(not bone.use_local_location)
        arrays["lengths"].append(bone.length)
        arrays["rest"].append(arm_mat)
    state = _frame_state(obj, ev, order, index_of, node_chains)
    problems += state.problems
    constraints = state.constraints
    animation = _sample_animation(obj, frames, order, index_of, node_chains, state) if frames else None
    if animation is not None and animation.problems:
        problems += animation.problems
    if problems and strict:
        raise NotExactError(
            f"the twin cannot reproduce {obj.name!r} for this selection:\n  " + "\n  ".join(map(str, problems)))
    notes += [f"left out: {p}" for p in problems]
    ik_chains = state.ik_chains
    if animation is not None and not animation.problems:
        first, last = animation.arrays["anim_frame_start"], animation.arrays["anim_frame_start"] + \
            len(animation.arrays["anim_basis"]) - 1
        notes.append(f"animated: what the controls do not move plays frames {first}-{last} of the rig's "
                     "animation (sampled from Blender)")

    limits = [_limits(obj.pose.bones[c]) for c in controls]
    rest_euler = np.array([km.matrix_to_euler(_rotation_matrix(ev.pose.bones[c])) for c in controls])
    lock = np.array([list(obj.pose.bones[c].lock_rotation) for c in controls], dtype=np.bool_)
    bounds = [extract_ik.location_bounds(obj.pose.bones[c]) for c in locations]
    nl = len(locations)
    spec = RigSpec(
        rig_name=obj.name, object_matrix=state.object_matrix, node_names=order, controls=controls, tracked=tracked,
        parent_node=np.array(arrays["parent_node"], dtype=np.int64),
        parent_const=state.parent_const.reshape(n, 4, 4),
        has_parent=np.array(arrays["has_parent"], dtype=bool),
        offs_bone=np.array(arrays["offs_bone"]), parent_arm=np.array(arrays["parent_arm"]),
        hinge=np.array(arrays["hinge"], dtype=bool), inherit_scale=np.array(arrays["inherit_scale"], dtype=np.int64),
        no_local_location=np.array(arrays["no_local_location"], dtype=bool), basis=state.basis.reshape(n, 4, 4),
        lengths=np.array(arrays["lengths"], dtype=np.float64), rest=np.array(arrays["rest"]),
        constraints=constraints, control_modes=[obj.pose.bones[c].rotation_mode for c in controls],
        control_lock=lock.reshape(len(controls), 3),
        limit_low=np.array([l[0] for l in limits]).reshape(len(controls), 3),
        limit_high=np.array([l[1] for l in limits]).reshape(len(controls), 3),
        has_limit=np.array([l[2] for l in limits], dtype=bool).reshape(len(controls), 3),
        control_rest_euler=rest_euler.reshape(len(controls), 3),
        notes=notes, location_controls=locations,
        location_lock=np.array([list(obj.pose.bones[c].lock_location) for c in locations], dtype=np.bool_).reshape(nl, 3),
        location_low=np.array([b[0] for b in bounds]).reshape(nl, 3),
        location_high=np.array([b[1] for b in bounds]).reshape(nl, 3),
        has_location_limit=np.array([b[2] for b in bounds], dtype=bool).reshape(nl, 3),
        control_rest_location=np.array([list(ev.pose.bones[c].location) for c in locations]).reshape(nl, 3),
        ik_chains=ik_chains,
        connected=np.array([bool(obj.data.bones[b].use_connect) and b not in (_loose or ()) for b in order],
                           dtype=np.bool_),
        **(animation.arrays if animation is not None and not animation.problems else {}),
    )
    if _loose is None:  # once: connected heads that need no parent make a smaller twin
        loose = _loose_heads(obj, spec.without_animation())
        if loose:
            return extract_rig(obj, controls, tracked, strict, locations, _loose=loose, frames=frames)
    return spec
