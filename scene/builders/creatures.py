"""Small creatures built with bpy for the physics tests and demos: a biped and a splayed quadruped."""

from __future__ import annotations



import bpy
from mathutils import Vector



def _armature(name: str, location) -> bpy.types.Object:
    data = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.location = location
    for other in bpy.context.view_layer.objects:
        other.select_set(False)
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    return obj


def _add_bones(obj, bones: list[tuple]) -> None:
    """``bones``: (name, head, tail, parent or None, connected)."""
    bpy.ops.object.mode_set(mode='EDIT')
    eb = obj.data.edit_bones
    for name, head, tail, parent, connected in bones:
        b = eb.new(name)
        b.head, b.tail, b.roll = Vector(head), Vector(tail), 0.0
        if parent:
            b.parent = eb[parent]
            b.use_connect = connected
    bpy.ops.object.mode_set(mode='OBJECT')


def _hinge(obj, name: str, low: float, high: float, axis: str = "x") -> None:
    """Lock every axis but ``axis`` and limit it to [low, high] (an IK limit)."""
    pb = obj.pose.bones[name]
    pb.lock_rotation = tuple(a != axis for a in "xyz")
    setattr(pb, f"use_ik_limit_{axis}", True)
    setattr(pb, f"ik_min_{axis}", low)
    setattr(pb, f"ik_max_{axis}", high)


def build_biped(name: str = "Biped", location=(0.0, 0.0, 0.0)) -> bpy.types.Object:
    """A 9-bone biped about 1.4 units tall facing -Y: pelvis (root), spine, head, legs of thigh, shin, foot."""
    obj = _armature(name, location)
    bones: list[tuple[str, tuple[float, float, float], tuple[float, float, float], str | None, bool]] = [
        ("pelvis", (0, 0, 0.9), (0, 0, 1.05), None, False),
        ("spine", (0, 0, 1.05), (0, 0, 1.35), "pelvis", True),
        ("head", (0, 0, 1.35), (0, 0, 1.5), "spine", True),
    ]
    for side, x in (("L", 0.1), ("R", -0.1)):
        bones += [
            (f"thigh.{side}", (x, 0, 0.9), (x, -0.03, 0.5), "pelvis", False),
            (f"shin.{side}", (x, -0.03, 0.5), (x, 0.0, 0.1), f"thigh.{side}", True),
            (f"foot.{side}", (x, 0.0, 0.1), (x, -0.16, 0.05), f"shin.{side}", True),
        ]
    _add_bones(obj, bones)
    for side in "LR":
        _hinge(obj, f"shin.{side}", -2.2, 0.1)
        _hinge(obj, f"foot.{side}", -0.7, 0.7)
        obj.pose.bones[f"foot.{side}"]["rig_dojo_radius"] = 0.035
    for pb in obj.pose.bones:
        pb.rotation_mode = 'XYZ'
    obj.pose.bones["pelvis"]["rig_dojo_radius"] = 0.1
    obj.pose.bones["spine"]["rig_dojo_radius"] = 0.09
    obj.pose.bones["head"]["rig_dojo_radius"] = 0.08
    return obj


def build_quadruped(name: str = "Quadruped", location=(0.0, 0.0, 0.0)) -> bpy.types.Object:
    """A 14-bone quadruped about 1.2 units long facing -Y: torso (root), neck, tail, legs of thigh, shin, foot.

    The legs splay outwards (feet 0.27 either side of the spine, hips 0.15): with the feet straight under
    the hips (0.15) random servo targets of a tenth of the joint ranges toppled it sideways within seconds,
    so exploration mostly learnt from falls (agents/README.md, "Physics defaults")."""
    obj = _armature(name, location)
    bones: list[tuple[str, tuple[float, float, float], tuple[float, float, float], str | None, bool]] = [
        ("torso", (0, 0.35, 0.6), (0, -0.35, 0.6), None, False),
        ("neck", (0, -0.35, 0.6), (0, -0.5, 0.8), "torso", True),
        ("tail", (0, 0.35, 0.62), (0, 0.6, 0.7), "torso", False),
    ]
    for prefix, y in (("front", -0.3), ("back", 0.3)):
        for side, x in (("L", 0.15), ("R", -0.15)):
            b = f"{prefix}_{side}"
            knee, foot = x * 1.4, x * 1.8  # splayed: a wider stance
            bones += [
                (f"{b}_thigh", (x, y, 0.58), (knee, y - 0.02, 0.34), "torso", False),
                (f"{b}_shin", (knee, y - 0.02, 0.34), (foot, y, 0.1), f"{b}_thigh", True),
                (f"{b}_foot", (foot, y, 0.1), (foot, y - 0.06, 0.03), f"{b}_shin", True),
            ]
    _add_bones(obj, bones)
    for pb in obj.pose.bones:
        pb.rotation_mode = 'XYZ'
        if pb.name.endswith("_thigh"):
            pb.lock_rotation = (False, True, False)  # swing forward/back and sideways, no twist
            for axis, lim in (("x", 1.0), ("z", 0.4)):
                setattr(pb, f"use_ik_limit_{axis}", True)
                setattr(pb, f"ik_min_{axis}", -lim)
                setattr(pb, f"ik_max_{axis}", lim)
        elif pb.name.endswith("_shin"):
            _hinge(obj, pb.name, -1.5, 1.5)
        elif pb.name.endswith("_foot"):
            _hinge(obj, pb.name, -0.8, 0.8)
            pb["rig_dojo_radius"] = 0.03
    obj.pose.bones["torso"]["rig_dojo_radius"] = 0.12
    obj.pose.bones["neck"]["rig_dojo_radius"] = 0.06
    obj.pose.bones["tail"]["rig_dojo_radius"] = 0.03
    obj.pose.bones["tail"].lock_rotation = (True, True, True)
    return obj


