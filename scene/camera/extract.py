"""The camera task's bpy edge: extract a shot, bake a camera move, verify the bake in Blender.

- :func:`extract_camera_shot` reads the camera's intrinsics and start pose, samples
  the subject (an object or a bone) per frame from Blender's evaluated animation
  (``scene.frame_set`` each frame, so constraints, drivers and Follow Path count) and
  collects the other meshes, evaluated with modifiers, as static obstacle triangles.
- :func:`bake_camera` writes a camera move to a **new** Action on the camera (and,
  when the lens moves, a new Action on its camera data) with bulk F-curve writes
  through :mod:`.anim`, keeping the previous Actions with a fake user.
- :func:`verify_camera_bake` re-evaluates the baked camera per frame and compares
  ``bpy_extras.object_utils.world_to_camera_view`` of the subject with the rollout.
- :func:`build_camera_demo_scene`: a subject on a Follow Path curve, a wall, a
  ground plane and a camera (tests, bench, demos).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import bpy
import numpy as np

from ...errors import RigDojoError
from .. import anim
from ..bake import BAKE_INFO_KEY, PROVENANCE_KEY, _idprop_value, _undo_push
from ...envs.camera.task import CameraRollout
from ...envs.camera.twin import CameraSpec, camera_angles
from ...envs.keyreduce import continuous_quaternions, quaternion_to_channels
from ...envs.kinematics import matrix_to_quaternion

_STILL_TOLERANCE = 1e-6  # relative: a subject moving less than this over the shot is not animated


def _matrix(m) -> np.ndarray:
    return np.array([list(row) for row in m], dtype=np.float64)


def _get_object(value: Any, what: str) -> bpy.types.Object | None:
    if value is None or isinstance(value, bpy.types.Object):
        return value
    obj = bpy.data.objects.get(str(value))
    if obj is None:
        raise RigDojoError(f"there is no object named {value!r} to use as the {what}; pick an existing object")
    return obj


# --- extraction -----------------------------------------------------------------------------


def _subject_sample(obj_eval: bpy.types.Object, bone: str) -> tuple[np.ndarray, np.ndarray]:
    """Centre ``(3,)`` and occlusion points ``(P, 3)`` of the subject in world space."""
    world = _matrix(obj_eval.matrix_world)
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
    world = _matrix(ev.matrix_world)
    co = co.reshape(-1, 3) @ world[:3, :3].T + world[:3, 3]
    tris = co[idx.reshape(-1, 3)]
    # closed (two faces on every edge): only then does "inside" mean something
    closed = bool(ne) and bool(np.all(np.bincount(loops_edges, minlength=ne) == 2))
    return tris, closed


def _descendants(obj: bpy.types.Object) -> set[str]:
    return {c.name for c in obj.children_recursive}


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
        exclude: meshes (objects or names) to leave out of the default obstacles.
        region: an object whose world bounding box the camera must stay in (default: the
            shot's extent grown by one shot scale).
        scene: default ``bpy.context.scene``.

    Raises:
        RigDojoError: no camera, a non-camera or non-perspective camera, a missing subject or
            bone, a subject that does not move over the shot, a shot of zero length.
    """
    scene = scene or bpy.context.scene
    cam = _get_object(camera, "camera") if camera is not None else scene.camera
    if cam is None:
        raise RigDojoError("the scene has no camera: add a camera (Add > Camera) or pick one as the shot's camera")
    if cam.type != 'CAMERA':
        raise RigDojoError(f"'{cam.name}' is a {cam.type.lower()} object, not a camera; pick a camera object")
    if cam.data.type != 'PERSP':
        raise RigDojoError(f"camera '{cam.name}' is {cam.data.type.lower()}; only perspective cameras can be trained")
    if subject is None or subject == "":
        raise RigDojoError("no subject: pick the object (or armature and bone) the camera should follow")
    subj = _get_object(subject, "subject")
    if subj == cam:
        raise RigDojoError("the subject is the camera itself; pick the object the camera should follow")
    if bone:
        if subj.type != 'ARMATURE' or subj.pose is None or bone not in subj.pose.bones:
            raise RigDojoError(f"'{subj.name}' has no bone named {bone!r}; pick a bone of the subject armature")
    start = scene.frame_start if frame_start is None else int(frame_start)
    end = scene.frame_end if frame_end is None else int(frame_end)
    if end <= start:
        raise RigDojoError(f"the shot is empty: frame end ({end}) must be after frame start ({start})")
    region_obj = _get_object(region, "region") if region is not None else None

    render = scene.render
    cd = cam.data
    frame_before, subframe_before = scene.frame_current, scene.frame_subframe
    centres, points = [], []
    try:
        for f in range(start, end + 1):
            scene.frame_set(f)
            dg = bpy.context.evaluated_depsgraph_get()
            c, p = _subject_sample(subj.evaluated_get(dg), bone)
            centres.append(c)
            points.append(p)
        scene.frame_set(start)
        dg = bpy.context.evaluated_depsgraph_get()
        cam_world = _matrix(cam.evaluated_get(dg).matrix_world)
        subj_eval = subj.evaluated_get(dg)
        if bone:
            pb = subj_eval.pose.bones[bone]
            radius = 0.5 * float(pb.length * np.abs(np.linalg.det(_matrix(subj_eval.matrix_world)[:3, :3])) ** (1 / 3))
        else:
            corners = np.array([list(c) for c in subj_eval.bound_box]) @ _matrix(subj_eval.matrix_world)[:3, :3].T
            radius = 0.5 * float(np.linalg.norm(np.ptp(corners, axis=0)))

        # obstacles, at the shot's first frame
        if obstacles is None:
            skip = {cam.name, subj.name} | _descendants(subj)  # type: ignore[arg-type]  # checked above / a camera has data
            skip |= {_get_object(o, "excluded obstacle").name for o in exclude}
            if region_obj is not None:
                skip.add(region_obj.name)
            chosen = []
            for obj in scene.objects:
                if obj.type != 'MESH' or obj.name in skip or not obj.visible_get() or obj.hide_render:
                    continue
                if any(m.type == 'ARMATURE' and m.object == subj for m in obj.modifiers):
                    continue  # the subject's own skin
                chosen.append(obj)
        else:
            chosen = [_get_object(o, "obstacle") for o in obstacles]
            bad = [o.name for o in chosen if o.type != 'MESH']
            if bad:
                raise RigDojoError(f"obstacles must be meshes; {', '.join(bad)} is not")
        tris: list = []
        ids: list = []
        names: list[str] = []
        closed: list = []
        for obj in chosen:
            t, is_closed = _mesh_triangles(obj, dg)
            if len(t) == 0:
                continue
            ids.append(np.full(len(t), len(names)))
            tris.append(t)
            names.append(obj.name)
            closed.append(is_closed)
        if region_obj is not None:
            rw = _matrix(region_obj.evaluated_get(dg).matrix_world)
            rc = np.array([list(c) for c in region_obj.bound_box]) @ rw[:3, :3].T + rw[:3, 3]
            region_min, region_max = rc.min(axis=0), rc.max(axis=0)
        else:
            region_min = region_max = None
    finally:
        scene.frame_set(frame_before, subframe=subframe_before)

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
        region_min=region_min, region_max=region_max, region_name=region_obj.name if region_obj else "",
    )
    spec.validate()
    return spec


