"""Rig & Task: pick control bones and check the twin against Blender (Verify)."""

import traceback

import bpy

from .. import live
from ..errors import RigDojoError
from ..envs.families import families, family_of
from ..props import join_names, split_names


def _rig(context):
    rig = context.scene.rig_dojo.rig
    return rig if rig is not None and rig.type == 'ARMATURE' else None


def _selected(pose_bone) -> bool:
    # Blender 5.0 keeps the selection on pose bones; 4.x on the armature's bones
    return bool(pose_bone.select) if hasattr(pose_bone, "select") else bool(pose_bone.bone.select)


def rig_or_why(cls, context):
    """The chosen armature, or None after setting the poll message that says to pick one."""
    rig = _rig(context)
    if rig is None:
        cls.poll_message_set("Pick an armature in Rig & Task first")
    return rig


def parents_first(obj, names) -> list[str]:
    """``names`` ordered like the armature's bones (parents before children)."""
    wanted = set(names)
    return [pb.name for pb in obj.pose.bones if pb.name in wanted]


class RIGDOJO_OT_controls_from_selection(bpy.types.Operator):
    """Use the rig's selected pose bones as the control bones (parents first)"""

    bl_idname = "rig_dojo.controls_from_selection"
    bl_label = "Use Selected Bones"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        rig = rig_or_why(cls, context)
        if rig is None:
            return False
        if not any(_selected(pb) for pb in rig.pose.bones):
            cls.poll_message_set(f"Select some bones of {rig.name} in Pose Mode first")
            return False
        return True

    def execute(self, context):
        settings = context.scene.rig_dojo
        rig = settings.rig
        names = [pb.name for pb in rig.pose.bones if _selected(pb)]
        settings.controls = join_names(names)
        if not settings.effector:
            settings.effector = names[-1]  # the end of the chain: a suggestion the user can change
        self.report({'INFO'}, f"Controls: {settings.controls}")
        return {'FINISHED'}


class RIGDOJO_OT_controls_from_collection(bpy.types.Operator):
    """Use the bones of the chosen bone collection as the control bones"""

    bl_idname = "rig_dojo.controls_from_collection"
    bl_label = "Use Bone Collection"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        rig = rig_or_why(cls, context)
        if rig is None:
            return False
        name = context.scene.rig_dojo.control_collection
        if not name or name not in rig.data.collections_all:
            cls.poll_message_set("Pick a bone collection of the rig first")
            return False
        return True

    def execute(self, context):
        settings = context.scene.rig_dojo
        rig = settings.rig
        collection = rig.data.collections_all[settings.control_collection]
        names = parents_first(rig, [b.name for b in collection.bones])
        if not names:
            self.report({'ERROR'}, f"The bone collection {collection.name!r} has no bones")
            return {'CANCELLED'}
        settings.controls = join_names(names)
        self.report({'INFO'}, f"Controls: {settings.controls}")
        return {'FINISHED'}


