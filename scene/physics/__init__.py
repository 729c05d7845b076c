"""The physics family's bpy edge: creature extraction, pose, bake and verification."""
# no bpy: the package marker only documents the folder
