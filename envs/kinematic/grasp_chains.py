"""Rig-agnostic grasp: a hand's joints as tokens that close several fingertips onto an object (no bpy).

:class:`ChainGraspTask` is :class:`~.grasp.GraspTask` observed and driven the way ``chains.py`` observes a reach:
one *token* per joint (an unlocked rotation axis of a control bone) with one action each, padded to
:data:`MAX_TOKENS` with a mask, so one network drives hands with any number of fingers. A hand is a tree, not a
chain: a wrist joint moves every fingertip, a finger joint only its own. Which tips a joint moves is measured
once (each joint nudged at a few poses; helper bones and constraints between a control and a tip, as in Rigify's
DEF/ORG/MCH fingers, count as they move it), and each token describes the joint *relative to the tips it moves*.

Units: the *hand frame* — the palm's (``spec.effector``'s) rest rotation, positions from the palm's head at rest,
divided by the hand size (the farthest fingertip from the palm's head at rest), so moving, turning or scaling
the whole rig changes nothing (tested), and a hand with a forearm reads like one without.

The goal of every fingertip is a *contact point*: the object's surface point furthest along the direction from
the fingertips' mean to that tip (its support point), so the tips close onto the object in the order they
already have around it — on a ball, index and thumb meet it from opposite sides — plus the grip, the tips' mean,
at the object's centre ("the object between them", :meth:`GraspTask.enclosed`).

========================  ====  ========================================================================
feature                   size  meaning (hand frame, hand size 1)
========================  ====  ========================================================================
``value``                 1     the joint mapped from [low, high] to [-1, 1]
``limits``                2     low and high in radians / pi
``axis``                  3     the joint's rotation axis now
``joint``                 3     the joint's position (its bone's head)
``lever``                 3     mean over the tips it moves of axis x (tip - joint)
``to_tips``               3     mean over the tips it moves of tip - joint
``gap``                   3     mean over the tips it moves of contact - tip
``gain``                  1     sum over the tips it moves of lever . gap
``distance``              1     mean over the tips it moves of |contact - tip|
``tips``                  1     how many tips it moves / how many the hand has
``depth``                 1     how many controls above it move it / 4
``reach``                 1     mean rest distance from the joint to the tips it moves
``has_limit``             1     1 when the rig limits this axis
``bone_length``           1     its bone's length
``axis_is_x``, ``_z``     2     which of its bone's local axes this joint turns about
``to_center``             3     the object's centre - joint
``radius``                1     the object's mean radius
``step``                  1     half the joint's share of a damped-least-squares step that moves every tip to its
                                contact and the grip to the centre (stacked gaps, a lever per tip per joint, joints
                                at a limit left out), in full actions, clipped to +-4
========================  ====  ========================================================================

:func:`random_hand_spec` builds grasp tasks on random hands (a palm, sometimes a forearm above it, 2-5 fingers of
2-3 bones, one of them an opposing thumb; random lengths, spreads, rolls, locks and limits, start poses, and a
ball the hand can enclose), the pretraining set of ``library:grasp``.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np

from ...errors import RigDojoError
from .. import kinematics as km
from ..rotations import euler_to_matrix
from .chains import STEP_CLIP, ChainReachTask, JointTokens, _random_rotation, ik_step
from .grasp import GraspTask
from .rig_spec import RigSpec
from .task_spec import TargetSpec, TaskSpec

MAX_TOKENS = 64  # 21 bones of 3 axes: a forearm, a palm and five fingers of three bones (51) with room
FEATURE_NAMES = ("value", "low", "high", "axis_x", "axis_y", "axis_z", "joint_x", "joint_y", "joint_z",
                 "lever_x", "lever_y", "lever_z", "to_tips_x", "to_tips_y", "to_tips_z", "gap_x", "gap_y", "gap_z",
                 "gain", "distance", "tips", "depth", "reach", "has_limit", "bone_length", "axis_is_x", "axis_is_z",
                 "to_center_x", "to_center_y", "to_center_z", "radius", "step")
FEATURES = len(FEATURE_NAMES)
OBS_SIZE = MAX_TOKENS * FEATURES + MAX_TOKENS
STEP = FEATURE_NAMES.index("step")
# the step feature is half the damped-least-squares step: the contacts move with the tips, and a full step every
# frame overshoots into a two-frame cycle on a whole hand round a small ball (Rigify's five fingers on issue 12's
# 4 cm ball: success every other frame); a half step settles (teacher: 0.35-0.5 alike on random hands, 0.7 cycles)
STEP_GAIN = 0.5
GRIP_WEIGHT = 0.5  # the grip-at-the-centre rows of the IK step against each tip's contact rows (0.3-1 alike)
MAX_DEPTH = 4.0

TOKEN_LAYOUT = [
    {"name": "tokens", "start": 0, "size": MAX_TOKENS * FEATURES,
     "meaning": f"{MAX_TOKENS} joint tokens of {FEATURES} features ({', '.join(FEATURE_NAMES)}): the hand's joints "
                "in action order, then zeros (envs/kinematic/grasp_chains.py)"},
    {"name": "mask", "start": MAX_TOKENS * FEATURES, "size": MAX_TOKENS, "meaning": "1 for a joint, 0 for padding"}]


def grasp_problems(spec: TaskSpec) -> list[str]:
    """Why the rig-agnostic grasp cannot drive this task (empty: it can); which tips each joint moves is
    checked when the task is built."""
    rig = spec.rig
    problems = []
    if spec.kind != "grasp":
        problems.append(f"it grasps; this task is {spec.kind}")
    if rig.location_controls:
        problems.append(f"it turns joints; this rig moves locations ({', '.join(rig.location_controls)})")
    if rig.ik_chains:
        problems.append("it turns the bones itself; this rig's controls drive an IK chain")
    if len(spec.fingertips) < 2:
        problems.append(f"it closes two or more fingertips around the object; this grasp has {len(spec.fingertips)}")
    if spec.observation == "compact":
        problems.append("it reads joint tokens; this task uses the compact observation")
    return problems


class ChainGraspTask(JointTokens, GraspTask):
    """Grasp on a hand, observed and driven as padded per-joint tokens (module docstring)."""

    max_tokens = MAX_TOKENS
    features = FEATURES
    token_layout = TOKEN_LAYOUT

    def __init__(self, spec: TaskSpec, n_envs: int = 64, seed: int | None = None, discrete: bool = False):
        problems = grasp_problems(spec)
        if discrete:
            problems.append("it takes continuous actions; this task is discrete")
        if problems:
            raise RigDojoError("the rig-agnostic grasp does not fit this rig: " + "; ".join(problems))
        rig = spec.rig
        self.reported_tracked = list(rig.tracked)
        tracked = list(dict.fromkeys(list(rig.tracked) + list(rig.controls)))  # every control's pose is read
        spec = dataclasses.replace(spec, rig=dataclasses.replace(rig, tracked=tracked))
        super().__init__(spec, n_envs, seed, discrete=False)
        if self.n_joints > MAX_TOKENS:
            raise RigDojoError(f"the rig-agnostic grasp drives at most {MAX_TOKENS} joints; this hand has "
                               f"{self.n_joints}")
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS_SIZE,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(MAX_TOKENS,), dtype=np.float32)
        rig = self.spec.rig
        self._control_slot = np.array([rig.tracked.index(c) for c in rig.controls])
        self._bone = self.dof_control
        # the hand frame: the palm's rest rotation, origin its head at rest, unit the farthest tip from it
        rest_world = self._tracked_world[0]
        palm = rest_world[self._effector]
        self._hand_rot = palm[:3, :3] / np.linalg.norm(palm[:3, :3], axis=0, keepdims=True)
        self._hand_origin = self.normalise(palm[None, :3, 3])[0]
        rest_tips = self.fingertips()[0]
        self._hand_size = float(np.linalg.norm(rest_tips - self._hand_origin, axis=1).max()) or 1.0
        moves, above = self._dependencies()
        stuck = [t for t, k in zip(self.spec.fingertips, moves.any(0)) if not k]
        if stuck:
            raise RigDojoError(f"the rig-agnostic grasp moves every fingertip with the controls; no control moves "
                               f"{', '.join(stuck)}")
        self._moves = moves.astype(np.float64)  # (J, K): joint j moves fingertip k
        self._moved_count = np.maximum(self._moves.sum(1), 1.0)
        K = len(self.spec.fingertips)
        joint_rest = self._hand(self.normalise(rest_world[self._control_slot, :3, 3]))[self.dof_control]
        reach = np.linalg.norm(self._hand(rest_tips)[None] - joint_rest[:, None], axis=-1)
        scale = 1.0 / self._hand_size  # task units -> hand sizes
        lengths = rig.lengths[rig.control_index] / (rig.chain_length or 1.0) * scale
        static = np.zeros((self.n_joints, FEATURES), dtype=np.float64)
        static[:, 1], static[:, 2] = self.q_low / np.pi, self.q_high / np.pi
        static[:, 20] = self._moves.sum(1) / K
        static[:, 21] = above[self.dof_control] / MAX_DEPTH
        static[:, 22] = (reach * self._moves).sum(1) / self._moved_count
        static[:, 23] = np.asarray(rig.has_limit)[self.dof_control, self.dof_axis]
        static[:, 24] = lengths[self._bone]
        static[:, 25], static[:, 26] = self.dof_axis == 0, self.dof_axis == 2
        radius = float(np.linalg.norm(self.points - self.center, axis=1).mean()) * scale
        static[:, 30] = radius
        self._static = static
        self._center_hand = self._hand(self.center[None])[0]
        self._mask = np.zeros(MAX_TOKENS, dtype=np.float32)
        self._mask[:self.n_joints] = 1.0

    # ---- frames ------------------------------------------------------------------------------
    def _hand(self, p: np.ndarray) -> np.ndarray:
        """Task-normalised positions -> the hand frame (hand size 1)."""
        return ((p - self._hand_origin) / self._hand_size) @ self._hand_rot

    def _dependencies(self, poses: int = 3, nudge: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
        """``(moves (J, K), above (C,))``: which fingertips each joint moves, and how many controls move each
        control's bone, measured by nudging every joint at rest and at random poses within the limits."""
        J, C = self.n_joints, len(self.spec.rig.controls)
        rng = np.random.default_rng(0)
        base = np.concatenate([self.q_rest[None], rng.uniform(self.q_low, self.q_high, (poses - 1, J)) * 0.5
                               + self.q_rest * 0.5])
        moves = np.zeros((J, len(self.spec.fingertips)), dtype=bool)
        moved_bone = np.zeros((J, C), dtype=bool)
        tracked = self.spec.rig.tracked
        tip_slot = [tracked.index(f) for f in self.spec.fingertips]
        tip_len = self.spec.rig.lengths[[self.spec.rig.node_names.index(f) for f in self.spec.fingertips]]
        for q0 in base:
            q = np.repeat(q0[None], J + 1, 0)
            q[1:] += np.eye(J) * np.where(q0 + nudge <= self.q_high, nudge, -nudge)
            world = self.twin.forward(km.euler_xyz_to_matrix(self._angles(q)), control_loc=self._locations(q))
            at = world[:, tip_slot]
            tips = at[:, :, :3, 3] + at[:, :, :3, 1] * tip_len[:, None]
            bones = world[:, self._control_slot]
            moves |= np.linalg.norm(tips[1:] - tips[:1], axis=-1) > 1e-7 * self.unit
            moved_bone |= np.abs(bones[1:] - bones[:1]).reshape(J, C, -1).max(-1) > 1e-9 * self.unit
        moved_bone[np.arange(J), self.dof_control] = False  # a bone's own joints do not count
        above = np.zeros(C)
        for c in range(C):
            above[c] = len(set(self.dof_control[moved_bone[:, c]].tolist()))
        return moves, above

    # ---- goal --------------------------------------------------------------------------------
    def contact_targets(self, tips: np.ndarray) -> np.ndarray:
        """``(n, K, 3)`` task units: each fingertip's contact, the object's support point along the direction
        from the tips' mean to the tip."""
        direction = tips - tips.mean(axis=1, keepdims=True)
        score = direction.reshape(-1, 3) @ (self.points - self.center).T
        return self.points[np.argmax(score, axis=1)].reshape(tips.shape)

    def tokens(self) -> np.ndarray:
        """``(n, J, FEATURES)``: the joints' features now (module docstring)."""
        axes_w, heads = ChainReachTask._joint_axes(self)  # type: ignore[arg-type]
        axes = axes_w @ self._hand_rot
        joint = self._hand(self.normalise(heads))
        tips_task = self.fingertips()
        tips = self._hand(tips_task)
        gaps = self._hand(self.contact_targets(tips_task)) - tips  # (n, K, 3)
        to_tips = tips[:, None] - joint[:, :, None]  # (n, J, K, 3)
        levers = np.cross(axes[:, :, None], to_tips) * self._moves[None, :, :, None]
        n, J, K = len(joint), self.n_joints, tips.shape[1]
        w = self._moves / self._moved_count[:, None]  # (J, K) mean over the tips a joint moves
        out = np.broadcast_to(self._static, (n, J, FEATURES)).copy()
        mid, half = (self.q_high + self.q_low) / 2, (self.q_high - self.q_low) / 2
        out[:, :, 0] = (self.q - mid) / half
        out[:, :, 3:6], out[:, :, 6:9] = axes, joint
        out[:, :, 9:12] = np.einsum("njkc,jk->njc", levers, w)
        out[:, :, 12:15] = np.einsum("njkc,jk->njc", to_tips, w)
        out[:, :, 15:18] = np.einsum("nkc,jk->njc", gaps, w)
        out[:, :, 18] = np.einsum("njkc,nkc->nj", levers, gaps)
        out[:, :, 19] = np.linalg.norm(gaps, axis=-1) @ w.T
        out[:, :, 27:30] = self._center_hand - joint
        # the IK step: every tip to its contact, and the grip (their mean) to the centre
        grip_gap = (self._center_hand - tips.mean(axis=1)) * GRIP_WEIGHT
        stacked = np.concatenate([levers.reshape(n, J, 3 * K), levers.mean(axis=2) * GRIP_WEIGHT], axis=2)
        gap = np.concatenate([gaps.reshape(n, 3 * K), grip_gap], axis=1)
        out[:, :, STEP] = ik_step(stacked, gap, out[:, :, 0]) * STEP_GAIN / self.spec.max_delta
        np.clip(out[:, :, STEP], -STEP_CLIP, STEP_CLIP, out=out[:, :, STEP])
        return out


