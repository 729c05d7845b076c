"""Scenes built with bpy for the demo and the tests: rigs, targets, props.

Everything is made through ``bpy.data`` and the operators Blender itself ships,
so the tests exercise real Blender data, never a mock.
"""

from __future__ import annotations

import math

import bpy
from mathutils import Vector


def empty_scene() -> bpy.types.Scene:
    """Factory settings with an empty file."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    assert scene is not None
    return scene


def _link(obj: bpy.types.Object) -> bpy.types.Object:
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _set_active(obj: bpy.types.Object) -> None:
    view_layer = bpy.context.view_layer
    for other in view_layer.objects:
        other.select_set(False)
    view_layer.objects.active = obj
    obj.select_set(True)


def build_chain(
    name: str = "Arm",
    lengths: tuple[float, ...] = (0.5, 0.4, 0.2),
    bone_names: tuple[str, ...] | None = None,
    direction: tuple[float, float, float] = (1.0, 0.0, 0.0),
    location: tuple[float, float, float] = (0.0, 0.0, 1.0),
    rotation_mode: str = "QUATERNION",
) -> bpy.types.Object:
    """A connected chain of bones, each continuing the previous one along ``direction``."""
    names = bone_names or tuple(f"bone.{i:02d}" for i in range(len(lengths)))
    data = bpy.data.armatures.new(name)
    obj = _link(bpy.data.objects.new(name, data))
    obj.location = location
    _set_active(obj)
    bpy.ops.object.mode_set(mode='EDIT')
    head = Vector((0.0, 0.0, 0.0))
    axis = Vector(direction).normalized()
    parent = None
    for bone_name, length in zip(names, lengths):
        eb = data.edit_bones.new(bone_name)
        eb.head = head
        eb.tail = head + axis * length
        eb.roll = 0.0
        if parent is not None:
            eb.parent = parent
            eb.use_connect = True
        parent = eb
        head = eb.tail.copy()
    bpy.ops.object.mode_set(mode='OBJECT')
    for pb in obj.pose.bones:
        pb.rotation_mode = rotation_mode
    return obj


def limit_rotations(obj: bpy.types.Object, limits: dict) -> None:
    """Per pose bone, per axis: ``(min, max)`` radians as IK limits (``use_ik_limit_*``, which the twin reads as
    joint limits), or None to lock that axis; e.g. ``{"forearm_fk.L": ((0.0, 2.5), None, None)}``."""
    for name, per_axis in limits.items():
        pb = obj.pose.bones[name]
        for axis, lim in zip("xyz", per_axis):
            if lim is None:
                pb.lock_rotation["xyz".index(axis)] = True
            else:
                setattr(pb, f"use_ik_limit_{axis}", True)
                setattr(pb, f"ik_min_{axis}", lim[0])
                setattr(pb, f"ik_max_{axis}", lim[1])


def add_empty(name: str, location=(0.0, 0.0, 0.0), display="SPHERE", size: float = 0.05) -> bpy.types.Object:
    obj = _link(bpy.data.objects.new(name, None))
    obj.empty_display_type = display
    obj.empty_display_size = size
    obj.location = location
    return obj


def animate_circle(obj: bpy.types.Object, center, radius: float, frames: tuple[int, int], keys: int = 9):
    """Keyframe ``obj`` going once round a circle in the XZ plane over ``frames``."""
    start, end = frames
    for k in range(keys):
        t = k / (keys - 1)
        angle = 2.0 * math.pi * t
        obj.location = (center[0] + radius * math.cos(angle), center[1], center[2] + radius * math.sin(angle))
        obj.keyframe_insert("location", frame=round(start + t * (end - start)))


def build_demo_scene() -> dict[str, bpy.types.Object]:
    """The demo: a three-bone arm and a target moving in front of it."""
    scene = empty_scene()
    scene.frame_start, scene.frame_end = 1, 120
    arm = build_chain("Arm", (0.5, 0.4, 0.2), ("upper_arm", "forearm", "hand"))
    target = add_empty("Target", (0.8, 0.0, 1.3))
    animate_circle(target, center=(0.7, 0.0, 1.1), radius=0.25, frames=(1, 120))
    region = add_empty("Region", (0.6, 0.0, 1.0), display="CUBE", size=0.4)
    if hasattr(scene, "rig_dojo"):  # the add-on is registered: remember the rig in the .blend
        scene.rig_dojo.rig = arm
    return {"rig": arm, "target": target, "region": region}


def build_driven_arm_scene() -> dict[str, bpy.types.Object]:
    """The demo's arm with a wrist that follows the forearm through a driver (hand Z = -0.6 x forearm Z, an
    automated wrist a rigger might add): the twin refuses a selection whose tracked bone a driver moves from a
    control, so this selection trains with Blender in the loop."""
    scene = empty_scene()
    scene.frame_start, scene.frame_end = 1, 48
    arm = build_chain("Arm", (0.5, 0.4, 0.2), ("upper_arm", "forearm", "hand"), rotation_mode='XYZ')
    fc = arm.pose.bones["hand"].driver_add("rotation_euler", 2)
    driver = fc.driver
    driver.type = 'SCRIPTED'
    var = driver.variables.new()
    var.name, var.type = "r", 'TRANSFORMS'
    target = var.targets[0]
    target.id = arm
    target.bone_target, target.transform_type, target.transform_space = "forearm", 'ROT_Z', 'LOCAL_SPACE'
    driver.expression = "-0.6 * r"
    region = add_empty("Region", (0.6, 0.0, 1.0), display="CUBE", size=0.3)
    target_obj = add_empty("Target", (0.7, 0.0, 1.25))
    if hasattr(scene, "rig_dojo"):
        scene.rig_dojo.rig = arm
    return {"rig": arm, "region": region, "target": target_obj}


RIGIFY_FK_ARM = {
    "controls": ["upper_arm_fk.L", "forearm_fk.L", "hand_fk.L"],
    "tracked": ["DEF-hand.L"],
}


def enable_rigify() -> None:
    """Enable the Rigify add-on bundled with Blender (once per process)."""
    import addon_utils

    if "rigify" not in bpy.context.preferences.addons:
        addon_utils.enable("rigify", default_set=True)
    if not hasattr(bpy.ops.pose, "rigify_generate"):
        raise RuntimeError("the bundled Rigify add-on could not be enabled")


def build_rigify_metarig(name: str = "metarig") -> bpy.types.Object:
    """Rigify's basic human metarig (plain bones, no constraints)."""
    enable_rigify()
    bpy.ops.object.armature_human_metarig_add()  # type: ignore[attr-defined]  # Rigify's operator
    meta = bpy.context.active_object
    assert meta is not None
    meta.name = name
    return meta


