"""The physics family's extraction: read a rig as a physical creature into a ``PhysicsSpec``.

:func:`extract_physics` turns an armature (plus obstacle boxes and an animated platform) into the
spec the MuJoCo twin is built from; it is the only place the physics twin reads the scene. Posing the
rig like the twin is ``scene.physics.pose``, the parity checks ``scene.physics.verify``, the bake
``scene.physics.bake`` and the test creatures ``scene.builders.creatures``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import bpy
import numpy as np

from ...errors import RigDojoError, did_you_mean
from ..pose import frames_preserved, to_numpy
from ..kinematic.extract import _limits, get_armature
from ...envs.physics.mjcf import PhysicsSpec

RADIUS_SOURCES = ("length", "envelope", "bbone")
ROOT_MOTION = ("bone", "object")


def _prop(pb, bone, key: str, default: float) -> float:
    for holder in (pb, bone):
        if key in holder.keys():
            try:
                return float(holder[key])
            except (TypeError, ValueError):
                raise RigDojoError(f"bone {pb.name!r}: custom property {key} must be a number, got {holder[key]!r}") from None
    return default


def _bone_set(obj, root: str | None, bones: Sequence[str] | None) -> list:
    data = obj.data
    if len(data.bones) == 0:
        raise RigDojoError(f"{obj.name!r} has no bones; add a root bone with bones under it")
    if root is None:
        tops = [b for b in data.bones if b.parent is None]
        if len(tops) != 1:
            raise RigDojoError(f"{obj.name!r} has {len(tops)} top-level bones ({', '.join(b.name for b in tops[:6])}); "
                               "name the root bone to simulate (the physics settings' Root Bone; --root BONE on the command line)")
        root_bone = tops[0]
    else:
        root_bone = data.bones.get(root)
        if root_bone is None:
            raise RigDojoError(f"{obj.name!r} has no bone named {root!r} (the root){did_you_mean(root, data.bones.keys())}")
    under = [root_bone] + list(root_bone.children_recursive)
    if bones is not None:
        wanted = set(bones) | {root_bone.name}
        missing = [n for n in bones if n not in data.bones]
        if missing:
            raise RigDojoError(f"{obj.name!r} has no bone named {', '.join(map(repr, missing))}"
                               f"{did_you_mean(missing[0], data.bones.keys())}")
        outside = [n for n in bones if n not in {b.name for b in under}]
        if outside:
            raise RigDojoError(f"bone {outside[0]!r} is not under the root {root_bone.name!r}; pick bones of one tree")
        under = [b for b in under if b.name in wanted]
    if len(under) < 2:
        raise RigDojoError(f"{obj.name!r} has no bones under the root {root_bone.name!r}; "
                           "a creature needs bones parented to its root (or pick another root)")
    # depth first, children in the armature's order: MuJoCo numbers bodies (and joints) the same way
    keep = {b.name for b in under}
    out: list = []

    def visit(b) -> None:
        if b.name in keep:
            out.append(b)
        for c in b.children:
            visit(c)

    visit(root_bone)
    return out


def _box_of(obj) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World centre, half extents and unit axes of ``obj``'s bounding box (evaluated)."""
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    corners = np.array([list(c) for c in ev.bound_box], dtype=np.float64)
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    mw = to_numpy(ev.matrix_world)
    norms = np.linalg.norm(mw[:3, :3], axis=0)
    if np.any(norms <= 0):
        raise RigDojoError(f"obstacle {obj.name!r} has zero scale")
    center = mw[:3, :3] @ ((lo + hi) / 2) + mw[:3, 3]
    half = np.maximum((hi - lo) / 2 * norms, 1e-4)
    return center, half, mw[:3, :3] / norms


