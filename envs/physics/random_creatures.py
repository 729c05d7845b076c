"""Random quadrupeds and bipeds as plain :class:`~.mjcf.PhysicsSpec` data: the library's stand pretraining set
(no bpy).

They follow ``scene/builders/creatures.py``'s shapes (facing -Y, Z up, bones with Blender's roll-0 frames)
with random proportions, leg lengths, stance width, masses (density and radius per bone), servo strengths,
extra bones (toes, spine segments, arms, a tail) and joint styles: builder-style hinges with limits, or
metarig-style bones that turn about all three axes without limits (``default_limit``).
"""

from __future__ import annotations

import numpy as np

from .mjcf import PhysicsSpec


def bone_matrix(head, tail) -> np.ndarray:
    """A bone's rest matrix (4x4) from head and tail with roll 0, as Blender makes it: the shortest rotation
    taking +Y to the bone's direction (Blender's ``vec_roll_to_mat3``; a bone pointing along -Y turns about Z)."""
    head, tail = np.asarray(head, float), np.asarray(tail, float)
    y = (tail - head) / np.linalg.norm(tail - head)
    ref = np.array([0.0, 1.0, 0.0])
    axis = np.cross(ref, y)
    s, c = np.linalg.norm(axis), float(ref @ y)
    if s < 1e-9:
        rot = np.eye(3) if c > 0 else np.diag([-1.0, -1.0, 1.0])
    else:
        k = axis / s
        kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
        rot = np.eye(3) + s * kx + (1 - c) * kx @ kx
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rot, head
    return m


def _spec(name: str, bones: list[tuple], rng: np.random.Generator, fps: float = 30.0) -> PhysicsSpec:
    """``bones``: (name, head, tail, parent name or None, radius, lock (3 bools), low (3), high (3), has_limit (3))."""
    names = [b[0] for b in bones]
    index = {n: i for i, n in enumerate(names)}
    B = len(bones)
    rest = np.stack([bone_matrix(b[1], b[2]) for b in bones])
    lengths = np.array([np.linalg.norm(np.subtract(b[2], b[1])) for b in bones])
    return PhysicsSpec(
        rig_name=name, object_matrix=np.eye(4), bone_names=names,
        parent=np.array([-1 if b[3] is None else index[b[3]] for b in bones]), rest=rest, lengths=lengths,
        radius=np.array([b[4] for b in bones]), density=1000.0 * rng.uniform(0.6, 1.6, B),
        strength=np.full(B, rng.uniform(0.6, 1.5)), lock=np.array([b[5] for b in bones], dtype=bool),
        limit_low=np.array([b[6] for b in bones], float), limit_high=np.array([b[7] for b in bones], float),
        has_limit=np.array([b[8] for b in bones], dtype=bool), rotation_modes=["XYZ"] * B,
        friction=float(rng.uniform(0.7, 1.3)), fps=fps)


FREE = ((False, False, False), (0.0,) * 3, (0.0,) * 3, (False,) * 3)  # all axes, no limits (a metarig's bone)
LOCKED = ((True, True, True), (0.0,) * 3, (0.0,) * 3, (False,) * 3)


def _hinge(low: float, high: float) -> tuple:
    return ((False, True, True), (low, 0.0, 0.0), (high, 0.0, 0.0), (True, False, False))


def _swing(lim_x: float, lim_z: float) -> tuple:
    return ((False, True, False), (-lim_x, 0.0, -lim_z), (lim_x, 0.0, lim_z), (True, False, True))


