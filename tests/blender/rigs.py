"""Test rigs built with bpy (never a mock): odd chains, constraint chains, an IK chain, glTF round trips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bpy
from mathutils import Matrix, Vector

from rig_dojo.scene.builders import scenes


def build_odd_chain(name: str = "Odd", rotation_modes=("QUATERNION", "ZXY", "AXIS_ANGLE", "YZX", "XZY")):
    """A chain with rolls, unconnected offsets, pose scale, every inherit-scale mode, hinge and local-location
    off, on an object that is rotated and non-uniformly scaled."""
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.location = (0.3, -0.2, 1.1)
    obj.rotation_euler = (0.3, -0.5, 0.8)
    obj.scale = (1.2, 0.9, 1.1)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode='EDIT')
    specs = [  # head, tail, roll, connected
        ((0, 0, 0), (0.4, 0.1, 0.05), 0.3, False),
        ((0.45, 0.12, 0.1), (0.7, 0.3, 0.2), -1.1, False),  # unconnected offset
        ((0.7, 0.3, 0.2), (0.9, 0.35, 0.5), 2.0, True),
        ((0.95, 0.4, 0.55), (1.1, 0.3, 0.7), 0.7, False),
        ((1.1, 0.3, 0.7), (1.2, 0.25, 0.75), -0.4, True),
    ]
    parent = None
    names = []
    for k, (head, tail, roll, connected) in enumerate(specs):
        eb = data.edit_bones.new(f"b{k}")
        eb.head, eb.tail, eb.roll = Vector(head), Vector(tail), roll
        if parent is not None:
            eb.parent = parent
            eb.use_connect = connected
        parent = eb
        names.append(eb.name)
    bpy.ops.object.mode_set(mode='OBJECT')
    bones = data.bones
    bones["b1"].inherit_scale = 'ALIGNED'
    bones["b2"].inherit_scale = 'AVERAGE'
    bones["b3"].inherit_scale = 'FIX_SHEAR'
    bones["b3"].use_local_location = False
    bones["b4"].inherit_scale = 'NONE'
    bones["b4"].use_inherit_rotation = False  # hinge
    for pb, mode in zip(obj.pose.bones, rotation_modes):
        pb.rotation_mode = mode
    # a held (non-control) bone with scale and offset: b1's pose is fixed
    obj.pose.bones["b1"].scale = (1.3, 0.8, 1.1)
    obj.pose.bones["b1"].location = (0.02, 0.0, -0.03)
    obj.pose.bones["b3"].location = (0.01, 0.02, 0.0)
    obj.pose.bones["b3"].scale = (0.9, 1.2, 1.0)
    return obj


def build_constraint_chain(name: str = "Cons"):
    """A chain whose tracked bone follows controls through Copy Rotation, Copy Location, Copy Scale, Copy
    Transforms and Child Of, with partial influences."""
    arm = scenes.build_chain(name, (0.5, 0.4, 0.3), ("upper", "lower", "tip"), rotation_mode='XYZ')
    helper = scenes.add_empty(f"{name}_anchor", (0.2, 0.5, 1.3))
    helper.rotation_euler = (0.2, 0.1, -0.4)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode='EDIT')
    eb = arm.data.edit_bones
    follow = eb.new("follow")
    follow.head, follow.tail = Vector((0, 0.3, 0)), Vector((0, 0.3, 0.3))
    follow.roll = 0.4
    mixer = eb.new("mixer")
    mixer.head, mixer.tail = Vector((0.2, -0.3, 0)), Vector((0.2, -0.3, 0.25))
    mixer.parent = eb["lower"]
    child = eb.new("child")
    child.head, child.tail = Vector((0.5, 0.5, 0.5)), Vector((0.6, 0.5, 0.5))
    bpy.ops.object.mode_set(mode='OBJECT')
    pb = arm.pose.bones
    c = pb["follow"].constraints.new('COPY_ROTATION')
    c.target, c.subtarget, c.influence = arm, "lower", 0.6
    c = pb["follow"].constraints.new('COPY_LOCATION')
    c.target, c.subtarget, c.head_tail, c.influence = arm, "tip", 1.0, 0.8
    c = pb["follow"].constraints.new('COPY_SCALE')
    c.target, c.subtarget = arm, "upper"
    c = pb["mixer"].constraints.new('COPY_TRANSFORMS')
    c.target, c.subtarget, c.influence = arm, "tip", 0.35
    c.owner_space = c.target_space = 'POSE'
    c = pb["child"].constraints.new('CHILD_OF')
    c.target, c.subtarget = arm, "follow"
    c.inverse_matrix = Matrix.Rotation(0.3, 4, 'Z') @ Matrix.Translation((0.1, -0.2, 0.05))
    pb["upper"].scale = (1.0, 1.4, 1.0)  # gives Copy Scale something to copy
    return arm


def build_ik_chain(name: str = "IKArm"):
    arm = scenes.build_chain(name, (0.5, 0.4, 0.2), ("upper", "lower", "hand"))
    target = scenes.add_empty(f"{name}_target", (0.6, 0.0, 1.4))
    c = arm.pose.bones["lower"].constraints.new('IK')
    c.target, c.chain_count = target, 2
    arm.pose.bones["lower"].rotation_quaternion = (0.98, 0.2, 0.0, 0.0)  # bent: a straight chain is singular
    return arm


def gltf_round_trip(obj, folder: Path):
    """Export ``obj`` with the bundled glTF exporter and import it back (odd rest orientations)."""
    path = folder / "rig.glb"
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    obj.select_set(True)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.export_scene.gltf(filepath=str(path), use_selection=True, export_animations=False)
    before = set(bpy.data.objects)
    bpy.ops.import_scene.gltf(filepath=str(path))
    imported = [o for o in bpy.data.objects if o not in before and o.type == 'ARMATURE']
    assert len(imported) == 1, imported
    return imported[0]


def generate_rigify_blend(path: Path, fk_arms: bool = True) -> Path:
    """Generate a Rigify human (arms switched to FK, or as Rigify makes it: limbs in IK) in a fresh
    interpreter (enabling Rigify twice in one process fails) and save it."""
    code = (
        "import bpy, sys; from rig_dojo.scene.builders import scenes; scenes.empty_scene();"
        f"rig = scenes.build_rigify_human(fk_arms={bool(fk_arms)}); bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1]);"
        # skip the bpy module's teardown, which crashes in the 4.2-4.5 wheels
        "import os; sys.stdout.flush(); os._exit(0)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not path.exists():
        raise RuntimeError(f"Rigify generation failed:\n{proc.stderr[-3000:]}")
    return path


def build_hand_rig(name: str = "Hand"):
    """An arm with a palm and two two-bone fingers, in front of a cup (a cylinder mesh)."""
    arm = scenes.build_chain(name, (0.4, 0.35, 0.12), ("upper", "fore", "palm"), rotation_mode='XYZ')
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode='EDIT')
    eb = arm.data.edit_bones
    palm = eb["palm"]
    for k, offset in enumerate((0.03, -0.03)):
        parent = palm
        head = palm.tail + Vector((0.0, offset, 0.0))
        for j in range(2):
            b = eb.new(f"finger{k}.{j}")
            b.head, b.tail = head, head + Vector((0.05, 0.0, 0.0))
            b.parent = parent
            b.use_connect = j > 0
            parent, head = b, b.tail
    bpy.ops.object.mode_set(mode='OBJECT')
    for pb in arm.pose.bones:
        pb.rotation_mode = 'XYZ'
    bpy.ops.mesh.primitive_cylinder_add(radius=0.06, depth=0.15, location=(0.78, 0.0, 0.95))
    cup = bpy.context.active_object
    cup.name = "Cup"
    return arm, cup


def add_faceless_mesh(name: str = "Points"):
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def build_local_and_stretch_chain(name: str = "Local"):
    """Copy Rotation in Local space (owner and target, partial influence) and Stretch To in every keep-axis
    mode, with volume and bulge limits, between the controls and the tracked bones."""
    arm = scenes.build_chain(name, (0.5, 0.4, 0.3), ("upper", "lower", "tip"), rotation_mode='XYZ')
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode='EDIT')
    eb = arm.data.edit_bones
    for k, axis in enumerate(("SWING_Y", "PLANE_X", "PLANE_Z")):
        b = eb.new(f"stretch_{axis}")
        b.head, b.tail = Vector((0.1 * k, 0.2, 0.0)), Vector((0.1 * k, 0.2, 0.3))
        b.roll = 0.3 * k
        b.parent = eb["upper"]
    follow = eb.new("local_follow")
    follow.head, follow.tail = Vector((0.6, -0.2, 0.0)), Vector((0.8, -0.2, 0.1))
    follow.parent = eb["lower"]
    bpy.ops.object.mode_set(mode='OBJECT')
    pb = arm.pose.bones
    for k, axis in enumerate(("SWING_Y", "PLANE_X", "PLANE_Z")):
        c = pb[f"stretch_{axis}"].constraints.new('STRETCH_TO')
        c.target, c.subtarget, c.keep_axis = arm, "tip", axis
        c.volume = ("VOLUME_XZX", "VOLUME_X", "NO_VOLUME")[k]
        c.bulge, c.use_bulge_max, c.bulge_max, c.use_bulge_min, c.bulge_min = 1.5, True, 1.6, True, 0.6
        c.bulge_smooth = 0.4
        c.rest_length = 0.9
        c.influence = (1.0, 0.7, 1.0)[k]
    for axis in ("TRACK_X", "TRACK_NEGATIVE_Z"):
        c = pb[f"stretch_SWING_Y"].constraints.new('DAMPED_TRACK')
        c.target, c.subtarget, c.track_axis, c.head_tail, c.influence = arm, "lower", axis, 0.5, 0.6
    c = pb["local_follow"].constraints.new('COPY_ROTATION')
    c.target, c.subtarget, c.influence = arm, "tip", 0.5
    c.owner_space = c.target_space = 'LOCAL'
    return arm


def add_driver(arm, bone: str, path: str, index: int, var_type: str, target_bone: str = "",
               data_path: str = "", space: str = 'WORLD_SPACE'):
    fc = arm.pose.bones[bone].driver_add(path, index)
    drv = fc.driver
    drv.type = 'SCRIPTED'
    var = drv.variables.new()
    var.name, var.type = "v", var_type
    t = var.targets[0]
    t.id = arm
    if var_type == 'TRANSFORMS':
        t.bone_target, t.transform_type, t.transform_space = target_bone, 'ROT_Z', space
    else:
        t.data_path = data_path
    drv.expression = "v * 0.5"
    return fc


def add_region(obj, controls: list[str], effector: str, name: str = "Region") -> None:
    """A box of targets between the rest tip and the chain's root (reachable by bending), 12% of the chain."""
    pb, world = obj.pose.bones, obj.matrix_world
    root, tip = world @ pb[controls[0]].head, world @ pb[effector].tail
    length = sum((world @ pb[c].tail - world @ pb[c].head).length for c in controls)
    scenes.add_empty(name, tuple(tip + (root - tip) * 0.3), display="CUBE", size=0.12 * length)
