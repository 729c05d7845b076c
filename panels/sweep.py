"""Sweep: many trainings of these settings at once on Ray, the results list, Preview and Bake this take."""

import math

import bpy

from .. import deps
from .common import DojoSubPanel, wrapped


class RIGDOJO_UL_sweep_trials(bpy.types.UIList):
    """A sweep's trials, best first: rank, name, status, success, error."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        row = layout.row(align=True)
        row.label(text=f"{item.rank}." if item.rank > 0 else "-")
        row.label(text=item.name)
        success = f"{item.success:.0%}" if item.success >= 0 and math.isfinite(item.success) else "--"
        error = f"{item.error:.3f}" if item.error >= 0 and math.isfinite(item.error) else "--"
        row.label(text=f"{success} · {error}" if item.status in ("done", "stopped early") else item.status)


class VIEW3D_PT_rig_dojo_sweep(DojoSubPanel, bpy.types.Panel):
    bl_label = "Sweep"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        from ..operators.sweep import is_running

        layout = self.layout
        sweep = context.scene.rig_dojo_sweep
        if deps.missing(["ray"]):
            wrapped(layout, context, "Sweeps run on Ray: install it in Preferences > Add-ons > Rig Dojo > "
                                     "Install Ray", icon='INFO')
        col = layout.column()
        col.use_property_split = True
        col.use_property_decorate = False
        col.prop(sweep, "seeds")
        col.prop(sweep, "variations")
        col.prop(sweep, "search")
        if sweep.search == 'random':
            col.prop(sweep, "trials")
        col.prop(sweep, "metric")
        col.prop(sweep, "address")
        if not sweep.address:
            col.prop(sweep, "cpus")
        row = layout.row(align=True)
        row.scale_y = 1.3
        if is_running():
            row.operator("rig_dojo.sweep_stop", icon='CANCEL')
        else:
            row.operator("rig_dojo.sweep_start", icon='PLAY')
        if sweep.status:
            layout.label(text=sweep.status, icon='INFO')
        row = layout.row(align=True)
        row.prop(sweep, "folder", text="")
        row.operator("rig_dojo.sweep_refresh", text="", icon='FILE_REFRESH')
        layout.template_list("RIGDOJO_UL_sweep_trials", "", sweep, "results", sweep, "active", rows=4)
        row = layout.row(align=True)
        row.operator("rig_dojo.sweep_preview", icon='PLAY')
        row.operator("rig_dojo.sweep_bake_take", icon='KEYINGSET')


classes = (RIGDOJO_UL_sweep_trials, VIEW3D_PT_rig_dojo_sweep)
register, unregister = bpy.utils.register_classes_factory(classes)
