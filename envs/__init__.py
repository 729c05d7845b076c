"""Scene extraction and verification (the bpy edge), twins and tasks (no bpy).

Modules that import bpy: ``scenes`` (test and demo scenes), and the extraction /
verification / bake modules. Twins and tasks never do, so they run without Blender.
"""

# Modules of this package that import bpy (the edge). Every other module here is
# part of the bpy-free core; tests/test_boundary.py imports them with bpy blocked.
BPY_MODULES = frozenset({"scenes", "extract", "verify", "bake", "anim", "task_extract", "render", "policy_bake", "camera_extract", "physics_extract", "task_build",
                        "render_tune_scene", "render_shots"})
