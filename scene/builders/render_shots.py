"""Shots for the render-settings tuner, built with bpy (the tests' and the benchmark's scenes).

Three benchmark shots of issue 19, plus a tiny one for the tests:

- ``lit``: a simple lit scene: a checkered ball rolls on a checkered floor under one area light,
  from behind a box towards the camera until it fills much of the frame, fastest in the middle
  of the shot (motion blur on).
- ``glass``: glossy and glass materials: a glass ball and a polished metal torus on a glossy
  floor; the camera dollies in until the glass fills much of the frame.
- ``interior``: a dark room lit only through a window (a sun and the sky outside); the camera
  pans from the sunlit patch on the floor to the dark corner beside the window wall.
- ``tiny``: two frames that differ on purpose (a bright, flat frame and a dark, noisy one),
  for the end-to-end test at a few dozen pixels.

Each builder fills the current (empty) scene: Cycles on the CPU, the frame range, a small
resolution, a camera. Meshes are made with bmesh through ``bpy.data`` (no operators).
"""

from __future__ import annotations

import math
from typing import Any

import bmesh
import bpy
from mathutils import Vector

SHOT_NAMES = ("lit", "glass", "interior")


def _link(obj: bpy.types.Object) -> bpy.types.Object:
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _material(name: str, color=(0.8, 0.8, 0.8), roughness: float = 0.6, metallic: float = 0.0,
              transmission: float = 0.0, ior: float = 1.45, checker: float = 0.0) -> bpy.types.Material:
    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:  # 5.0 gives new materials their nodes (and deprecates use_nodes)
        mat.use_nodes = True
    bsdf = next(n for n in mat.node_tree.nodes if n.type == 'BSDF_PRINCIPLED')
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    bsdf.inputs["IOR"].default_value = ior
    weight = bsdf.inputs.get("Transmission Weight") or bsdf.inputs.get("Transmission")
    weight.default_value = transmission
    mat.diffuse_color = (*color, 1.0)
    if checker:  # a checkered base colour: detail a denoiser must keep
        tex = mat.node_tree.nodes.new("ShaderNodeTexChecker")
        tex.inputs["Scale"].default_value = checker
        tex.inputs["Color1"].default_value = (*color, 1.0)
        tex.inputs["Color2"].default_value = (*(0.35 * c for c in color), 1.0)
        mat.node_tree.links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    return mat


def _mesh_object(name: str, build, material: bpy.types.Material | None = None, location=(0.0, 0.0, 0.0),
                 smooth: bool = False) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(name)
    bm = bmesh.new()
    build(bm)
    if smooth:
        for face in bm.faces:
            face.smooth = True
    bm.to_mesh(mesh)
    bm.free()
    if material is not None:
        mesh.materials.append(material)
    obj = _link(bpy.data.objects.new(name, mesh))
    obj.location = location
    return obj


def _box(name: str, size, location, material=None) -> bpy.types.Object:
    def build(bm):
        bmesh.ops.create_cube(bm, size=1.0)
        bmesh.ops.scale(bm, vec=Vector(size), verts=bm.verts)
    return _mesh_object(name, build, material, location)


def _sphere(name: str, radius: float, location, material=None) -> bpy.types.Object:
    def build(bm):
        bmesh.ops.create_uvsphere(bm, u_segments=32, v_segments=16, radius=radius)
    return _mesh_object(name, build, material, location, smooth=True)


def _plane(name: str, size: float, location, material=None) -> bpy.types.Object:
    def build(bm):
        bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=size / 2)
    return _mesh_object(name, build, material, location)


def _torus(name: str, major: float, minor: float, location, material=None) -> bpy.types.Object:
    def build(bm):
        ring = 32
        sides = 12
        verts = []
        for i in range(ring):
            a = 2 * math.pi * i / ring
            for j in range(sides):
                b = 2 * math.pi * j / sides
                r = major + minor * math.cos(b)
                verts.append(bm.verts.new((r * math.cos(a), r * math.sin(a), minor * math.sin(b))))
        for i in range(ring):
            for j in range(sides):
                a = verts[i * sides + j]
                b = verts[((i + 1) % ring) * sides + j]
                c = verts[((i + 1) % ring) * sides + (j + 1) % sides]
                d = verts[i * sides + (j + 1) % sides]
                bm.faces.new((a, b, c, d))
    return _mesh_object(name, build, material, location, smooth=True)


def _camera(name: str, location, focus, lens: float = 35.0) -> bpy.types.Object:
    cam = _link(bpy.data.objects.new(name, bpy.data.cameras.new(name)))
    cam.data.lens = lens
    _aim(cam, location, focus)
    bpy.context.scene.camera = cam
    return cam


def _aim(obj: bpy.types.Object, location, focus) -> None:
    obj.location = location
    obj.rotation_euler = (Vector(focus) - Vector(location)).to_track_quat('-Z', 'Y').to_euler()


