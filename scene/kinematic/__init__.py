"""The kinematic family's bpy edge: rig extraction, twin verification, task extraction and bake."""
# no bpy: the package marker only documents the folder
