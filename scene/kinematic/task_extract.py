"""Read a task from a Blender scene into a ``TaskSpec`` (the bpy edge).

Targets: a still object is a fixed target; an animated one (keys, constraints,
drivers, parents) is sampled per frame from Blender's evaluation; a region
object's bounds become an oriented box that random targets are drawn from.
Grasp objects are sampled on their evaluated surface (modifiers applied).
"""

from __future__ import annotations

import bpy
import numpy as np

from ...errors import RigDojoError, a_or_an, did_you_mean, listed
from ...rewards import TermConfig
from ..pose import frames_preserved, to_numpy
from .extract import extract_rig, get_armature
from ...envs.kinematic.task_spec import CurriculumStage, TargetSpec, TaskSpec, default_terms


def _object(name: str, what: str) -> bpy.types.Object:
    obj = bpy.data.objects.get(name)
    if obj is None:
        names = bpy.data.objects.keys()
        raise RigDojoError(f"the {what} object {name!r} does not exist in this file{did_you_mean(name, names)}; "
                           f"objects: {listed(names)}")
    return obj


def sample_trajectory(obj, frames: range) -> np.ndarray:
    """(F, 4, 4) evaluated world matrices of ``obj`` over ``frames`` (the current frame is restored)."""
    out = []
    with frames_preserved() as scene:
        for f in frames:
            scene.frame_set(f)
            out.append(to_numpy(obj.evaluated_get(bpy.context.evaluated_depsgraph_get()).matrix_world))
    return np.array(out)


def target_spec(name: str, frames: range) -> TargetSpec:
    obj = _object(name, "target")
    mats = sample_trajectory(obj, frames)
    positions = mats[:, :3, 3]
    axes = mats[0, :3, :3] / np.linalg.norm(mats[0, :3, :3], axis=0, keepdims=True)
    if np.ptp(positions, axis=0).max() > 1e-6:
        return TargetSpec(kind="trajectory", position=positions[0], axes=axes, trajectory=positions,
                          frame_start=frames.start, name=name)
    return TargetSpec(kind="fixed", position=positions[0], axes=axes, frame_start=frames.start, name=name)


def region_spec(name: str) -> TargetSpec:
    """The oriented bounding box of ``name`` (an empty's display cube, or any object's bounds)."""
    obj = _object(name, "region")
    world = to_numpy(obj.matrix_world)
    if obj.type == 'EMPTY':
        local_min, local_max = -np.full(3, obj.empty_display_size), np.full(3, obj.empty_display_size)
    else:
        corners = np.array([list(c) for c in obj.bound_box])
        local_min, local_max = corners.min(axis=0), corners.max(axis=0)
    center = world @ np.append((local_min + local_max) / 2, 1.0)
    axes = world[:3, :3]
    lengths = np.linalg.norm(axes, axis=0)
    half = (local_max - local_min) / 2 * lengths
    rot = axes / np.where(lengths > 0, lengths, 1.0)
    return TargetSpec(kind="region", position=center[:3], region_center=center[:3], region_half=half,
                      region_rot=rot, name=name)


