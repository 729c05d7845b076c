"""Task families without Blender: specs, batched twins and tasks (no bpy anywhere under this folder).

``base`` (the batched VecEnv every task builds on), ``kinematics`` (rotation maths), ``keyreduce``
(key reduction), and one subpackage per family: ``kinematic/``, ``camera/``, ``physics/``. Everything
here runs in worker processes, on Ray and in tests without Blender; ``tests/test_boundary.py`` imports
every module under this folder with bpy blocked. What reads or writes a scene lives in ``scene/``.
"""