def teacher_actions(obs: np.ndarray) -> np.ndarray:
    """The IK teacher on grasp tokens: each token's ``step`` clipped to a full action (padding stays 0)."""
    tokens = obs[:, :MAX_TOKENS * FEATURES].reshape(len(obs), MAX_TOKENS, FEATURES)
    return np.clip(tokens[:, :, STEP], -1.0, 1.0).astype(np.float32)


# ---- random hands ------------------------------------------------------------------------------
def hand_rig(parents: list[int], rest: np.ndarray, lengths: np.ndarray, free: np.ndarray, low: np.ndarray,
             high: np.ndarray, has_limit: np.ndarray, start: np.ndarray, names: list[str], tips: list[str],
             palm: str, name: str = "Hand", object_matrix: np.ndarray | None = None) -> RigSpec:
    """A tree of bones (``parents[i] < i``, -1 for the root) as a RigSpec whose every bone is a control;
    ``rest`` ``(B, 4, 4)`` armature-space rest matrices (each bone along its own +Y), ``start`` ``(B, 3)`` the
    pose episodes start from (Euler XYZ), ``tips`` and ``palm`` tracked."""
    B = len(parents)
    parent = np.asarray(parents, dtype=np.int64)
    offs = np.stack([rest[i] if parent[i] < 0 else np.linalg.inv(rest[parent[i]]) @ rest[i] for i in range(B)])
    parent_arm = np.stack([np.eye(4) if parent[i] < 0 else rest[parent[i]] for i in range(B)])
    connected = np.array([parent[i] >= 0 and np.allclose(rest[parent[i]][:3, 3] + rest[parent[i]][:3, 1]
                                                         * lengths[parent[i]], rest[i][:3, 3]) for i in range(B)])
    eye = np.repeat(np.eye(4)[None], B, 0)
    return RigSpec(
        rig_name=name, object_matrix=np.eye(4) if object_matrix is None else object_matrix, node_names=list(names),
        controls=list(names), tracked=[palm] + list(tips), parent_node=parent, parent_const=eye.copy(),
        has_parent=parent >= 0, offs_bone=offs, parent_arm=parent_arm, hinge=np.zeros(B, bool),
        inherit_scale=np.zeros(B, np.int64), no_local_location=np.zeros(B, bool), basis=eye.copy(),
        lengths=np.asarray(lengths, dtype=np.float64), rest=rest, constraints=[[] for _ in range(B)],
        control_modes=["XYZ"] * B, control_lock=~free, limit_low=low, limit_high=high, has_limit=has_limit,
        control_rest_euler=np.asarray(start, dtype=np.float64), connected=connected)


