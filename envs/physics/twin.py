"""``PhysicsTwin``: ``n_envs`` copies of a creature's MuJoCo model stepped together (no bpy).

One ``mujoco.MjModel`` is shared; each environment has its own ``MjData``. A
control step sets every environment's servo targets, moves the platform (a mocap
body) to its sampled pose for that frame, and runs ``substeps`` physics steps with
``mj_step(model, data, nstep)``; the state the tasks read is then gathered into
``(n_envs, ...)`` arrays. The loop over environments is a thin Python loop around
MuJoCo's C stepping (``bench/bench_physics.py`` measures its overhead against raw
``mj_step``), split over ``agents.threads.physics_threads()`` threads: MuJoCo releases the
interpreter's lock while it steps, so on two free cores a control step takes about half the
time (Rigify's quadruped metarig, 512 environments: 1,070 env-steps/s on one thread, 2,230 on two). The
environments go in small ranges that the threads take in turn (this one included): on a busy machine a
thread the OS sets aside then holds up one small range, not half of the step.

Deterministic: MuJoCo is deterministic for the same model, state and controls,
and the only randomness (reset noise) comes from the task's seeded generator.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import mujoco
import numpy as np

from ...agents.threads import physics_threads
from ...errors import RigDojoError
from ..kinematics import matrix_to_quaternion
from .mjcf import ModelLayout, PhysicsSpec, bone_points, euler_from_hinges, load_model

CHUNKS_PER_THREAD = 4
_pools: dict[int, ThreadPoolExecutor] = {}

# MuJoCo's warnings (an unstable simulation, mostly), the newest last. Without a handler MuJoCo prints them and
# writes MUJOCO_LOG.TXT into the working directory: the user's project folder, or Blender's. The twin finds an
# unstable environment itself (``PhysicsTwin.diverged``) and restarts it, so a warning is only kept here.
mujoco_warnings: deque[str] = deque(maxlen=20)
if mujoco.get_mju_user_warning() is None:  # another add-on's handler stays
    mujoco.set_mju_user_warning(mujoco_warnings.append)
# the warnings MuJoCo raises when it finds a state blown up (it then resets that MjData to the model's qpos0)
_UNSTABLE = sorted(int(w) for w in (mujoco.mjtWarning.mjWARN_BADQPOS, mujoco.mjtWarning.mjWARN_BADQVEL,
                                    mujoco.mjtWarning.mjWARN_BADQACC))
assert _UNSTABLE == list(range(_UNSTABLE[0], _UNSTABLE[0] + 3)), "MuJoCo's warning numbers are no longer adjacent"
_UNSTABLE_SLICE = slice(_UNSTABLE[0], _UNSTABLE[-1] + 1)


def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per thread count, shared by every twin of the process (threads are made once)."""
    if threads not in _pools:
        _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="rig_dojo-physics")
    return _pools[threads]


