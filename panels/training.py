"""Training: the algorithm and the few settings that matter; the rest under Advanced."""

import bpy

from ..agents.config import SEARCH_ALGORITHMS
from ..envs.families import family_of
from .common import DojoSubPanel


class VIEW3D_PT_rig_dojo_training(DojoSubPanel, bpy.types.Panel):
    bl_label = "Training"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        algo = context.scene.rig_dojo.algo
        search = algo.name in SEARCH_ALGORITHMS  # cem: no gradient steps, a population of candidate policies
        layout.prop(algo, "name")
        if not search:
            layout.prop(algo, "learning_rate")
        col = layout.column(align=True)
        col.prop(algo, "total_steps")
        col.prop(algo, "minutes")
        if search:
            layout.prop(algo, "n_envs", text="Population")
        else:
            layout.prop(algo, "n_envs")
        layout.prop(algo, "seed")
        if not search:
            row = layout.row(align=True)
            row.prop(algo, "start_from")
            row.operator_menu_enum("rig_dojo.start_from", "source", text="", icon='ASSET_MANAGER')
            if algo.start_from:  # the start as it is, on this rig: a run with no training (operators/zero_shot.py)
                layout.operator("rig_dojo.use_without_training", icon='IMPORT')


class VIEW3D_PT_rig_dojo_training_advanced(bpy.types.Panel):
    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Dojo"
    bl_parent_id = "VIEW3D_PT_rig_dojo_training"
    bl_label = "Advanced"
    bl_options = {'DEFAULT_CLOSED'}

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.rig_dojo
        algo = settings.algo
        col = layout.column()
        if algo.name not in SEARCH_ALGORITHMS:
            col.prop(algo, "lr_schedule")
            col.prop(algo, "gamma")
            col.prop(algo, "batch_size")
            col.prop(algo, "n_steps")
            col.prop(algo, "n_epochs")
            col.prop(algo, "net_arch")
        col.prop(algo, "extra")
        col.operator("rig_dojo.algo_defaults", icon='LOOP_BACK')

        draw_curriculum = family_of(settings.task).edge_hooks().draw_curriculum
        if draw_curriculum is not None:
            draw_curriculum(layout, settings)

        col = layout.column()
        col.prop(settings, "run_dir")
        col.prop(settings, "checkpoint_every")


classes = (VIEW3D_PT_rig_dojo_training, VIEW3D_PT_rig_dojo_training_advanced)
register, unregister = bpy.utils.register_classes_factory(classes)
