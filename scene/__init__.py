"""The bpy edge: everything that reads or writes a Blender scene.

Extraction (scene → spec), verification (twin vs Blender), bake (rollout → Actions), the
Blender-version shims (``anim``), pose helpers and the builders of demo and test scenes. Every
module here imports bpy or mathutils (or says why not); the bpy-free core is ``envs/``,
``rewards/`` and ``agents/``.
"""
# no bpy: the package marker only documents the folder
