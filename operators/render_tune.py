"""Tune the render settings of a shot, render with them, or clear them (the Render Tune panel).

Tuning renders with Cycles on the CPU at a small size; from the UI it runs as a modal operator
that renders one image per timer tick (Esc cancels and leaves the scene as it was); headless
(``EXEC_DEFAULT``) it runs to the end in one call. The chosen settings are keyed per frame on
the scene's Cycles settings (``scene.render_tune.key_settings``).
"""

from typing import Any

import bpy
from bpy.props import BoolProperty, FloatProperty, IntProperty

from ..errors import RigDojoError


# The tuner's settings stored in the .blend (``scene.rig_dojo_render_tune``): a PropertyGroup of its own
# for now, to be folded into the settings generated from TrainConfig with the other families'.
class RigDojoRenderTuneSettings(bpy.types.PropertyGroup):
    target_ssim: FloatProperty(
        name="Target SSIM", default=0.98, min=0.5, max=0.9999, precision=4, step=0.1,
        description="Quality every frame must reach: SSIM against a high-sample reference render (1 is identical)")
    use_scene_range: BoolProperty(
        name="Scene Frame Range", default=True, description="Tune every frame of the scene's frame range")
    frame_start: IntProperty(name="Start", default=1, description="First frame of the shot to tune")
    frame_end: IntProperty(name="End", default=24, description="Last frame of the shot to tune")
    sampled_frames: IntProperty(
        name="Sampled Frames", default=0, min=0, max=64,
        description="Frames rendered against references while learning; 0: every frame (saves the most render "
                    "time). A smaller number picks the frames that differ most and predicts the others with a "
                    "margin (a shorter tune for a long shot)")
    minutes: FloatProperty(
        name="Time Limit", default=0.0, min=0.0, soft_max=60.0, unit='NONE',
        description="Stop learning after this many minutes (after one round over the sampled frames); 0: no limit")
    use_verify: BoolProperty(
        name="Measure Every Frame", default=False,
        description="Also render every frame against its reference, so the report measures all of them (slow)")


def _frames(scene, settings) -> tuple[int, int]:
    if settings.use_scene_range:
        return scene.frame_start, scene.frame_end
    return settings.frame_start, settings.frame_end


def _options(settings) -> dict:
    return {"sampled": settings.sampled_frames or None, "minutes": settings.minutes or None,
            "verify": settings.use_verify, "threads": 0}


def _report_text(report) -> str:
    measured = report.measured
    worst = min((f.measured_ssim for f in measured), default=float("nan"))
    text = (f"Tuned {len(report.frames)} frames for SSIM {report.target_ssim:g}: worst measured {worst:.4f} "
            f"over {len(measured)} frame(s)")
    if report.below_target:
        text += f"; below the target: {report.below_target}"
    return text


