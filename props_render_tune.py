"""The render tuner's settings stored in the .blend (``scene.rig_dojo_render_tune``).

A PropertyGroup of its own for now (registered by ``operators.render_tune``); it is to be
folded into the settings generated from ``TrainConfig`` with the other families'.
"""

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty


class RigDojoRenderTuneSettings(bpy.types.PropertyGroup):
    target_ssim: FloatProperty(
        name="Target SSIM", default=0.98, min=0.5, max=0.9999, precision=4, step=0.1,
        description="Quality every frame must reach: SSIM against a high-sample reference render (1 is identical)")
    use_scene_range: BoolProperty(
        name="Scene Frame Range", default=True, description="Tune every frame of the scene's frame range")
    frame_start: IntProperty(name="Start", default=1, description="First frame of the shot to tune")
    frame_end: IntProperty(name="End", default=24, description="Last frame of the shot to tune")
    sampled_frames: IntProperty(
        name="Sampled Frames", default=6, min=1, max=64,
        description="Frames rendered against references while learning (the most different ones are picked)")
    minutes: FloatProperty(
        name="Time Limit", default=0.0, min=0.0, soft_max=60.0, unit='NONE',
        description="Stop learning after this many minutes (after one round over the sampled frames); 0: no limit")
    use_verify: BoolProperty(
        name="Measure Every Frame", default=False,
        description="Also render every frame against its reference, so the report measures all of them (slow)")


classes = (RigDojoRenderTuneSettings,)
