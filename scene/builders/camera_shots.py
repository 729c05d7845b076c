"""The camera shot suite, built with bpy: six shots a camera move is measured on (tests, bench).

Each builder empties nothing itself: call it on an empty scene (``scene.builders.scenes.empty_scene()``). It
builds a subject with a known motion, obstacles (some animated), a ground and a camera, sets the
scene's frame range, fps and resolution, and returns a :class:`Shot` naming what to extract.

================  ==========================================================================
``straight_run``  a fast run (5 m/s) across the view, past two lamp posts
``zig_zag``       a Follow Path along a polyline with sharp corners, behind two walls, at 2x scale
``loop``          a circle (Follow Path on a Bezier circle) with a wall in front of part of it
``behind_obstacles``  a slow walk behind four pillars while a van drives across (animated obstacle)
``rigify_walk``   the head bone of a Rigify human playing a baked walk action, past a crate
``stop_and_turn`` a tabletop shot (1/10 scale): moves, stops, turns, moves on, stops
================  ==========================================================================

``variant`` (an int) jitters a builder's layout, speed and camera reproducibly, so the same
builder also gives shots no setting was tuned on (``variant=None``: the canonical shot).
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from .. import anim

FPS = 24
RESOLUTION = (640, 360)


@dataclass(frozen=True)
class Shot:
    """What a builder made: the names to extract the shot with, and what it is."""

    name: str
    camera: str
    subject: str
    bone: str
    frame_start: int
    frame_end: int
    description: str


# --- small builders -------------------------------------------------------------------------


def _link(obj: bpy.types.Object) -> bpy.types.Object:
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _box_mesh(name: str, half) -> bpy.types.Mesh:
    hx, hy, hz = half
    verts = [(-hx, -hy, -hz), (hx, -hy, -hz), (hx, hy, -hz), (-hx, hy, -hz),
             (-hx, -hy, hz), (hx, -hy, hz), (hx, hy, hz), (-hx, hy, hz)]
    faces = [(0, 3, 2, 1), (4, 5, 6, 7), (0, 1, 5, 4), (1, 2, 6, 5), (2, 3, 7, 6), (3, 0, 4, 7)]
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata(verts, [], faces)
    mesh.update()
    return mesh


def add_box(name: str, center, half, color=(0.35, 0.45, 0.8, 1.0)) -> bpy.types.Object:
    """A closed box mesh (an obstacle) centred at ``center`` with half sizes ``half``."""
    obj = _link(bpy.data.objects.new(name, _box_mesh(name, half)))
    obj.location = center
    obj.color = color
    return obj


def add_ground(size: float, name: str = "Ground") -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    s = size
    mesh.from_pydata([(-s, -s, 0), (s, -s, 0), (s, s, 0), (-s, s, 0)], [], [(0, 1, 2, 3)])
    obj = _link(bpy.data.objects.new(name, mesh))
    obj.color = (0.8, 0.8, 0.78, 1.0)
    return obj


def add_shot_camera(name: str, location, focus, lens: float = 35.0) -> bpy.types.Object:
    """A perspective camera at ``location`` aimed at ``focus`` (Track To style: -Z forward, Y up), the scene's."""
    from mathutils import Vector

    data = bpy.data.cameras.new(name)
    data.lens = lens
    cam = _link(bpy.data.objects.new(name, data))
    cam.location = location
    cam.rotation_euler = (Vector(focus) - Vector(location)).to_track_quat('-Z', 'Y').to_euler()
    bpy.context.scene.camera = cam
    return cam


def add_subject(name: str, half: float, color=(0.9, 0.15, 0.1, 1.0)) -> bpy.types.Object:
    obj = _link(bpy.data.objects.new(name, _box_mesh(name, (half, half, half))))
    obj.color = color
    return obj


