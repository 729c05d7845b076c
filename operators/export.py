"""Export ONNX… (the Bake panel): the policy the panel shows, as ONNX with its JSON sidecar, for game engines.

The same export as ``python -m rig_dojo export`` (``agents/onnx_export.py``). A policy file that records no
layout (written before the export existed) is described from the scene's task when it still fits.
"""

from pathlib import Path

import bpy
from bpy_extras.io_utils import ExportHelper

from .. import live
from ..errors import RigDojoError
from .bake import policy_problem


def _scene_layout(policy) -> dict | None:
    """The layout of the policy's task rebuilt from this scene (the registry's spec and environments), or None
    when the scene no longer holds a task the policy fits."""
    from ..envs.families import env_factory
    from ..scene.families import spec_from_config

    config = policy.config
    try:
        env = env_factory(spec_from_config(config), config)(config, 1, 0)
        policy.check_compatible(env)
    except RigDojoError:
        return None
    return env.policy_layout() if hasattr(env, "policy_layout") else None


class RIGDOJO_OT_export_onnx(bpy.types.Operator, ExportHelper):
    """Write the policy as ONNX (observation normalisation included) with a JSON sidecar of its observation and
    action layout, joints and limits, for a game engine (Godot, Unity Sentis, Unreal NNE)"""

    bl_idname = "rig_dojo.export_onnx"
    bl_label = "Export ONNX…"

    filename_ext = ".onnx"
    filter_glob: bpy.props.StringProperty(default="*.onnx", options={'HIDDEN'})
    filepath: bpy.props.StringProperty(name="File Path", subtype='FILE_PATH', options={'SKIP_SAVE'})

    @classmethod
    def poll(cls, context):
        problem = policy_problem(context)
        if problem:
            cls.poll_message_set(problem.replace("to bake", "to export"))
            return False
        return True

    def execute(self, context):
        from ..agents.onnx_export import export_onnx, require_onnx
        from ..agents.policy_file import load_policy

        source = live.policy_path(context.scene.rig_dojo)
        try:
            if source is None:
                raise RigDojoError("no policy: train one first, or pick a policy file")
            out = Path(bpy.path.abspath(self.filepath))
            if out.suffix.lower() != ".onnx":
                raise RigDojoError(f"{out.name}: give a file name ending in .onnx")
            if out.resolve() == source.resolve() or out.with_suffix(".json").resolve() == source.resolve():
                raise RigDojoError(f"{out.name} would overwrite the policy file; choose another name")
            require_onnx()
            policy = load_policy(source)
            layout = None if isinstance(policy.metadata.get("layout"), dict) else _scene_layout(policy)
            onnx_path, json_path = export_onnx(policy, out, layout)
        except RigDojoError as exc:
            self.report({'ERROR'}, str(exc))
            return {'CANCELLED'}
        except OSError as exc:
            self.report({'ERROR'}, f"cannot write {self.filepath}: {exc.strerror}")
            return {'CANCELLED'}
        self.report({'INFO'}, f"Exported {onnx_path.name} ({onnx_path.stat().st_size:,d} bytes) and {json_path.name}")
        return {'FINISHED'}


classes = (RIGDOJO_OT_export_onnx,)
register, unregister = bpy.utils.register_classes_factory(classes)
