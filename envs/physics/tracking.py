"""Tracking a reference clip in physics, in the style of DeepMimic (Peng et al. 2018). No bpy.

The animator's clip (an Action on the rig or a BVH file, sampled by ``scene.physics.reference`` into the
spec's ``reference_*`` arrays) becomes, per frame, a MuJoCo state of the creature: the root bone's world
frame and every hinge's angle (locked axes and angles past a limit are dropped: the twin cannot take them).

* **Actions are corrections to the clip.** Each hinge's servo target is the reference's angle at the next
  frame plus the action times ``action_scale`` of the way to the limit (default 0.35). Zero actions play the
  raw keys in physics — exactly the baseline the report compares with — so the policy learns only what
  keeps the clip upright (balance, weight shifts, foot placement).
* **Reference-state initialisation.** An episode starts at a random frame of the clip, in the clip's pose
  and velocity; the bake and the report start at its first frame (:attr:`TrackTask.random_start`).
* **Looping clips** (``physics.reference_loop``) play again from the first frame, the root carried on by
  what one cycle moved it (a walk cycle walks on); the clip's last frame is taken to be its first again.
* **Shoves** while training (``physics.shove``, sizes per second, about every two seconds): DeepMimic's
  perturbations, so the policy learns to recover and the motion survives a push.
* **Early termination** on a fall (the physics tasks' tilt and height rule).
* **Observations**: the physics tasks' own, then the clip's phase (sine, cosine), the reference's next
  hinge angles (scaled to [-1, 1] over the limits) and the reference root's offset in the root's frame.
* **Rewards**: DeepMimic's ``track_pose`` 0.65, ``track_velocity`` 0.1, ``track_end`` 0.15 (the tails of the
  bones with no child — feet, hands, head, tail — measured from the root, so a creature that fell behind
  still learns its pose) and the root split in two: ``track_root`` 0.05 (position, which fades once it is
  behind) and ``track_root_velocity`` 0.1 (which does not: it keeps asking for the clip's travel).
* **Success**: not fallen and the episode's mean joint angle error within ``physics.track_tolerance``
  degrees; the error is that mean.
"""

from __future__ import annotations

import mujoco
import numpy as np

from ...errors import RigDojoError
from ..kinematics import matrix_to_quaternion
from .mjcf import PhysicsSpec, bone_points, lowest_point
from .task import PhysicsTask