def _frame(rot: np.ndarray, head) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3], m[:3, 3] = rot, head
    return m


def sphere_points(center: np.ndarray, radius, count: int = 256) -> np.ndarray:
    """``count`` points spread evenly over a ball's (or an ellipsoid's: ``radius`` per axis) surface."""
    k = np.arange(count) + 0.5
    z = 1.0 - 2.0 * k / count
    ring = np.sqrt(1.0 - z * z)
    phi = k * np.pi * (3.0 - np.sqrt(5.0))
    return center + np.stack([ring * np.cos(phi), ring * np.sin(phi), z], axis=1) * np.asarray(radius)


def random_hand(rng: np.random.Generator, fingers: int | None = None, *, forearm: bool | None = None,
                anatomical: bool | None = None, name: str = "Hand") -> tuple[RigSpec, str, list[str]]:
    """A random hand as a RigSpec: ``(rig, palm, fingertips)``. A palm (sometimes below a forearm) with 2-5
    fingers (or ``fingers``) of 2-3 bones, one an opposing thumb near the palm's base; random size, lengths,
    spread, rest curl, rolls, locked axes and limits. *Anatomical* hands (half of them) bend their fingers about
    the joint's X toward the palm within limits that let them close; the others roll every bone at random and
    limit its axes at random, as the reach library's chains do."""
    F = int(fingers if fingers is not None else rng.integers(2, 6))
    forearm = bool(rng.random() < 0.5) if forearm is None else forearm
    anatomical = bool(rng.random() < 0.5) if anatomical is None else anatomical
    scale = float(np.exp(rng.uniform(np.log(0.05), np.log(3.0))))
    palm_len = scale
    width = palm_len * rng.uniform(0.5, 1.0)
    side = rng.choice([-1.0, 1.0])  # the thumb on -X or +X (a left or a right hand)
    world = _random_rotation(rng)
    names: list[str] = []
    parents: list[int] = []
    rests: list[np.ndarray] = []
    lengths: list[float] = []
    flex: list[float] = []  # the sign of a joint's X turn that curls toward the palm (0: not a finger bone)

    def add(name: str, parent: int, rest: np.ndarray, length: float, curl: float = 0.0) -> int:
        names.append(name)
        parents.append(parent)
        rests.append(rest)
        lengths.append(length)
        flex.append(curl)
        return len(names) - 1

    palm_head = np.zeros(3)
    palm_parent = -1
    if forearm:
        length = palm_len * rng.uniform(1.5, 3.5)
        bend = euler_to_matrix(rng.uniform(-0.3, 0.3, 3) * np.array([1.0, 0.0, 1.0]), "XYZ")
        fore = world @ bend.T
        palm_parent = add("forearm", -1, _frame(fore, -fore[:, 1] * length), length)
    palm_rest = world
    palm = add("palm", palm_parent, _frame(palm_rest, palm_head), palm_len)
    tips: list[str] = []
    thumb_at = int(rng.integers(0, F)) if not anatomical else 0
    others = [f for f in range(F) if f != thumb_at]
    for f in range(F):
        thumb = f == thumb_at
        bones = int(rng.integers(2, 4))
        total = palm_len * rng.uniform(0.6, 1.3) * (0.8 if thumb else 1.0)
        share = rng.uniform(0.8, 1.2, bones) * np.linspace(1.0, 0.7, bones)
        finger_lengths = total * share / share.sum()
        if thumb:
            root = np.array([side * (width / 2 + palm_len * rng.uniform(0.0, 0.15)), palm_len * rng.uniform(0.1, 0.45),
                             -palm_len * rng.uniform(0.0, 0.2)])
            turn = euler_to_matrix(np.array([-rng.uniform(0.2, 0.8), 0.0, -side * rng.uniform(0.4, 1.1)]), "XYZ")
        else:
            k = others.index(f)
            across = (k / (len(others) - 1) - 0.5) if len(others) > 1 else 0.0
            root = np.array([-side * across * width, palm_len * rng.uniform(0.85, 1.05),
                             palm_len * rng.uniform(-0.05, 0.05)])
            turn = euler_to_matrix(np.array([-rng.uniform(0.0, 0.3), 0.0, side * across * rng.uniform(0.0, 0.5)]),
                                   "XYZ")
        frame = palm_rest @ turn
        head = palm_rest @ root
        parent = palm
        for b in range(bones):
            curl = -rng.uniform(0.0, 0.3) if b else 0.0  # a rest bend toward the palm (-Z)
            frame = frame @ euler_to_matrix(np.array([curl, 0.0, 0.0]), "XYZ")
            if not anatomical:
                frame = frame @ euler_to_matrix(np.array([0.0, rng.uniform(-np.pi, np.pi), 0.0]), "XYZ")
            parent = add(f"{'thumb' if thumb else 'finger'}{f}.{b}", parent, _frame(frame, head), finger_lengths[b],
                         -1.0)
            head = head + frame[:, 1] * finger_lengths[b]
        tips.append(names[parent])
    B = len(names)
    rest = np.stack(rests)
    curl_sign = np.array(flex)
    free = np.zeros((B, 3), dtype=bool)
    low, high = np.full((B, 3), -np.pi), np.full((B, 3), np.pi)
    has_limit = np.zeros((B, 3), dtype=bool)
    for i in range(B):
        if anatomical and curl_sign[i]:
            base = parents[i] == palm
            free[i] = [True, rng.random() < 0.3, base and rng.random() < 0.7]
            has_limit[i] = rng.random(3) < 0.85
            bend = rng.uniform(1.2, 2.0)  # how far the joint curls toward the palm
            low[i] = [-bend, -rng.uniform(0.2, 0.6), -rng.uniform(0.2, 0.6)]
            high[i] = [rng.uniform(0.05, 0.4), rng.uniform(0.2, 0.6), rng.uniform(0.2, 0.6)]
        else:
            while not free[i].any():
                free[i] = rng.random(3) < (0.8 if not curl_sign[i] else 0.6)
            has_limit[i] = rng.random(3) < 0.7
            low[i] = -rng.uniform(0.4, 2.5, 3)
            high[i] = rng.uniform(0.4, 2.5, 3)
    low, high = np.where(has_limit, low, -np.pi), np.where(has_limit, high, np.pi)
    start = np.where(free, rng.uniform(low, high) * rng.uniform(0.0, 0.3), 0.0)
    rig = hand_rig(parents, rest, np.asarray(lengths), free, low, high, has_limit, start, names, tips, "palm", name)
    return rig, "palm", tips