class PhysicsTwin:
    """Batched MuJoCo simulation of a :class:`PhysicsSpec`.

    Args:
        spec: the creature.
        n_envs: number of environments.
        substeps: physics steps per control step (time step ``1 / (fps * substeps)``).
        **model_options: passed to :func:`envs.physics.mjcf.build_mjcf` (``damping_ratio``, ``self_collision``, ``soles``).

    Attributes (refreshed by :meth:`reset` and :meth:`step`):
        qpos ``(n, nq)``, qvel ``(n, nv)``: MuJoCo's state (free root first: position, quaternion).
        q ``(n, J)``, qdot ``(n, J)``: the hinge angles and velocities, in ``layout`` order.
        xpos ``(n, B, 3)``, xmat ``(n, B, 9)``: every bone body's world frame (origin = head).
        com ``(n, 3)``, com_vel ``(n, 3)``: the creature's centre of mass and its velocity.
        torque ``(n, J)``: the servos' forces (N m).
        frame ``(n,)``: control steps since each environment's reset (the platform's frame).
    """

    def __init__(self, spec: PhysicsSpec, n_envs: int = 1, substeps: int = 8, threads: int | None = None,
                 **model_options):
        if n_envs < 1:
            raise RigDojoError(f"n_envs must be at least 1, got {n_envs}")
        if threads is None:
            threads = physics_threads()
        # at least 16 environments a thread: fewer cost more in handing over than they save
        self.threads = max(1, min(int(threads), n_envs // 16))
        self.spec = spec
        self.model, self.layout = load_model(spec, substeps=substeps, **model_options)
        self.n_envs = int(n_envs)
        self.substeps = int(substeps)
        self.dt = 1.0 / spec.fps
        self.datas = [mujoco.MjData(self.model) for _ in range(self.n_envs)]
        self._warning_counts = [d.warning.number for d in self.datas]  # views into each MjData
        self._unstable = np.zeros(self.n_envs, dtype=bool)
        m = self.model
        self.body_ids = np.array([m.body(name).id for name in self.layout.body_names], dtype=np.int64)
        joint_ids = [m.joint(f"j{j}").id for j in range(len(self.layout.joint_bone))]
        self.q_adr = m.jnt_qposadr[joint_ids].astype(np.int64)
        self.dof_adr = m.jnt_dofadr[joint_ids].astype(np.int64)
        self.root_body = int(self.body_ids[0])
        self.mocap_id = int(m.body_mocapid[m.body("platform").id]) if self.layout.platform_body else -1
        if self.mocap_id >= 0:
            mats = spec.platform_matrices
            self._platform_pos = mats[:, :3, 3].copy()
            self._platform_quat = matrix_to_quaternion(mats[:, :3, :3])
        n, b = self.n_envs, spec.n_bones
        self.qpos = np.tile(m.qpos0, (n, 1))
        self.qvel = np.zeros((n, m.nv))
        self.xpos = np.zeros((n, b, 3))
        self.xmat = np.zeros((n, b, 9))
        self.com = np.zeros((n, 3))
        self.com_vel = np.zeros((n, 3))
        self.torque = np.zeros((n, m.nu))
        self.frame = np.zeros(n, dtype=np.int64)
        for i in range(n):
            mujoco.mj_forward(m, self.datas[i])
        self._gather(range(n))

    # ---- state ------------------------------------------------------------------------
    @property
    def q(self) -> np.ndarray:
        return self.qpos[:, self.q_adr]

    @property
    def qdot(self) -> np.ndarray:
        return self.qvel[:, self.dof_adr]

    def _gather(self, idx) -> None:
        m, ids, root = self.model, self.body_ids, self.root_body
        for i in idx:
            d = self.datas[i]
            # mj_step leaves positions from before its last integration: bring them up to qpos/qvel
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            mujoco.mj_comVel(m, d)
            mujoco.mj_subtreeVel(m, d)
            self.qpos[i] = d.qpos
            self.qvel[i] = d.qvel
            self.xpos[i] = d.xpos[ids]
            self.xmat[i] = d.xmat[ids]
            self.com[i] = d.subtree_com[root]
            self.com_vel[i] = d.subtree_linvel[root]
            self.torque[i] = d.actuator_force

    def bone_points(self) -> tuple[np.ndarray, np.ndarray]:
        """``(n, B, 3)`` heads and tails of every bone in the world."""
        return bone_points(self.spec, self.xpos, self.xmat)

    def root_world(self) -> np.ndarray:
        """``(n, 4, 4)`` the root bone's world frame (unit axes)."""
        out = np.zeros((self.n_envs, 4, 4))
        out[:, :3, :3] = self.xmat[:, 0].reshape(-1, 3, 3)
        out[:, :3, 3] = self.xpos[:, 0]
        out[:, 3, 3] = 1.0
        return out

    def bone_euler(self) -> np.ndarray:
        """``(n, B, 3)`` every bone's local Euler XYZ rotation (what the bake keys)."""
        return euler_from_hinges(self.spec, self.layout, self.q)

    # ---- control ----------------------------------------------------------------------
    def reset(self, idx: np.ndarray, qpos: np.ndarray, qvel: np.ndarray | None = None) -> None:
        """Put the environments ``idx`` in the state ``qpos (k, nq)``, ``qvel (k, nv)`` (zero if None)."""
        m = self.model
        for k, i in enumerate(np.asarray(idx)):
            d = self.datas[i]
            mujoco.mj_resetData(m, d)
            d.qpos[:] = qpos[k]
            if qvel is not None:
                d.qvel[:] = qvel[k]
            d.ctrl[:] = 0.0
            self.frame[i] = 0
            self._unstable[i] = False
            self._set_platform(d, 0)
            mujoco.mj_forward(m, d)
        self._gather(np.asarray(idx))

    def _set_platform(self, d, frame: int) -> None:
        if self.mocap_id >= 0:
            f = min(int(frame), len(self._platform_pos) - 1)
            d.mocap_pos[self.mocap_id] = self._platform_pos[f]
            d.mocap_quat[self.mocap_id] = self._platform_quat[f]

    def step(self, targets: np.ndarray) -> None:
        """Advance every environment one control step with servo targets ``(n, J)`` (radians)."""
        targets = np.asarray(targets, dtype=np.float64)
        self.frame += 1
        if self.threads == 1:
            self._step_range(targets, range(self.n_envs))
            return
        # several small ranges a thread, taken in turn by the pool's threads and this one: on a busy machine a
        # thread the OS sets aside holds up one small range, not a whole share of the environments
        bounds = np.linspace(0, self.n_envs, CHUNKS_PER_THREAD * self.threads + 1).astype(int)
        chunks = iter([range(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a])
        lock = threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                self._step_range(targets, chunk)

        helpers = [_pool(self.threads - 1).submit(work) for _ in range(self.threads - 1)]
        work()
        for helper in helpers:
            helper.result()  # re-raises what a helper raised

    def _step_range(self, targets: np.ndarray, idx: range) -> None:
        m, sub = self.model, self.substeps
        for i in idx:
            d = self.datas[i]
            d.ctrl[:] = targets[i]
            self._set_platform(d, self.frame[i])
            mujoco.mj_step(m, d, sub)
            counts = self._warning_counts[i][_UNSTABLE_SLICE]
            if counts.any():  # MuJoCo found the state blown up and put it back at qpos0, mid-episode
                counts[:] = 0
                self._unstable[i] = True
        self._gather(idx)

    def diverged(self) -> np.ndarray:
        """``(n,)`` bool: environments whose state blew up since their reset: MuJoCo warned of a bad
        position, velocity or acceleration (and reset that environment to the model's rest, which would
        otherwise read as a teleport), or the state is no longer finite. The tasks restart them as falls."""
        return self._unstable | ~np.isfinite(self.qpos).all(axis=1) | ~np.isfinite(self.qvel).all(axis=1)


__all__ = ["ModelLayout", "PhysicsTwin"]
