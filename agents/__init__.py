"""Algorithms, TrainingSession, checkpoints and policy files. Never imports bpy."""
