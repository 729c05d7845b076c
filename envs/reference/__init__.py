"""An animator's keys as teacher, without Blender: reference clips, bone maps, pins and the style measure.

Nothing here belongs to one task family: the kinematic family reads pins and a style clip from it, and
the physics family can read the same clips and pins (tracking, pins on the root or feet). No bpy; the
edge that samples an Action from Blender's evaluation is ``scene/reference.py``.

| module | what lives there |
| --- | --- |
| ``clip.py`` | ``ReferenceClip``: an Action (or a file) sampled once per frame: local rotations, locations, world points |
| ``bone_map.py`` | ``auto_map`` / ``resolve_map``: reference bone names to rig bones (identical names, Rigify's DEF-/ORG-/_fk) |
| ``pins.py`` | ``PinSet``: pose pins (a keyed pose at a frame) and effector pins (a bone's point on an object at a frame) |
| ``style.py`` | the style measure: energy distance between 3-frame windows of joint velocity and acceleration |
| ``settings.py`` | ``ReferenceConfig``: the ``[reference]`` table of a TrainConfig |
"""
