"""Render Tune: per-frame Cycles settings that reach a target quality in the least time."""

import bpy

from .common import DojoSubPanel, wrapped

ROWS_SHOWN = 8


class VIEW3D_PT_rig_dojo_render_tune(DojoSubPanel, bpy.types.Panel):
    bl_label = "Render Tune"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        from ..scene.render_tune import stored_summary

        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        scene = context.scene
        settings = scene.rig_dojo_render_tune
        layout.prop(settings, "target_ssim")
        layout.prop(settings, "use_scene_range")
        if not settings.use_scene_range:
            col = layout.column(align=True)
            col.prop(settings, "frame_start")
            col.prop(settings, "frame_end")
        layout.prop(settings, "sampled_frames", text="Sampled Frames (0: All)")
        layout.prop(settings, "minutes")
        layout.prop(settings, "use_verify")
        layout.operator("rig_dojo.render_tune", icon='RENDER_STILL')
        row = layout.row(align=True)
        row.operator("rig_dojo.render_adaptive", icon='RENDER_ANIMATION')
        row.operator("rig_dojo.render_tune_clear", text="", icon='X')
        summary = stored_summary(scene)
        if summary is None:
            return
        box = layout.box()
        frames = summary["frames"]
        below = summary["below_target"]
        sampled = summary["sampled_frames"]
        which = "every frame" if len(sampled) == len(frames) else f"frames {', '.join(map(str, sampled))}"
        wrapped(box, context, f"{len(frames)} frames tuned for SSIM {summary['target_ssim']:g}; references of "
                              f"{which}"
                              + (f"; below the target: {below}" if below else ""),
                icon='ERROR' if below else 'CHECKMARK')
        col = box.column(align=True)
        for frame, label, predicted, measured, _seconds in frames[:ROWS_SHOWN]:
            quality = f"{measured:.3f} measured" if measured is not None else f"{predicted:.3f} predicted"
            col.label(text=f"{frame}: {label} · {quality}")
        if len(frames) > ROWS_SHOWN:
            col.label(text=f"… and {len(frames) - ROWS_SHOWN} more frames")


classes = (VIEW3D_PT_rig_dojo_render_tune,)
register, unregister = bpy.utils.register_classes_factory(classes)
