"""Twin forward kinematics vs Blender in the loop, on the same rig and selection, in one run.

    .venv/bin/python bench/run.py twin

Blender in the loop = set the control rotations, ``view_layer.update()``, read the
tracked bones' matrices: what stepping an environment through the depsgraph costs.
The twin = ``RigTwin.forward_euler`` for a batch of ``n_envs`` poses. Ratios are
env-steps/s of the twin over Blender, measured in this run.

The Rigify IK arm (``hand_ik.L`` and the pole moving by location) runs Blender's IK solver
in the twin: its cost is the solver's iterations (12 to ~140 per solve, every environment
until its own convergence), so it is far below the FK twin's figures.
"""

from __future__ import annotations

import time

import numpy as np

from rig_dojo.envs import kinematics as km
from rig_dojo.scene.builders import scenes
from rig_dojo.scene.kinematic.extract import extract_rig
from rig_dojo.envs.kinematic.twin import RigTwin
from rig_dojo.scene.kinematic.verify import (blender_world_matrices, sample_controls, sample_locations,
                                             set_control_locations, set_control_rotations)

N_ENVS = (1, 64, 1024, 4096)


def _rate(fn, items_per_call: int, min_seconds: float = 1.0) -> float:
    fn()  # warm up
    calls, start = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls * items_per_call / elapsed


def measure(obj, controls, tracked, label: str, location_controls=(), n_envs=N_ENVS) -> dict:
    spec = extract_rig(obj, controls, tracked, location_controls=list(location_controls))
    twin = RigTwin(spec)
    rng = np.random.default_rng(0)
    poses = km.euler_xyz_to_matrix(sample_controls(spec, 256, rng))
    locations = sample_locations(spec, 256, rng)
    k = [0]

    def blender_step():
        set_control_rotations(obj, spec, poses[k[0] % 256])
        set_control_locations(obj, spec, locations[k[0] % 256])
        blender_world_matrices(obj, spec.tracked)
        k[0] += 1

    blender = _rate(blender_step, 1)
    print(f"{label}: {len(spec.node_names)} compiled bones; Blender in the loop {blender:,.0f} steps/s")
    rows = {"blender": blender}
    for n in n_envs:
        angles = sample_controls(spec, n, rng)
        loc = sample_locations(spec, n, rng)
        twin_rate = _rate(lambda: twin.forward_euler(angles, loc), n)
        rows[n] = twin_rate
        print(f"  twin n_envs={n:5d}: {twin_rate:14,.0f} env-steps/s   {twin_rate / blender:10,.0f}x Blender")
    return rows


def main() -> None:
    scenes.empty_scene()
    arm = scenes.build_chain("Arm", (0.5, 0.4, 0.2), ("upper_arm", "forearm", "hand"))
    chain = measure(arm, ["upper_arm", "forearm", "hand"], ["hand"], "3-bone chain")
    scenes.empty_scene()
    rig = scenes.build_rigify_human()
    rigify = measure(rig, scenes.RIGIFY_FK_ARM["controls"], scenes.RIGIFY_FK_ARM["tracked"], "Rigify FK arm")
    # the IK arm as Rigify makes it: the IK control and the pole move (Blender's IK solver in the twin)
    rig.pose.bones["upper_arm_parent.L"]["IK_FK"] = 0.0
    rig.pose.bones["upper_arm_parent.L"]["pole_vector"] = True
    rig.update_tag()
    ik = measure(rig, [], ["DEF-hand.L"], "Rigify IK arm (hand_ik.L + pole, locations)",
                 location_controls=["hand_ik.L", "upper_arm_ik_target.L"], n_envs=(1, 16, 256, 1024))
    print(f"targets: 3-bone chain at 4096 envs {chain[4096]:,.0f} env-steps/s (target >= 1,000,000); "
          f"Rigify FK arm best {max(rigify[n] for n in N_ENVS) / rigify['blender']:,.0f}x Blender (target >= 1,000x); "
          f"Rigify IK arm at 1024 envs {ik[1024]:,.0f} env-steps/s, {ik[1024] / ik['blender']:,.0f}x Blender")


if __name__ == "__main__":
    main()