def build_rigify_human(fk_arms: bool = True) -> bpy.types.Object:
    """A Rigify-generated human rig (about 7 s); with ``fk_arms`` its arms are switched to FK."""
    meta = build_rigify_metarig()
    _set_active(meta)
    bpy.ops.pose.rigify_generate()  # type: ignore[attr-defined]  # Rigify's operator
    rig = bpy.data.objects["rig"]
    if fk_arms:
        for side in ("L", "R"):
            rig.pose.bones[f"upper_arm_parent.{side}"]["IK_FK"] = 1.0  # Rigify: 1 = FK
        rig.update_tag()
        bpy.context.view_layer.update()
    return rig


def add_bone_proxies(rig: bpy.types.Object, bones: list[str] | None = None, radius: float = 0.04,
                     color=(0.8, 0.55, 0.3, 1.0)) -> list[bpy.types.Object]:
    """Cylinders parented to bones, so renders (which never draw armatures) show the rig's motion."""
    mesh = bpy.data.meshes.get("RigDojoProxy")
    if mesh is None:
        import bmesh

        mesh = bpy.data.meshes.new("RigDojoProxy")
        bm = bmesh.new()
        bmesh.ops.create_cone(bm, cap_ends=True, segments=12, radius1=1.0, radius2=0.7, depth=2.0)
        bm.to_mesh(mesh)
        bm.free()
    out = []
    for name in bones or [b.name for b in rig.data.bones]:
        bone = rig.data.bones[name]
        obj = _link(bpy.data.objects.new(f"proxy_{name}", mesh))
        obj.parent, obj.parent_type, obj.parent_bone = rig, 'BONE', name
        # a bone child sits at the bone's tail, in the bone's axes (Y along the bone)
        r = min(radius, bone.length * 0.3)
        obj.location = (0.0, -bone.length / 2, 0.0)
        obj.rotation_euler = (math.pi / 2, 0.0, 0.0)
        obj.scale = (r, r, bone.length / 2)
        obj.color = color
        out.append(obj)
    return out


def add_marker(name: str, follow: bpy.types.Object, radius: float = 0.05, color=(0.2, 0.8, 0.3, 1.0)):
    """A small renderable sphere that copies ``follow``'s location (empties do not render)."""
    mesh = bpy.data.meshes.new(name)
    import bmesh

    bm = bmesh.new()
    bmesh.ops.create_uvsphere(bm, u_segments=16, v_segments=8, radius=radius)
    bm.to_mesh(mesh)
    bm.free()
    obj = _link(bpy.data.objects.new(name, mesh))
    con = obj.constraints.new('COPY_LOCATION')
    con.target = follow  # type: ignore[attr-defined]  # a CopyLocationConstraint
    obj.color = color
    return obj


def add_box(name: str, location, size, color=(0.55, 0.55, 0.6, 1.0)) -> bpy.types.Object:
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=location)
    obj = bpy.context.active_object
    assert obj is not None
    obj.name = name
    obj.scale = size
    obj.color = color
    return obj


def add_camera(name: str, location, focus) -> bpy.types.Object:
    cam = _link(bpy.data.objects.new(name, bpy.data.cameras.new(name)))
    cam.location = location
    direction = Vector(focus) - Vector(location)
    cam.rotation_euler = direction.to_track_quat('-Z', 'Y').to_euler()
    return cam
