"""The camera family's bpy edge: shot extraction, camera bake and its verification."""
# no bpy: the package marker only documents the folder