# --- bake -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraBakeResult:
    """What :func:`bake_camera` wrote."""

    action_name: str
    lens_action_name: str | None
    keys_written: int
    seconds: float
    previous_action: str | None


def _check_camera(camera: Any) -> bpy.types.Object:
    cam = _get_object(camera, "camera")
    if cam is None or cam.type != 'CAMERA':
        raise RigDojoError("baking a camera move needs a camera object; pick the shot's camera")
    if cam.parent is not None:
        raise RigDojoError(f"camera '{cam.name}' has a parent ('{cam.parent.name}'); the bake writes world "
                           "transforms: clear the parent (Alt+P, Keep Transform) and bake again")
    active = [c.name for c in cam.constraints if c.enabled and c.influence > 0]
    if active:
        raise RigDojoError(f"camera '{cam.name}' has active constraints ({', '.join(active)}) that would override "
                           "the baked move; disable or remove them and bake again")
    if cam.library is not None:
        raise RigDojoError(f"camera '{cam.name}' is linked from a library; make it local to bake")
    if cam.animation_data is not None and getattr(cam.animation_data, "use_tweak_mode", False):
        raise RigDojoError(f"camera '{cam.name}' is in NLA tweak mode; exit tweak mode (Tab) and bake again")
    return cam


def _new_action_on(owner, name: str) -> tuple[bpy.types.Action, str | None]:
    """Assign a new Action to ``owner``, keeping its previous one with a fake user."""
    anim_data = owner.animation_data
    previous = anim_data.action if anim_data is not None else None
    if previous is not None and not previous.use_fake_user:
        previous.use_fake_user = True
    action = anim.new_action(name)
    anim.assign_action(owner, action)
    return action, previous.name if previous is not None else None