def _key(obj: bpy.types.Object, frame: int, *paths: str) -> None:
    for path in paths:
        obj.keyframe_insert(path, frame=frame)


def _world(color, strength: float) -> None:
    world = bpy.data.worlds.new("World")
    if world.node_tree is None:
        world.use_nodes = True
    background = next(n for n in world.node_tree.nodes if n.type == 'BACKGROUND')
    background.inputs["Color"].default_value = (*color, 1.0)
    background.inputs["Strength"].default_value = strength
    bpy.context.scene.world = world


def _light(name: str, kind: str, location, energy: float, focus=(0.0, 0.0, 0.0), size: float = 1.0,
           angle: float | None = None) -> bpy.types.Object:
    data: Any = bpy.data.lights.new(name, kind)  # type: ignore[arg-type]  # a Light subclass
    data.energy = energy
    if kind == 'AREA':
        data.size = size
    if angle is not None:
        data.angle = angle
    obj = _link(bpy.data.objects.new(name, data))
    _aim(obj, location, focus)
    return obj


def setup_cycles(scene: bpy.types.Scene, width: int, height: int, frames: int) -> None:
    """Cycles on the CPU at a small resolution over frames 1..``frames``; the rest Cycles' defaults."""
    scene.render.engine = 'CYCLES'  # type: ignore[assignment]  # fake-bpy-module lists EEVEE only
    scene.cycles.device = 'CPU'
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    scene.frame_start, scene.frame_end = 1, frames
    scene.frame_set(1)


def build_lit_shot(frames: int = 24, width: int = 128, height: int = 96) -> bpy.types.Scene:
    """A checkered ball rolls from behind a box towards the camera under one area light, with motion blur
    (it eases in and out, so the middle frames are the most blurred; the last ones are close-ups)."""
    scene = bpy.context.scene
    assert scene is not None
    setup_cycles(scene, width, height, frames)
    scene.render.use_motion_blur = True
    _world((0.05, 0.06, 0.08), 1.0)
    _plane("Floor", 20.0, (0, 0, 0), _material("FloorMat", (0.6, 0.6, 0.6), 0.8, checker=12.0))
    _box("Wall", (12.0, 0.2, 5.0), (0, 3.0, 2.5), _material("WallMat", (0.7, 0.65, 0.6), 0.9))
    _box("Box", (1.2, 1.2, 1.6), (0.6, 1.2, 0.8), _material("BoxMat", (0.25, 0.35, 0.6), 0.5))
    ball = _sphere("Ball", 0.6, (1.6, 2.2, 0.6), _material("BallMat", (0.8, 0.2, 0.1), 0.4, checker=4.0))
    _light("Key", 'AREA', (-2.5, -1.5, 4.0), 450.0, focus=(-1.0, 0.5, 0.0), size=1.5)
    _camera("Camera", (0.0, -7.0, 2.4), (0.0, 0.6, 0.7))
    # out of the box's shadow and towards the camera; Bezier keys ease it in and out, so it is still at
    # both ends and fastest in the middle
    path = [(1.6, 2.2), (0.4, -0.6), (0.1, -3.3)]
    for k, (x, y) in enumerate(path):
        frame = 1 + round(k * (frames - 1) / (len(path) - 1))
        ball.location = (x, y, 0.6)
        ball.rotation_euler = (8.0 * k, 0.0, 0.0)
        _key(ball, frame, "location", "rotation_euler")
    scene.frame_set(1)
    return scene


def build_glass_shot(frames: int = 24, width: int = 128, height: int = 96) -> bpy.types.Scene:
    """A glass ball and a polished metal torus on a glossy floor; the camera dollies in to the glass."""
    scene = bpy.context.scene
    assert scene is not None
    setup_cycles(scene, width, height, frames)
    _world((0.35, 0.4, 0.5), 0.6)
    _plane("Floor", 20.0, (0, 0, 0), _material("FloorMat", (0.15, 0.15, 0.17), 0.25))
    _box("Backdrop", (10.0, 0.2, 4.0), (0, 3.5, 2.0), _material("BackdropMat", (0.8, 0.5, 0.2), 0.7))
    _sphere("GlassBall", 0.7, (0.0, 0.0, 0.7), _material("Glass", (1.0, 1.0, 1.0), 0.0, transmission=1.0))
    torus = _torus("Torus", 0.6, 0.2, (1.3, 1.2, 0.6), _material("Chrome", (0.9, 0.85, 0.8), 0.1, metallic=1.0))
    torus.rotation_euler = (1.2, 0.0, 0.4)
    _box("Cube", (0.6, 0.6, 0.6), (-1.4, 1.0, 0.3), _material("CubeMat", (0.2, 0.6, 0.3), 0.5))
    _light("Key", 'AREA', (2.5, -2.0, 4.0), 600.0, focus=(0, 0.5, 0.5), size=1.0)
    cam = _camera("Camera", (0.0, -8.0, 2.2), (0.0, 0.5, 0.6))
    for frame, (y, z) in ((1, (-8.0, 2.2)), (frames, (-2.2, 1.0))):
        cam.location = (0.3 * (frame > 1), y, z)
        _aim(cam, cam.location, (0.0, 0.3, 0.65))
        _key(cam, frame, "location", "rotation_euler")
    scene.frame_set(1)
    return scene


