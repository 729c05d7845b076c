"""Rig-agnostic reach: chains as per-joint features, and random chains to learn them on (no bpy).

A policy that transfers between rigs cannot read "joint 3's angle": rigs differ in how many joints they have
and how those turn. :class:`ChainReachTask` shows the policy one *token* per joint (one unlocked rotation axis
of a control bone), always in the same units, and takes one action per token:

========================  ====  ========================================================================
feature                   size  meaning (positions in the chain root's rest frame, divided by the chain length)
========================  ====  ========================================================================
``value``                 1     the joint mapped from [low, high] to [-1, 1]
``limits``                2     low and high in radians / pi
``axis``                  3     the joint's rotation axis now (unit vector)
``joint``                 3     the joint's position (its bone's head)
``lever``                 3     axis x (effector - joint): how the effector moves per radian of this joint
``to_effector``           3     effector - joint
``to_target``             3     target - effector (the same for every token)
``gain``                  1     lever . (target - effector): the joint's share of closing the gap
``distance``              1     |target - effector|
``depth``                 1     the joint's bone index / (MAX_BONES - 1)
``remaining``             1     rest length from the joint's bone to the tip, in chain lengths
``has_limit``             1     1 when the rig limits this axis
``bone_length``           1     the joint's bone length in chain lengths
``axis_is_x``, ``_z``     2     which of its bone's local axes this joint turns about
``step``                  1     the joint's share of a damped-least-squares IK step to the target, in units of
                                the task's full action (joints at a limit and pushing out take no share)
========================  ====  ========================================================================

``step`` is the classic IK answer (``J^T (J J^T + lambda^2 I)^-1 e`` over the levers, re-solved without the joints
that a limit stops); a policy that copies it already reaches, so pretraining starts from a sound controller and
learning adds what IK does not know: the task's other terms (smooth, inside the limits, keep away, pins).

Tokens are padded to :data:`MAX_TOKENS` (``MAX_BONES`` bones x 3 axes) with a mask, so one flat
observation (``MAX_TOKENS * FEATURES`` features, then the mask) fits any chain of 2-8 bones, and the
network (``agents/chain_policy.py``) shares its weights across tokens. Actions: one per token in [-1, 1]
(``max_delta`` radians per step, as the task's own); padded tokens' actions are ignored.

:func:`random_chain_spec` builds reach tasks on random connected chains (bone count, lengths, rest bends,
rolls, locked axes, limits, orientation) as plain ``RigSpec`` data, the pretraining set of the rig-agnostic
policy; :class:`ChainMix` steps several of them as one batch.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np

from ...errors import RigDojoError
from ...rewards import TermConfig
from .. import kinematics as km
from ..base import TaskMix
from ..rotations import euler_to_matrix
from .aim import AimTask
from .reach import ReachTask
from .rig_spec import RigSpec
from .task_spec import TargetSpec, TaskSpec

MAX_BONES = 8
MAX_TOKENS = MAX_BONES * 3
FEATURES = 27
STEP_DAMPING = 0.05  # lambda of the damped-least-squares step, chain lengths
STEP_CLIP = 4.0  # the step feature, in full actions, is clipped to +-this
FEATURE_NAMES = ("value", "low", "high", "axis_x", "axis_y", "axis_z", "joint_x", "joint_y", "joint_z",
                 "lever_x", "lever_y", "lever_z", "to_effector_x", "to_effector_y", "to_effector_z",
                 "to_target_x", "to_target_y", "to_target_z", "gain", "distance", "depth", "remaining",
                 "has_limit", "bone_length", "axis_is_x", "axis_is_z", "step")
assert len(FEATURE_NAMES) == FEATURES
OBS_SIZE = MAX_TOKENS * FEATURES + MAX_TOKENS


TOKEN_LAYOUT = [
    {"name": "tokens", "start": 0, "size": MAX_TOKENS * FEATURES,
     "meaning": f"{MAX_TOKENS} joint tokens of {FEATURES} features ({', '.join(FEATURE_NAMES)}): the rig's joints "
                "in action order, then zeros"},
    {"name": "mask", "start": MAX_TOKENS * FEATURES, "size": MAX_TOKENS, "meaning": "1 for a joint, 0 for padding"}]


CHAIN_TASKS = ("reach", "aim")  # the tasks a chain of joint tokens drives (make_chain_task)


def chain_problems(spec: TaskSpec) -> list[str]:
    """Why the rig-agnostic reach cannot drive this task (empty: it can)."""
    rig = spec.rig
    problems = []
    if spec.kind not in CHAIN_TASKS:
        problems.append(f"it reaches or aims; this task is {spec.kind}")
    if rig.location_controls:
        problems.append(f"it turns joints; this rig moves locations ({', '.join(rig.location_controls)})")
    if rig.ik_chains:
        problems.append("it turns the bones itself; this rig's controls drive an IK chain")
    if not 2 <= len(rig.controls) <= MAX_BONES:
        problems.append(f"it drives chains of 2-{MAX_BONES} bones; this one has {len(rig.controls)}")
    index = rig.control_index
    for k in range(1, len(index)):
        if not _descends(rig.parent_node, int(index[k]), int(index[k - 1])):
            problems.append(f"it drives one chain, parent to child; {rig.controls[k]} does not hang from "
                            f"{rig.controls[k - 1]}")
            break
    if spec.effector in rig.controls[:-1]:
        problems.append(f"it reaches with the chain's end; the effector {spec.effector} is in the middle of the chain "
                        f"(the last control is {rig.controls[-1]})")
    if spec.observation == "compact":
        problems.append("it reads joint tokens; this task uses the compact observation")
    return problems


def _descends(parent: np.ndarray, node: int, ancestor: int) -> bool:
    """Whether ``ancestor`` is above ``node`` in the hierarchy (helper bones between them allowed: Rigify's
    hand_fk hangs from forearm_fk through an MCH bone)."""
    node = int(parent[node])
    for _ in range(len(parent)):
        if node < 0:
            return False
        if node == ancestor:
            return True
        node = int(parent[node])
    return False


def ik_step(lever: np.ndarray, gap: np.ndarray, value: np.ndarray, damping: float = STEP_DAMPING,
            passes: int = 3) -> np.ndarray:
    """Damped-least-squares joint step ``(n, J)`` (radians) that moves the effector by ``gap`` ``(n, 3)``, from the
    joints' levers ``(n, J, 3)`` (or several effectors at once: stacked gaps ``(n, 3K)`` and levers ``(n, J, 3K)``,
    as the grasp's fingertips, ``grasp_chains.py``); joints at a limit (``|value| > 0.98``, the feature in
    [-1, 1]) whose step pushes further out are left out and the step re-solved, up to ``passes`` times."""
    active = np.ones(value.shape, dtype=bool)
    step = np.zeros(value.shape)
    eye = np.eye(lever.shape[-1]) * damping ** 2
    for _ in range(passes):
        levers = lever * active[..., None]
        jj = np.einsum("nji,njk->nik", levers, levers) + eye
        step = np.einsum("nji,ni->nj", levers, np.linalg.solve(jj, gap[..., None])[..., 0])
        blocked = active & (((value > 0.98) & (step > 0)) | ((value < -0.98) & (step < 0)))
        if not blocked.any():
            break
        active &= ~blocked
    return step


class JointTokens:
    """What a kinematic task observed as padded joint tokens adds to its base task: the observation (``tokens()``
    padded to ``max_tokens`` rows of ``features``, then the mask ``_mask``), actions cut to its ``n_joints``, and
    the file's observation layout (``token_layout``). The chain tasks here and the hand's (``grasp_chains.py``)
    differ only in those sizes and in their ``tokens()``."""

    policy_network = "chain"  # our PPO builds agents.chain_policy.ChainActorCritic for it
    max_tokens = MAX_TOKENS
    features = FEATURES
    token_layout = TOKEN_LAYOUT

    def _observe(self) -> np.ndarray:
        n = self.num_envs
        tokens = np.zeros((n, self.max_tokens, self.features), dtype=np.float32)
        tokens[:, :self.n_joints] = self.tokens()
        return np.concatenate([tokens.reshape(n, -1), np.broadcast_to(self._mask, (n, self.max_tokens))], axis=1)

    def _step(self, action: np.ndarray):
        return super()._step(np.asarray(action)[:, :self.n_joints])

    def policy_layout(self) -> dict:
        layout = super().policy_layout()
        first, mask = self.token_layout
        layout["observation"] = [dict(first, meaning=first["meaning"] + f" (this rig: the first {self.n_joints})"),
                                 mask]
        return layout


class ChainReachTask(JointTokens, ReachTask):
    """Reach on one chain, observed and driven as padded per-joint tokens (module docstring)."""

    def __init__(self, spec: TaskSpec, n_envs: int = 64, seed: int | None = None, discrete: bool = False):
        problems = chain_problems(spec)
        if discrete:
            problems.append("it takes continuous actions; this task is discrete")
        if problems:
            raise RigDojoError("the rig-agnostic reach does not fit this rig: " + "; ".join(problems))
        rig = spec.rig
        self.reported_tracked = list(rig.tracked)  # what rollouts report (a bake checks these in Blender)
        tracked = list(dict.fromkeys(list(rig.tracked) + list(rig.controls)))  # every control's pose is read
        spec = dataclasses.replace(spec, rig=dataclasses.replace(rig, tracked=tracked))
        super().__init__(spec, n_envs, seed, discrete=False)
        if self.n_joints > MAX_TOKENS:
            raise RigDojoError(f"the rig-agnostic reach drives at most {MAX_TOKENS} joints; this rig has {self.n_joints}")
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS_SIZE,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(MAX_TOKENS,), dtype=np.float32)
        rig = self.spec.rig
        self._control_slot = np.array([rig.tracked.index(c) for c in rig.controls])
        self._bone = self.dof_control  # token -> control bone
        lengths = rig.lengths[rig.control_index]
        unit = float(lengths.sum()) or 1.0
        remaining = np.cumsum(lengths[::-1])[::-1] / unit
        # the chain root's rest frame: the first control's world rotation at rest
        root_world = rig.object_matrix @ rig.rest[rig.control_index[0]]
        self._root_rot = root_world[:3, :3] / np.linalg.norm(root_world[:3, :3], axis=0, keepdims=True)
        n = self.n_joints
        static = np.zeros((n, FEATURES), dtype=np.float64)
        static[:, 1] = self.q_low / np.pi
        static[:, 2] = self.q_high / np.pi
        static[:, 20] = self._bone / (MAX_BONES - 1)
        static[:, 21] = remaining[self._bone]
        static[:, 22] = np.asarray(rig.has_limit)[self.dof_control, self.dof_axis]
        static[:, 23] = lengths[self._bone] / unit
        static[:, 24] = self.dof_axis == 0
        static[:, 25] = self.dof_axis == 2
        self._static = static
        self._mask = np.zeros(MAX_TOKENS, dtype=np.float32)
        self._mask[:n] = 1.0

    # ---- tokens ------------------------------------------------------------------------------
    def _joint_axes(self) -> tuple[np.ndarray, np.ndarray]:
        """World rotation axes ``(n, J, 3)`` and positions ``(n, J, 3)`` of every joint now."""
        angles = self.control_angles()  # (n, C, 3) Euler XYZ
        world = self._tracked_world[:, self._control_slot]  # (n, C, 4, 4)
        rot = world[:, :, :3, :3] / np.linalg.norm(world[:, :, :3, :3], axis=2, keepdims=True)
        basis = km.euler_xyz_to_matrix(angles)  # R = Rz Ry Rx
        parent = rot @ np.swapaxes(basis, -1, -2)  # the bone's frame before its own rotation
        zeros = np.zeros_like(angles[..., 0])
        rz = euler_to_matrix(np.stack([zeros, zeros, angles[..., 2]], -1), "XYZ")
        ry = euler_to_matrix(np.stack([zeros, angles[..., 1], zeros], -1), "XYZ")
        e = np.eye(3)
        axis_x = np.einsum("ncij,j->nci", parent @ rz @ ry, e[0])
        axis_y = np.einsum("ncij,j->nci", parent @ rz, e[1])
        axis_z = np.einsum("ncij,j->nci", parent, e[2])
        axes = np.stack([axis_x, axis_y, axis_z], axis=2)  # (n, C, 3 axes, 3)
        joint_axes = axes[:, self.dof_control, self.dof_axis]  # (n, J, 3)
        heads = world[:, :, :3, 3][:, self.dof_control]
        return joint_axes, heads

    def _to_root(self, v: np.ndarray) -> np.ndarray:
        return v @ self._root_rot  # world -> the root's rest frame (its rotation's transpose)

    def _goal(self, axes: np.ndarray, joint: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What the joints must change, in the root's frame: ``(lever, to_effector, gap)`` — how the controlled
        vector moves per radian of each joint ``(n, J, 3)``, the effector from each joint ``(n, J, 3)``, and what is
        left to close ``(n, 1, 3)``. Reach: the tip's position and target - tip."""
        eff_r, target_r = self._to_root(self.effector_pos()), self._to_root(self.target)
        to_eff = eff_r[:, None] - joint
        return np.cross(axes, to_eff), to_eff, (target_r - eff_r)[:, None]

    def tokens(self) -> np.ndarray:
        """``(n, J, FEATURES)``: the joints' features now (module docstring)."""
        axes, heads = self._joint_axes()
        axes = self._to_root(axes)
        joint = self._to_root(self.normalise(heads))
        lever, to_eff, gap = self._goal(axes, joint)
        n, J = len(joint), self.n_joints
        out = np.broadcast_to(self._static, (n, J, FEATURES)).copy()
        mid, half = (self.q_high + self.q_low) / 2, (self.q_high - self.q_low) / 2
        out[:, :, 0] = (self.q - mid) / half
        out[:, :, 3:6], out[:, :, 6:9], out[:, :, 9:12], out[:, :, 12:15] = axes, joint, lever, to_eff
        out[:, :, 15:18] = gap
        out[:, :, 18] = np.sum(lever * gap, axis=-1)
        out[:, :, 19] = np.linalg.norm(gap, axis=-1)
        out[:, :, 26] = ik_step(lever, gap[:, 0], out[:, :, 0]) / self.spec.max_delta
        np.clip(out[:, :, 26], -STEP_CLIP, STEP_CLIP, out=out[:, :, 26])
        return out