def bake_camera(
    camera: Any,
    move: CameraRollout,
    action_name: str | None = None,
    bake_lens: bool | None = None,
    provenance: Mapping[str, Any] | None = None,
    undo_push: bool = False,
) -> CameraBakeResult:
    """Key ``move`` (location, rotation per frame; lens when it changes) on ``camera`` into new Actions.

    The rotation is keyed in the camera's ``rotation_mode`` (Euler angles continuous across
    frames, quaternions sign-continuous). Keys are LINEAR, one per frame, so Blender shows
    exactly the rollout at every frame. Scale is left alone.

    Args:
        camera: the camera object or its name (no parent, no active constraints).
        move: the rollout (:func:`~.camera_task.rollout`).
        action_name: name of the new Action (default ``"<camera>_dojo_camera"``; Blender makes it unique).
        bake_lens: key ``data.lens`` too (default: when the lens changes in ``move``).
        provenance: where the move came from, stored as the custom property ``rig_dojo_source``.
        undo_push: push undo steps around the bake (scripts, tests); leave False in an operator.
    """
    t0 = time.perf_counter()
    cam = _check_camera(camera)
    frames = np.asarray(move.frames, dtype=np.float64)
    for arr, what in ((move.positions, "positions"), (move.rotations, "rotations"), (move.lens, "lens")):
        if len(arr) != len(frames) or not np.all(np.isfinite(arr)):
            raise RigDojoError(f"the camera move's {what} are not one finite row per frame; roll out again")
    if bake_lens is None:
        bake_lens = bool(np.ptp(move.lens) > 1e-6)
    if undo_push:
        _undo_push("Before Rig Dojo camera bake")
    action, previous = _new_action_on(cam, action_name or f"{cam.name}_dojo_camera")
    keys = 0
    for i in range(3):
        curve = anim.ensure_fcurve(action, cam, "location", i, group_name="Object Transforms")
        keys += anim.write_keys(curve, frames, move.positions[:, i])
    mode = cam.rotation_mode
    quats = continuous_quaternions(matrix_to_quaternion(move.rotations))
    if mode == "QUATERNION":
        path, channels = "rotation_quaternion", quats
    elif mode == "AXIS_ANGLE":
        path, channels = "rotation_axis_angle", quaternion_to_channels(quats, mode)
    else:
        path, channels = "rotation_euler", quaternion_to_channels(quats, mode)
    for i in range(channels.shape[1]):
        curve = anim.ensure_fcurve(action, cam, path, i, group_name="Object Transforms")
        keys += anim.write_keys(curve, frames, channels[:, i])
    info = {"camera": cam.name, "frame_start": float(frames[0]), "frame_end": float(frames[-1]),
            "frames": int(frames.size), "previous_action": previous or "", "keys_written": int(keys),
            "baked_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    lens_name = None
    if bake_lens:
        lens_action, _ = _new_action_on(cam.data, f"{cam.data.name}_dojo_lens")
        curve = anim.ensure_fcurve(lens_action, cam.data, "lens", 0, group_name="Lens")  # type: ignore[arg-type]  # checked above / a camera has data
        keys += anim.write_keys(curve, frames, move.lens)
        lens_action[PROVENANCE_KEY] = _idprop_value(dict(provenance or {}))
        lens_name = lens_action.name
        info["lens_action"] = lens_name
    info["keys_written"] = int(keys)
    action[BAKE_INFO_KEY] = info
    action[PROVENANCE_KEY] = _idprop_value(dict(provenance or {}))
    if undo_push:
        _undo_push("Rig Dojo camera bake")
    return CameraBakeResult(action.name, lens_name, keys, time.perf_counter() - t0, previous)


# --- verification ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraVerification:
    """Baked camera vs rollout, measured in Blender.

    ``image_error``: the worst distance (normalised image units) between the subject's
    projection by ``world_to_camera_view`` of the baked camera and the rollout's;
    ``position_error``: the worst camera position difference (scene units);
    ``worst_frame``: where ``image_error`` happened; ``frames_compared``: frames where the
    subject was in front of the camera and within a frame's width of the frame's edge (far
    outside it image coordinates grow without bound and float32 keys dominate the difference).
    """

    image_error: float
    position_error: float
    worst_frame: float
    frames_compared: int = 0

    def ok(self, tolerance: float = 1e-3) -> bool:
        return self.image_error <= tolerance


def verify_camera_bake(camera: Any, spec: CameraSpec, move: CameraRollout,
                       scene: bpy.types.Scene | None = None) -> CameraVerification:
    """Play the baked camera frame by frame and compare the subject's projection with ``move``.

    The subject is re-sampled from Blender's evaluation at each frame (so this checks the
    extraction as well as the bake). Only frames where the subject is in front of the camera and
    within one frame size of the frame (``-1 <= u, v <= 2``) are compared.
    """
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    scene = scene or bpy.context.scene
    cam = _get_object(camera, "camera")
    subj = _get_object(spec.subject_name, "subject")
    before = scene.frame_current
    worst, worst_frame, worst_pos, compared = 0.0, float(move.frames[0]), 0.0, 0
    try:
        for k, f in enumerate(move.frames):
            scene.frame_set(int(f))
            dg = bpy.context.evaluated_depsgraph_get()
            cam_eval = cam.evaluated_get(dg)
            centre, _ = _subject_sample(subj.evaluated_get(dg), spec.subject_bone)
            worst_pos = max(worst_pos, float(np.linalg.norm(_matrix(cam_eval.matrix_world)[:3, 3] - move.positions[k])))
            if move.subject_depth[k] <= 0 or not np.all((move.subject_uv[k] >= -1.0) & (move.subject_uv[k] <= 2.0)):
                continue
            compared += 1
            p = world_to_camera_view(scene, cam_eval, Vector(centre.tolist()))  # type: ignore[arg-type]
            err = float(np.hypot(p.x - move.subject_uv[k, 0], p.y - move.subject_uv[k, 1]))
            if err > worst:
                worst, worst_frame = err, float(f)
    finally:
        scene.frame_set(before)
    return CameraVerification(worst, worst_pos, worst_frame, compared)


# --- demo scene -----------------------------------------------------------------------------


def build_camera_demo_scene(frames: int = 48, path_keys: str = "LINEAR") -> dict[str, bpy.types.Object]:
    """A subject on a zig-zag Follow Path curve passing behind a wall, a ground plane and a camera.

    The curve is a POLY spline with corners (where a track-to camera jerks); the path's
    ``eval_time`` is keyed from 0 to its ``path_duration`` over frames 1..``frames``.
    Returns ``{"camera", "subject", "path", "wall", "ground"}``.
    """
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, frames
    scene.render.fps = 24
    scene.render.resolution_x, scene.render.resolution_y = 640, 360

    curve = bpy.data.curves.new("ShotPath", 'CURVE')
    curve.dimensions = '3D'
    spline = curve.splines.new('POLY')
    pts = [(-6.0, 4.0, 1.0), (-2.0, 7.0, 1.0), (1.0, 3.5, 1.0), (4.0, 7.5, 1.0), (7.0, 4.0, 1.0)]
    spline.points.add(len(pts) - 1)
    for p, co in zip(spline.points, pts):
        p.co = (*co, 1.0)
    curve.use_path = True
    curve.path_duration = 100
    path = bpy.data.objects.new("ShotPath", curve)
    scene.collection.objects.link(path)
    curve.eval_time = 0.0
    curve.keyframe_insert("eval_time", frame=1)
    curve.eval_time = 100.0
    curve.keyframe_insert("eval_time", frame=frames)
    for fc in anim.iter_fcurves(curve.animation_data.action):  # type: ignore[arg-type]
        for kp in fc.keyframe_points:
            kp.interpolation = path_keys

    mesh = bpy.data.meshes.new("SubjectMesh")
    _cube(mesh, 0.35)
    subject = bpy.data.objects.new("Subject", mesh)
    scene.collection.objects.link(subject)
    con = subject.constraints.new('FOLLOW_PATH')
    con.target = path  # type: ignore[attr-defined]  # a FollowPathConstraint

    wall_mesh = bpy.data.meshes.new("WallMesh")
    _cube(wall_mesh, 1.0)
    wall = bpy.data.objects.new("Wall", wall_mesh)
    wall.location = (0.5, 2.0, 1.0)
    wall.scale = (1.5, 0.15, 1.2)
    scene.collection.objects.link(wall)

    ground_mesh = bpy.data.meshes.new("GroundMesh")
    ground_mesh.from_pydata([(-20, -20, 0), (20, -20, 0), (20, 20, 0), (-20, 20, 0)], [], [(0, 1, 2, 3)])
    ground = bpy.data.objects.new("Ground", ground_mesh)
    scene.collection.objects.link(ground)

    cam_data = bpy.data.cameras.new("ShotCam")
    cam_data.lens = 28.0
    cam = bpy.data.objects.new("ShotCam", cam_data)
    cam.location = (0.5, -6.0, 1.6)
    cam.rotation_euler = (np.radians(88.0), 0.0, 0.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    bpy.context.view_layer.update()
    return {"camera": cam, "subject": subject, "path": path, "wall": wall, "ground": ground}


def _cube(mesh: bpy.types.Mesh, half: float) -> None:
    h = half
    verts = [(-h, -h, -h), (h, -h, -h), (h, h, -h), (-h, h, -h), (-h, -h, h), (h, -h, h), (h, h, h), (-h, h, h)]
    faces = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
    mesh.from_pydata(verts, [], faces)
    mesh.update()
