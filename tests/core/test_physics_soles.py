"""Soles under a creature's feet (envs/physics/mjcf.py ``foot_soles``): an ankle-to-toe foot stands on a flat sole
from heel to toe instead of its toe tip, so a biped holding its rest pose stays up (no bpy)."""

from __future__ import annotations

import numpy as np
import pytest

from rig_dojo.envs.physics.mjcf import build_mjcf, foot_soles
from rig_dojo.envs.physics.random_creatures import random_creature
from rig_dojo.envs.physics.task import make_physics_task


def _in_world(spec, k, point):
    w = spec.world_rest()[k]
    return w[:3, :3] @ point + w[:3, 3]


def test_a_biped_s_feet_get_soles_on_the_ground_from_heel_to_toe_and_nothing_else_does():
    spec = random_creature(np.random.default_rng(3), "biped")
    soles = foot_soles(spec)
    assert sorted(spec.bone_names[k] for k in soles) == ["foot.L", "foot.R"]
    heads, tails = spec.rest_points()
    r = spec.radius * spec.scale
    lowest = min((heads[:, 2] - r).min(), (tails[:, 2] - r).min())
    for k, (heel, toe) in soles.items():
        heel, toe = _in_world(spec, k, heel), _in_world(spec, k, toe)
        # lying on the ground, the toe under the bone's tail, the heel behind the ankle (the bone's head)
        assert heel[2] - r[k] == pytest.approx(lowest) and toe[2] - r[k] == pytest.approx(lowest)
        assert toe[:2] == pytest.approx(tails[k, :2])
        foot = tails[k, :2] - heads[k, :2]
        assert (heel[:2] - heads[k, :2]) @ foot == pytest.approx(-0.25 * foot @ foot)
    xml, _ = build_mjcf(spec)
    assert xml.count('name="sole') == 2 and 'density="0"' in xml  # massless: the creature weighs the same
    assert 'name="sole' not in build_mjcf(spec, soles=False)[0]


def test_steep_feet_keep_standing_on_their_tips():
    """A quadruped whose feet point down more than 40 degrees (hooves, hocks) gets no heel under the ankle."""
    spec = random_creature(np.random.default_rng(0), "quadruped")
    heads, tails = spec.rest_points()
    for k in foot_soles(spec):
        d = tails[k] - heads[k]
        assert abs(d[2]) <= np.tan(np.radians(40)) * np.hypot(d[0], d[1]) + 1e-9, spec.bone_names[k]
    steep = [k for k, n in enumerate(spec.bone_names) if n.endswith("_shin")]
    assert steep and not set(steep) & set(foot_soles(spec))


def _seconds_up(spec, soles: bool, seconds: float = 4.0) -> float:
    task = make_physics_task(spec, "stand", n_envs=4, seed=0, episode_seconds=seconds, soles=soles)
    task.reset()
    alive, up = np.ones(4, dtype=bool), np.zeros(4)
    for _ in range(task.episode_steps):
        _, _, done, _ = task.step(np.zeros((4, task.n_joints)))
        alive &= ~done
        up += alive
    return float(up.mean() / task.fps)


@pytest.mark.parametrize("seed", [0, 4])
def test_a_biped_holding_its_rest_pose_stands_on_its_soles_and_falls_on_tiptoe(seed):
    spec = random_creature(np.random.default_rng(seed), "biped")
    tiptoe, soles = _seconds_up(spec, False), _seconds_up(spec, True)
    print(f"biped {seed}: holding the rest pose up {tiptoe:.2f} s on tiptoe, {soles:.2f} s on soles")
    assert tiptoe < 1.5  # weight behind the toe tips: it falls backwards at once
    assert soles > 2 * tiptoe and soles > 3.0


def test_a_wider_sole_is_two_capsules_on_the_ground_apart_across_the_foot():
    """sole_width 4 (bone radii): each sole becomes two capsules of the bone's radius, 2 radii apart side by side,
    level with where the one capsule lay, so the foot has a flat band to stand on sideways."""
    import mujoco

    from rig_dojo.envs.physics.mjcf import load_model

    spec = random_creature(np.random.default_rng(3), "biped")
    r = spec.radius * spec.scale

    def sole_geoms(width):
        model, _ = load_model(spec, sole_width=width)
        data = mujoco.MjData(model)
        mujoco.mj_forward(model, data)
        out = {}
        for g in range(model.ngeom):
            name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_GEOM, g) or ""
            if name.startswith("sole"):
                axis = data.geom_xmat[g].reshape(3, 3)[:, 2]
                lowest = data.geom_xpos[g][2] - abs(axis[2]) * model.geom_size[g][1] - model.geom_size[g][0]
                out.setdefault(int(name[4:].split("_")[0]), []).append((data.geom_xpos[g].copy(), axis, lowest))
        return out

    one, two = sole_geoms(2.0), sole_geoms(4.0)
    assert sorted(one) == sorted(two) and all(len(v) == 1 for v in one.values())
    for k, pair in two.items():
        assert len(pair) == 2
        (c1, axis, low1), (c2, _, low2) = pair
        apart = c1 - c2
        assert np.linalg.norm(apart) == pytest.approx(2 * r[k])  # (4 - 2) radii between their centres
        assert apart[2] == pytest.approx(0.0, abs=1e-9) and apart @ axis == pytest.approx(0.0, abs=1e-9)
        assert (c1 + c2) / 2 == pytest.approx(one[k][0][0])  # either side of where the one capsule was
        assert low1 == pytest.approx(one[k][0][2]) and low2 == pytest.approx(one[k][0][2])


@pytest.mark.parametrize("width", [1.0, -2.0, 20.5, float("nan"), float("inf")])
def test_a_sole_width_outside_2_to_20_radii_is_refused_in_one_line(width):
    from rig_dojo.errors import RigDojoError

    spec = random_creature(np.random.default_rng(3), "biped")
    with pytest.raises(RigDojoError, match=r"physics\.sole_width must be between 2 .* and 20") as got:
        make_physics_task(spec, "stand", n_envs=1, seed=0, sole_width=width)
    assert "\n" not in str(got.value)


def test_foot_sliding_counts_a_foot_skating_on_the_ground_and_not_one_standing():
    """Tracking's foot sliding (``ground_slip``) reads MuJoCo's contacts: the feet's material at the contact."""
    from rig_dojo.envs.physics.tracking import foot_bodies, ground_slip

    spec = random_creature(np.random.default_rng(3), "biped")
    task = make_physics_task(spec, "stand", n_envs=2, seed=0)
    task.reset()
    feet = foot_bodies(task)
    names = {task.twin.model.body(int(b)).name for b in feet}
    assert len(feet) == 5 and len(names) == 5  # two soled feet, the head and the forearms (end bones)
    for _ in range(15):  # settle on the ground holding the rest pose
        task.twin.step(task.q_centre[None].repeat(2, axis=0))
    speed, touching = ground_slip(task, feet)
    assert touching.tolist() == [2, 2] and speed.max() < 0.05 * task.unit, (speed, touching)
    task.twin.datas[1].qvel[:2] = (1.5 * task.unit, 0.0)  # dragged sideways: the soles skate
    task.twin.step(task.q_centre[None].repeat(2, axis=0))
    speed, touching = ground_slip(task, feet)
    assert touching[1] >= 1 and speed[1] > 10 * max(speed[0], 1e-3) and speed[1] > 0.1 * task.unit, speed
