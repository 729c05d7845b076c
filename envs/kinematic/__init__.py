"""The kinematic family (reach, aim, grasp): rig spec, batched forward-kinematics twin, tasks."""
