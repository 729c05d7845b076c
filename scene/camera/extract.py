"""The camera family's extraction: read a shot from the scene into a ``CameraSpec``.

:func:`extract_camera_shot` reads the camera's intrinsics and start pose, samples the subject (an
object or a bone) per frame from Blender's evaluated animation (``scene.frame_set`` each frame, so
constraints, drivers and Follow Path count) and collects the other meshes, evaluated with modifiers,
as obstacle triangles: static ones at the first frame, animated ones (moving or deforming) at every
frame. A camera with active constraints is refused (they would override the move); a parent is fine.
The bake is ``scene.camera.bake``, its check ``scene.camera.verify``.
"""

from __future__ import annotations

from typing import Any

import bpy
import numpy as np

from ...errors import RigDojoError, a_or_an, did_you_mean
from ..pose import frames_preserved, to_numpy
from ...envs.camera.twin import CameraSpec, camera_angles

_STILL_TOLERANCE = 1e-6  # relative: a subject moving less than this over the shot is not animated


def get_object(value: Any, what: str) -> bpy.types.Object | None:
    if value is None or isinstance(value, bpy.types.Object):
        return value
    obj = bpy.data.objects.get(str(value))
    if obj is None:
        raise RigDojoError(f"there is no object named {value!r} to use as the {what}"
                           f"{did_you_mean(str(value), bpy.data.objects.keys()) or '; pick an existing object'}")
    return obj


# --- extraction -----------------------------------------------------------------------------


def subject_sample(obj_eval: bpy.types.Object, bone: str) -> tuple[np.ndarray, np.ndarray]:
    """Centre ``(3,)`` and occlusion points ``(P, 3)`` of the subject in world space."""
    world = to_numpy(obj_eval.matrix_world)
    if bone:
        pb = obj_eval.pose.bones[bone]
        head, tail = np.array(pb.head, dtype=np.float64), np.array(pb.tail, dtype=np.float64)
        local = np.array([head, 0.5 * (head + tail), tail])
    else:
        corners = np.array([list(c) for c in obj_eval.bound_box], dtype=np.float64)
        if np.ptp(corners, axis=0).max() <= 0.0:  # an empty or a point: its origin only
            corners = np.zeros((1, 3))
        local = np.vstack([corners.mean(axis=0, keepdims=True), corners])
    pts = local @ world[:3, :3].T + world[:3, 3]
    return pts[1] if bone else pts[0], pts


def _mesh_triangles(obj: bpy.types.Object, depsgraph) -> tuple[np.ndarray, bool]:
    """World-space triangles ``(T, 3, 3)`` of an evaluated mesh object and whether it is closed."""
    ev = obj.evaluated_get(depsgraph)
    mesh = ev.to_mesh()
    try:
        mesh.calc_loop_triangles()
        nv, nt = len(mesh.vertices), len(mesh.loop_triangles)
        co = np.empty(nv * 3, dtype=np.float64)
        mesh.vertices.foreach_get("co", co)
        idx = np.empty(nt * 3, dtype=np.int64)
        mesh.loop_triangles.foreach_get("vertices", idx)
        ne = len(mesh.edges)
        edges = np.empty(ne * 2, dtype=np.int64)
        mesh.edges.foreach_get("vertices", edges)
        loops_edges = np.empty(len(mesh.loops), dtype=np.int64)
        mesh.loops.foreach_get("edge_index", loops_edges)
    finally:
        ev.to_mesh_clear()
    world = to_numpy(ev.matrix_world)
    co = co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]
    tris = co[idx.reshape(-1, 3)]
    # closed (two faces on every edge): only then does "inside" mean something
    closed = bool(ne) and bool(np.all(np.bincount(loops_edges, minlength=ne) == 2))
    return tris, closed


def _descendants(obj: bpy.types.Object) -> set[str]:
    return {c.name for c in obj.children_recursive}


def _choose_obstacles(scene, cam, subj, obstacles, exclude, region_obj) -> list:
    """The obstacle meshes: ``obstacles`` if given, else every visible mesh but the subject, its children,
    its skin, the camera and the region."""
    if obstacles is not None:
        chosen = [get_object(o, "obstacle") for o in obstacles]
        bad = [o.name for o in chosen if o.type != 'MESH']
        if bad:
            raise RigDojoError(f"obstacles must be meshes; {', '.join(bad)} is not")
        return chosen
    skip = {cam.name, subj.name} | _descendants(subj)
    skip |= {get_object(o, "excluded obstacle").name for o in exclude}
    if region_obj is not None:
        skip.add(region_obj.name)
    chosen = []
    for obj in scene.objects:
        if obj.type != 'MESH' or obj.name in skip or not obj.visible_get() or obj.hide_render:
            continue
        if any(m.type == 'ARMATURE' and m.object == subj for m in obj.modifiers):
            continue  # the subject's own skin
        chosen.append(obj)
    return chosen


