"""Rewards: the reward-term list and the selected term's parameters (generated from the registry)."""

import bpy

from .common import DojoSubPanel, wrapped

VALUE_PROPS = {'float': "float_value", 'int': "int_value", 'bool': "bool_value", 'choice': "choice_value"}


class RIGDOJO_UL_reward_terms(bpy.types.UIList):
    """One row per reward term: on/off, name, weight."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0, flt_flag=0):
        from ..rewards import REGISTRY

        known = item.name in REGISTRY
        if self.layout_type in {'DEFAULT', 'COMPACT'}:
            row = layout.row(align=True)
            row.prop(item, "enabled", text="")
            sub = row.row()
            sub.active = item.enabled
            sub.label(text=item.name, icon='NONE' if known else 'ERROR')
            sub.prop(item, "weight", text="", emboss=False)
        else:
            layout.alignment = 'CENTER'
            layout.label(text=item.name)


class VIEW3D_PT_rig_dojo_rewards(DojoSubPanel, bpy.types.Panel):
    bl_label = "Rewards"

    def draw(self, context):
        from ..props import settings_default_terms
        from ..rewards import REGISTRY

        layout = self.layout
        settings = context.scene.rig_dojo
        if len(settings.rewards) == 0:
            col = layout.column(align=True)
            col.label(text=f"The {settings.task} task's default terms:", icon='INFO')
            for term in settings_default_terms(settings):
                extra = ", ".join(f"{k}={v}" for k, v in term.params.items())
                col.label(text=f"  {term.name} × {term.weight:g}" + (f" ({extra})" if extra else ""))
            row = layout.row(align=True)
            row.operator("rig_dojo.reward_defaults", text="Edit Terms", icon='GREASEPENCIL')
            row.operator_menu_enum("rig_dojo.reward_add", "term", text="Add", icon='ADD')
            return

        row = layout.row()
        row.template_list("RIGDOJO_UL_reward_terms", "", settings, "rewards", settings, "reward_index", rows=4)
        col = row.column(align=True)
        col.operator_menu_enum("rig_dojo.reward_add", "term", text="", icon='ADD')
        col.operator("rig_dojo.reward_remove", text="", icon='REMOVE')
        col.separator()
        col.operator("rig_dojo.reward_move", text="", icon='TRIA_UP').direction = 'UP'
        col.operator("rig_dojo.reward_move", text="", icon='TRIA_DOWN').direction = 'DOWN'
        col.separator()
        col.operator("rig_dojo.reward_defaults", text="", icon='LOOP_BACK')

        if not 0 <= settings.reward_index < len(settings.rewards):
            return
        item = settings.rewards[settings.reward_index]
        box = layout.box()
        registered = REGISTRY.get(item.name)
        if registered is None:
            wrapped(box, context, f"{item.name!r} is not a known reward term; remove it", icon='ERROR')
            return
        wrapped(box, context, registered.description, icon='INFO')
        col = box.column()
        col.use_property_split = True
        col.use_property_decorate = False
        col.active = item.enabled
        col.prop(item, "weight")
        for param in item.params:
            col.prop(param, VALUE_PROPS[param.kind], text=param.name.replace("_", " ").capitalize())


classes = (RIGDOJO_UL_reward_terms, VIEW3D_PT_rig_dojo_rewards)
register, unregister = bpy.utils.register_classes_factory(classes)