def key_transforms(obj: bpy.types.Object, frames: np.ndarray, location: np.ndarray | None = None,
                   rotation: np.ndarray | None = None, data_prefix: str = "") -> None:
    """Key per-frame ``location`` ``(F, 3)`` and Euler ``rotation`` ``(F, 3)`` (a baked action) with LINEAR keys.

    ``data_prefix`` is ``'pose.bones["name"].'`` to key a bone of an armature ``obj``.
    """
    ad = obj.animation_data
    action = ad.action if ad is not None and ad.action is not None else None
    if action is None:
        action = anim.new_action(f"{obj.name}Action")
        anim.assign_action(obj, action)
    for path, values in (("location", location), ("rotation_euler", rotation)):
        if values is None:
            continue
        for i in range(3):
            curve = anim.ensure_fcurve(action, obj, data_prefix + path, i)
            anim.write_keys(curve, frames, np.asarray(values)[:, i])


def follow_path(subject: bpy.types.Object, points, frames: int, cyclic: bool = False, kind: str = 'POLY',
                name: str = "ShotPath") -> bpy.types.Object:
    """Put ``subject`` on a Follow Path constraint along ``points``, its eval_time keyed linearly over the shot."""
    curve = bpy.data.curves.new(name, 'CURVE')
    curve.dimensions = '3D'
    spline = curve.splines.new(kind)  # type: ignore[arg-type]  # 'POLY' or 'NURBS'
    spline.points.add(len(points) - 1)
    for p, co in zip(spline.points, points):
        p.co = (*co, 1.0)
    spline.use_cyclic_u = cyclic
    if kind == 'NURBS':
        spline.order_u = 4
        spline.use_endpoint_u = not cyclic
    curve.use_path = True
    curve.path_duration = 100
    path = _link(bpy.data.objects.new(name, curve))
    curve.eval_time = 0.0
    curve.keyframe_insert("eval_time", frame=1)
    curve.eval_time = 100.0
    curve.keyframe_insert("eval_time", frame=frames + (1 if cyclic else 0))
    for fc in anim.iter_fcurves(curve.animation_data.action):  # type: ignore[arg-type]
        for kp in fc.keyframe_points:
            kp.interpolation = 'LINEAR'
    con = subject.constraints.new('FOLLOW_PATH')
    con.target = path  # type: ignore[attr-defined]  # a FollowPathConstraint
    return path


def _scene(frames: int) -> bpy.types.Scene:
    scene = bpy.context.scene
    assert scene is not None
    scene.frame_start, scene.frame_end = 1, frames
    scene.render.fps, scene.render.fps_base = FPS, 1.0
    scene.render.resolution_x, scene.render.resolution_y = RESOLUTION
    return scene


def _rng(variant: int | None) -> tuple[np.random.Generator, float]:
    """A generator for the variant's jitter and its amount (0 for the canonical shot)."""
    return np.random.default_rng(1000 + (variant or 0)), 0.0 if variant is None else 1.0


# --- the six shots --------------------------------------------------------------------------


def build_straight_run(variant: int | None = None) -> Shot:
    """A subject runs across the view at 5 m/s (20 m in 4 s), past two lamp posts nearer the camera."""
    rng, j = _rng(variant)
    frames = int(96 + j * rng.integers(-24, 25))
    _scene(frames)
    y = 5.0 + j * rng.uniform(-1.5, 1.5)
    tilt = j * rng.uniform(-0.25, 0.25)
    subject = add_subject("Runner", 0.3)
    t = np.linspace(0.0, 1.0, frames)
    path = np.stack([-10 + 20 * t, y + tilt * (20 * t - 10), np.full_like(t, 0.5)], axis=1)
    key_transforms(subject, np.arange(1, frames + 1), location=path)
    for i, x in enumerate((-3.0, 3.5)):
        add_box(f"LampPost{i}", (x + j * rng.uniform(-1, 1), 2.0 + j * rng.uniform(-0.5, 0.5), 1.5),
                (0.12, 0.12, 1.5))
    add_ground(40)
    add_shot_camera("Cam", (j * rng.uniform(-2, 2), -3.0, 1.5), (0.0, y, 0.5), lens=35.0)
    return Shot("straight_run", "Cam", "Runner", "", 1, frames, "a 5 m/s run across the view past two lamp posts")


