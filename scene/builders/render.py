"""Workbench renders of baked motion, tiled into a contact sheet (the bpy edge).

Workbench renders a small frame in well under a second headless; EEVEE takes
minutes there, so it is never used here.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import bpy
import numpy as np
from mathutils import Vector

from ...agents.curve import write_png
from ..pose import frames_preserved


def _look_at(cam_obj, target: Vector) -> None:
    direction = target - cam_obj.location
    cam_obj.rotation_euler = direction.to_track_quat('-Z', 'Y').to_euler()


def ensure_camera(focus: Vector, distance: float = 3.0, name: str = "RigDojoCamera") -> bpy.types.Object:
    """The scene camera, or a new one looking at ``focus`` from the front-right."""
    scene = bpy.context.scene
    if scene.camera is not None:
        return scene.camera
    cam = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    scene.collection.objects.link(cam)
    cam.location = focus + Vector((0.45, -1.0, 0.35)).normalized() * distance
    _look_at(cam, focus)
    scene.camera = cam
    return cam


def framing_camera(name: str, objects, frames: list[int], direction=(0.55, -0.85, 0.3), margin: float = 1.15,
                   aspect: float = 4 / 3) -> bpy.types.Object:
    """A new camera looking along ``-direction`` at ``objects`` and far enough away that their evaluated
    bounds over ``frames`` (every corner of every object at every frame) fit the frame with ``margin``."""
    scene = bpy.context.scene
    corners = []
    with frames_preserved(scene):
        for frame in frames:
            scene.frame_set(frame)
            depsgraph = bpy.context.evaluated_depsgraph_get()
            for obj in objects:
                ev = obj.evaluated_get(depsgraph)
                corners += [ev.matrix_world @ Vector(c) for c in ev.bound_box]
    points = np.array([list(c) for c in corners])
    center = Vector(((points.min(axis=0) + points.max(axis=0)) / 2).tolist())
    cam = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    scene.collection.objects.link(cam)
    data = cam.data
    # the narrower field of view decides (sensor width spans the wider image side)
    half_wide = np.arctan(data.sensor_width / 2 / data.lens)
    half = np.arctan(np.tan(half_wide) / aspect) if aspect >= 1 else half_wide
    axis = Vector(direction).normalized()
    # distance at which every corner lies inside the cone of half-angle ``half`` around the view axis
    distance = 0.0
    for p in points:
        offset = Vector(p.tolist()) - center
        along = offset.dot(axis)
        across = (offset - along * axis).length
        distance = max(distance, along + across * margin / np.tan(half))
    cam.location = center + axis * distance
    _look_at(cam, center)
    data.clip_end = max(data.clip_end, distance * 4)
    return cam


def render_frames(frames: list[int], width: int = 320, height: int = 240) -> list[np.ndarray]:
    """Render ``frames`` of the scene's camera with Workbench; ``(height, width, 4)`` float pixels each."""
    scene = bpy.context.scene
    render = scene.render
    saved = (render.engine, render.resolution_x, render.resolution_y, render.resolution_percentage,
             render.filepath, render.image_settings.file_format)
    tiles = []
    try:
        render.engine = 'BLENDER_WORKBENCH'
        render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
        render.image_settings.file_format = 'PNG'
        scene.display.shading.color_type = 'OBJECT'
        with tempfile.TemporaryDirectory() as tmp, frames_preserved(scene):
            for frame in frames:
                scene.frame_set(frame)
                render.filepath = str(Path(tmp) / f"frame_{frame:05d}.png")
                bpy.ops.render.render(write_still=True)
                image = bpy.data.images.load(render.filepath)
                pixels = np.empty(width * height * 4, dtype=np.float32)
                image.pixels.foreach_get(pixels)  # type: ignore[attr-defined]  # a bpy_prop_array
                bpy.data.images.remove(image)
                tiles.append(pixels.reshape(height, width, 4))
    finally:
        (render.engine, render.resolution_x, render.resolution_y, render.resolution_percentage,
         render.filepath, render.image_settings.file_format) = saved
    return tiles


def tile_sheet(path: str | Path, tiles: list[np.ndarray], columns: int) -> Path:
    """Tile equally sized renders into one PNG, left to right and top to bottom."""
    height, width = tiles[0].shape[:2]
    rows = -(-len(tiles) // columns)
    sheet = np.ones((rows * height, columns * width, 4), dtype=np.float32)
    for k, tile in enumerate(tiles):
        r, c = divmod(k, columns)
        top = (rows - 1 - r) * height  # row 0 of the sheet is at the bottom
        sheet[top:top + height, c * width:(c + 1) * width] = tile
    return write_png(path, sheet)


def contact_sheet(path: str | Path, frames: list[int], columns: int = 4, width: int = 320,
                  height: int = 240) -> Path:
    """Render ``frames`` with Workbench and tile them into one PNG at ``path``."""
    return tile_sheet(path, render_frames(frames, width, height), columns)
