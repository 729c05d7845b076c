"""Run (Train / Pause / Resume / Stop, progress, status, errors) and Curve (the mean-return curve)."""

import math

import bpy

from .. import live
from .common import DojoSubPanel, wrapped
from .main import STATE_LABELS


def _percent(value: float) -> str:
    return f"{value:.0%}" if math.isfinite(value) else "--"


def _number(value: float) -> str:
    return f"{value:.3f}" if math.isfinite(value) else "--"


class VIEW3D_PT_rig_dojo_run(DojoSubPanel, bpy.types.Panel):
    bl_label = "Run"

    def draw(self, context):
        from ..operators.train import rig_problem

        layout = self.layout
        settings = context.scene.rig_dojo
        run = live.current()
        row = layout.row(align=True)
        row.scale_y = 1.4
        if live.is_training():
            if run.session.state == "paused":
                row.operator("rig_dojo.resume", icon='PLAY')
            else:
                row.operator("rig_dojo.pause", icon='PAUSE')
            row.operator("rig_dojo.stop", icon='CANCEL')
        else:
            row.operator("rig_dojo.train", icon='PLAY')
            problem = rig_problem(settings)
            if problem:
                layout.label(text=problem, icon='INFO')
        if run is None:
            return
        factor, text = live.progress(run)
        layout.progress(factor=factor, type='BAR', text=text)
        snap = run.snapshot
        status = STATE_LABELS.get(run.state, run.state)
        if snap is not None:
            status += f" · {snap.episodes:,d} episodes · success {_percent(snap.success_rate)}"
            if run.session.config.curriculum.enabled:
                status += f" · stage {snap.curriculum_stage + 1}"
        layout.label(text=status, icon='ERROR' if run.error else 'INFO')
        if run.error:
            box = layout.box()
            box.alert = True
            wrapped(box, context, f"The training failed: {run.error}", icon='CANCEL')
            box.label(text="The full traceback is in the system console")
        end_note = getattr(run.session, "end_note", None)  # a search that converged before its budget
        if end_note and run.ended:
            wrapped(layout, context, end_note[0].upper() + end_note[1:], icon='CHECKMARK')
        layout.label(text=f"Run folder: {run.run_dir}", icon='FILE_FOLDER')


class VIEW3D_PT_rig_dojo_curve(DojoSubPanel, bpy.types.Panel):
    bl_label = "Curve"

    def draw(self, context):
        layout = self.layout
        run = live.current()
        image = live.curve_image()
        preview = image.preview if image is not None else None
        if run is None or preview is None:
            layout.label(text="The reward curve appears once training starts", icon='GRAPH')
            return
        layout.template_icon(icon_value=preview.icon_id, scale=8.0)
        numbers = run.curve_numbers
        if numbers is not None:  # the plot's ranges in words, beside the image
            first, last, low, high, latest = numbers
            col = layout.column(align=True)
            col.label(text=f"Steps {first:,d} to {last:,d} (x axis)")
            col.label(text=f"Mean return {low:.3g} to {high:.3g} (y axis), latest {latest:.3g}")
        snap = run.snapshot
        if snap is None:
            return
        col = layout.column(align=True)
        col.label(text=f"Mean return {_number(snap.mean_return)} · success {_percent(snap.success_rate)}")
        if snap.term_means:
            col.separator()
            col.label(text="Per term (mean per episode):")
            for name, value in sorted(snap.term_means.items()):
                row = col.row()
                row.label(text=f"  {name}")
                row.label(text=_number(value))


classes = (VIEW3D_PT_rig_dojo_run, VIEW3D_PT_rig_dojo_curve)
register, unregister = bpy.utils.register_classes_factory(classes)