def build_zig_zag(variant: int | None = None) -> Shot:
    """A Follow Path along a polyline with sharp corners (where a Track To camera jerks), behind two walls, 2x scale."""
    rng, j = _rng(variant)
    frames = int(120 + j * rng.integers(-24, 25))
    _scene(frames)
    s = 2.0
    pts = np.array([(-6.0, 4.0, 1.0), (-2.0, 7.0, 1.0), (1.0, 3.5, 1.0), (4.0, 7.5, 1.0), (7.0, 4.0, 1.0)])
    pts[:, :2] += j * rng.uniform(-0.8, 0.8, (len(pts), 2))
    subject = add_subject("Subject", 0.35 * s)
    follow_path(subject, [tuple(p) for p in pts * s], frames)
    add_box("Wall", (0.5 * s + j * rng.uniform(-1, 1), 2.0 * s, 1.0 * s), (1.5 * s, 0.15 * s, 1.2 * s))
    add_box("Wall2", (-4.5 * s + j * rng.uniform(-1, 1), 2.5 * s, 1.0 * s), (1.0 * s, 0.15 * s, 1.2 * s))
    add_ground(40 * s)
    add_shot_camera("Cam", ((0.5 + j * rng.uniform(-1, 1)) * s, -6.0 * s, 1.6 * s), (0.5 * s, 5.5 * s, 1.0 * s),
                    lens=28.0)
    return Shot("zig_zag", "Cam", "Subject", "", 1, frames, "a polyline Follow Path with sharp corners behind two walls")


def build_loop(variant: int | None = None) -> Shot:
    """The issue's shot: a cube going once round a circle (Follow Path on a Bezier circle) over 120 frames,
    a wall between part of the path and the camera."""
    rng, j = _rng(variant)
    frames = int(120 + j * rng.integers(-36, 37))
    _scene(frames)
    radius = 4.0 + j * rng.uniform(-1.0, 1.0)
    centre = (j * rng.uniform(-1, 1), 4.0, 1.0)
    bpy.ops.curve.primitive_bezier_circle_add(radius=radius, location=centre)
    circle = bpy.context.active_object
    circle.name = "LoopPath"
    circle.data.use_path = True
    circle.data.path_duration = 100
    circle.data.eval_time = 0.0
    circle.data.keyframe_insert("eval_time", frame=1)
    circle.data.eval_time = 100.0
    circle.data.keyframe_insert("eval_time", frame=frames + 1)
    for fc in anim.iter_fcurves(circle.data.animation_data.action):  # type: ignore[arg-type]
        for kp in fc.keyframe_points:
            kp.interpolation = 'LINEAR'
    subject = add_subject("Runner", 0.35)
    con = subject.constraints.new('FOLLOW_PATH')
    con.target = circle  # type: ignore[attr-defined]
    add_box("Wall", (centre[0] + j * rng.uniform(-1, 1), 4.0 - radius - 1.2, 1.2), (2.0, 0.15, 1.2))
    add_ground(40)
    add_shot_camera("Cam", (j * rng.uniform(-2, 2), -8.0, 1.8), (centre[0], 4.0, 1.0), lens=28.0)
    return Shot("loop", "Cam", "Runner", "", 1, frames, "once round a circle, a wall in front of part of it")


