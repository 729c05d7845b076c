"""The camera demo shot: a subject on a Follow Path curve, a wall it passes behind, and a camera."""

from __future__ import annotations



import bpy
import numpy as np

from .. import anim


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
