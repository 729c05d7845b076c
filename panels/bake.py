"""Bake (policy → keyframes in a new Action) and Evaluate (success, error, jerk, limit violations)."""

import math

import bpy

from .. import live
from ..envs.families import family_of, task_info
from ..props_config import settings_fields
from .common import DojoSubPanel, wrapped


class VIEW3D_PT_rig_dojo_bake(DojoSubPanel, bpy.types.Panel):
    bl_label = "Bake"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.rig_dojo
        options = settings.bake
        path = live.policy_path(settings)
        layout.prop(options, "policy_path")
        if not options.policy_path:
            text = f"Last run: {path.parent.name}" if path is not None else "No run yet: train first"
            layout.label(text=text, icon='FILE' if path is not None and path.is_file() else 'INFO')
        layout.operator("rig_dojo.export_onnx", icon='EXPORT')  # the policy shown above, for game engines
        family = family_of(settings.task)
        edge = family.edge_hooks()
        layout.prop(options, "use_scene_range", text=getattr(edge, "SCENE_RANGE_LABEL", "Scene Frame Range"))
        if not options.use_scene_range:
            col = layout.column(align=True)
            col.prop(options, "frame_start")
            col.prop(options, "frame_end")
        layout.prop(options, "action_name")
        if family.bake_reduces_keys:  # other families key every frame into a new Action
            row = layout.row(heading="Reduce Keys")
            row.prop(options, "use_reduce", text="")
            sub = row.row()
            sub.active = options.use_reduce
            sub.prop(options, "reduce_degrees", text="")
            layout.prop(options, "use_replace")
            if options.use_replace:
                layout.prop_search(options, "replace_action", bpy.data, "actions")
        if family.bake_options is not None:  # the family's own options (the rig's Keys On)
            draw_bake = getattr(edge, "draw_bake", None)
            if draw_bake is not None:
                draw_bake(layout, options)
            else:
                for f in settings_fields(family.bake_options):
                    layout.prop(options, f.name)
        layout.prop(options, "use_scene_settings")
        if family.bake_is_seeded:  # the camera's bake starts from its pose: nothing random
            layout.prop(options, "seed")
        layout.operator("rig_dojo.bake", icon='KEYINGSET')
        report = live.results.get("bake")
        if report:
            wrapped(layout.box(), context, report, icon='CHECKMARK' if live.results.get("bake_ok", True) else 'ERROR')


class VIEW3D_PT_rig_dojo_evaluate(DojoSubPanel, bpy.types.Panel):
    bl_label = "Evaluate"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.rig_dojo
        row = layout.row(align=True)
        row.prop(settings.bake, "eval_episodes")
        row.operator("rig_dojo.evaluate", icon='CHECKMARK')
        result = live.results.get("evaluation")
        if result is None:
            return
        path, ev = result
        task, extra = "reach", {}
        report = live.results.get("task_report")
        if report is not None and report[0] == path:
            _, task, extra = report
        box = layout.box()
        col = box.column(align=True)
        col.label(text=f"{ev.episodes} episode{'s' if ev.episodes != 1 else ''} of {bpy.path.basename(str(path))}",
                  icon='INFO')
        edge = family_of(task).edge_hooks()
        if extra and hasattr(edge, "evaluation_rows"):  # the family's own words (the camera's one move)
            rows = list(edge.evaluation_rows(ev, extra))
        else:
            rows = [("Success rate", f"{ev.success_rate:.0%}"),
                    ("Final error", f"{ev.final_error:.4f} {task_info(task).error_units}")]
            if family_of(task).joint_metrics:
                rows += [("Jerk (smoothness)", f"{ev.mean_jerk:.3g} rad/step³"),
                         ("Limit violations", f"{ev.limit_violation_total:.3g} total, "
                                              f"{ev.limit_violation_mean:.3g} per step")]
            rows.append(("Mean return", f"{ev.mean_return:.3f}" if math.isfinite(ev.mean_return) else "--"))
        for label, value in rows:
            row = col.row()
            row.label(text=label)
            row.label(text=value)
        draw_report = getattr(edge, "draw_report", None)
        if extra and draw_report is not None:
            draw_report(box, extra)


classes = (VIEW3D_PT_rig_dojo_bake, VIEW3D_PT_rig_dojo_evaluate)
register, unregister = bpy.utils.register_classes_factory(classes)