def build_behind_obstacles(variant: int | None = None) -> Shot:
    """A slow walk (1.2 m/s) behind four pillars while a van drives across between them and the camera."""
    rng, j = _rng(variant)
    frames = int(144 + j * rng.integers(-24, 25))
    _scene(frames)
    walker = add_subject("Walker", 0.3)
    t = np.linspace(0.0, 1.0, frames)
    length = frames / FPS * 1.2
    y = 4.0 + j * rng.uniform(-0.5, 0.5)
    walk = np.stack([-length / 2 + length * t, y + 0.4 * np.sin(2 * np.pi * t), np.full_like(t, 0.8)], axis=1)
    key_transforms(walker, np.arange(1, frames + 1), location=walk)
    for i, x in enumerate(np.linspace(-3.0, 3.0, 4)):
        add_box(f"Pillar{i}", (x + j * rng.uniform(-0.5, 0.5), 2.2 + j * rng.uniform(-0.3, 0.3), 1.5),
                (0.3, 0.3, 1.5))
    van = add_box("Van", (6.0, 0.6, 0.9), (1.2, 0.5, 0.9), color=(0.3, 0.7, 0.35, 1.0))
    direction = 1.0 if j == 0 or rng.uniform() < 0.5 else -1.0
    x = direction * np.linspace(-9.0, 9.0, frames) + j * rng.uniform(-2, 2)
    key_transforms(van, np.arange(1, frames + 1), location=np.stack(
        [x, np.full(frames, 0.6), np.full(frames, 0.9)], axis=1))
    add_ground(40)
    add_shot_camera("Cam", (j * rng.uniform(-1.5, 1.5), -4.0, 1.6), (0.0, y, 0.8), lens=30.0)
    return Shot("behind_obstacles", "Cam", "Walker", "", 1, frames,
                "a slow walk behind four pillars while a van (animated obstacle) drives across")


def build_rigify_walk(variant: int | None = None, rig: bpy.types.Object | None = None) -> Shot:
    """The head bone of a Rigify human (generated here, or ``rig``: e.g. one opened from a .blend, since
    Rigify cannot be enabled twice in one process) playing a baked walk action, past a crate.

    The action keys every frame of the root (an S-curve at 1.4 m/s, facing along it), a torso bob, arm
    swings (FK) and stepping feet (IK); bone proxies make the body show in renders.
    """
    from . import scenes

    rng, j = _rng(variant)
    frames = int(96 + j * rng.integers(-24, 25))
    if rig is None:
        rig = scenes.build_rigify_human(fk_arms=True)
    _scene(frames)
    t = np.arange(frames) / FPS
    speed = 1.4 * (1.0 + j * rng.uniform(-0.25, 0.25))
    bend = 0.6 + j * rng.uniform(-0.3, 0.3)
    x = -speed * t[-1] / 2 + speed * t
    y = bend * np.sin(2 * np.pi * (x - x[0]) / (x[-1] - x[0]))
    heading = np.arctan2(np.gradient(y), np.gradient(x))
    phase = 2 * np.pi * t * speed / 1.3  # one stride (two steps) per 1.3 m
    f = np.arange(1, frames + 1)
    for pb in rig.pose.bones:
        if pb.name in ("root", "torso", "foot_ik.L", "foot_ik.R", "upper_arm_fk.L", "upper_arm_fk.R"):
            pb.rotation_mode = 'XYZ'

    def bone_key(name: str, location=None, rotation=None) -> None:
        key_transforms(rig, f, location=location, rotation=rotation, data_prefix=f'pose.bones["{name}"].')

    # the human faces -Y at rest: turn it to face +X (its root's axes are the armature's)
    bone_key("root", np.stack([x, y, np.zeros_like(x)], axis=1),
             np.stack([np.zeros_like(x), np.zeros_like(x), heading + np.pi / 2], axis=1))
    bone_key("torso", np.stack([np.zeros_like(x), np.zeros_like(x), 0.03 * np.cos(2 * phase)], axis=1))
    for side, sign in (("L", 1.0), ("R", -1.0)):
        s = np.sin(phase) * sign
        lift = np.maximum(0.0, np.cos(phase) * sign) * 0.12
        # stepping forward/back along the character's facing (-Y in its own rest space)
        rest = rig.data.bones[f"foot_ik.{side}"].matrix_local.to_3x3()
        offset = np.stack([np.zeros_like(s), -0.3 * s, lift], axis=1) @ np.array(rest)  # rest^T v, row-wise
        bone_key(f"foot_ik.{side}", offset)
        bone_key(f"upper_arm_fk.{side}", rotation=np.stack([0.45 * s, np.zeros_like(s), np.zeros_like(s)], axis=1))
    scenes.add_bone_proxies(rig, [b.name for b in rig.data.bones if b.name.startswith("DEF-")
                                  and not any(k in b.name for k in ("finger", "thumb", "palm", "f_", "breast",
                                                                   "pelvis", "heel"))])
    add_box("Crate", (0.8 + j * rng.uniform(-1, 1), -1.4, 0.6), (0.6, 0.5, 0.6), color=(0.6, 0.45, 0.25, 1.0))
    add_ground(30)
    add_shot_camera("Cam", (j * rng.uniform(-1, 1), -5.5, 1.7), (0.0, 0.0, 1.5), lens=35.0)
    return Shot("rigify_walk", "Cam", rig.name, "head", 1, frames,
                "the head bone of a Rigify human playing a baked walk, past a crate")


