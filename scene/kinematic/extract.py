"""Compile a Blender armature and a selection of bones into a ``RigSpec`` (the bpy edge).

Reads the *evaluated* rig once: drivers, constraint influences and the pose of
every bone the controls do not move are captured as constants. What the twin
cannot reproduce exactly (an unsupported constraint, IK, a driver that reads a
moving bone) is reported by bone, constraint and reason, never approximated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import bpy
import numpy as np

from ...errors import NotExactError, RigDojoError, did_you_mean, listed
from ...envs import kinematics as km
from ...envs.kinematic.rig_spec import INHERIT_SCALE, ConstraintSpec, RigSpec
from ...envs.kinematic.twin import SUPPORTED_CONSTRAINTS

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
        hint = did_you_mean(str(name_or_obj), armatures) or did_you_mean(str(name_or_obj), bpy.data.objects.keys())
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


def _bone_deps(obj, pb_eval) -> set[str]:
    """Bones of ``obj`` whose evaluated pose ``pb_eval`` reads (parent, constraint targets)."""
    deps: set[str] = set()
    stack = [c for c in pb_eval.constraints if _active(c)]
    override = max((k for k, c in enumerate(stack) if _full_override(c, obj)), default=None)
    if override is None and pb_eval.parent is not None:
        deps.add(pb_eval.parent.name)
    for con in stack[override or 0:]:
        for target, sub in _targets(con):
            if target is not None and target.original == obj and sub:
                deps.add(sub)
    return deps


def _targets(con):
    if hasattr(con, "targets"):  # Armature constraint
        return [(t.target, t.subtarget) for t in con.targets]
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
    problems = []
    for pb in obj.pose.bones:
        for con in pb.constraints:
            if con.type not in ('IK', 'SPLINE_IK') or not _active(con):
                continue
            chain: list[str] = []
            b, count = pb if con.use_tail else pb.parent, con.chain_count
            while b is not None and (count == 0 or len(chain) < count):
                chain.append(b.name)
                b = b.parent
            hit = sorted(set(chain) & nodes)
            if hit:
                problems.append(Problem(pb.name, con.name, f"{con.type} solves the chain of {', '.join(hit)}; "
                                        "IK is not compiled: switch the limb to FK or pick the FK controls"))
    return problems


def _constraint_spec(obj, ev, pb_eval, con, index_of: dict[str, int]) -> ConstraintSpec | Problem:
    name = pb_eval.name
    if con.type not in SUPPORTED_CONSTRAINTS:
        return Problem(name, con.name, f"{con.type.replace('_', ' ').title()} constraints are not supported "
                                       f"(supported: {', '.join(sorted(SUPPORTED_CONSTRAINTS))})")
    spaces = (con.owner_space, getattr(con, "target_space", "WORLD"))
    if spaces[0] not in ("WORLD", "POSE", "LOCAL") or spaces[1] not in ("WORLD", "POSE", "LOCAL"):
        return Problem(name, con.name, f"space {spaces[0]}/{spaces[1]} is not supported "
                                       "(World, Pose or Local space)")
    target, sub = _targets(con)[0]
    if target is None:
        return Problem(name, con.name, "has no target")
    params: dict = {}
    if con.type == 'COPY_TRANSFORMS':
        if con.mix_mode not in ("REPLACE", "BEFORE_FULL", "AFTER_FULL"):
            return Problem(name, con.name, f"mix mode {con.mix_mode} is not supported")
        params = {"mix_mode": con.mix_mode, "remove_target_shear": bool(con.remove_target_shear)}
    elif con.type == 'COPY_ROTATION':
        if not (con.use_x and con.use_y and con.use_z) or con.invert_x or con.invert_y or con.invert_z \
                or con.mix_mode != 'REPLACE':
            return Problem(name, con.name, "only Copy Rotation of all axes, not inverted, mix Replace is supported")
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
    for con in pb.constraints:
        if con.type == 'LIMIT_ROTATION' and _active(con):
            for k, axis in enumerate("xyz"):
                if getattr(con, f"use_limit_{axis}"):
                    lo, hi = getattr(con, f"min_{axis}"), getattr(con, f"max_{axis}")
                    low[k], high[k] = (max(low[k], lo), min(high[k], hi)) if has[k] else (lo, hi)
                    has[k] = True
    if np.any(low > high):
        axis = "xyz"[int(np.argmax(low > high))]
        raise RigDojoError(f"bone {pb.name!r} has a {axis.upper()} rotation limit with min > max; fix the limit")
    return low, high, has


def extract_rig(rig, controls: list[str], tracked: list[str], strict: bool = True) -> RigSpec:
    """Compile ``rig`` for moving ``controls`` and reading ``tracked``.

    Raises ``RigDojoError`` for bad input and ``NotExactError`` (with every
    problem listed) when the selection depends on something the twin cannot
    reproduce; with ``strict=False`` the problems are returned in ``spec.notes``
    instead and the offending constraints are left out.
    """
    obj = get_armature(rig)
    controls, tracked = list(dict.fromkeys(controls)), list(dict.fromkeys(tracked))
    _check_bones(obj, controls, "control")
    _check_bones(obj, tracked, "tracked")
    obj.update_tag()  # custom properties set from Python (e.g. an IK/FK switch) do not tag it themselves
    bpy.context.view_layer.update()
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())

    deps = {pb.name: _bone_deps(obj, pb) for pb in ev.pose.bones}
    dependents: dict[str, set[str]] = {}
    for bone, ds in deps.items():
        for d in ds:
            dependents.setdefault(d, set()).add(bone)
    moving, todo = set(controls), list(controls)  # every bone whose pose the controls change
    while todo:
        for child in dependents.get(todo.pop(), ()):
            if child not in moving:
                moving.add(child)
                todo.append(child)
    unmoved = [t for t in tracked if t not in moving]
    if unmoved:
        raise RigDojoError(f"no control moves the tracked bone {', '.join(map(repr, unmoved))}; "
                           "pick controls that are its parents (or that its constraints follow)")
    # the nodes: moving bones that the tracked bones read, in dependency order
    needed, todo = set(tracked), list(tracked)
    while todo:
        for d in deps[todo.pop()]:
            if d in moving and d not in needed:
                needed.add(d)
                todo.append(d)
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

    for b in sorted(needed, key=lambda name: list(obj.pose.bones.keys()).index(name)):
        visit(b)
    index_of = {b: i for i, b in enumerate(order)}

    problems = _ik_problems(obj, set(order))
    driver_problems, notes = _driver_problems(obj, set(order), moving, set(controls))
    problems += driver_problems
    n = len(order)
    constraints: list[list[ConstraintSpec]] = []
    arrays: dict[str, list] = {k: [] for k in ("parent_node", "parent_const", "has_parent", "offs_bone", "parent_arm", "hinge",
                              "inherit_scale", "no_local_location", "basis", "lengths", "rest")}
    for name in order:
        pb_eval, bone = ev.pose.bones[name], obj.data.bones[name]
        arm_mat = _m(bone.matrix_local)
        parent = bone.parent
        arrays["has_parent"].append(parent is not None)
        arrays["parent_node"].append(index_of.get(parent.name, -1) if parent else -1)
        arrays["parent_const"].append(_m(ev.pose.bones[parent.name].matrix) if parent and parent.name not in index_of
                                      else np.eye(4))
        parent_arm = _m(parent.matrix_local) if parent else np.eye(4)
        arrays["parent_arm"].append(parent_arm)
        arrays["offs_bone"].append(np.linalg.inv(parent_arm) @ arm_mat if parent else arm_mat)
        arrays["hinge"].append(not bone.use_inherit_rotation)
        arrays["inherit_scale"].append(INHERIT_SCALE[bone.inherit_scale])
        arrays["no_local_location"].append(not bone.use_local_location)
        loc = np.zeros(3) if bone.use_connect else np.array(pb_eval.location)
        arrays["basis"].append(km.compose(loc, _rotation_matrix(pb_eval), np.array(pb_eval.scale)))
        arrays["lengths"].append(bone.length)
        arrays["rest"].append(arm_mat)
        stack = []
        active = [c for c in pb_eval.constraints if _active(c)]
        start = max([k for k, c in enumerate(active) if _full_override(c, obj)], default=0)
        for con in active[start:]:
            if con.type == 'LIMIT_ROTATION' and name in controls:
                continue  # read as the joint limits; actions stay inside them, so it never clamps
            spec = _constraint_spec(obj, ev, pb_eval, con, index_of)
            if isinstance(spec, Problem):
                problems.append(spec)
            else:
                stack.append(spec)
        constraints.append(stack)
    if problems and strict:
        raise NotExactError(
            f"the twin cannot reproduce {obj.name!r} for this selection:\n  " + "\n  ".join(map(str, problems)))
    notes += [f"left out: {p}" for p in problems]

    limits = [_limits(obj.pose.bones[c]) for c in controls]
    rest_euler = np.array([km.matrix_to_euler(_rotation_matrix(ev.pose.bones[c])) for c in controls])
    lock = np.array([list(obj.pose.bones[c].lock_rotation) for c in controls], dtype=np.bool_)
    return RigSpec(
        rig_name=obj.name, object_matrix=_m(ev.matrix_world), node_names=order, controls=controls, tracked=tracked,
        parent_node=np.array(arrays["parent_node"], dtype=np.int64),
        parent_const=np.array(arrays["parent_const"]).reshape(n, 4, 4),
        has_parent=np.array(arrays["has_parent"], dtype=bool),
        offs_bone=np.array(arrays["offs_bone"]), parent_arm=np.array(arrays["parent_arm"]),
        hinge=np.array(arrays["hinge"], dtype=bool), inherit_scale=np.array(arrays["inherit_scale"], dtype=np.int64),
        no_local_location=np.array(arrays["no_local_location"], dtype=bool), basis=np.array(arrays["basis"]),
        lengths=np.array(arrays["lengths"], dtype=np.float64), rest=np.array(arrays["rest"]),
        constraints=constraints, control_modes=[obj.pose.bones[c].rotation_mode for c in controls],
        control_lock=lock, limit_low=np.array([l[0] for l in limits]), limit_high=np.array([l[1] for l in limits]),
        has_limit=np.array([l[2] for l in limits]), control_rest_euler=rest_euler.reshape(len(controls), 3),
        notes=notes,
    )