def _local_coordinates(obj, depsgraph) -> np.ndarray:
    ev = obj.evaluated_get(depsgraph)
    mesh = ev.to_mesh()
    try:
        co = np.empty(len(mesh.vertices) * 3, dtype=np.float64)
        mesh.vertices.foreach_get("co", co)
    finally:
        ev.to_mesh_clear()
    return co


def _deforming(scene, objects: list, frames: tuple[int, ...]) -> set[str]:
    """Names of the meshes whose evaluated vertices (in their own space) change between ``frames``."""
    candidates = [o for o in objects if o.modifiers or (o.data.shape_keys is not None)]
    if not candidates:
        return set()
    samples: dict[str, list[np.ndarray]] = {o.name: [] for o in candidates}
    for f in frames:
        scene.frame_set(f)
        dg = bpy.context.evaluated_depsgraph_get()
        for obj in candidates:
            samples[obj.name].append(_local_coordinates(obj, dg))
    out = set()
    for name, cos in samples.items():
        if any(len(c) != len(cos[0]) or (len(c) and np.abs(c - cos[0]).max() > 1e-7) for c in cos):
            out.add(name)
    return out


def _deformed_triangles(scene, obj, start: int, end: int, count: int) -> np.ndarray:
    """``(F, T, 3, 3)`` world-space triangles of a deforming mesh at every frame of the shot."""
    out = []
    for f in range(start, end + 1):
        scene.frame_set(f)
        t, _ = _mesh_triangles(obj, bpy.context.evaluated_depsgraph_get())
        if len(t) != count:
            raise RigDojoError(f"obstacle '{obj.name}' changes its number of faces during the shot; apply its "
                               "modifiers, or leave it out of the obstacles (hide it from renders)")
        out.append(t)
    scene.frame_set(start)
    return np.array(out)