def build_interior_shot(frames: int = 24, width: int = 128, height: int = 96) -> bpy.types.Scene:
    """A dark room lit only through a window; the camera pans from the sunlit floor to the dark corner."""
    scene = bpy.context.scene
    assert scene is not None
    setup_cycles(scene, width, height, frames)
    _world((0.4, 0.55, 0.9), 1.5)
    walls = _material("Plaster", (0.75, 0.72, 0.68), 0.9)
    floor = _material("Wood", (0.45, 0.3, 0.18), 0.5)
    # a 6 x 6 x 3 room; the window (1.6 x 1.4, sill at 0.8) is in the wall at x = +3
    _box("Floor", (6.4, 6.4, 0.2), (0, 0, -0.1), floor)
    _box("Ceiling", (6.4, 6.4, 0.2), (0, 0, 3.1), walls)
    _box("WallBack", (6.4, 0.2, 3.0), (0, 3.1, 1.5), walls)
    _box("WallFront", (6.4, 0.2, 3.0), (0, -3.1, 1.5), walls)
    _box("WallLeft", (0.2, 6.4, 3.0), (-3.1, 0, 1.5), walls)
    # the window wall, four pieces around the opening
    _box("WallWindowLow", (0.2, 6.4, 0.8), (3.1, 0, 0.4), walls)
    _box("WallWindowHigh", (0.2, 6.4, 0.8), (3.1, 0, 2.6), walls)
    _box("WallWindowSouth", (0.2, 2.4, 1.4), (3.1, -2.0, 1.5), walls)
    _box("WallWindowNorth", (0.2, 2.4, 1.4), (3.1, 2.0, 1.5), walls)
    _box("Table", (1.0, 1.6, 0.8), (-1.5, 1.2, 0.4), _material("TableMat", (0.3, 0.2, 0.15), 0.6))
    _sphere("Vase", 0.25, (-1.5, 1.4, 1.05), _material("VaseMat", (0.2, 0.4, 0.7), 0.3))
    _light("Sun", 'SUN', (8.0, 2.0, 6.0), 6.0, focus=(0.0, -0.5, 0.0), angle=math.radians(1.0))
    cam = _camera("Camera", (-2.6, -2.6, 1.6), (1.0, 0.2, 0.3), lens=24.0)
    for frame, focus in ((1, (1.5, 0.0, 0.2)), (frames, (-2.0, 3.0, 1.0))):
        _aim(cam, (-2.4, -2.4, 1.6), focus)
        _key(cam, frame, "rotation_euler")
    scene.frame_set(1)
    return scene


def build_tiny_shot(frames: int = 2, width: int = 48, height: int = 36) -> bpy.types.Scene:
    """Frame 1 looks at a brightly lit flat wall; the last frame at a dark corner lit by one bounce."""
    scene = bpy.context.scene
    assert scene is not None
    setup_cycles(scene, width, height, frames)
    _world((0.02, 0.02, 0.02), 1.0)
    mat = _material("Matte", (0.7, 0.7, 0.7), 0.9)
    _plane("Floor", 12.0, (0, 0, 0), mat)
    _box("Wall", (12.0, 0.2, 4.0), (0, 2.0, 2.0), mat)
    _box("Blocker", (3.0, 3.0, 0.1), (-3.0, 0.0, 2.5), mat)
    _light("Spot", 'AREA', (3.0, 0.0, 3.0), 300.0, focus=(3.0, 2.0, 1.0), size=0.5)
    cam = _camera("Camera", (3.0, -4.0, 1.5), (3.0, 2.0, 1.5))
    _key(cam, 1, "location", "rotation_euler")
    _aim(cam, (-3.0, -4.0, 1.0), (-3.0, 2.0, 1.0))
    _key(cam, frames, "location", "rotation_euler")
    for curve in _object_fcurves(cam):
        for point in curve.keyframe_points:
            point.interpolation = 'CONSTANT'
    scene.frame_set(1)
    return scene


def _object_fcurves(obj: bpy.types.Object) -> list:
    from ..anim import iter_fcurves

    return iter_fcurves(obj.animation_data.action, obj)  # type: ignore[arg-type]  # just keyed


BUILDERS = {"lit": build_lit_shot, "glass": build_glass_shot, "interior": build_interior_shot,
            "tiny": build_tiny_shot}


def build_shot(name: str, **size) -> bpy.types.Scene:
    """Build shot ``name`` (``lit``, ``glass``, ``interior`` or ``tiny``) into the current empty scene."""
    return BUILDERS[name](**size)