class ChainAimTask(ChainReachTask, AimTask):
    """Aim on one chain as joint tokens: the controlled vector is the effector's aiming axis (unit), the gap the
    unit direction to the target minus it; a joint's lever is ``axis x aim`` (how the aim turns per radian)."""

    def _goal(self, axes: np.ndarray, joint: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        origin, direction = self.look()
        origin_r, aim = self._to_root(origin), self._to_root(direction)
        to_target = self._to_root(self.target) - origin_r
        want = to_target / np.maximum(np.linalg.norm(to_target, axis=1, keepdims=True), 1e-9)
        lever = np.cross(axes, aim[:, None])
        return lever, origin_r[:, None] - joint, (want - aim)[:, None]


def make_chain_task(spec: TaskSpec, n_envs: int = 64, seed: int | None = None, discrete: bool = False):
    """The joint-token task for ``spec`` (``spec.observation == "chain"``): reach, aim or grasp (a hand's joints,
    ``grasp_chains.py``)."""
    if spec.kind == "grasp":
        from .grasp_chains import ChainGraspTask

        return ChainGraspTask(spec, n_envs=n_envs, seed=seed, discrete=discrete)
    cls = ChainAimTask if spec.kind == "aim" else ChainReachTask
    return cls(spec, n_envs=n_envs, seed=seed, discrete=discrete)


# ---- random chains ---------------------------------------------------------------------------
def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def chain_rig(lengths, bends, rolls, root: np.ndarray, free: np.ndarray, low: np.ndarray, high: np.ndarray,
              has_limit: np.ndarray, name: str = "Chain") -> RigSpec:
    """A connected chain of bones (each along its own +Y, the child's head on the parent's tail) as a RigSpec.

    :param bends: ``(B, 3)`` Euler XYZ of each bone's rest rotation relative to its parent (the first: to ``root``)
    :param rolls: ``(B,)`` extra rotation about each bone's own Y at rest
    :param root: ``(3, 3)`` the first bone's parent frame in armature space
    """
    B = len(lengths)
    names = [f"bone{i}" for i in range(B)]
    rest = np.zeros((B, 4, 4))
    frame, head = root, np.zeros(3)
    for i in range(B):
        frame = frame @ euler_to_matrix(np.asarray(bends[i], dtype=np.float64), "XYZ") @ \
            euler_to_matrix(np.array([0.0, rolls[i], 0.0]), "XYZ")
        rest[i] = np.eye(4)
        rest[i, :3, :3], rest[i, :3, 3] = frame, head
        head = head + frame[:, 1] * lengths[i]
    offs = np.stack([rest[0]] + [np.linalg.inv(rest[i - 1]) @ rest[i] for i in range(1, B)])
    parent_arm = np.stack([np.eye(4)] + [rest[i - 1] for i in range(1, B)])
    eye = np.repeat(np.eye(4)[None], B, 0)
    return RigSpec(
        rig_name=name, object_matrix=np.eye(4), node_names=names, controls=list(names), tracked=[names[-1]],
        parent_node=np.arange(-1, B - 1), parent_const=eye.copy(), has_parent=np.arange(B) > 0, offs_bone=offs,
        parent_arm=parent_arm, hinge=np.zeros(B, bool), inherit_scale=np.zeros(B, np.int64),
        no_local_location=np.zeros(B, bool), basis=eye.copy(), lengths=np.asarray(lengths, dtype=np.float64),
        rest=rest, constraints=[[] for _ in range(B)], control_modes=["XYZ"] * B, control_lock=~free,
        limit_low=low, limit_high=high, has_limit=has_limit, control_rest_euler=np.zeros((B, 3)),
        connected=np.arange(B) > 0)


def random_chain_spec(rng: np.random.Generator, bones: int | None = None, *, episode_steps: int = 64,
                      region_half: float = 0.2, name: str = "Chain", kind: str = "reach") -> TaskSpec:
    """A reach (or aim) task on a random chain: 2-8 bones (or ``bones``), random lengths, rest bends, rolls,
    locked axes (at least one free per bone, three or more in all) and limits, targets in a box around a random
    reachable pose's tip (``region_half`` chain lengths each way); aim: a random aiming axis of the last bone and
    the box 1-2 chain lengths along it."""
    B = int(bones if bones is not None else rng.integers(2, MAX_BONES + 1))
    lengths = rng.uniform(0.3, 1.0, B)
    bends = rng.uniform(-0.5, 0.5, (B, 3)) * np.array([1.0, 0.0, 1.0])
    rolls = rng.uniform(-np.pi, np.pi, B)
    while True:
        free = rng.random((B, 3)) < 0.6
        free[np.arange(B), rng.integers(0, 3, B)] = True
        if free.sum() >= 3:
            break
    has_limit = rng.random((B, 3)) < 0.7
    low = np.where(has_limit, -rng.uniform(0.4, 2.5, (B, 3)), -np.pi)
    high = np.where(has_limit, rng.uniform(0.4, 2.5, (B, 3)), np.pi)
    rig = chain_rig(lengths, bends, rolls, _random_rotation(rng), free, low, high, has_limit, name)
    # targets around the tip of a random pose within the limits (a mid-range pose, so most of the box is reachable)
    from .twin import RigTwin

    pose = np.where(free, rng.uniform(low * 0.5, high * 0.5), 0.0)
    world = RigTwin(rig).forward(km.euler_xyz_to_matrix(pose[None]))[0, 0]
    unit = float(lengths.sum())
    tip = world[:3, 3] + world[:3, 1] * lengths[-1]
    look_axis = "Y"
    if kind == "aim":
        look_axis = str(rng.choice(["X", "Y", "Z", "-X", "-Y", "-Z"]))
        column, sign = {"X": 0, "Y": 1, "Z": 2}[look_axis[-1]], (-1.0 if look_axis[0] == "-" else 1.0)
        tip = world[:3, 3] + world[:3, column] * sign * unit * rng.uniform(1.0, 2.0)
    target = TargetSpec(kind="region", position=tip, region_center=tip, region_half=np.full(3, region_half * unit),
                        region_rot=np.eye(3), name="Region")
    from . import default_terms

    terms: list[TermConfig] = default_terms(kind)
    return TaskSpec(kind=kind, rig=rig, effector=rig.controls[-1], target=target, terms=terms,
                    episode_steps=episode_steps, look_axis=look_axis)


class ChainMix(TaskMix):
    """Several :class:`ChainReachTask` (or ``ChainGraspTask``: different rigs) stepped as one batch of
    ``sum(n_envs)`` environments: the arrays interface our PPO takes (``reset``, ``step_arrays``, ``stagger_episodes``)."""

    policy_network = "chain"

    def signature(self) -> dict:
        """Any chain: the observation and action sizes, no control names (a library policy's)."""
        from ..base import _describe_space

        return {"observation_shape": list(self.observation_space.shape),
                "action_space": _describe_space(self.action_space),
                "controls": [], "task": self.tasks[0].spec.kind, "observation": "chain"}

    def policy_layout(self) -> dict:
        layout = self.tasks[0].token_layout  # every task here is JointTokens
        return {"observation": layout, "joints": [], "rig_agnostic": True}
