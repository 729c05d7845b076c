"""Rig & Task: which rig (or camera), what it learns, the task's own settings; Verify."""

import bpy

from .. import live
from ..props import task_family
from .common import DojoSubPanel, wrapped


def _draw_rig_task(layout, settings, rig) -> None:
    grasp = settings.task == 'grasp'
    col = layout.column()
    col.prop(settings, "controls")
    row = col.row()
    row.operator("rig_dojo.controls_from_selection", icon='RESTRICT_SELECT_OFF')
    if rig is not None:
        row = col.row(align=True)
        row.prop_search(settings, "control_collection", rig.data, "collections_all", text="Collection")
        row.operator("rig_dojo.controls_from_collection", text="", icon='CHECKMARK')
        col.prop_search(settings, "effector", rig.data, "bones")
    else:
        col.prop(settings, "effector")
    col.prop(settings, "tracked", text="Fingertips" if grasp else "Tracked")
    if rig is not None:
        col.prop_search(settings, "tracked_pick", rig.data, "bones", text="Add")

    col = layout.column()
    col.prop(settings, "target", text="Grasp Object" if grasp else "Target")
    if not grasp:
        col.prop(settings, "region")
    col.prop(settings, "episode_length")
    col.prop(settings, "tolerance")
    col.prop(settings, "discrete")


def _draw_camera_task(layout, context, settings) -> None:
    cam = settings.camera
    col = layout.column()
    col.prop(cam, "camera")
    if cam.camera is None:
        scene_camera = context.scene.camera
        if scene_camera is not None and scene_camera.type == 'CAMERA':
            col.label(text=f"The scene's camera: {scene_camera.name}", icon='OUTLINER_OB_CAMERA')
        else:
            col.label(text="The scene has no camera: pick one", icon='ERROR')
    col.prop(cam, "subject")
    subject = cam.subject
    if subject is not None and subject.type == 'ARMATURE':
        col.prop_search(cam, "bone", subject.data, "bones")
    elif subject is None:
        col.label(text="Pick the animated object to keep framed", icon='INFO')

    col = layout.column()
    col.prop(cam, "use_scene_range")
    if cam.use_scene_range:
        scene = context.scene
        col.label(text=f"Shot: frames {scene.frame_start}-{scene.frame_end}", icon='TIME')
    else:
        sub = col.column(align=True)
        sub.prop(cam, "frame_start")
        sub.prop(cam, "frame_end")
    col = layout.column()
    col.prop(cam, "mode")
    col.prop(cam, "framing")
    col.prop(cam, "use_lens")
    col.prop(cam, "allow_roll")
    col.prop(cam, "region")


def _draw_physics_task(layout, settings, rig) -> None:
    ph = settings.physics
    col = layout.column()
    col.prop(settings, "controls", text="Bones")
    if not settings.controls.strip():
        col.label(text="Every bone under the root is simulated", icon='INFO')
    col.operator("rig_dojo.controls_from_selection", icon='RESTRICT_SELECT_OFF')
    if rig is not None:
        col.prop_search(ph, "root", rig.data, "bones")
    else:
        col.prop(ph, "root")

    col = layout.column()
    col.prop(ph, "density")
    col.prop(ph, "strength")
    col.prop(ph, "friction")
    col.prop(ph, "radius_source")
    col.prop(ph, "root_motion")


def _draw_camera_advanced(layout, settings) -> None:
    cam = settings.camera
    layout.prop(cam, "tolerance")
    layout.prop(cam, "start_noise")
    layout.prop(cam, "occlusion")


def _draw_physics_advanced(layout, settings) -> None:
    ph = settings.physics
    task = settings.task
    col = layout.column()
    col.prop(ph, "episode_seconds")
    col.prop(ph, "substeps")
    if ph.radius_source == 'length':
        col.prop(ph, "radius_ratio")
    if task in ('locomotion', 'obstacles'):
        col.prop(ph, "direction")
        col.prop(ph, "target_speed")
    if task == 'jump':
        col.prop(ph, "jump_height")
    if task == 'obstacles':
        col.prop(ph, "obstacle_heights")
        col.prop(ph, "obstacle_distance")
    col.prop(ph, "action_scale")
    col = layout.column()
    col.prop(ph, "fall_height")
    col.prop(ph, "max_tilt_degrees")
    col.prop(ph, "reset_noise")
    col.prop(ph, "push")
    col = layout.column()
    col.prop(ph, "obstacles")
    col.prop_search(ph, "obstacle_pick", bpy.data, "objects", text="Add")
    col.prop(ph, "platform")


class VIEW3D_PT_rig_dojo_rig(DojoSubPanel, bpy.types.Panel):
    bl_label = "Rig & Task"

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.rig_dojo
        family = task_family(settings.task)
        rig = settings.rig if settings.rig is not None and settings.rig.type == 'ARMATURE' else None
        if family != 'camera':  # the camera task moves a camera, not a rig
            layout.prop(settings, "rig")
            if rig is None:
                active = context.active_object
                if active is not None and active.type != 'ARMATURE':
                    layout.label(text=f"{active.name} is a {active.type.lower()}, not an armature", icon='INFO')
                layout.label(text="Pick the armature to train", icon='INFO')
        layout.prop(settings, "task")

        if family == 'camera':
            _draw_camera_task(layout, context, settings)
        elif family == 'physics':
            _draw_physics_task(layout, settings, rig)
        else:
            _draw_rig_task(layout, settings, rig)

        layout.operator("rig_dojo.verify", icon='VIEWZOOM')  # rig tasks only: its poll says why otherwise
        result = live.results.get("verify")
        if family == 'kinematic' and result is not None and rig is not None and result[0] == rig.name:
            _, text, exact = result
            box = layout.box()
            wrapped(box, context, text, icon='CHECKMARK' if exact else 'ERROR')


class VIEW3D_PT_rig_dojo_rig_advanced(bpy.types.Panel):
    """The camera's or the physics task's less used settings (the rig tasks have none)."""

    bl_space_type = 'VIEW_3D'
    bl_region_type = 'UI'
    bl_category = "Dojo"
    bl_parent_id = "VIEW3D_PT_rig_dojo_rig"
    bl_label = "Advanced"
    bl_options = {'DEFAULT_CLOSED'}

    @classmethod
    def poll(cls, context):
        return task_family(context.scene.rig_dojo.task) != 'kinematic'

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        settings = context.scene.rig_dojo
        if task_family(settings.task) == 'camera':
            _draw_camera_advanced(layout, settings)
        else:
            _draw_physics_advanced(layout, settings)


classes = (VIEW3D_PT_rig_dojo_rig, VIEW3D_PT_rig_dojo_rig_advanced)
register, unregister = bpy.utils.register_classes_factory(classes)
