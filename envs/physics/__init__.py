"""The physics family (stand, locomotion, jump, obstacles): creature spec, MJCF, MuJoCo twin, tasks.

This module is the family's registry entry (``envs.families``); it imports nothing heavy.
"""

from __future__ import annotations

from ...rewards.composer import TermConfig
from ..families import CONTINUOUS_ALGORITHMS, Family, Task

DEFAULT_TERMS: dict[str, list[TermConfig]] = {
    "stand": [TermConfig("alive_bonus"), TermConfig("upright"), TermConfig("com_over_support", 2.0),
              TermConfig("joint_torque", 0.01), TermConfig("effort", 0.01)],
    # tuned on the quadruped (agents/README.md, "Physics defaults"): speed capped at 1.4 target speeds so
    # lunging faster (and falling) never pays; weights small (at most ~1 per step) so the value loss does not
    # swamp PPO's clipped gradient; a small alive bonus so standing still is not the easy optimum; a tiny
    # joint_acceleration (1e-5 made falling at once the best policy)
    "locomotion": [TermConfig("forward_speed", 0.5, params={"cap": True, "cap_at": 1.4}), TermConfig("heading", 0.125),
                   TermConfig("alive_bonus", 0.125), TermConfig("upright", 0.125), TermConfig("foot_slip", 0.0125),
                   TermConfig("effort", 0.005), TermConfig("joint_acceleration", 2.5e-8)],
    "jump": [TermConfig("jump_height", 5.0), TermConfig("landing_upright", 10.0), TermConfig("upright", 0.5),
             TermConfig("alive_bonus", 0.2), TermConfig("joint_torque", 0.01)],
    "obstacles": [TermConfig("forward_speed", 2.0), TermConfig("heading", 0.5), TermConfig("alive_bonus", 0.5),
                  TermConfig("upright", 0.5), TermConfig("obstacle_clearance", 5.0), TermConfig("joint_torque", 0.01)],
    # DeepMimic's weights (Peng et al. 2018): pose 0.65, velocity 0.1, end effectors 0.15, root 0.1 (here split
    # into position 0.05 and velocity 0.1: a position term alone fades once the creature falls behind the clip)
    "track": [TermConfig("track_pose", 0.65), TermConfig("track_velocity", 0.1), TermConfig("track_end", 0.15),
              TermConfig("track_root", 0.05), TermConfig("track_root_velocity", 0.1), TermConfig("foot_slip", 0.1)],
}


# Pins on a physics task (envs/physics/pins.py) pay through the shared pin terms, weight 10 (at 1 a neck pin on
# the standing test quadruped was not learnt in 1.5 min) and a point's approach 10 per size (at 1 it never shuffled
# to a root pin 0.17 sizes ahead in 600,000 steps). The pose kernel depends on the guide (reference.guide): guided,
# the servos already play the keys, and 0.05 rad keeps the trained motion on them (at 0.15 the policy drifted up
# to 8 deg off, 50% of the pins hit in one run of 3); unguided, the policy finds each pose from the rest pose and
# 0.15 rad (~9 deg) is wide enough to be found (at 0.08: 0%, 12% and 100% hit in 3 runs of 250,000 steps).
# README, "Pins on a physics task".
PIN_TERMS = [TermConfig("pin_pose", 10.0, params={"scale": 0.05, "approach": 1.0}),
             TermConfig("pin_effector", 10.0, params={"scale": 0.1, "approach": 10.0})]
UNGUIDED_POSE_SCALE = 0.15


def pin_terms(guide: bool = True) -> list[TermConfig]:
    """The pin terms a physics task with pins gets (``guide``: ``reference.guide``)."""
    terms = [TermConfig(t.name, t.weight, t.enabled, dict(t.params)) for t in PIN_TERMS]
    if not guide:
        terms[0].params["scale"] = UNGUIDED_POSE_SCALE
    return terms


def default_terms(task: str, config=None) -> list[TermConfig]:
    """Each task's terms; with pins (``config.reference``) on a task that takes them, the pin terms too."""
    from .settings import PIN_TASKS

    reference = getattr(config, "reference", None)
    pinned = reference is not None and reference.has_pins and task in PIN_TASKS
    return [TermConfig(t.name, t.weight, t.enabled, dict(t.params)) for t in DEFAULT_TERMS[task]] + \
        (pin_terms(bool(reference.guide)) if pinned else [])


FAMILY = Family(
    name="physics",
    tasks=(
        Task("stand", "Stand", "Physics: keep the creature upright and balanced (MuJoCo)", "radians of tilt"),
        Task("locomotion", "Locomotion", "Physics: move along a direction at a target speed without falling (MuJoCo)",
             "body sizes/s below the target speed"),
        Task("jump", "Jump", "Physics: jump up and land upright (MuJoCo)", "body sizes below the jump height"),
        Task("obstacles", "Obstacles", "Physics: get over obstacles that grow as the creature succeeds (MuJoCo)",
             "body sizes short of the obstacle"),
        Task("track", "Track Reference", "Physics: follow a reference clip (an Action or a BVH file) and keep it "
             "physically valid (MuJoCo)", "degrees of mean joint error"),
    ),
    default_terms=default_terms,
    core="rig_dojo.envs.physics.family",
    edge="rig_dojo.scene.physics.family",
    settings="physics",
    algorithms=CONTINUOUS_ALGORITHMS,
    needs=("torch", "stable_baselines3", "mujoco"),
    # rig.controls: the bones to simulate (empty: all); the obstacle course's stages are physics.obstacle_heights
    extra={"controls_mean_simulated_bones": True, "own_curriculum": ("obstacles",)},
)
