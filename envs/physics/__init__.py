"""The physics family (stand, locomotion, jump, obstacles): creature spec, MJCF, MuJoCo twin, tasks."""
