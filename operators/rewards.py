"""Edit the reward-term list, the curriculum stages and the algorithm's defaults."""

import bpy

from ..props import fill_term, set_terms, settings_default_terms

_term_items_cache: list[tuple[str, str, str]] = []  # Blender needs enum item strings kept alive


def _term_items(_self, _context):
    from ..rewards import schema

    terms = schema()
    if len(_term_items_cache) != len(terms):
        _term_items_cache[:] = [(t["name"], t["name"].replace("_", " ").capitalize(), t["description"])
                                for t in terms]
    return _term_items_cache


def _ensure_defaults(settings) -> None:
    # an empty list means "the task's default terms": make them explicit before editing
    if len(settings.rewards) == 0:
        set_terms(settings, settings_default_terms(settings))


class RIGDOJO_OT_reward_add(bpy.types.Operator):
    """Add a reward term from the registry"""

    bl_idname = "rig_dojo.reward_add"
    bl_label = "Add Reward Term"
    bl_options = {'REGISTER', 'UNDO'}
    bl_property = "term"

    term: bpy.props.EnumProperty(name="Term", items=_term_items)

    def execute(self, context):
        settings = context.scene.rig_dojo
        _ensure_defaults(settings)
        fill_term(settings.rewards.add(), self.term)
        settings.reward_index = len(settings.rewards) - 1
        return {'FINISHED'}


class RIGDOJO_OT_reward_remove(bpy.types.Operator):
    """Remove the selected reward term"""

    bl_idname = "rig_dojo.reward_remove"
    bl_label = "Remove Reward Term"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        settings = context.scene.rig_dojo
        if not 0 <= settings.reward_index < len(settings.rewards):
            cls.poll_message_set("Select a reward term first")
            return False
        return True

    def execute(self, context):
        settings = context.scene.rig_dojo
        settings.rewards.remove(settings.reward_index)
        settings.reward_index = max(0, min(settings.reward_index, len(settings.rewards) - 1))
        return {'FINISHED'}


class RIGDOJO_OT_reward_move(bpy.types.Operator):
    """Move the selected reward term up or down"""

    bl_idname = "rig_dojo.reward_move"
    bl_label = "Move Reward Term"
    bl_options = {'REGISTER', 'UNDO'}

    direction: bpy.props.EnumProperty(items=(('UP', "Up", ""), ('DOWN', "Down", "")))

    @classmethod
    def poll(cls, context):
        settings = context.scene.rig_dojo
        if not 0 <= settings.reward_index < len(settings.rewards):
            cls.poll_message_set("Select a reward term first")
            return False
        return True

    def execute(self, context):
        settings = context.scene.rig_dojo
        index = settings.reward_index
        other = index - 1 if self.direction == 'UP' else index + 1
        if not 0 <= other < len(settings.rewards):
            return {'CANCELLED'}
        settings.rewards.move(index, other)
        settings.reward_index = other
        return {'FINISHED'}


class RIGDOJO_OT_reward_defaults(bpy.types.Operator):
    """Replace the reward terms with the task's default terms"""

    bl_idname = "rig_dojo.reward_defaults"
    bl_label = "Task Default Terms"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        settings = context.scene.rig_dojo
        set_terms(settings, settings_default_terms(settings))
        return {'FINISHED'}


class RIGDOJO_OT_curriculum_stage_add(bpy.types.Operator):
    """Add a curriculum stage (stages run in order, from easy to the full task)"""

    bl_idname = "rig_dojo.curriculum_stage_add"
    bl_label = "Add Stage"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        settings = context.scene.rig_dojo
        stage = settings.curriculum_stages.add()
        stage.tolerance = settings.tolerance
        return {'FINISHED'}


class RIGDOJO_OT_curriculum_stage_remove(bpy.types.Operator):
    """Remove a curriculum stage"""

    bl_idname = "rig_dojo.curriculum_stage_remove"
    bl_label = "Remove Stage"
    bl_options = {'REGISTER', 'UNDO'}

    index: bpy.props.IntProperty(default=-1)

    @classmethod
    def poll(cls, context):
        if not context.scene.rig_dojo.curriculum_stages:
            cls.poll_message_set("There are no stages")
            return False
        return True

    def execute(self, context):
        stages = context.scene.rig_dojo.curriculum_stages
        index = self.index if 0 <= self.index < len(stages) else len(stages) - 1
        stages.remove(index)
        return {'FINISHED'}


class RIGDOJO_OT_algo_defaults(bpy.types.Operator):
    """Reset every hyperparameter to the algorithm's tuned defaults (for the task)"""

    bl_idname = "rig_dojo.algo_defaults"
    bl_label = "Algorithm Defaults"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from ..props import apply_algo, tuned_algo

        settings = context.scene.rig_dojo
        apply_algo(settings.algo, tuned_algo(settings.algo.name, settings.task))
        return {'FINISHED'}


_START_ITEMS: list[tuple[str, str, str]] = []  # Blender needs an enum's item strings kept alive


def _start_items(_self, _context):
    from ..agents.library import ENTRIES, PREFIX

    if not _START_ITEMS:
        _START_ITEMS.append(("SCRATCH", "Scratch", "Random weights: train from the beginning"))
        _START_ITEMS.extend((PREFIX + e.name, f"Library: {e.name.capitalize()}",
                             f"Pre-trained, shipped with Rig Dojo: {e.summary}") for e in ENTRIES.values())
    return _START_ITEMS


class RIGDOJO_OT_start_from(bpy.types.Operator):
    """Start training from scratch or from a pre-trained policy of the library (a .rdpolicy file: type its path)"""

    bl_idname = "rig_dojo.start_from"
    bl_label = "Start From"
    bl_options = {'REGISTER', 'UNDO'}

    source: bpy.props.EnumProperty(name="Start From", items=_start_items)  # type: ignore[valid-type]

    def execute(self, context):
        settings = context.scene.rig_dojo
        if self.source == "SCRATCH":
            settings.algo.start_from = ""
            if settings.observation == "chain":
                settings.observation = "full"
            return {'FINISHED'}
        from ..agents.library import entry

        item = entry(self.source)
        if settings.task != item.task:
            self.report({'ERROR'}, f"{self.source} starts {item.task} tasks; this task is {settings.task}")
            return {'CANCELLED'}
        settings.algo.start_from = self.source
        settings.observation = item.observation
        if settings.algo.name != "ppo":
            from ..props import apply_algo, tuned_algo

            apply_algo(settings.algo, tuned_algo("ppo", settings.task))  # the library's networks are our PPO's
        return {'FINISHED'}


classes = (RIGDOJO_OT_start_from, RIGDOJO_OT_reward_add, RIGDOJO_OT_reward_remove, RIGDOJO_OT_reward_move, RIGDOJO_OT_reward_defaults,
           RIGDOJO_OT_curriculum_stage_add, RIGDOJO_OT_curriculum_stage_remove, RIGDOJO_OT_algo_defaults)
register, unregister = bpy.utils.register_classes_factory(classes)