def extract_camera_shot(
    camera: Any = None,
    subject: Any = None,
    bone: str = "",
    frame_start: int | None = None,
    frame_end: int | None = None,
    obstacles: Any = None,
    exclude: Any = (),
    region: Any = None,
    scene: bpy.types.Scene | None = None,
) -> CameraSpec:
    """Read a camera shot from the scene into a :class:`CameraSpec`.

    Args:
        camera: the camera object or its name (default: the scene's camera).
        subject: the object to keep in frame, or its name.
        bone: for an armature subject, the bone to follow ("" follows the object).
        frame_start, frame_end: the shot (default: the scene's frame range); inclusive.
        obstacles: meshes (objects or names) that block the view; default every visible mesh
            except the subject, its children, meshes deformed by it, the camera and ``region``.
            Meshes that move or deform over the shot are sampled at every frame.
        exclude: meshes (objects or names) to leave out of the default obstacles.
        region: an object whose world bounding box the camera must stay in (default: the
            shot's extent grown by one shot scale).
        scene: default ``bpy.context.scene``.

    Raises:
        RigDojoError: no camera, a non-camera or non-perspective camera, a missing subject or
            bone, a subject that does not move over the shot, a shot of zero length, a camera with
            active constraints.
    """
    scene = scene or bpy.context.scene
    cam = get_object(camera, "camera") if camera is not None else scene.camera
    if cam is None:
        raise RigDojoError("the scene has no camera: add a camera (Add > Camera) or pick one as the shot's camera")
    if cam.type != 'CAMERA':
        raise RigDojoError(f"'{cam.name}' is {a_or_an(cam.type.lower())} object, not a camera; pick a camera object")
    if cam.data.type != 'PERSP':
        raise RigDojoError(f"camera '{cam.name}' is {cam.data.type.lower()}; only perspective cameras can be trained")
    if subject is None or subject == "":
        raise RigDojoError("no subject: pick the object (or armature and bone) the camera should follow")
    subj = get_object(subject, "subject")
    if subj == cam:
        raise RigDojoError("the subject is the camera itself; pick the object the camera should follow")
    if bone:
        if subj.type != 'ARMATURE' or subj.pose is None or bone not in subj.pose.bones:
            raise RigDojoError(f"'{subj.name}' has no bone named {bone!r}"
                               f"{(did_you_mean(bone, subj.pose.bones.keys()) if subj.pose else '') or '; pick a bone of the subject armature'}")
    start = scene.frame_start if frame_start is None else int(frame_start)
    end = scene.frame_end if frame_end is None else int(frame_end)
    if end <= start:
        raise RigDojoError(f"the shot is empty: frame end ({end}) must be after frame start ({start})")
    region_obj = get_object(region, "region") if region is not None else None

    active = [c.name for c in cam.constraints if c.enabled and c.influence > 0]
    if active:
        raise RigDojoError(f"camera '{cam.name}' has active constraints ({', '.join(active)}) that would override a "
                           "trained move; disable or remove them (a parent is fine) and train again")

    render = scene.render
    cd = cam.data
    chosen = _choose_obstacles(scene, cam, subj, obstacles, exclude, region_obj)
    centres, points = [], []
    matrices: list[list[np.ndarray]] = [[] for _ in chosen]
    with frames_preserved(scene):
        for f in range(start, end + 1):
            scene.frame_set(f)
            dg = bpy.context.evaluated_depsgraph_get()
            c, p = subject_sample(subj.evaluated_get(dg), bone)
            centres.append(c)
            points.append(p)
            for i, obj in enumerate(chosen):
                matrices[i].append(to_numpy(obj.evaluated_get(dg).matrix_world))
        deforming = _deforming(scene, chosen, (start, (start + end) // 2, end))
        scene.frame_set(start)
        dg = bpy.context.evaluated_depsgraph_get()
        cam_world = to_numpy(cam.evaluated_get(dg).matrix_world)
        subj_eval = subj.evaluated_get(dg)
        if bone:
            pb = subj_eval.pose.bones[bone]
            radius = 0.5 * float(pb.length * np.abs(np.linalg.det(to_numpy(subj_eval.matrix_world)[:3, :3])) ** (1 / 3))
        else:
            corners = np.array([list(c) for c in subj_eval.bound_box]) @ to_numpy(subj_eval.matrix_world)[:3, :3].T
            radius = 0.5 * float(np.linalg.norm(np.ptp(corners, axis=0)))

        # obstacles: static ones at the shot's first frame; moving or deforming ones sampled per frame
        tris: list = []
        ids: list = []
        names: list[str] = []
        closed: list = []
        moving: list = []
        moving_ids: list = []
        for i, obj in enumerate(chosen):
            t, is_closed = _mesh_triangles(obj, dg)
            if len(t) == 0:
                continue
            mats = np.array(matrices[i])
            if obj.name in deforming:
                per_frame = _deformed_triangles(scene, obj, start, end, len(t))
                dg = bpy.context.evaluated_depsgraph_get()
            elif np.abs(mats - mats[0]).max() > 1e-9 * max(1.0, np.abs(mats[0]).max()):
                # rigid motion: the first frame's triangles carried by each frame's matrix
                local = t @ np.linalg.inv(mats[0][:3, :3]).T - mats[0][:3, 3] @ np.linalg.inv(mats[0][:3, :3]).T
                per_frame = np.einsum("fij,tkj->ftki", mats[:, :3, :3], local) + mats[:, None, None, :3, 3]
            else:
                per_frame = None
            if per_frame is None:
                tris.append(t)
                ids.append(np.full(len(t), len(names)))
            else:
                moving.append(per_frame)
                moving_ids.append(np.full(len(t), len(names)))
            names.append(obj.name)
            closed.append(is_closed)
        if region_obj is not None:
            rw = to_numpy(region_obj.evaluated_get(dg).matrix_world)
            rc = np.array([list(c) for c in region_obj.bound_box]) @ rw[:3, :3].T + rw[:3, 3]
            region_min, region_max = rc.min(axis=0), rc.max(axis=0)
        else:
            region_min = region_max = None

    centres_a = np.array(centres)
    extent = float(np.linalg.norm(np.ptp(centres_a, axis=0)))
    scale = float(np.linalg.norm(centres_a[0] - cam_world[:3, 3])) + 1.0
    if extent <= _STILL_TOLERANCE * scale:
        what = f"bone '{bone}' of '{subj.name}'" if bone else f"'{subj.name}'"
        raise RigDojoError(
            f"the subject {what} does not move between frames {start} and {end}; animate it "
            "(keyframes, a Follow Path constraint, a driver) or pick the animated object")
    rot = cam_world[:3, :3] / np.linalg.norm(cam_world[:3, :3], axis=0, keepdims=True)
    spec = CameraSpec(
        camera_name=cam.name, subject_name=subj.name, subject_bone=bone or "",
        subject_positions=centres_a, subject_points=np.array(points),
        camera_position=cam_world[:3, 3], camera_angles=camera_angles(rot),
        subject_radius=max(radius, 1e-6),
        lens=float(cd.lens), sensor_width=float(cd.sensor_width), sensor_height=float(cd.sensor_height),
        sensor_fit=cd.sensor_fit, resolution_x=int(render.resolution_x), resolution_y=int(render.resolution_y),
        pixel_aspect_x=float(render.pixel_aspect_x), pixel_aspect_y=float(render.pixel_aspect_y),
        shift_x=float(cd.shift_x), shift_y=float(cd.shift_y), clip_start=float(cd.clip_start),
        clip_end=float(cd.clip_end), frame_start=start, frame_end=end, fps=float(render.fps / render.fps_base),
        obstacle_triangles=np.concatenate(tris) if tris else np.zeros((0, 3, 3)),
        obstacle_ids=np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64),
        obstacle_names=names, obstacle_closed=np.array(closed, dtype=bool),
        **({"moving_triangles": np.concatenate(moving, axis=1), "moving_ids": np.concatenate(moving_ids)}
           if moving else {}),
        region_min=region_min, region_max=region_max, region_name=region_obj.name if region_obj else "",
    )
    spec.validate()
    return spec
