"""Algorithms, TrainingSession, checkpoints and policy files. Never imports bpy.

Public API (import the modules; torch and SB3 load only when a model is built):
``config.TrainConfig`` / ``config.defaults_for``, ``algorithms.build_model``,
``session.TrainingSession``, ``policy_file.save_policy`` / ``policy_file.load_policy``,
``evaluate.evaluate``. See agents/README.md.
"""