def random_quadruped(rng: np.random.Generator, name: str = "quadruped") -> PhysicsSpec:
    """A random quadruped: torso (root), neck (and head), maybe a tail, four legs of thigh, shin, foot (maybe toe)."""
    length = rng.uniform(0.5, 1.2)
    leg = rng.uniform(0.35, 0.8) * length / 0.7 * 0.6  # hip height
    hip_x = rng.uniform(0.08, 0.2) * length / 0.7
    splay = rng.uniform(1.0, 1.9)
    free_legs = rng.random() < 0.4
    h = leg
    r = rng.uniform(0.08, 0.14) * length / 0.7
    bones: list[tuple] = [("torso", (0, length / 2, h), (0, -length / 2, h), None, r, *FREE)]
    neck_tail = (0, -length / 2 - rng.uniform(0.1, 0.25) * length, h + rng.uniform(0.1, 0.3) * length)
    bones.append(("neck", (0, -length / 2, h), neck_tail, "torso", 0.5 * r, *(FREE if free_legs else _swing(0.6, 0.6))))
    if rng.random() < 0.5:
        bones.append(("head", neck_tail, (0, neck_tail[1] - 0.2 * length, neck_tail[2] - 0.02), "neck", 0.5 * r,
                      *(FREE if free_legs else LOCKED)))
    if rng.random() < 0.6:
        bones.append(("tail", (0, length / 2, h + 0.02), (0, length / 2 + rng.uniform(0.15, 0.4) * length, h + 0.1 * length),
                      "torso", 0.25 * r, *(FREE if rng.random() < 0.5 else LOCKED)))
    thigh_frac = rng.uniform(0.4, 0.55)
    foot_len = rng.uniform(0.06, 0.12) * length / 0.7
    for prefix, y in (("front", -0.43 * length), ("back", 0.43 * length)):
        for side, sx in (("L", 1.0), ("R", -1.0)):
            x = sx * hip_x
            knee = (x * (1 + (splay - 1) * 0.5), y + rng.uniform(-0.04, 0.04), h - thigh_frac * (h - 0.1 * h))
            foot = (x * splay, y, 0.12 * h)
            b = f"{prefix}_{side}"
            toe = rng.random() < 0.3
            fr = rng.uniform(0.025, 0.045) * length / 0.7
            if free_legs:
                styles = (FREE, FREE, FREE)
            else:
                styles = (_swing(1.0, 0.4), _hinge(-1.5, 1.5), _hinge(-0.8, 0.8))
            bones += [(f"{b}_thigh", (x, y, h - 0.02), knee, "torso", 0.35 * r, *styles[0]),
                      (f"{b}_shin", knee, foot, f"{b}_thigh", 0.25 * r, *styles[1]),
                      (f"{b}_foot", foot, (foot[0], foot[1] - foot_len, 0.12 * h - foot_len * 0.7 if not toe else fr),
                       f"{b}_shin", fr, *styles[2])]
            if toe:
                ft = bones[-1][2]
                bones.append((f"{b}_toe", ft, (ft[0], ft[1] - 0.5 * foot_len, fr * 0.8), f"{b}_foot", 0.8 * fr,
                              *(FREE if free_legs else _hinge(-0.6, 0.6))))
    # feet and toes end on the ground: clamp their tails' heights to their radius
    fixed = []
    for bone in bones:
        head, tail = np.array(bone[1], float), np.array(bone[2], float)
        if bone[0].endswith(("_foot", "_toe")):
            tail[2] = max(min(tail[2], head[2] - 0.01), bone[4])
        fixed.append((bone[0], tuple(head), tuple(tail), *bone[3:]))
    return _spec(name, fixed, rng)


def random_biped(rng: np.random.Generator, name: str = "biped") -> PhysicsSpec:
    """A random biped: pelvis (root), a spine of 1-3 bones and a head, maybe arms, legs of thigh, shin, foot."""
    hip = rng.uniform(0.6, 1.1)
    width = rng.uniform(0.07, 0.14) * hip / 0.9
    torso = rng.uniform(0.35, 0.6) * hip / 0.9
    free = rng.random() < 0.4
    r = rng.uniform(0.08, 0.12) * hip / 0.9
    bones: list[tuple] = [("pelvis", (0, 0, hip), (0, 0, hip + 0.15 * torso), None, r, *FREE)]
    segments = int(rng.integers(1, 4))
    z, parent = hip + 0.15 * torso, "pelvis"
    for s in range(segments):
        top = z + torso * 0.85 / segments
        bones.append((f"spine{s}", (0, 0, z), (0, 0.0, top), parent, 0.9 * r, *(FREE if free else _swing(0.4, 0.4))))
        z, parent = top, f"spine{s}"
    bones.append(("head", (0, 0, z), (0, 0, z + 0.17 * torso), parent, 0.8 * r, *(FREE if free else LOCKED)))
    if rng.random() < 0.5:
        for side, sx in (("L", 1.0), ("R", -1.0)):
            shoulder = (sx * 1.6 * width, 0, z - 0.03)
            elbow = (sx * 1.8 * width, 0.02, z - 0.3 * torso)
            hand = (sx * 1.8 * width, -0.05, z - 0.6 * torso)
            bones += [(f"arm.{side}", shoulder, elbow, parent, 0.3 * r, *(FREE if free else _swing(1.0, 1.0))),
                      (f"forearm.{side}", elbow, hand, f"arm.{side}", 0.25 * r, *(FREE if free else _hinge(-1.5, 0.0)))]
    thigh = rng.uniform(0.45, 0.55)
    foot_len = rng.uniform(0.12, 0.2) * hip / 0.9
    fr = rng.uniform(0.03, 0.05) * hip / 0.9
    for side, sx in (("L", 1.0), ("R", -1.0)):
        x = sx * width
        knee = (x, -0.03, hip - thigh * (hip - 0.1 * hip / 0.9))
        ankle = (x, 0.0, max(0.1 * hip / 0.9, fr + 0.02))
        toe = (x, -foot_len, fr)
        styles = (FREE, FREE, FREE) if free else ((FREE[0], FREE[1], FREE[2], FREE[3]), _hinge(-2.2, 0.1),
                                                  _hinge(-0.7, 0.7))
        bones += [(f"thigh.{side}", (x, 0, hip), knee, "pelvis", 0.45 * r, *styles[0]),
                  (f"shin.{side}", knee, ankle, f"thigh.{side}", 0.35 * r, *styles[1]),
                  (f"foot.{side}", ankle, toe, f"shin.{side}", fr, *styles[2])]
    return _spec(name, bones, rng)


def random_creature(rng: np.random.Generator, kind: str | None = None, name: str = "") -> PhysicsSpec:
    """A random quadruped or biped (``kind``: "quadruped", "biped" or None for either)."""
    kind = kind or ("quadruped" if rng.random() < 0.5 else "biped")
    make = random_quadruped if kind == "quadruped" else random_biped
    return make(rng, name or kind)