class RIGDOJO_OT_verify(bpy.types.Operator):
    """Check the compiled twin against Blender at random poses and show, per tracked bone, the worst error"""

    bl_idname = "rig_dojo.verify"
    bl_label = "Verify"

    samples: bpy.props.IntProperty(name="Samples", description="Random poses to compare", default=32, min=1)

    @classmethod
    def poll(cls, context):
        settings = context.scene.rig_dojo
        edge = family_of(settings.task).edge_hooks()
        if not edge.can_verify:
            verified = ", ".join(t for f in families() if f.edge_hooks().can_verify for t in f.task_names)
            cls.poll_message_set(f"Verify checks the rig twin of {verified}; for the {settings.task} task "
                                 f"{edge.VERIFY_NOTE}")
            return False
        rig = rig_or_why(cls, context)
        if rig is None:
            return False
        if not split_names(settings.controls) and not split_names(settings.location_controls):
            cls.poll_message_set("Choose the control bones first")
            return False
        if not settings.effector and not split_names(settings.tracked):
            cls.poll_message_set("Choose the effector bone first")
            return False
        return True

    def execute(self, context):
        from ..scene.kinematic.verify import verify

        settings = context.scene.rig_dojo
        tracked = list(dict.fromkeys([n for n in [settings.effector.strip()] if n] + split_names(settings.tracked)))
        try:
            report = verify(settings.rig, split_names(settings.controls), tracked, samples=self.samples,
                            location_controls=split_names(settings.location_controls),
                            location_range=settings.location_range or None)
        except RigDojoError as exc:
            live.results["verify"] = (settings.rig.name, str(exc), False, "error")
            remember_switches(settings, str(exc))
            self.report({'ERROR'}, " ".join(str(exc).split()))
            return {'CANCELLED'}
        except Exception as exc:  # a bug, not bad input: one line here, the details in the console
            traceback.print_exc()
            text = f"Verify could not compare this selection: {type(exc).__name__}: {exc} (details in the console)"
            live.results["verify"] = (settings.rig.name, text, False, "error")
            self.report({'ERROR'}, " ".join(text.split()))
            return {'CANCELLED'}
        text = report.format()
        notes = _task_notes(settings)
        if notes:  # e.g. a region out of the chain's reach: said here, before anyone trains on it
            text += "".join(f"\n  warning: {note}" for note in notes)
        # (rig, report, exact, outcome: "exact", "close" or "not exact")
        live.results["verify"] = (settings.rig.name, text, report.exact, report.outcome)
        print(text)
        if report.exact and not notes:
            self.report({'INFO'}, text.splitlines()[0])
        elif report.exact:
            self.report({'WARNING'}, text.splitlines()[0] + " " + " ".join(f"Warning: {n}." for n in notes))
        else:
            self.report({'WARNING'}, " / ".join(text.splitlines()[:3]))
        return {'FINISHED'}


def remember_switches(settings, message: str) -> None:
    """Keep the rig switches a refusal names (an IK/FK switch), for the Rig & Task panel's Set Switch buttons."""
    from ..scene.kinematic.switches import switches_in

    rig = settings.rig
    found = switches_in(message)
    if rig is not None and found:
        live.results["switches"] = (rig.name, found)
    else:
        live.results.pop("switches", None)


class RIGDOJO_OT_set_switch(bpy.types.Operator):
    """Set this switch of the rig (a custom property such as Rigify's IK/FK), as the last refusal suggested"""

    bl_idname = "rig_dojo.set_switch"
    bl_label = "Set Switch"
    bl_options = {'REGISTER', 'UNDO'}

    bone: bpy.props.StringProperty(name="Bone")
    prop: bpy.props.StringProperty(name="Property")
    value: bpy.props.StringProperty(name="Value")

    @classmethod
    def poll(cls, context):
        return rig_or_why(cls, context) is not None

    def execute(self, context):
        from ..scene.kinematic.switches import set_switch

        settings = context.scene.rig_dojo
        try:
            done = set_switch(settings.rig, self.bone, self.prop, self.value)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        live.results.pop("switches", None)
        self.report({'INFO'}, f"{done[0].upper()}{done[1:]}; verify or train again")
        return {'FINISHED'}


def _task_notes(settings) -> list[str]:
    """The task's own warnings (the family's ``verify_notes``: a region out of reach), never an error here."""
    from ..props import settings_to_config

    hook = getattr(family_of(settings.task).edge_hooks(), "verify_notes", None)
    if hook is None:
        return []
    try:
        return list(hook(settings_to_config(settings)))
    except Exception:  # Verify's own report stands; the task is checked again when it trains
        return []


classes = (RIGDOJO_OT_controls_from_selection, RIGDOJO_OT_controls_from_collection, RIGDOJO_OT_verify,
           RIGDOJO_OT_set_switch)
register, unregister = bpy.utils.register_classes_factory(classes)