def reference_hinges(spec: PhysicsSpec, joint_bone: np.ndarray, joint_axis: np.ndarray, low: np.ndarray,
                     high: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """``(F, J)`` the clip's hinge angles (clipped into the limits) and notes on what the twin cannot take."""
    euler = np.asarray(spec.reference_euler, dtype=np.float64)
    q = euler[:, joint_bone, joint_axis]
    notes = []
    clipped = (q < low - 1e-6) | (q > high + 1e-6)
    if clipped.any():
        worst = np.degrees(np.maximum(low - q, q - high).max(axis=0))
        j = int(np.argmax(worst))
        notes.append(f"the reference turns {int(clipped.any(axis=0).sum())} joint axes past their limits (most: "
                     f"{spec.bone_names[joint_bone[j]]} {'xyz'[joint_axis[j]]} by {worst[j]:.1f}°); the twin holds "
                     "them at the limit")
    lock = np.asarray(spec.lock, dtype=bool)
    locked_turn = np.abs(euler[:, 1:]) * lock[None, 1:]
    if locked_turn.size and locked_turn.max() > np.radians(1.0):
        b, a = np.unravel_index(int(np.argmax(locked_turn.max(axis=0))), lock[1:].shape)
        notes.append(f"the reference turns locked axes (most: {spec.bone_names[b + 1]} {'xyz'[a]} by "
                     f"{np.degrees(locked_turn.max()):.1f}°); the twin keeps them locked")
    return np.clip(q, low, high), notes


class TrackTask(PhysicsTask):
    """Follow the spec's reference clip in physics (see the module docstring)."""

    kind = "track"
    # 0.35 with the track row's [128, 128] network (agents/config.py): at 0.2 with [64, 64] the tracked walk fell to
    # 54 of 96 shoves at 0.25 and 0.5 sizes/s, with these to 4 (README, "Tracking a clip in physics", the push tables)
    default_action_scale = 0.35
    # flat soles (two capsules, a band between): on round ones the test biped's walk was not tracked in 20 min,
    # every episode down within ~3 s; on these it is (README, "Tracking a clip in physics")
    default_sole_width = 4.0

    def _prepare_spec(self, spec: PhysicsSpec) -> PhysicsSpec:
        n = len(spec.reference_frames)
        if not spec.reference_name or n == 0:
            raise RigDojoError("the track task needs a reference clip: --reference ACTION (an Action on the rig) or "
                               "--reference FILE.bvh")
        if n < 2:
            raise RigDojoError(f"the reference {spec.reference_name!r} is shorter than one control step (1 frame): "
                               "it has only one frame; key it over several frames")
        if np.asarray(spec.reference_euler).shape != (n, spec.n_bones, 3) or \
                np.asarray(spec.reference_root).shape != (n, 4, 4):
            raise RigDojoError(f"the reference {spec.reference_name!r} does not fit the creature's "
                               f"{spec.n_bones} bones; read it again")
        if not (np.isfinite(spec.reference_euler).all() and np.isfinite(spec.reference_root).all()):
            raise RigDojoError(f"the reference {spec.reference_name!r} has values that are not numbers (NaN or "
                               "infinite keys); fix its keys")
        return spec

    def __init__(self, spec: PhysicsSpec, config=None, n_envs: int = 16, seed: int | None = None, **kwargs):
        super().__init__(spec, config, n_envs, seed, **kwargs)
        self.random_start = True
        self.shoves = True  # off for the bake and the report
        self.loop = bool(self.config.reference_loop)
        self.tolerance = np.radians(self.config.track_tolerance)
        self._build_reference()
        n = n_envs
        self.phase0 = np.zeros(n, dtype=np.int64)
        self.err_sum = np.zeros(n)
        self.err_count = np.zeros(n)

    # ---- the reference as MuJoCo states --------------------------------------------------
    def _build_reference(self) -> None:
        spec, twin, lay = self.spec, self.twin, self.twin.layout
        q, self.reference_notes = reference_hinges(spec, lay.joint_bone, lay.joint_axis, self.q_low, self.q_high)
        f = len(q)
        roots = np.asarray(spec.reference_root, dtype=np.float64)
        qpos = np.tile(self.rest_qpos, (f, 1))
        qpos[:, :3] = roots[:, :3, 3]  # put on the ground below, once the clip's lowest point is known
        qpos[:, 3:7] = matrix_to_quaternion(roots[:, :3, :3])
        for i in range(1, f):  # one hemisphere, so differences and blends stay short
            if qpos[i, 3:7] @ qpos[i - 1, 3:7] < 0:
                qpos[i, 3:7] *= -1
        qpos[:, twin.q_adr] = q
        self.period = f - 1  # steps per cycle; a looping clip's last frame is its first again
        self.ref_qpos = qpos
        self.cycle_shift = np.zeros(3)
        if self.loop:
            self.cycle_shift[:2] = qpos[-1, :2] - qpos[0, :2]
        # velocities: finite differences to the next frame; the last frame takes the first's (looping: it is
        # the first frame again) or the one before's (holding)
        m = twin.model
        qvel = np.zeros((f, m.nv))
        dt = 1.0 / self.fps
        for i in range(f - 1):
            a, b = qpos[i], qpos[i + 1]
            qvel[i, :3] = (b[:3] - a[:3]) / dt
            mujoco.mju_subQuat(qvel[i, 3:6], b[3:7], a[3:7])
            qvel[i, 3:6] /= dt
            qvel[i, twin.dof_adr] = (b[twin.q_adr] - a[twin.q_adr]) / dt
        qvel[f - 1] = qvel[0] if self.loop else qvel[max(f - 2, 0)]
        self.ref_qvel = qvel
        # end effectors (tails of bones with no child) and the root, as the twin's kinematics place them
        self.end_bones = end_bones(spec)
        data = mujoco.MjData(m)
        xpos, xmat = np.zeros((f, spec.n_bones, 3)), np.zeros((f, spec.n_bones, 9))
        for i in range(f):
            data.qpos[:] = qpos[i]
            mujoco.mj_kinematics(m, data)
            xpos[i], xmat[i] = data.xpos[twin.body_ids], data.xmat[twin.body_ids]
        heads, tails = bone_points(spec, xpos, xmat)
        # on the ground: the clip's lowest capsule point over all its frames touches it (keys often float
        # or sink by a foot's thickness; a BVH's root height is only scaled); said when it moved
        lowest = lowest_point(spec, heads, tails)
        shift = self.ground + 0.002 * self.unit - lowest
        if abs(shift) > 0.01 * self.unit:
            self.reference_notes.append(f"the reference was {abs(shift) / self.unit:.2f} creature sizes "
                                        f"{'above' if shift < 0 else 'below'} the ground at its lowest; it is "
                                        "tracked standing on it")
        qpos[:, 2] += shift
        heads, tails = heads + [0.0, 0.0, shift], tails + [0.0, 0.0, shift]
        self.ref_ends = tails[:, self.end_bones]
        self.ref_bones = np.concatenate([heads, tails], axis=1)  # (F, 2B, 3) every bone's head, then tail
        self.ref_q = q

    def reference_index(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For steps ``t`` since the clip's first frame: the frame index in the clip and the cycle number."""
        t = np.asarray(t, dtype=np.int64)
        if self.loop:
            cycle, idx = np.divmod(t, self.period)
            return idx, cycle
        return np.minimum(t, self.period), np.zeros_like(t)

    def reference_at(self, t: np.ndarray) -> dict[str, np.ndarray]:
        idx, cycle = self.reference_index(t)
        shift = cycle[:, None] * self.cycle_shift
        return {"q": self.ref_q[idx], "qdot": self.ref_qvel[idx][:, self.twin.dof_adr],
                "root": self.ref_qpos[idx, :3] + shift, "ends": self.ref_ends[idx] + shift[:, None],
                "qpos": self.ref_qpos[idx], "qvel": self.ref_qvel[idx], "idx": idx, "cycle": cycle}

    # ---- BatchedTask hooks -----------------------------------------------------------------
    def _reset_envs(self, idx: np.ndarray) -> None:
        idx = np.asarray(idx)
        k = len(idx)
        start = self.rng.integers(0, self.period, k) if self.random_start else np.zeros(k, dtype=np.int64)
        qpos = self.ref_qpos[start].copy()
        noise = self.rng.uniform(-1.0, 1.0, (k, self.n_joints)) * self.config.reset_noise
        qpos[:, self.twin.q_adr] = np.clip(qpos[:, self.twin.q_adr] + noise, self.q_low, self.q_high)
        qvel = self.ref_qvel[start].copy()
        if self.config.push > 0:
            qvel[:, 3:6] += self.rng.normal(0.0, self.config.push, (k, 3))
        self._start_episodes(idx, qpos, qvel)
        self.phase0[idx] = start
        self.err_sum[idx] = 0.0
        self.err_count[idx] = 0.0

    def targets(self, action: np.ndarray) -> np.ndarray:
        """Servo targets: the reference's next hinge angles plus the action's correction (clipped to limits)."""
        ref = self.ref_q[self.reference_index(self.phase0 + self.t + 1)[0]]
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0) * self.action_scale
        return np.clip(ref + a * (self.q_high - self.q_low) / 2, self.q_low, self.q_high)

    def _physics_state(self):
        state = super()._physics_state()
        twin, unit = self.twin, self.unit
        ref = self.reference_at(self.phase0 + self.t)
        state.qdot = twin.qdot
        state.ref_q, state.ref_qdot = ref["q"], ref["qdot"]
        heads, tails = twin.bone_points()
        state.track_points = (tails[:, self.end_bones] - twin.qpos[:, None, :3]) / unit
        state.ref_points = (ref["ends"] - ref["root"][:, None]) / unit
        state.root = twin.qpos[:, :3] / unit
        state.ref_root = ref["root"] / unit
        state.root_vel = twin.qvel[:, :3] / unit
        state.ref_root_vel = ref["qvel"][:, :3] / unit
        return state

    def _success(self, state, fallen):
        err = np.abs(state.q - state.ref_q).mean(axis=1) if self.n_joints else np.zeros(self.num_envs)
        self.err_sum += err
        self.err_count += 1
        mean = self.err_sum / np.maximum(self.err_count, 1)
        return (mean <= self.tolerance) & ~fallen, np.degrees(mean)

    def _extra_obs_dim(self) -> int:
        return 2 + self.n_joints + 3

    def _extra_obs(self) -> np.ndarray:
        n, twin = self.num_envs, self.twin
        t = self.phase0 + self.t
        idx, _ = self.reference_index(t)
        angle = 2 * np.pi * idx / max(self.period, 1)
        ref_next = self.ref_q[self.reference_index(t + 1)[0]]
        half = np.maximum((self.q_high - self.q_low) / 2, 1e-6)
        ref_scaled = (ref_next - (self.q_high + self.q_low) / 2) / half
        rot = twin.xmat[:, 0].reshape(n, 3, 3)
        offset = np.einsum("nji,nj->ni", rot, self.reference_at(t)["root"] - twin.qpos[:, :3]) / self.unit
        return np.concatenate([np.sin(angle)[:, None], np.cos(angle)[:, None], ref_scaled, offset], axis=1)

    # ---- the live preview: the policy's clip from the reference's first frame, the reference beside it -------
    def preview_rollout(self, act) -> np.ndarray:
        self.random_start = self.shoves = False
        try:
            return super().preview_rollout(act)
        finally:
            self.random_start = self.shoves = True

    def preview_frame(self) -> np.ndarray:
        """``(n, (B - 1) + 2B, 3)``: the joints' Euler angles (what the rig shows), then the reference's bone
        heads and tails at this step, from the rest pose's root and one creature size to its side (+X): the
        edge draws them as a ghost that plays along."""
        idx, _ = self.reference_index(self.phase0 + self.t)
        rest_root = self.spec.world_rest()[0, :3, 3]
        beside = self.ref_bones[idx] - self.ref_qpos[idx, None, :3] + rest_root + [self.unit, 0.0, 0.0]
        return np.concatenate([self.control_angles(), beside], axis=1)

    def signature(self) -> dict:
        sig = super().signature()
        sig.update({"reference": self.spec.reference_name, "reference_frames": int(self.period + 1)})
        return sig


def push(task: PhysicsTask, velocity) -> None:
    """Add ``velocity`` (world, sizes per second) to every environment's root: an impulse, as a shove."""
    v = np.asarray(velocity, dtype=np.float64) * task.unit
    for d in task.twin.datas:
        d.qvel[:3] += v
        mujoco.mj_forward(task.twin.model, d)
    task.twin._gather(range(task.num_envs))


def end_bones(spec: PhysicsSpec) -> np.ndarray:
    """The bones with no child (feet, hands, head, tail): their indices in ``spec.bone_names``."""
    has_child = np.zeros(spec.n_bones, dtype=bool)
    has_child[np.asarray(spec.parent)[1:]] = True
    return np.flatnonzero(~has_child)


def foot_bodies(task: PhysicsTask) -> np.ndarray:
    """The MuJoCo bodies whose slip on the ground is foot sliding: the bones with a sole and the end bones
    (feet, hands, head, tail; a Rigify foot's sole is on the foot bone, its toe the end bone)."""
    m, twin = task.twin.model, task.twin
    soled = {int(m.geom_bodyid[g]) for g in range(m.ngeom) if (m.geom(g).name or "").startswith("sole")}
    return np.array(sorted(soled | {int(b) for b in twin.body_ids[end_bones(task.spec)]}), dtype=np.int64)


def ground_slip(task: PhysicsTask, bodies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MuJoCo's contacts between ``bodies`` and the ground, per environment: the summed horizontal speed
    (world units/s) of the bodies' material at their contact points (a foot rolling heel to toe does not slip
    there; one skating does), each body's contacts averaged, and how many bodies touch the ground."""
    twin = task.twin
    m = twin.model
    ground = m.geom("ground").id
    is_foot = np.zeros(m.nbody, dtype=bool)
    is_foot[bodies] = True
    speed, touching = np.zeros(task.num_envs), np.zeros(task.num_envs, dtype=np.int64)
    velocity = np.zeros(6)
    for i, d in enumerate(twin.datas):
        if not d.ncon:
            continue
        pairs = d.contact.geom[:d.ncon]
        other = np.where(pairs[:, 0] == ground, pairs[:, 1], pairs[:, 0])
        hit = np.flatnonzero(((pairs == ground).any(axis=1)) & is_foot[m.geom_bodyid[other]])
        per_body: dict[int, list[float]] = {}
        for c in hit:
            g = int(other[c])
            mujoco.mj_objectVelocity(m, d, mujoco.mjtObj.mjOBJ_GEOM, g, velocity, 0)  # (angular, linear)
            v = velocity[3:] + np.cross(velocity[:3], d.contact.pos[c] - d.geom_xpos[g])
            per_body.setdefault(int(m.geom_bodyid[g]), []).append(float(np.hypot(v[0], v[1])))
        speed[i] = sum(np.mean(v) for v in per_body.values())
        touching[i] = len(per_body)
    return speed, touching


def sliding_text(report: dict, short: bool = False) -> str:
    """:func:`track_report`'s foot sliding in words: cm per contact step, or that no foot was measured on the ground
    (``foot_sliding_cm`` is None then: no foot touched the ground)."""
    cm = report.get("foot_sliding_cm")
    if cm is None:
        return "—" if short else "not measured (no foot touched the ground)"
    return f"{cm:.2f} cm" if short else f"{cm:.2f} cm per contact step"


def track_report(task: TrackTask, act=None, steps: int | None = None, unit_cm: float = 100.0,
                 push_at: int | None = None, push_velocity=(0.0, 0.0, 0.0)) -> dict:
    """Roll every environment of ``task`` out from the clip's first frame and measure how it tracks.

    ``act(obs) -> actions`` (None: zero actions, the raw keys played in physics). Over the steps before a
    fall: the mean joint angle error (degrees), the mean end-effector error measured from the root (cm,
    taking a scene unit as a metre, and sizes), the root's distance from the reference root (cm), foot
    sliding (cm per contact step: a foot touching the ground, per MuJoCo's contacts, times the horizontal
    speed of its material at the contact over one control step, :func:`ground_slip`; None where no foot
    touched the ground), the distance travelled against the
    reference's (sizes); the number of environments that fell and the
    seconds they stayed up. ``push_at``: the step at which every root is shoved by
    ``push_velocity`` (world, sizes per second; :func:`push`).
    """
    task.random_start = task.shoves = False
    steps = task.episode_steps if steps is None else int(steps)
    obs = task.reset()
    n = task.num_envs
    alive = np.ones(n, dtype=bool)
    up_steps = np.zeros(n)
    joint_err, end_err, root_err, slide, contacts = [], [], [], 0.0, 0
    feet = foot_bodies(task)
    start_root = task.twin.qpos[:, :3].copy()
    travel = np.zeros(n)
    ref_travel = 0.0
    for step in range(steps):
        if push_at is not None and step == push_at:
            push(task, push_velocity)
            obs = task._observe()
        action = np.zeros((n, task.n_joints)) if act is None else np.asarray(act(obs))
        _, fallen, _ = task._step(action)
        state = task._state
        tails = task.twin.bone_points()[1][:, task.end_bones]
        live = alive & ~fallen
        if live.any():
            ref = task.reference_at(task.phase0 + task.t)
            root = task.twin.qpos[:, :3]
            joint_err.append(np.degrees(np.abs(state.q - state.ref_q).mean(axis=1))[live])
            rel = (tails - root[:, None]) - (ref["ends"] - ref["root"][:, None])
            end_err.append(np.linalg.norm(rel, axis=2).mean(axis=1)[live])
            root_err.append(np.linalg.norm(root - ref["root"], axis=1)[live])
            speed, touching = ground_slip(task, feet)
            slide += float(speed[live].sum()) / task.fps
            contacts += int(touching[live].sum())
            travel[live] = np.linalg.norm((root - start_root)[live, :2], axis=1)
            ref_travel = float(np.linalg.norm(ref["root"][0, :2] - task.ref_qpos[0, :2]))
        up_steps += live
        alive &= ~fallen
        obs = task._observe()
        if not alive.any():
            break
    task.random_start = task.shoves = True

    def mean(parts):
        return float(np.concatenate(parts).mean()) if parts else float("nan")

    return {"joint_error_degrees": mean(joint_err), "end_error_cm": mean(end_err) * unit_cm,
            "end_error_sizes": mean(end_err) / task.unit, "root_error_cm": mean(root_err) * unit_cm,
            "foot_sliding_cm": slide / contacts * unit_cm if contacts else None, "foot_contacts": contacts,
            "travel_sizes": float(travel.mean() / task.unit),
            "reference_travel_sizes": ref_travel / task.unit, "falls": int((~alive).sum()), "episodes": int(n),
            "seconds_up": float(up_steps.mean() / task.fps), "seconds": float(steps / task.fps)}


__all__ = ["TrackTask", "end_bones", "foot_bodies", "ground_slip", "push", "reference_hinges", "track_report"]