class RIGDOJO_OT_render_tune(bpy.types.Operator):
    """Learn per-frame Cycles settings that reach the target quality in the least render time, and key them"""

    bl_idname = "rig_dojo.render_tune"
    bl_label = "Tune Render Settings"
    bl_options = {'REGISTER', 'UNDO'}

    _timer: Any = None
    _renderer: Any = None
    _run: Any = None
    _steps: Any = None

    @classmethod
    def poll(cls, context):
        if context.scene is None or context.scene.camera is None:
            cls.poll_message_set("The scene has no camera to render with")
            return False
        return True

    def _start(self, context):
        from ..scene.render_tune import start_tune

        scene = context.scene
        settings = scene.rig_dojo_render_tune
        return start_tune(scene, _frames(scene, settings), settings.target_ssim, **_options(settings))

    def execute(self, context):
        from ..scene.render_tune import finish_tune

        try:
            renderer, run = self._start(context)
            try:
                for _ in run.steps():
                    pass
            except BaseException:
                renderer.close()
                raise
            report = finish_tune(context.scene, renderer, run)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self.report({'INFO'}, _report_text(report))
        return {'FINISHED'}

    def invoke(self, context, event):
        try:
            self._renderer, self._run = self._start(context)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        self._steps = self._run.steps()
        wm = context.window_manager
        self._timer = wm.event_timer_add(0.05, window=context.window)
        wm.modal_handler_add(self)
        return {'RUNNING_MODAL'}

    def modal(self, context, event):
        from ..scene.render_tune import finish_tune

        if event.type == 'ESC':
            self._end(context)
            self._renderer.close()
            self.report({'WARNING'}, "Render tuning cancelled; the scene's settings are unchanged")
            return {'CANCELLED'}
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        try:
            line = next(self._steps, None)
            if line is not None and line != "done":
                context.workspace.status_text_set(f"Render Tune: {line} (Esc to cancel)")
                return {'RUNNING_MODAL'}
            self._end(context)
            report = finish_tune(context.scene, self._renderer, self._run)
        except Exception as exc:  # bad input, or a render that failed: never leave the timer or the settings
            self._end(context)
            self._renderer.close()
            self.report({'ERROR'}, str(exc) if isinstance(exc, RigDojoError) else f"Render tuning failed: {exc}")
            return {'CANCELLED'}
        self.report({'INFO'}, _report_text(report))
        return {'FINISHED'}

    def _end(self, context):
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
        context.workspace.status_text_set(None)


class RIGDOJO_OT_render_adaptive(bpy.types.Operator):
    """Render the animation with Cycles, using the settings the tuner keyed on each frame"""

    bl_idname = "rig_dojo.render_adaptive"
    bl_label = "Render with Adaptive Settings"

    @classmethod
    def poll(cls, context):
        from ..scene.render_tune import keyed_frames

        if context.scene is None or not keyed_frames(context.scene):
            cls.poll_message_set("Tune the render settings first")
            return False
        return True

    def _prepare(self, context) -> bool:
        from ..scene.render_tune import check_cycles, keyed_frames

        scene = context.scene
        try:
            check_cycles()
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return False
        if scene.render.engine != 'CYCLES':
            scene.render.engine = 'CYCLES'
            self.report({'INFO'}, "Switched the render engine to Cycles (the tuned settings are Cycles settings)")
        frames = keyed_frames(scene)
        if frames and (scene.frame_start < frames[0] or scene.frame_end > frames[-1]):
            self.report({'WARNING'}, f"Frames outside the tuned {frames[0]}-{frames[-1]} keep the nearest tuned "
                                     "frame's settings")
        return True

    def execute(self, context):
        if not self._prepare(context):
            return {'CANCELLED'}
        bpy.ops.render.render(animation=True)
        return {'FINISHED'}

    def invoke(self, context, event):
        if not self._prepare(context):
            return {'CANCELLED'}
        bpy.ops.render.render('INVOKE_DEFAULT', animation=True)
        return {'FINISHED'}


class RIGDOJO_OT_render_tune_clear(bpy.types.Operator):
    """Remove the render settings the tuner keyed on this scene (the scene keeps its last values)"""

    bl_idname = "rig_dojo.render_tune_clear"
    bl_label = "Clear Tuned Settings"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        from ..scene.render_tune import KEYED_PROPERTY

        if context.scene is None or KEYED_PROPERTY not in context.scene:
            cls.poll_message_set("No tuned settings on this scene")
            return False
        return True

    def execute(self, context):
        from ..scene.render_tune import clear_keyed_settings

        removed = clear_keyed_settings(context.scene)
        self.report({'INFO'}, f"Removed {removed} tuned channel(s)")
        return {'FINISHED'}


classes = (RigDojoRenderTuneSettings, RIGDOJO_OT_render_tune, RIGDOJO_OT_render_adaptive,
           RIGDOJO_OT_render_tune_clear)


def register() -> None:
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.rig_dojo_render_tune = bpy.props.PointerProperty(  # type: ignore[attr-defined]
        type=RigDojoRenderTuneSettings)


def unregister() -> None:
    del bpy.types.Scene.rig_dojo_render_tune  # type: ignore[attr-defined]
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
