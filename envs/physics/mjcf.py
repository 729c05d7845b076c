"""``PhysicsSpec`` (a rig as a physical creature, plain data) and its MuJoCo model (MJCF XML). No bpy.

Made by ``scene.physics.extract`` from a Blender armature; saved to one ``.npz``
(arrays plus one JSON string, never pickled) so the twin runs on a worker
without Blender.

How a rig becomes a MuJoCo model (:func:`build_mjcf`):

* **one body per bone**, nested like the bone parents; each body's frame is the
  bone's rest frame (origin at the head, the bone along local +Y), so MuJoCo's
  rest pose *is* Blender's rest pose and a body's ``xpos`` is the bone's head.
* **a capsule per bone** from head to tail, radius from the spec, mass from the
  density (kg/m³, the capsule's volume in world metres).
* **the root bone has a free joint**; every other bone has **one hinge per
  unlocked rotation axis** of its local frame, declared Z, Y, X so the product is
  ``Rz @ Ry @ Rx``: exactly Blender's Euler XYZ ``matrix_basis`` rotation. Hinges
  rather than a ball joint because Blender's limits are per Euler axis (a ball
  joint only has a cone limit) and because MuJoCo's position servos drive
  scalar joints. A bone with every axis locked is welded to its parent.
* **a position servo per hinge**, ``kp = strength × weight × size`` (strength 1 holds
  the whole creature's weight at its own size with one radian of error), with joint damping near critical and a joint armature
  that keeps the servo stable at the chosen time step.
* **soles under the feet** (``soles``, on by default): a bone within 40° of flat whose lower end rests on
  the ground at rest gets a massless capsule lying on the ground from a heel behind its upper end to its
  lower end (:func:`foot_soles`); an ankle-to-toe foot otherwise stands on its toe tip. ``sole_width``
  (bone radii, default 2: one capsule) widens it into two capsules side by side (:func:`sole_capsules`).
* creature capsules touch the world (ground plane, obstacle boxes, the moving
  platform) but not each other (bones of a rig overlap at the joints).
* an animated platform is a **mocap body**: it follows the sampled trajectory
  exactly (the twin sets its pose every control step). MuJoCo gives mocap bodies
  no velocity, so friction does not carry a creature along with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np

from ...errors import RigDojoError
from ..spec_file import read_spec, write_spec

PHYSICS_SPEC_VERSION = 1
GRAVITY = 9.81
AXIS_NAMES = "xyz"
_HINGE_ORDER = (2, 1, 0)  # declared Z, Y, X: MuJoCo composes a body's joints left to right -> Rz Ry Rx


@dataclass
class PhysicsSpec:
    """A rig as a physical creature, in plain values and numpy arrays.

    Bones are listed parents first; ``parent[0] == -1`` is the root (free joint).
    Positions are in the armature's space (``rest``, as ``Bone.matrix_local``);
    ``object_matrix`` places the armature in the world (uniform scale only).
    """

    rig_name: str
    object_matrix: np.ndarray  # (4,4) armature object's world matrix
    bone_names: list[str]  # (B) parents first; bone 0 is the root
    parent: np.ndarray  # (B,) int, index of the parent bone, -1 for the root
    rest: np.ndarray  # (B,4,4) rest matrices in armature space
    lengths: np.ndarray  # (B,) armature units
    radius: np.ndarray  # (B,) capsule radius, armature units
    density: np.ndarray  # (B,) kg/m^3
    strength: np.ndarray  # (B,) multiplier of the servo gain
    lock: np.ndarray  # (B,3) bool: rotation locked about local X, Y, Z
    limit_low: np.ndarray  # (B,3) radians (Euler XYZ of the local rotation)
    limit_high: np.ndarray  # (B,3)
    has_limit: np.ndarray  # (B,3) bool: the rig limits this axis (else +-default_limit)
    rotation_modes: list[str]  # each bone's rotation mode (for the bake)
    friction: float = 1.0  # sliding friction of the ground, obstacles and creature
    ground_height: float = 0.0  # world Z of the ground plane
    default_limit: float = np.pi / 2  # radians, for axes the rig does not limit
    fps: float = 30.0  # control steps per second (the scene's frame rate)
    frame_start: int = 1
    box_names: list[str] = field(default_factory=list)
    box_centers: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (K,3) world
    box_half: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (K,3) world units
    box_rot: np.ndarray = field(default_factory=lambda: np.zeros((0, 3, 3)))  # (K,3,3) axes as columns
    platform_name: str = ""
    platform_half: np.ndarray = field(default_factory=lambda: np.zeros(3))
    platform_matrices: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 4)))  # (F,4,4) unit-scale world
    notes: list[str] = field(default_factory=list)
    # a reference clip to track (the track task): per frame the root bone's world frame and every bone's local
    # Euler XYZ rotation, sampled from an Action or a motion file by the edge (scene.physics.reference)
    reference_name: str = ""
    reference_frames: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (F,)
    reference_root: np.ndarray = field(default_factory=lambda: np.zeros((0, 4, 4)))  # (F,4,4) unit-scale world
    reference_euler: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3)))  # (F,B,3)
    # the animator's pins (envs.physics.pins; read by scene.physics.pins), one row a pin: its frame, every bone's
    # local Euler XYZ rotation keyed there and which bones it holds, the bone whose point it puts somewhere
    # (0: the root's head, another: that bone's tail, -1: none) and where (world), hard or soft, its weight
    pin_frames: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (P,)
    pin_euler: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3)))  # (P,B,3)
    pin_mask: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=bool))  # (P,B)
    pin_point_bone: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # (P,)
    pin_point: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (P,3) world
    pin_hard: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # (P,)
    pin_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (P,)
    pin_labels: list[str] = field(default_factory=list)  # (P,) each pin in words (reports, the sidebar)

    _ARRAYS = ("object_matrix", "parent", "rest", "lengths", "radius", "density", "strength", "lock",
               "limit_low", "limit_high", "has_limit", "box_centers", "box_half", "box_rot", "platform_half",
               "platform_matrices", "reference_frames", "reference_root", "reference_euler", "pin_frames", "pin_euler",
               "pin_mask", "pin_point_bone", "pin_point", "pin_hard", "pin_weight")
    _VALUES = ("rig_name", "bone_names", "rotation_modes", "friction", "ground_height", "default_limit", "fps",
               "frame_start", "box_names", "platform_name", "notes", "reference_name", "pin_labels")
    # absent from files written before tracking, and before pins
    _OPTIONAL = ("reference_frames", "reference_root", "reference_euler", "pin_frames", "pin_euler", "pin_mask",
                 "pin_point_bone", "pin_point", "pin_hard", "pin_weight")

    # ---- derived ------------------------------------------------------------------
    @property
    def n_pins(self) -> int:
        return len(self.pin_frames)

    @property
    def n_bones(self) -> int:
        return len(self.bone_names)

    @property
    def scale(self) -> float:
        """The armature object's uniform scale (world units per armature unit)."""
        return float(np.cbrt(np.linalg.det(self.object_matrix[:3, :3])))

    def world_rest(self) -> np.ndarray:
        """(B,4,4) every bone's rest frame in the world with unit-scale axes."""
        s = self.scale
        m = np.einsum("ij,bjk->bik", self.object_matrix, self.rest)
        m[:, :3, :3] /= s
        return m

    def rest_points(self) -> tuple[np.ndarray, np.ndarray]:
        """(B,3) heads and (B,3) tails of the bones at rest, in the world."""
        w = self.world_rest()
        heads = w[:, :3, 3]
        return heads, heads + w[:, :3, 1] * (self.lengths * self.scale)[:, None]

    def validate(self) -> None:
        """Raise :class:`RigDojoError` with one message for the first thing that cannot be simulated."""
        b = self.n_bones
        if b == 0:
            raise RigDojoError(f"{self.rig_name!r} has no bones to simulate; add bones under the root bone")
        if self.parent.shape != (b,) or self.parent[0] != -1 or np.any(self.parent[1:] < 0) \
                or np.any(self.parent[1:] >= np.arange(1, b)):
            raise RigDojoError(f"{self.rig_name!r}: bones must be listed parents first with one root; extract it again")
        m = self.object_matrix[:3, :3]
        norms = np.linalg.norm(m, axis=0)
        if np.linalg.det(m) <= 0 or np.ptp(norms) > 1e-5 * norms.max():
            raise RigDojoError(f"{self.rig_name!r} has a non-uniform or negative object scale {np.round(norms, 4).tolist()}; "
                               "apply the scale (Ctrl+A > Scale) and extract again")
        for k in range(b):
            name = self.bone_names[k]
            if not self.lengths[k] > 0:
                raise RigDojoError(f"bone {name!r} has zero length; give it a length or leave it out")
            if not (np.isfinite(self.density[k]) and self.density[k] > 0):
                raise RigDojoError(f"bone {name!r} has zero mass (density {self.density[k]:g}); "
                                   "set a positive density (kg/m³, e.g. 1000)")
            if not (np.isfinite(self.radius[k]) and self.radius[k] > 0):
                raise RigDojoError(f"bone {name!r} has radius {self.radius[k]:g}; set rig_dojo_radius > 0")
            if not (np.isfinite(self.strength[k]) and self.strength[k] >= 0):
                raise RigDojoError(f"bone {name!r} has strength {self.strength[k]:g}; use a number >= 0")
            bad = np.flatnonzero(self.has_limit[k] & (self.limit_low[k] > self.limit_high[k]))
            if bad.size:
                axis = AXIS_NAMES[bad[0]].upper()
                raise RigDojoError(f"bone {name!r} has a {axis} rotation limit with min > max "
                                   f"({np.degrees(self.limit_low[k, bad[0]]):.1f}° > {np.degrees(self.limit_high[k, bad[0]]):.1f}°); "
                                   "fix the limit (Bone > Inverse Kinematics, or the Limit Rotation constraint)")
        if not (np.isfinite(self.friction) and self.friction >= 0):
            raise RigDojoError(f"friction must be a number >= 0, got {self.friction}")
        if not self.fps > 0:
            raise RigDojoError(f"fps must be positive, got {self.fps}")
        if len(self.bone_names) > 1 and not np.any(~self.lock[1:]):
            pass  # a rigid creature is allowed (it falls, it slides); nothing to control is checked by tasks

    # ---- joints -------------------------------------------------------------------
    def joints(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The hinges in model order: ``(bone (J,), axis (J,), low (J,), high (J,))``.

        Bone order, and inside a bone Z, Y, X (see the module docstring).
        """
        bone, axis = [], []
        for k in range(1, self.n_bones):
            for a in _HINGE_ORDER:
                if not self.lock[k, a]:
                    bone.append(k)
                    axis.append(a)
        bone_a, axis_a = np.array(bone, dtype=np.int64), np.array(axis, dtype=np.int64)
        low = np.where(self.has_limit, self.limit_low, -self.default_limit)[bone_a, axis_a]
        high = np.where(self.has_limit, self.limit_high, self.default_limit)[bone_a, axis_a]
        return bone_a, axis_a, low.astype(np.float64), high.astype(np.float64)

    def capsule_masses(self) -> np.ndarray:
        """(B,) kg: each bone capsule's volume (world metres) times its density."""
        s = self.scale
        r, length = self.radius * s, self.lengths * s
        return self.density * (np.pi * r**2 * length + 4.0 / 3.0 * np.pi * r**3)

    def size(self) -> float:
        """The creature's size (world units): the larger of its rest height and its horizontal extent."""
        heads, tails = self.rest_points()
        pts = np.concatenate([heads, tails])
        extent = pts.max(axis=0) - pts.min(axis=0)
        return float(max(extent[2], np.hypot(extent[0], extent[1]), 1e-6))

    # ---- file ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        meta = {"version": PHYSICS_SPEC_VERSION, **{k: _plain(getattr(self, k)) for k in self._VALUES}}
        return write_spec(path, "physics", meta, {k: np.asarray(getattr(self, k)) for k in self._ARRAYS})

    @classmethod
    def load(cls, path: str | Path) -> "PhysicsSpec":
        meta, data = read_spec(path, "physics")
        if meta.pop("version", None) != PHYSICS_SPEC_VERSION:
            raise RigDojoError(f"{path} is a physics spec of another version; extract it again from the .blend")
        try:
            return cls(**meta, **{k: data[k] for k in cls._ARRAYS if k in data or k not in cls._OPTIONAL})
        except (ValueError, KeyError, TypeError) as exc:
            raise RigDojoError(f"{path} is not a Rig Dojo physics spec file ({exc}); extract it again") from None


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


# ---- MJCF ---------------------------------------------------------------------------------


@dataclass
class ModelLayout:
    """Where the spec's parts are in the compiled model (from :func:`build_mjcf`)."""

    joint_bone: np.ndarray  # (J,) bone index of each hinge
    joint_axis: np.ndarray  # (J,) 0,1,2 = local X, Y, Z
    q_low: np.ndarray  # (J,) radians
    q_high: np.ndarray  # (J,)
    kp: np.ndarray  # (J,) servo gain, N m / rad
    body_names: list[str]  # (B,) MuJoCo body name of each bone
    timestep: float
    substeps: int
    platform_body: str  # "" when there is none
    total_mass: float
    size: float  # the creature's size (world units), the unit of normalised observations


def _f(values) -> str:
    return " ".join(f"{float(v):.12g}" for v in np.ravel(values))


def _quat(rot: np.ndarray) -> np.ndarray:
    """(3,3) rotation -> (w, x, y, z)."""
    from ..kinematics import matrix_to_quaternion

    return matrix_to_quaternion(rot)


def build_mjcf(spec: PhysicsSpec, substeps: int = 8, damping_ratio: float = 1.0,
               self_collision: bool = False, soles: bool = True, sole_width: float = 2.0) -> tuple[str, ModelLayout]:
    """The MuJoCo model of ``spec`` as MJCF XML, and where its parts are.

    Args:
        spec: the creature (validated here).
        substeps: physics steps per control step; the time step is ``1 / (fps * substeps)``.
        damping_ratio: joint damping as a fraction of critical for each servo.
        self_collision: let the creature's capsules collide with each other (off by
            default: a rig's bones overlap at the joints).
        soles: give the feet flat soles (:func:`foot_soles`).
        sole_width: how wide a sole is across the foot, in the foot bone's radius: 2 is one capsule of the
            bone's radius; more is two such capsules side by side, a flat band between them (:func:`sole_capsules`).
    """
    spec.validate()
    if substeps < 1:
        raise RigDojoError(f"substeps must be at least 1, got {substeps}")
    s = spec.scale
    world = spec.world_rest()
    timestep = 1.0 / (spec.fps * substeps)
    masses = spec.capsule_masses()
    total = float(masses.sum())
    size = spec.size()
    b = spec.n_bones
    children: list[list[int]] = [[] for _ in range(b)]
    for k in range(1, b):
        children[int(spec.parent[k])].append(k)
    # subtree mass and reach from each bone's head: the inertia a joint's servo moves
    heads, tails = spec.rest_points()
    sub_mass = masses.copy()
    sub_inertia = np.zeros(b)
    for k in range(b - 1, -1, -1):
        for c in children[k]:
            sub_mass[k] += sub_mass[c]
    for k in range(b):
        desc, todo = [], [k]
        while todo:
            d = todo.pop()
            desc.append(d)
            todo.extend(children[d])
        mid = (heads[desc] + tails[desc]) / 2
        sub_inertia[k] = float((masses[desc] * (np.sum((mid - heads[k]) ** 2, axis=1)
                                                + (spec.lengths[desc] * s) ** 2 / 12)).sum())
    joint_bone, joint_axis, q_low, q_high = spec.joints()
    # gain: strength 1 is the torque that holds the whole creature's weight at its own size per radian,
    # so every joint of a leg can carry the body (a chain of three is a third as stiff)
    kp = spec.strength[joint_bone] * GRAVITY * size * total
    inertia = sub_inertia[joint_bone]
    # armature so that the servo's natural frequency stays below ~0.3 / timestep (explicit in kp)
    armature = np.maximum(kp * (timestep / 0.3) ** 2 - inertia, 0.0)
    damping = 2.0 * damping_ratio * np.sqrt(kp * (inertia + armature))
    fr = spec.friction
    friction = f"{fr:.6g} 0.005 0.0001"
    creature_collision = 'contype="1" conaffinity="1"' if self_collision else 'contype="1" conaffinity="0"'
    lines = [
        f'<mujoco model={quoteattr(spec.rig_name)}>',
        '  <compiler angle="radian" autolimits="true"/>',
        f'  <option timestep="{timestep:.12g}" integrator="implicitfast" gravity="0 0 {-GRAVITY}"/>',
        f'  <size memory="{max(4, 2 * b)}M"/>' if b > 64 else '',
        '  <worldbody>',
        f'    <geom name="ground" type="plane" size="0 0 1" pos="0 0 {spec.ground_height:.12g}" friction="{friction}" '
        'contype="0" conaffinity="1"/>',
    ]
    for k, name in enumerate(spec.box_names):
        lines.append(f'    <geom name={quoteattr("box:" + name)} type="box" pos="{_f(spec.box_centers[k])}" '
                     f'quat="{_f(_quat(spec.box_rot[k]))}" size="{_f(spec.box_half[k])}" friction="{friction}" '
                     'contype="0" conaffinity="1"/>')
    if len(spec.platform_matrices):
        m0 = spec.platform_matrices[0]
        lines.append(f'    <body name="platform" mocap="true" pos="{_f(m0[:3, 3])}" quat="{_f(_quat(m0[:3, :3]))}">')
        lines.append(f'      <geom type="box" size="{_f(spec.platform_half)}" friction="{friction}" '
                     'contype="0" conaffinity="1"/>')
        lines.append('    </body>')
    body_names = [f"bone{k}" for k in range(b)]
    sole_of = foot_soles(spec) if soles else {}
    hinges_of: dict[int, list[int]] = {}
    for j, k in enumerate(joint_bone):
        hinges_of.setdefault(int(k), []).append(j)

    def emit(k: int, depth: int) -> None:
        pad = "  " * depth
        if k == 0:
            pos, rot = world[0, :3, 3], world[0, :3, :3]
        else:
            p = int(spec.parent[k])
            rel = np.linalg.inv(spec.rest[p]) @ spec.rest[k]
            pos, rot = rel[:3, 3] * s, rel[:3, :3]
        lines.append(f'{pad}<body name="{body_names[k]}" pos="{_f(pos)}" quat="{_f(_quat(rot))}">')
        if k == 0:
            lines.append(f'{pad}  <freejoint name="root"/>')
        for j in hinges_of.get(k, []):
            axis = np.eye(3)[joint_axis[j]]
            lines.append(f'{pad}  <joint name="j{j}" type="hinge" axis="{_f(axis)}" range="{q_low[j]:.12g} {q_high[j]:.12g}" '
                         f'damping="{damping[j]:.6g}" armature="{armature[j]:.6g}"/>')
        r, length = spec.radius[k] * s, spec.lengths[k] * s
        lines.append(f'{pad}  <geom name="{body_names[k]}" type="capsule" fromto="0 0 0 0 {length:.12g} 0" size="{r:.12g}" '
                     f'density="{spec.density[k]:.12g}" friction="{friction}" {creature_collision}/>')
        if k in sole_of:
            for n, (a, z) in enumerate(sole_capsules(sole_of[k], world[k, :3, :3], r, sole_width)):
                lines.append(f'{pad}  <geom name="sole{k}{"_" + str(n) if n else ""}" type="capsule" '
                             f'fromto="{_f(a)} {_f(z)}" size="{r:.12g}" density="0" friction="{friction}" '
                             f'{creature_collision}/>')
        for c in children[k]:
            emit(c, depth + 1)
        lines.append(f'{pad}</body>')

    emit(0, 2)
    lines.append('  </worldbody>')
    if len(joint_bone):
        lines.append('  <actuator>')
        for j in range(len(joint_bone)):
            lines.append(f'    <position name="a{j}" joint="j{j}" kp="{kp[j]:.6g}" ctrlrange="{q_low[j]:.12g} {q_high[j]:.12g}"/>')
        lines.append('  </actuator>')
    lines.append('</mujoco>')
    layout = ModelLayout(joint_bone=joint_bone, joint_axis=joint_axis, q_low=q_low, q_high=q_high, kp=kp,
                         body_names=body_names, timestep=timestep, substeps=int(substeps),
                         platform_body="platform" if len(spec.platform_matrices) else "", total_mass=total, size=size)
    return "\n".join(line for line in lines if line), layout


HEEL = 0.25  # the heel reaches behind the ankle by this share of the foot's length (a human foot's does)
FLAT = float(np.tan(np.radians(40.0)))  # a foot lies within 40 degrees of flat; steeper is a hoof or a hock


def sole_capsules(sole: tuple[np.ndarray, np.ndarray], rot: np.ndarray, radius: float,
                  width: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The capsules of one sole (:func:`foot_soles`' ``(from, to)`` in the bone's frame, ``rot`` the bone's rest
    rotation in the world) ``width`` bone radii wide: one capsule at 2; else two, moved apart level with the
    ground across the foot, so the foot stands on the flat band between them.

    A single capsule touches the ground along a line: a foot on it has no width to stand on sideways, and a
    creature whose ankles do not roll (most rigs' feet are hinges) balances on one foot only by stepping."""
    a, z = sole
    if width <= 2.0 + 1e-9:
        return [(a, z)]
    up = rot.T @ np.array([0.0, 0.0, 1.0])  # the world's up in the bone's frame
    across = np.cross(z - a, up)
    across *= (width / 2.0 - 1.0) * radius / max(float(np.linalg.norm(across)), 1e-12)
    return [(a + across, z + across), (a - across, z - across)]


def foot_soles(spec: PhysicsSpec, touch: float = 0.02) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The soles of a creature's feet: ``{bone: (from, to)}``, a capsule's ends in the bone's own frame (world units).

    A foot is a bone whose lower end rests on the ground at rest (within ``touch`` of the creature's size of its
    lowest point) and which lies within 40° of flat: an ankle-to-toe bone, as most rigs' feet are, a toe, a
    Rigify heel. A capsule along an ankle-to-toe bone touches the ground only at the toe tip, so a biped stands
    on tiptoe with its weight behind its toes and falls backwards holding its rest pose; steeper bones (a hoof,
    a digitigrade hock) keep standing on their tips. The sole is a capsule of the bone's radius lying on the
    ground (every sole at the creature's lowest point, so a foot's toe and heel bones stand level) from a heel
    a quarter of the foot's length behind its upper end to its lower end, rigid with the bone and without mass."""
    heads, tails = spec.rest_points()
    r = spec.radius * spec.scale
    low_h, low_t = heads[:, 2] - r, tails[:, 2] - r
    lowest = lowest_point(spec, heads, tails)
    tol = touch * spec.size()
    world = spec.world_rest()
    out = {}
    for k in range(spec.n_bones):
        for low, high, low_z in ((tails[k], heads[k], low_t[k]), (heads[k], tails[k], low_h[k])):
            run = float(np.hypot(*(high - low)[:2]))
            if low_z - lowest <= tol and high[2] >= low[2] and high[2] - low[2] <= run * FLAT:
                ground = lowest + r[k]
                a = np.array([high[0], high[1], ground])
                z = np.array([low[0], low[1], ground])
                a = a + HEEL * (a - z)
                if np.hypot(*(a - z)[:2]) > r[k]:
                    rot, origin = world[k, :3, :3], world[k, :3, 3]
                    out[k] = (rot.T @ (a - origin), rot.T @ (z - origin))
                break
    return out


def load_model(spec: PhysicsSpec, substeps: int = 8, **kwargs):
    """Compile ``spec`` into a ``mujoco.MjModel``; returns ``(model, layout)``."""
    import mujoco

    xml, layout = build_mjcf(spec, substeps=substeps, **kwargs)
    try:
        model = mujoco.MjModel.from_xml_string(xml)
    except ValueError as exc:
        raise RigDojoError(f"MuJoCo refused the model of {spec.rig_name!r}: {exc}") from exc
    return model, layout


def lowest_point(spec: PhysicsSpec, heads: np.ndarray, tails: np.ndarray) -> float:
    """The height of the lowest point of the bone capsules with these heads and tails (``(..., B, 3)``, world)."""
    r = spec.radius * spec.scale
    return min(float((heads[..., 2] - r).min()), float((tails[..., 2] - r).min()))


def bone_points(spec: PhysicsSpec, xpos: np.ndarray, xmat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heads and tails ``(..., B, 3)`` of the bones from the bone bodies' ``xpos (..., B, 3)`` and ``xmat (..., B, 9)``."""
    y_axis = xmat.reshape(xmat.shape[:-1] + (3, 3))[..., :, 1]
    return xpos, xpos + y_axis * (spec.lengths * spec.scale)[:, None]


def euler_from_hinges(spec: PhysicsSpec, layout: ModelLayout, q: np.ndarray) -> np.ndarray:
    """(..., J) hinge angles -> (..., B, 3) every bone's local Euler XYZ rotation (locked axes and the root: 0)."""
    q = np.asarray(q, dtype=np.float64)
    out = np.zeros(q.shape[:-1] + (spec.n_bones, 3))
    out[..., layout.joint_bone, layout.joint_axis] = q
    return out