def grasp_pose(rng: np.random.Generator, rig: RigSpec) -> np.ndarray:
    """``(C, 3)`` a random pose within the limits, fingers curled more often than not (where a ball goes)."""
    free = ~rig.control_lock
    low = np.where(rig.has_limit, rig.limit_low, -np.pi)
    high = np.where(rig.has_limit, rig.limit_high, np.pi)
    pose = rng.uniform(np.maximum(low, -1.5), np.minimum(high, 1.5)) * rng.uniform(0.3, 1.0)
    return np.where(free, pose, 0.0)


def random_hand_spec(rng: np.random.Generator, fingers: int | None = None, *, episode_steps: int = 64,
                     forearm: bool | None = None, anatomical: bool | None = None, name: str = "Hand",
                     tries: int = 50) -> TaskSpec:
    """A grasp task on a random hand (:func:`random_hand`) and a ball it can enclose: the ball is placed around
    the fingertips of a random pose (its centre their mean, its radius 0.5-1.0 of their mean distance from it,
    slightly ellipsoidal), away from where they start."""
    from . import default_terms
    from .twin import RigTwin

    for _ in range(tries):
        rig, palm, tips = random_hand(rng, fingers, forearm=forearm, anatomical=anatomical, name=name)
        twin = RigTwin(rig)
        tip_index = [rig.tracked.index(t) for t in tips]
        tip_len = rig.lengths[[rig.node_names.index(t) for t in tips]]

        def tip_points(pose):
            world = twin.forward(km.euler_xyz_to_matrix(pose[None]))[0]
            return world[tip_index, :3, 3] + world[tip_index, :3, 1] * tip_len[:, None]

        at_start = tip_points(rig.control_rest_euler)
        grip = tip_points(grasp_pose(rng, rig))
        center = grip.mean(0)
        spread = np.linalg.norm(grip - center, axis=1)
        radius = spread.mean() * rng.uniform(0.5, 1.0)
        unit = rig.chain_length
        if radius < 0.03 * unit or np.linalg.norm(at_start - center, axis=1).min() < radius + 0.05 * unit:
            continue  # too small to hold, or a fingertip starts on it
        axes = radius * rng.uniform(0.8, 1.25, 3)
        turn = _random_rotation(rng)
        points = (sphere_points(np.zeros(3), axes) @ turn.T) + center
        target = TargetSpec(kind="fixed", position=center, name="Ball")
        return TaskSpec(kind="grasp", rig=rig, effector=palm, target=target, terms=default_terms("grasp"),
                        episode_steps=episode_steps, fingertips=list(tips), object_points=points,
                        object_center=center, observation="chain")
    raise RigDojoError("no graspable ball found for a random hand")  # pragma: no cover - vanishingly rare
