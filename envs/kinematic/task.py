"""``KinematicTask``: joints, limits, actions and rewards shared by the kinematic tasks (no bpy).

The policy moves the unlocked rotation axes of the control bones (Euler XYZ of
each bone's local rotation) and the unlocked location axes of the location controls
(in chain lengths from their current location). An action is a change of those joints:
continuous actions in [-1, 1] scale ``max_delta`` radians (or chain lengths) per step,
discrete actions pick -Δ / 0 / +Δ per joint. Angles always stay inside the joint limits
read from the rig (IK limits, Limit Rotation constraints) or ``default_limit``; locations
inside their Limit Location box or ``location_range`` (``envs.kinematic.location``).

Observations are in rig-normalised units: positions relative to the head of the
first control bone, divided by the chain length (DESIGN.md rule 5).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from ...rewards import RewardComposer, RewardState
from .. import kinematics as km
from .location import channel_units_per_chain, location_box
from .pinning import TaskPins, TaskStyle
from .task_spec import TaskSpec
from .twin import RigTwin
from ..base import BatchedTask


class KinematicTask(BatchedTask):
    """Base of Reach, Aim and Grasp; subclasses sample targets and fill the reward state."""

    def __init__(self, spec: TaskSpec, n_envs: int = 64, seed: int | None = None, discrete: bool = False):
        spec.validate()
        self.spec = spec
        self.twin = self._make_twin(spec.rig)
        rig = spec.rig
        self.discrete = discrete
        free = ~rig.control_lock
        self.dof_control, self.dof_axis = np.nonzero(free)
        low = np.where(rig.has_limit, rig.limit_low, -spec.default_limit)[free]
        high = np.where(rig.has_limit, rig.limit_high, spec.default_limit)[free]
        rest = np.clip(rig.control_rest_euler[free], low, high)
        self.n_rotations = len(low)
        # location joints, in chain lengths from the current location
        self.loc_control, self.loc_axis = np.nonzero(~rig.location_lock)
        self._loc_units = channel_units_per_chain(rig)
        lo, hi = location_box(rig, spec.location_range, self._loc_units)
        units = self._loc_units[self.loc_control] if len(self.loc_control) else np.zeros(0)
        base = rig.control_rest_location[self.loc_control, self.loc_axis]
        loc_low = (lo[self.loc_control, self.loc_axis] - base) / np.where(units > 0, units, 1.0)
        loc_high = (hi[self.loc_control, self.loc_axis] - base) / np.where(units > 0, units, 1.0)
        self.q_low = np.concatenate([low, loc_low]).astype(np.float64)
        self.q_high = np.concatenate([high, loc_high]).astype(np.float64)
        self.q_rest = np.concatenate([rest, np.clip(0.0, loc_low, loc_high)])
        # without limits the range is only the twin's default: leaving it is no violation worth reporting
        self.has_joint_limits = bool(np.asarray(rig.has_limit)[free].any())
        self.n_joints = len(self.q_low)
        self._effector = rig.tracked.index(spec.effector)
        # rig-normalised frame: origin at the first control's head at rest (an IK limb's root when only
        # locations move), unit = chain length in world units
        nodes = self.twin.forward(km.euler_xyz_to_matrix(self._angles(self.q_rest[None])), all_nodes=True,
                                  control_loc=self._locations(self.q_rest[None]))[0]
        if len(rig.controls):
            origin_node = rig.control_index[0]
        elif rig.ik_chains:
            origin_node = rig.ik_chains[0]["nodes"][0]
        else:
            origin_node = rig.location_index[0]
        self.origin = nodes[origin_node, :3, 3].copy()
        world_scale = float(np.cbrt(abs(np.linalg.det(rig.object_matrix[:3, :3])))) or 1.0
        self.unit = rig.chain_length * world_scale
        self.composer = RewardComposer(spec.terms)
        self._needed = self.composer.required_fields()
        obs_dim = self.n_joints + (self._extra_obs_dim() if spec.observation == "full" else 3)
        if spec.pins is not None:
            obs_dim += TaskPins.obs_dim(self.n_joints)  # time-aware: the phase and the next pins
        style = TaskStyle.for_spec(spec, self) if spec.style is not None else None
        if style is not None:
            obs_dim += style.obs_dim()  # the phase and how the joints are moving
        observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)
        action_space = (gym.spaces.MultiDiscrete([3] * self.n_joints) if discrete
                        else gym.spaces.Box(-1.0, 1.0, shape=(self.n_joints,), dtype=np.float32))
        super().__init__(n_envs, observation_space, action_space, spec.episode_steps, seed)
        self.control_names = list(rig.controls)
        n = n_envs
        self.q = np.tile(self.q_rest, (n, 1))
        self.q_hist = [self.q.copy() for _ in range(3)]  # q_prev, q_prev2, q_prev3
        self.action = np.zeros((n, self.n_joints))
        self.t = np.zeros(n, dtype=np.int64)
        self.tolerance = spec.curriculum[0].tolerance if spec.curriculum else spec.tolerance
        self._last_terms: dict[str, np.ndarray] = {}
        self._tracked_world = np.zeros((n, len(rig.tracked), 4, 4))
        # an animated rig (RigSpec.anim_frames): step t of an episode is animation frame frame0 + t. Episodes start
        # at a random frame of the animation (drawn once per reset, so a batch that resets together shares its
        # frame), or at its first frame with ``fixed_start`` (an animated target's frames line up with the
        # animation; a bake's rollout starts where the bake does)
        self.anim_frames = int(getattr(rig, "anim_frames", 0))
        self.fixed_start = spec.target.kind == "trajectory"
        self.frame0 = np.zeros(n, dtype=np.int64)
        self._forward()
        self.pins = TaskPins(self, spec.pins) if spec.pins is not None else None
        self.style = style
        if style is not None:
            style.allocate(n)
        if self.pins is not None:
            self.pins.reset(np.arange(n))

    def _make_twin(self, rig):
        """What evaluates the rig: ``forward(control_rot, all_nodes=False, control_loc=None)`` like
        :class:`RigTwin` (Blender in the loop, ``envs/kinematic/blender_loop.py``, puts real Blender processes
        here)."""
        return RigTwin(rig)

    # ---- geometry ---------------------------------------------------------------------
    def _angles(self, q: np.ndarray) -> np.ndarray:
        """(n, J) joints -> (n, C, 3) Euler XYZ angles of every control (locked axes held)."""
        angles = np.broadcast_to(self.spec.rig.control_rest_euler, (q.shape[0],) + self.spec.rig.control_rest_euler.shape).copy()
        angles[:, self.dof_control, self.dof_axis] = q[:, :self.n_rotations]
        return angles

    def _locations(self, q: np.ndarray) -> np.ndarray:
        """(n, J) joints -> (n, L, 3) location channels of every location control (locked axes held)."""
        rest = self.spec.rig.control_rest_location
        loc = np.broadcast_to(rest, (q.shape[0],) + rest.shape).copy()
        if len(self.loc_control):
            loc[:, self.loc_control, self.loc_axis] += q[:, self.n_rotations:] * self._loc_units[self.loc_control]
        return loc

    def control_angles(self) -> np.ndarray:
        return self._angles(self.q)

    def control_locations(self) -> np.ndarray:
        """(n, L, 3) the location controls' channels now."""
        return self._locations(self.q)

    def preview_frame(self) -> np.ndarray:
        """(n, C + L, 3): the controls' angles, then the location controls' channels (the family's edge
        ``Preview`` puts both on the rig)."""
        if not len(self.spec.rig.location_controls):
            return self.control_angles()
        return np.concatenate([self.control_angles(), self.control_locations()], axis=1)

    def anim_frame(self) -> np.ndarray:
        """(n,) the animation frame each environment is at (0 for a rig without animation)."""
        if not self.anim_frames:
            return np.zeros(self.num_envs, dtype=np.int64)
        return np.minimum(self.frame0 + self.t, self.anim_frames - 1)

    def _forward(self, idx: np.ndarray | None = None) -> None:
        """Forward kinematics of every environment, or only of ``idx`` (the ones just reset: each environment's
        pose is a function of its own joints and frame, the IK solve's included)."""
        frame = self.anim_frame()
        if idx is None:
            kwargs = {"frame": frame} if self.anim_frames else {}  # a twin of a still rig takes no frames
            self._tracked_world = self.twin.forward(km.euler_xyz_to_matrix(self._angles(self.q)),
                                                    control_loc=self._locations(self.q), **kwargs)
        elif len(idx):
            q = self.q[idx]
            kwargs = {"frame": frame[idx]} if self.anim_frames else {}
            self._tracked_world[idx] = self.twin.forward(km.euler_xyz_to_matrix(self._angles(q)),
                                                         control_loc=self._locations(q), **kwargs)

    def normalise(self, world_points: np.ndarray) -> np.ndarray:
        return (world_points - self.origin) / self.unit

    def bone_point(self, name: str, point: str = "tail") -> np.ndarray:
        """(n, 3) world position of a tracked bone's head or tail."""
        t = self.spec.rig.tracked.index(name)
        m = self._tracked_world[:, t]
        pos = m[:, :3, 3]
        if point == "tail":
            length = self.spec.rig.lengths[self.spec.rig.node_names.index(name)]
            pos = pos + m[:, :3, 1] * length
        return pos

    def effector_pos(self) -> np.ndarray:
        return self.normalise(self.bone_point(self.spec.effector, self.spec.effector_point))

    def effector_axes(self) -> np.ndarray:
        m = self._tracked_world[:, self._effector, :3, :3]
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    # ---- hooks for subclasses -----------------------------------------------------------
    def _extra_obs_dim(self) -> int:
        raise NotImplementedError

    def _sample_targets(self, idx: np.ndarray) -> None:
        raise NotImplementedError

    def _task_state(self, state: RewardState) -> tuple[np.ndarray, np.ndarray]:
        """Fill task fields of ``state``; return (success (n,), error (n,))."""
        raise NotImplementedError

    def _task_obs(self) -> np.ndarray:
        raise NotImplementedError

    def _compact_obs(self) -> np.ndarray:
        """(n, 3): the one vector a compact observation adds to the joints (what is left to do)."""
        raise NotImplementedError

    # ---- BatchedTask --------------------------------------------------------------------
    def _reset_envs(self, idx: np.ndarray) -> None:
        self.q[idx] = self.q_rest
        for h in self.q_hist:
            h[idx] = self.q_rest
        self.action[idx] = 0
        self.t[idx] = 0
        if self.anim_frames:
            last = max(self.anim_frames - self.episode_steps, 0)
            self.frame0[idx] = 0 if self.fixed_start or not last else int(self.rng.integers(0, last + 1))
        self._sample_targets(idx)
        self._forward(idx)  # the others' poses did not change
        if getattr(self, "pins", None) is not None:
            self.pins.reset(idx)
        if getattr(self, "style", None) is not None:
            self.style.reset(idx)

    def _step(self, action: np.ndarray):
        action = np.asarray(action)
        if self.discrete:
            step = (action.astype(np.float64) - 1.0) * self.spec.discrete_delta
            self.action = action.astype(np.float64) - 1.0
        else:
            a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
            step = a * self.spec.max_delta
            self.action = a
        if self.pins is not None and self.spec.pin_guide:  # actions turn the joints on top of the way to the next pin
            way, share = self.pins.guide(self.q, self.t, self.spec.max_delta)
            step = way + share * step
        wanted = self.q + step
        self.q_hist = [self.q.copy(), self.q_hist[0], self.q_hist[1]]
        self.q = np.clip(wanted, self.q_low, self.q_high)
        violation = np.abs(wanted - self.q).sum(axis=1)
        self.t += 1
        self._forward()
        state = RewardState(n_envs=self.num_envs, dt=1.0 / self.spec.fps, discount=self.spec.discount)
        if self._needed & {"q", "q_prev", "q_prev2", "q_prev3", "q_low", "q_high", "q_rest"}:
            state.q, state.q_prev, state.q_prev2, state.q_prev3 = self.q, *self.q_hist
            state.q_low, state.q_high, state.q_rest = self.q_low, self.q_high, self.q_rest
        state.action = self.action
        state.step = self.t
        if "tracked_pos" in self._needed:
            state.tracked_pos = self.normalise(self._tracked_world[:, :, :3, 3])
        if self.spec.sphere_obstacles.size:
            spheres = self.spec.sphere_obstacles.copy()
            spheres[:, :3] = self.normalise(spheres[:, :3])
            spheres[:, 3] /= self.unit
            state.sphere_obstacles = spheres
        success, error = self._task_state(state)
        if self.pins is not None:
            self.pins.update_points()
            self.pins.fill(state, self.q, self.q_hist[0], self.t)
            pin_success, pin_error = self.pins.after_step()
            if self.pins.decides_success:  # hard pins say what success is; soft ones only add reward
                success, error = pin_success, pin_error
        if self.style is not None:
            self.style.fill(state, self.q, self.q_hist[0], self.q_hist[1], self.t)
        reward, self._last_terms = self.composer(state)
        return reward, np.zeros(self.num_envs, dtype=bool), {
            "success": success, "error": error, "limit_violation": violation}

    def _observe(self) -> np.ndarray:
        mid, half = (self.q_high + self.q_low) / 2, (self.q_high - self.q_low) / 2
        joints = (self.q - mid) / half
        extra = self._task_obs() if self.spec.observation == "full" else self._compact_obs()
        parts = [joints, extra]
        if self.pins is not None:
            parts.append(self.pins.observe(self.q, self.t))
        if self.style is not None:
            parts.append(self.style.observe(self.t))
        return np.concatenate(parts, axis=1).astype(np.float32)

    def signature(self) -> dict:
        sig = super().signature()
        sig.update({"task": self.spec.kind, "rig": self.spec.rig.rig_name, "joints": self.n_joints})
        return sig

    def policy_layout(self) -> dict:
        """Observation slices, joints with their limits and channels, and how an action moves them (JSON)."""
        rig, spec = self.spec.rig, self.spec
        axes = "XYZ"
        joints = []
        for j in range(self.n_joints):
            rotation = j < self.n_rotations
            c = int(self.dof_control[j] if rotation else self.loc_control[j - self.n_rotations])
            axis = int(self.dof_axis[j] if rotation else self.loc_axis[j - self.n_rotations])
            control = rig.controls[c] if rotation else rig.location_controls[c]
            joints.append({
                "name": f"{control}.{'rot' if rotation else 'loc'}_{axes[axis].lower()}", "control": control,
                "channel": f"{'rotation_euler' if rotation else 'location'}[{axis}]",
                "units": "radians (Euler XYZ of the local rotation)" if rotation else
                         f"chain lengths from the location at rest ({float(self._loc_units[c]):.6g} channel units each)",
                "low": float(self.q_low[j]), "high": float(self.q_high[j]), "rest": float(self.q_rest[j])})
        obs = [{"name": "joints", "start": 0, "size": self.n_joints,
                "meaning": "each joint's value mapped from [low, high] to [-1, 1]: (q - (high + low) / 2) / "
                           "((high - low) / 2)"}]
        start = self.n_joints
        for name, size, meaning in self._obs_layout():
            obs.append({"name": name, "start": start, "size": size, "meaning": meaning})
            start += size
        if self.pins is not None:  # the time-aware part (envs/kinematic/pinning.py)
            size = int(self.pins.observe(self.q, self.t).shape[1])
            obs.append({"name": "pins", "start": start, "size": size,
                        "meaning": "the phase, then for each of the next pins: whether there is one, whether it is a pose, "
                                   "steps left / episode, joint error, needed joint rate, point error, needed point "
                                   "rate (TaskPins.observe)"})
            start += size
        if self.style is not None:
            size = int(self.style.observe(self.t).shape[1])
            obs.append({"name": "style", "start": start, "size": size,
                        "meaning": "the episode's phase and the last window of joint velocities and accelerations, "
                                   "tanh(x / 3)"})
        step = spec.discrete_delta if self.discrete else spec.max_delta
        return {
            "observation": obs, "joints": joints,
            "frame": {"origin": [float(v) for v in self.origin], "unit": float(self.unit),
                      "meaning": "positions are world positions minus origin (the first control's head at rest), "
                                 "divided by unit (the chain length in world units)"},
            "action_scaling": {
                "per_step": float(step), "fps": float(spec.fps),
                "meaning": ("category k of a joint adds (k - 1) * per_step to it" if self.discrete else
                            "an action a in [-1, 1] adds a * per_step to its joint") +
                           " each step (one frame), then the joint is clamped to [low, high]; episodes start "
                           "at rest"},
            "effector": spec.effector, "effector_point": spec.effector_point, "tolerance": float(spec.tolerance),
            "episode_steps": int(spec.episode_steps)}

    def _obs_layout(self) -> list[tuple[str, int, str]]:
        """(name, size, meaning) of what follows the joints in the observation."""
        if self.spec.observation != "full":
            return [("to_goal", 3, "what is left to do (the task's compact 3-vector), rig-normalised")]
        return [("task", self._extra_obs_dim(), "the task's state, rig-normalised")]

    # ---- curriculum ----------------------------------------------------------------------
    @property
    def stage(self):
        stages = self.spec.curriculum
        return stages[min(self.curriculum_stage, len(stages) - 1)] if stages else None

    def advance_curriculum(self, success_rate: float) -> bool:
        stages = self.spec.curriculum
        if stages and self.curriculum_stage < len(stages) - 1 and success_rate >= self.spec.curriculum_threshold:
            self.curriculum_stage += 1
            self.tolerance = self.stage.tolerance
            return True
        return False

    def set_curriculum_stage(self, stage: int) -> None:
        if self.spec.curriculum:
            self.curriculum_stage = int(np.clip(stage, 0, len(self.spec.curriculum) - 1))
            self.tolerance = self.stage.tolerance