def _key_cycle(obj, name: str, root: str, legs: dict[str, float], thigh: str, shin: str, shin_bend: float,
               cycle_frames: int, amplitude: float, speed: float, start: int, foot: str = "",
               foot_flat: float = 0.0) -> bpy.types.Action:
    """Key one looping gait cycle into a new Action ``name`` (fake user; the rig's own Action put back and its
    pose left at rest): each leg's thigh swings ``amplitude`` radians about X with its phase, its shin bends
    by ``shin_bend`` radians while the thigh swings forward (lifting the foot), and the root bone travels
    forward (world -Y) at ``speed`` units per second; with ``foot``, the foot turns by ``foot_flat`` radians
    less the thigh's and the shin's turns, so it stays level with the ground. The last frame repeats the
    first pose."""
    import math

    anim_data = obj.animation_data_create()
    previous = anim_data.action
    anim_data.action = None
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    to_local = obj.data.bones[root].matrix_local.to_3x3().inverted()
    for i in range(cycle_frames + 1):
        frame = start + i
        w = 2 * math.pi * i / cycle_frames
        pb = obj.pose.bones[root]
        pb.location = to_local @ Vector((0.0, -speed * i / fps, 0.0))
        pb.keyframe_insert("location", frame=frame)
        for leg, offset in legs.items():
            # a positive X turn swings a leg that hangs down backwards: it swings forward while the angle falls
            swing, bend = amplitude * math.sin(w + offset), shin_bend * max(0.0, -math.cos(w + offset))
            obj.pose.bones[thigh.format(leg)].rotation_euler = (swing, 0.0, 0.0)
            obj.pose.bones[shin.format(leg)].rotation_euler = (bend, 0.0, 0.0)
            obj.pose.bones[thigh.format(leg)].keyframe_insert("rotation_euler", frame=frame)
            obj.pose.bones[shin.format(leg)].keyframe_insert("rotation_euler", frame=frame)
            if foot:
                obj.pose.bones[foot.format(leg)].rotation_euler = (foot_flat - swing - bend, 0.0, 0.0)
                obj.pose.bones[foot.format(leg)].keyframe_insert("rotation_euler", frame=frame)
    action = anim_data.action
    action.name = name
    action.use_fake_user = True
    anim_data.action = previous
    for pb in obj.pose.bones:
        pb.location, pb.rotation_euler = (0.0, 0.0, 0.0), (0.0, 0.0, 0.0)
    return action


def key_trot(obj, name: str = "Trot", cycle_frames: int = 20, amplitude: float = 0.2, speed: float = 0.6,
             start: int = 1) -> bpy.types.Action:
    """A looping trot on :func:`build_quadruped`'s creature: legs in diagonal pairs (see :func:`_key_cycle`)."""
    import math

    legs = {"front_L": 0.0, "back_R": 0.0, "front_R": math.pi, "back_L": math.pi}
    return _key_cycle(obj, name, "torso", legs, "{}_thigh", "{}_shin", 0.25, cycle_frames, amplitude, speed, start)


def key_walk(obj, name: str = "Walk", cycle_frames: int = 30, amplitude: float = 0.3, speed: float = 0.6,
             start: int = 1) -> bpy.types.Action:
    """A looping walk on :func:`build_biped`'s creature: the legs half a cycle apart, the feet kept level (the
    biped's rest pose stands on its toes: its foot bones slope 0.3 radians down; see :func:`_key_cycle`)."""
    import math

    return _key_cycle(obj, name, "pelvis", {"L": 0.0, "R": math.pi}, "thigh.{}", "shin.{}", -0.6, cycle_frames,
                      amplitude, speed, start, foot="foot.{}", foot_flat=-math.atan2(0.05, 0.16))