def build_stop_and_turn(variant: int | None = None) -> Shot:
    """A tabletop shot (1/10 scale): a small block moves, stops dead for a second, turns and moves on, stops."""
    rng, j = _rng(variant)
    frames = int(120 + j * rng.integers(-24, 25))
    _scene(frames)
    block = add_subject("Block", 0.035)
    a = np.array([-0.5, 0.35, 0.05])
    b = np.array([0.05 + j * rng.uniform(-0.1, 0.1), 0.35, 0.05])
    turn = np.radians(115.0 + j * rng.uniform(-40, 40))
    c = b + 0.45 * np.array([np.cos(turn), np.sin(turn), 0.0])
    c[1] = max(c[1], 0.1)
    k1, k2, k3 = int(0.35 * frames), int(0.55 * frames), int(0.85 * frames)
    pos = np.empty((frames, 3))
    rot = np.zeros((frames, 3))
    for i in range(frames):
        if i <= k1:
            pos[i] = a + (b - a) * i / k1
        elif i <= k2:
            pos[i] = b
            rot[i, 2] = turn * (i - k1) / (k2 - k1)
        elif i <= k3:
            pos[i] = b + (c - b) * (i - k2) / (k3 - k2)
            rot[i, 2] = turn
        else:
            pos[i], rot[i, 2] = c, turn
    key_transforms(block, np.arange(1, frames + 1), location=pos, rotation=rot)
    add_box("Book", (-0.2 + j * rng.uniform(-0.1, 0.1), 0.15, 0.08), (0.12, 0.03, 0.08))
    add_ground(3, name="Table")
    add_shot_camera("Cam", (j * rng.uniform(-0.1, 0.1), -0.45, 0.25), (-0.1, 0.35, 0.05), lens=35.0)
    return Shot("stop_and_turn", "Cam", "Block", "", 1, frames,
                "a tabletop block (1/10 scale) that moves, stops, turns and moves on")


SHOTS = {
    "straight_run": build_straight_run,
    "zig_zag": build_zig_zag,
    "loop": build_loop,
    "behind_obstacles": build_behind_obstacles,
    "rigify_walk": build_rigify_walk,
    "stop_and_turn": build_stop_and_turn,
}


def build_shot(name: str, variant: int | None = None, **kwargs) -> Shot:
    """Build shot ``name`` of :data:`SHOTS` into the current (empty) scene."""
    shot = SHOTS[name](variant, **kwargs)
    bpy.context.view_layer.update()
    return shot


def color_for_render(shot: Shot) -> None:
    """Object colours for Workbench contact sheets (subject red, obstacles blue, moving ones green)."""
    subject = bpy.data.objects[shot.subject]
    if subject.type == 'MESH':
        subject.color = (0.9, 0.15, 0.1, 1.0)
    for obj in bpy.data.objects:
        if obj.name.startswith("proxy_"):
            obj.color = (0.9, 0.35, 0.15, 1.0)


def shot_config(shot: Shot, algo: str = "solve", **camera):
    """The ``TrainConfig`` a user gets for ``shot`` with the defaults (``algo``'s tuned settings), plus
    ``camera`` overrides (mode, framing, use_lens, ...)."""
    from ...agents.config import TrainConfig, defaults_for

    config = TrainConfig(task="camera")
    config.algo = defaults_for(algo, "camera")
    cam = config.camera
    cam.camera, cam.subject, cam.bone = shot.camera, shot.subject, shot.bone
    cam.frame_start, cam.frame_end = shot.frame_start, shot.frame_end
    for key, value in camera.items():
        setattr(cam, key, value)
    config.validate()
    return config

