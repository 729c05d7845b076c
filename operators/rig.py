"""Rig & Task: pick control bones and check the twin against Blender (Verify)."""

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
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        text = report.format()
        # (rig, report, exact, outcome: "exact", "close" or "not exact")
        live.results["verify"] = (settings.rig.name, text, report.exact, report.outcome)
        print(text)
        if report.exact:
            self.report({'INFO'}, text.splitlines()[0])
        else:
            self.report({'WARNING'}, " / ".join(text.splitlines()[:3]))
        return {'FINISHED'}


classes = (RIGDOJO_OT_controls_from_selection, RIGDOJO_OT_controls_from_collection, RIGDOJO_OT_verify)
register, unregister = bpy.utils.register_classes_factory(classes)