def extract_physics(
    rig,
    root: str | None = None,
    bones: Sequence[str] | None = None,
    density: float = 1000.0,
    strength: float = 1.0,
    friction: float = 1.0,
    radius_source: str = "length",
    radius_ratio: float = 0.12,
    default_limit: float = math.pi / 2,
    ground_height: float = 0.0,
    obstacles: Sequence[str] | None = None,
    platform: str | None = None,
    frame_range: tuple[int, int] | None = None,
) -> PhysicsSpec:
    """Read ``rig`` as a creature: a body per bone under ``root``, the world's boxes, a moving platform.

    Args:
        rig: armature object or its name.
        root: the root bone (free joint); default the armature's only top-level bone.
        bones: simulate only these bones (and the root); default every bone under the root.
            A bone whose parent is left out hangs from its nearest simulated ancestor.
        density: kg/m³ of every capsule (``rig_dojo_density`` overrides per bone).
        strength: servo gain multiplier (``rig_dojo_strength`` multiplies it per bone).
        friction: sliding friction of ground, obstacles and creature.
        radius_source: ``"length"`` (``radius_ratio`` × bone length), ``"envelope"`` (the
            mean of the bone's envelope head and tail radius) or ``"bbone"`` (B-Bone display
            size); ``rig_dojo_radius`` on a bone wins over all three.
        default_limit: radians either side of rest for an axis the rig does not limit.
        ground_height: world Z of the ground plane.
        obstacles: names of mesh objects that become static boxes (their bounding box);
            default every object with the custom property ``rig_dojo_obstacle``.
        platform: an animated mesh object that becomes a moving box, sampled every frame
            of ``frame_range`` (default the scene's range) from Blender's evaluation.
    """
    obj = get_armature(rig)
    if radius_source not in RADIUS_SOURCES:
        raise RigDojoError(f"radius_source must be one of {', '.join(RADIUS_SOURCES)}, got {radius_source!r}")
    scene = bpy.context.scene
    bpy.context.view_layer.update()
    chosen = _bone_set(obj, root, bones)
    names = [b.name for b in chosen]
    index = {n: i for i, n in enumerate(names)}
    parent = np.full(len(names), -1, dtype=np.int64)
    for i, b in enumerate(chosen[1:], start=1):
        p = b.parent
        while p is not None and p.name not in index:
            p = p.parent
        parent[i] = index[p.name]
    notes: list[str] = []
    radius, dens, stren, lock = [], [], [], []
    low, high, has = [], [], []
    for b in chosen:
        pb = obj.pose.bones[b.name]
        if radius_source == "envelope":
            r = (b.head_radius + b.tail_radius) / 2
        elif radius_source == "bbone":
            r = max(b.bbone_x, b.bbone_z)
        else:
            r = radius_ratio * b.length
        radius.append(_prop(pb, b, "rig_dojo_radius", r))
        dens.append(_prop(pb, b, "rig_dojo_density", density))
        stren.append(strength * _prop(pb, b, "rig_dojo_strength", 1.0))
        lock.append(list(pb.lock_rotation))
        lo, hi, h = _limits(pb)  # raises for min > max
        low.append(lo)
        high.append(hi)
        has.append(h)
        if not b.use_inherit_rotation:
            notes.append(f"{b.name}: does not inherit rotation in Blender; simulated as inheriting it")
    names_box = list(obstacles) if obstacles is not None else [
        o.name for o in scene.objects if "rig_dojo_obstacle" in o.keys() and o != obj]
    centers: list = []
    halves: list = []
    rots: list = []
    for name in names_box:
        o = bpy.data.objects.get(name)
        if o is None or o.type != 'MESH':
            raise RigDojoError(f"obstacle {name!r} is not a mesh object in this file; pick mesh boxes")
        c, h, r = _box_of(o)
        centers.append(c)
        halves.append(h)
        rots.append(r)
    f0, f1 = frame_range or (scene.frame_start, scene.frame_end)
    platform_half, platform_m = np.zeros(3), np.zeros((0, 4, 4))
    if platform:
        o = bpy.data.objects.get(platform)
        if o is None or o.type != 'MESH':
            raise RigDojoError(f"platform {platform!r} is not a mesh object in this file; pick an animated mesh")
        mats = []
        with frames_preserved(scene):
            for f in range(int(f0), int(f1) + 1):
                scene.frame_set(f)
                c, h, r = _box_of(o)
                m = np.eye(4)
                m[:3, :3], m[:3, 3] = r, c
                mats.append(m)
                if f == f0:
                    platform_half = h
        platform_m = np.array(mats)
    spec = PhysicsSpec(
        rig_name=obj.name, object_matrix=to_numpy(obj.matrix_world), bone_names=names, parent=parent,
        rest=np.array([to_numpy(b.matrix_local) for b in chosen]), lengths=np.array([b.length for b in chosen]),
        radius=np.array(radius, dtype=np.float64), density=np.array(dens, dtype=np.float64),
        strength=np.array(stren, dtype=np.float64), lock=np.array(lock, dtype=bool),
        limit_low=np.array(low), limit_high=np.array(high), has_limit=np.array(has, dtype=bool),
        rotation_modes=[obj.pose.bones[n].rotation_mode for n in names], friction=float(friction),
        ground_height=float(ground_height), default_limit=float(default_limit),
        fps=scene.render.fps / scene.render.fps_base, frame_start=int(f0), box_names=names_box,
        box_centers=np.array(centers).reshape(-1, 3), box_half=np.array(halves).reshape(-1, 3),
        box_rot=np.array(rots).reshape(-1, 3, 3), platform_name=platform or "", platform_half=platform_half,
        platform_matrices=platform_m, notes=notes,
    )
    spec.validate()
    return spec