def sample_surface(name: str, count: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Area-weighted random points on the evaluated surface of a mesh object, and its centre (world)."""
    obj = _object(name, "grasp")
    if obj.type != 'MESH':
        raise RigDojoError(f"the grasp object {name!r} is {a_or_an(obj.type.lower())}; pick a mesh object")
    ev = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = ev.to_mesh()
    try:
        mesh.calc_loop_triangles()
        n_tri = len(mesh.loop_triangles)
        if n_tri == 0:
            raise RigDojoError(f"the grasp object {name!r} has no faces; give it a surface to grip")
        co = np.empty(len(mesh.vertices) * 3)
        mesh.vertices.foreach_get("co", co)
        tri = np.empty(n_tri * 3, dtype=np.int64)
        mesh.loop_triangles.foreach_get("vertices", tri)
    finally:
        ev.to_mesh_clear()
    world = to_numpy(obj.matrix_world)
    verts = co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]
    a, b, c = (verts[tri.reshape(-1, 3)[:, k]] for k in range(3))
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1) / 2
    rng = np.random.default_rng(seed)
    pick = rng.choice(n_tri, size=count, p=area / area.sum())
    u, v = rng.uniform(size=(2, count))
    flip = u + v > 1
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    points = a[pick] + u[:, None] * (b[pick] - a[pick]) + v[:, None] * (c[pick] - a[pick])
    return points, verts.mean(axis=0)


def extract_task(
    rig: str,
    kind: str,
    controls: list[str],
    effector: str,
    tracked: list[str] | None = None,
    target: str | None = None,
    region: str | None = None,
    grasp_object: str | None = None,
    fingertips: list[str] | None = None,
    frames: tuple[int, int] | None = None,
    terms: list[TermConfig] | None = None,
    reference=None,
    strict: bool = True,
    location_controls: list[str] | None = None,
    **options,
) -> TaskSpec:
    """Build the ``TaskSpec`` of a kinematic task from the current Blender scene.

    ``options`` are TaskSpec fields (episode_steps, max_delta, tolerance, look_axis,
    palm_axis, curriculum, ...); ``reference`` a ``ReferenceConfig`` (pins, a style clip). Bad input raises
    ``RigDojoError``. ``strict=False`` keeps a selection the twin cannot reproduce (its problems in
    ``spec.rig.notes``) for training with Blender in the loop.
    """
    from .pins import apply_start_pose, read_pins, read_style

    obj = get_armature(rig)
    scene = bpy.context.scene
    start, end = frames or (scene.frame_start, scene.frame_end)
    if end < start:
        raise RigDojoError(f"the frame range {start}-{end} is empty; the end must not be before the start")
    tracked = list(dict.fromkeys([effector, *(fingertips or []), *(tracked or [])]))
    # what the controls do not move plays its animation over the frames (sampled when the rig is animated)
    rig_spec = extract_rig(obj, controls, tracked, strict=strict, location_controls=location_controls,
                           frames=(start, end))
    pins = style = None
    if reference is not None:
        pins = read_pins(reference, obj, rig_spec, (start, end), effector, float(options.get("tolerance", 0.02)))
        style = read_style(reference, obj, rig_spec)
        apply_start_pose(rig_spec, pins)
        if pins is not None and end <= start:
            raise RigDojoError(f"pins need a frame range of at least two frames (found {start}-{end})")
    if kind == "grasp":
        if not grasp_object:
            raise RigDojoError("a grasp needs an object to grip (--target MESH)")
        points, center = sample_surface(grasp_object)
        tspec = TargetSpec(kind="fixed", position=center, name=grasp_object)
        options.update(object_points=points, object_center=center, fingertips=list(fingertips or []))
    elif region:
        tspec = region_spec(region)
    elif target:
        tspec = target_spec(target, range(start, end + 1))
    elif pins is not None:  # with pins the goal is theirs; the target only matters to terms the user adds
        anchor = pins.position[[k for k, kind_ in enumerate(pins.kinds) if kind_ == "effector"] or [0]][0]
        tspec = TargetSpec(kind="fixed", position=np.array(anchor, dtype=np.float64), name="")
    else:
        raise RigDojoError("no target: pick a target object or a region object")
    if tspec.kind == "trajectory":
        options["episode_steps"] = len(tspec.trajectory)  # one step per frame of the animated target
    if pins is not None:
        options["episode_steps"] = end - start  # one step per frame, from the first frame to the last
    options["curriculum"] = [c if isinstance(c, CurriculumStage) else CurriculumStage(**c)
                             for c in options.get("curriculum", [])]
    options.setdefault("fps", scene.render.fps / scene.render.fps_base)
    spec = TaskSpec(kind=kind, rig=rig_spec, effector=effector, target=tspec,
                    terms=list(terms) if terms is not None else default_terms(kind), pins=pins, style=style, **options)
    spec.validate()
    from ...envs.kinematic.reach_check import reach_warning

    warning = reach_warning(spec)
    if warning:
        spec.warnings.append(warning)
    return spec


def task_from_config(config, frames: tuple[int, int] | None = None, strict: bool = True) -> TaskSpec:
    """The ``TaskSpec`` a ``TrainConfig`` describes, read from the open .blend.

    For a grasp, ``rig.target`` names the mesh to grip and ``rig.tracked`` the fingertips.
    """
    from ...envs.kinematic.family import configure

    sel = config.rig
    if not sel.rig:
        raise RigDojoError("no rig chosen; set rig.rig (the armature object) or --rig")
    if not sel.controls and not sel.location_controls:
        raise RigDojoError("no control bones chosen; set rig.controls or --controls (rotation), or "
                           "rig.location_controls or --location-controls (location)")
    if not sel.effector:
        raise RigDojoError("no effector bone chosen; set rig.effector or --effector")
    kwargs: dict = {}
    if config.task == "grasp":
        kwargs = {"grasp_object": sel.target, "fingertips": list(sel.tracked)}
    else:
        kwargs = {"target": sel.target or None, "region": sel.region or None, "tracked": list(sel.tracked)}
    spec = extract_task(sel.rig, config.task, list(sel.controls), sel.effector, frames=frames,
                        episode_steps=int(sel.episode_length), strict=strict, tolerance=float(sel.tolerance),
                        location_controls=list(sel.location_controls), location_range=float(sel.location_range),
                        reference=config.reference, **kwargs)
    return configure(spec, config)
