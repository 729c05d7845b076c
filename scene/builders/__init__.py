"""Scenes built with bpy for the demo, tests and benchmarks (rigs, creatures, shots) and Workbench renders."""
# no bpy: the package marker only documents the folder
