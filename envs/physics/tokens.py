"""Rig-agnostic observation of a physics creature: one token per servo, in body-size units (no bpy).

A balance policy that transfers between creatures cannot read "hinge 7's angle": creatures differ in how many
hinges they have, where they are and how they turn. With ``rig.observation = "chain"`` a stand or jump task shows
the policy one *token* per actuated hinge (one unlocked rotation axis of a bone), padded to
:data:`MAX_TOKENS` with a mask, and takes one action per token (the task's own servo target: 0 holds the rest
angle, +-1 goes toward a limit), so ``agents/chain_policy.py``'s :class:`ChainActorCritic` (one MLP shared by
every token, masked pooling) drives any creature of up to :data:`MAX_TOKENS` hinges. Vectors are in the
*upright frame*: the root's frame now times its rest frame's inverse, i.e. the world's axes while the
creature stands as it was modelled (Z up), turning with the root, so "down" and "forward" mean the same on
every creature whatever its root bone's roll. Lengths are in creature sizes (``PhysicsSpec.size``).

=================  ====  ==================================================================================
feature            size  meaning
=================  ====  ==================================================================================
``value``          1     the hinge angle mapped from [low, high] to [-1, 1]
``from_rest``      1     angle - rest angle (radians)
``velocity``       1     angular velocity / 10 (rad/s)
``limits``         2     low and high / pi
``axis``           3     the hinge's axis (its bone's local axis now), upright frame
``from_root``      3     the bone's head - the root's head, upright frame, sizes
``from_com``       3     the bone's head - the centre of mass, upright frame, sizes
``height``         1     the head's height above the ground, sizes
``depth``          1     bones from the root / 8
``subtree_mass``   1     the mass the hinge carries (its bone and every bone below) / the creature's
``limb_contact``   1     1 when a point of its bone or a bone below touches the ground
``limb_low``       1     the lowest point of its bone and below above the ground, sizes (clipped to 1)
``action``         1     the previous action of this hinge
``has_limit``      1     1 when the rig limits this axis
``axis_is_x/_z``   2     which local axis of its bone this hinge turns about
``up``             3     world up in the upright frame (0, 0, 1 when level) -- the root rows from here
``height_ratio``   1     the root's height over its rest height
``velocity_root``  3     the centre of mass velocity, upright frame, sizes per second
``spin``           3     the root's angular velocity / 5, upright frame (rad/s)
``com_support``    3     the centre of mass - the centre of the touching points, upright frame, sizes
``touching``       1     the fraction of bone end points on the ground
=================  ====  ==================================================================================

:class:`TokenPhysicsTask` is the mixin; :func:`token_task_class` makes it for a physics task kind.
``shoves`` (off unless set; the library's pretraining sets it) pushes roots sideways about every two seconds at
half to all of ``physics.shove`` sizes per second, as the tracking task does.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from ...errors import RigDojoError
from ..base import TaskMix

TOKEN_KINDS = ("stand", "jump")  # the physics tasks hinge tokens describe fully
MAX_TOKENS = 128  # Rigify's basic quadruped metarig has 99 hinges (33 bones x 3 axes, no limits)
FEATURE_NAMES = ("value", "from_rest", "velocity", "low", "high", "axis_x", "axis_y", "axis_z",
                 "root_x", "root_y", "root_z", "com_x", "com_y", "com_z", "height", "depth", "subtree_mass",
                 "limb_contact", "limb_low", "action", "has_limit", "axis_is_x", "axis_is_z",
                 "up_x", "up_y", "up_z", "height_ratio", "vel_x", "vel_y", "vel_z", "spin_x", "spin_y", "spin_z",
                 "support_x", "support_y", "support_z", "touching")
FEATURES = len(FEATURE_NAMES)
OBS_SIZE = MAX_TOKENS * FEATURES + MAX_TOKENS
TOKEN_LAYOUT = [
    {"name": "tokens", "start": 0, "size": MAX_TOKENS * FEATURES,
     "meaning": f"{MAX_TOKENS} hinge tokens of {FEATURES} features ({', '.join(FEATURE_NAMES)}): the creature's "
                "hinges in action order, then zeros (envs/physics/tokens.py)"},
    {"name": "mask", "start": MAX_TOKENS * FEATURES, "size": MAX_TOKENS, "meaning": "1 for a hinge, 0 for padding"}]


class TokenPhysicsTask:
    """Mixin over a :class:`~.task.PhysicsTask` kind: hinge-token observations and padded actions."""

    policy_network = "chain"  # our PPO builds agents.chain_policy.ChainActorCritic for it

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.kind not in TOKEN_KINDS:  # the others need a direction, an obstacle or a clip the tokens lack
            raise RigDojoError(f"the rig-agnostic physics observation covers {' and '.join(TOKEN_KINDS)}; the "
                               f"{self.kind} task needs more than the creature (set rig.observation = \"full\")")
        if self.n_joints > MAX_TOKENS:
            raise RigDojoError(f"the rig-agnostic physics policy drives at most {MAX_TOKENS} hinges; "
                               f"{self.spec.rig_name!r} has {self.n_joints} (lock some rotation axes or set "
                               "rig.observation = \"full\")")
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS_SIZE,), dtype=np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(MAX_TOKENS,), dtype=np.float32)
        spec, lay = self.spec, self.twin.layout
        b = spec.n_bones
        depth = np.zeros(b)
        for k in range(1, b):
            depth[k] = depth[spec.parent[k]] + 1
        below = np.eye(b, dtype=bool)  # below[k, d]: bone d is k or under it
        for k in range(b - 1, 0, -1):
            below[spec.parent[k]] |= below[k]
        masses = spec.capsule_masses()
        self._below = below
        self._limb = below[lay.joint_bone]  # (J, B) the bones each hinge moves
        self._joint_body = lay.joint_bone
        self._rest_root_rot = spec.world_rest()[0, :3, :3]
        J = self.n_joints
        static = np.zeros((J, FEATURES))
        static[:, 3] = self.q_low / np.pi
        static[:, 4] = self.q_high / np.pi
        static[:, 15] = depth[lay.joint_bone] / 8.0
        static[:, 16] = (below[lay.joint_bone] * masses).sum(1) / masses.sum()
        static[:, 20] = spec.has_limit[lay.joint_bone, lay.joint_axis]
        static[:, 21] = lay.joint_axis == 0
        static[:, 22] = lay.joint_axis == 2
        self._static = static
        self._mask = np.zeros(MAX_TOKENS, dtype=np.float32)
        self._mask[:J] = 1.0

    def _step(self, action):
        return super()._step(np.asarray(action)[:, :self.n_joints])

    def tokens(self) -> np.ndarray:
        """``(n, J, FEATURES)``: every hinge's features now (module docstring)."""
        twin, n, unit, J = self.twin, self.num_envs, self.unit, self.n_joints
        rot = twin.xmat[:, 0].reshape(n, 3, 3)
        frame = rot @ self._rest_root_rot.T  # the upright frame: world axes while standing as modelled
        ft = np.transpose(frame, (0, 2, 1))

        def up(v):  # world vectors (n, ..., 3) -> upright frame
            return np.einsum("nij,n...j->n...i", ft, v)

        out = np.broadcast_to(self._static, (n, J, FEATURES)).copy()
        half = np.maximum((self.q_high - self.q_low) / 2, 1e-6)
        q = twin.q
        out[:, :, 0] = (q - (self.q_high + self.q_low) / 2) / half
        out[:, :, 1] = q - self.q_centre
        out[:, :, 2] = twin.qdot * 0.1
        bone_rot = twin.xmat[:, self._joint_body].reshape(n, J, 3, 3)
        axis = bone_rot[np.arange(n)[:, None], np.arange(J)[None], :, self.twin.layout.joint_axis[None]]
        out[:, :, 5:8] = up(axis)
        heads = twin.xpos[:, self._joint_body]
        out[:, :, 8:11] = up(heads - twin.xpos[:, :1]) / unit
        out[:, :, 11:14] = up(heads - twin.com[:, None]) / unit
        out[:, :, 14] = (heads[:, :, 2] - self.ground) / unit
        bh, bt = twin.bone_points()
        r = self._point_radius[:self.spec.n_bones]
        low = np.minimum(bh[:, :, 2], bt[:, :, 2]) - r - self.ground  # (n, B) each bone's lowest point
        limb_low = np.where(self._limb[None], low[:, None, :], np.inf).min(axis=2)  # (n, J)
        out[:, :, 17] = limb_low < 0.01 * unit
        out[:, :, 18] = np.minimum(limb_low / unit, 1.0)
        out[:, :, 19] = self.action
        state = getattr(self, "_state", None)
        out[:, :, 23:26] = ft[:, :, 2][:, None]
        out[:, :, 26] = ((twin.xpos[:, 0, 2] - self.ground) / max(self.rest_root_height, 1e-9))[:, None]
        out[:, :, 27:30] = up(twin.com_vel / unit)[:, None]
        spin_world = np.einsum("nij,nj->ni", rot, twin.qvel[:, 3:6])  # the free joint's spin is in the root frame
        out[:, :, 30:33] = up(spin_world * 0.2)[:, None]
        if state is not None and len(state.support) == n:
            out[:, :, 33:36] = up(twin.com / unit - state.support)[:, None]
            out[:, :, 36] = (state.touching / (2.0 * self.spec.n_bones))[:, None]
        return out

    def _observe(self) -> np.ndarray:
        n = self.num_envs
        tokens = np.zeros((n, MAX_TOKENS, FEATURES), dtype=np.float32)
        tokens[:, :self.n_joints] = self.tokens()
        obs = np.concatenate([tokens.reshape(n, -1), np.broadcast_to(self._mask, (n, MAX_TOKENS))], axis=1)
        return np.nan_to_num(obs, nan=0.0, posinf=10.0, neginf=-10.0).astype(np.float32)

    def signature(self) -> dict:
        sig = super().signature()
        sig["observation"] = "chain"
        return sig

    def policy_layout(self) -> dict:
        layout = super().policy_layout()
        layout["observation"] = [dict(TOKEN_LAYOUT[0], meaning=TOKEN_LAYOUT[0]["meaning"] + f" (this creature: the "
                                      f"first {self.n_joints})"), TOKEN_LAYOUT[1]]
        layout["rig_agnostic"] = True
        return layout


_CLASSES: dict[type, type] = {}


def token_task_class(cls: type) -> type:
    """``cls`` (a physics task kind) observed as hinge tokens."""
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"Token{cls.__name__}", (TokenPhysicsTask, cls), {"__doc__": TokenPhysicsTask.__doc__})
    return _CLASSES[cls]


def make_token_task(spec, kind: str = "stand", n_envs: int = 16, seed: int | None = None, config=None, **kwargs):
    """:func:`~.task.make_physics_task` observed as hinge tokens."""
    from .task import physics_task_class

    return token_task_class(physics_task_class(kind))(spec, config, n_envs=n_envs, seed=seed, **kwargs)


class TokenMix(TaskMix):
    """Several token physics tasks (different creatures) stepped as one batch: the arrays interface our PPO
    takes (``reset``, ``step_arrays``, ``stagger_episodes``), as ``envs.kinematic.chains.ChainMix``."""

    policy_network = "chain"

    def signature(self) -> dict:
        from ..base import _describe_space

        return {"observation_shape": [OBS_SIZE], "action_space": _describe_space(self.action_space),
                "controls": [], "task": self.tasks[0].kind, "observation": "chain", "physics": True}

    def policy_layout(self) -> dict:
        return {"observation": TOKEN_LAYOUT, "joints": [], "rig_agnostic": True}

def shove_survival(task, act=None, seconds: float = 4.0, shove_at: float = 1.0, speed: float = 1.0,
                   seed: int = 0) -> dict:
    """Roll every environment of ``task`` from rest; at ``shove_at`` seconds shove each root horizontally at
    ``speed`` sizes per second (directions spread evenly over the environments). ``act(obs) -> actions`` (None:
    zero actions, the rest pose held). Returns falls, environments, mean seconds up."""
    task.seed(seed)
    obs = task.reset()
    n = task.num_envs
    alive = np.ones(n, dtype=bool)
    up = np.zeros(n)
    at = int(round(shove_at * task.fps))
    for step in range(int(round(seconds * task.fps))):
        if step == at and speed > 0:
            angle = 2 * np.pi * (np.arange(n) + 0.5) / n
            for i in range(n):
                task.twin.datas[i].qvel[:2] += speed * task.unit * np.array([np.cos(angle[i]), np.sin(angle[i])])
            task.twin._gather(range(n))
            obs = task._observe()
        width = task.action_space.shape[0]
        action = np.zeros((n, width)) if act is None else np.asarray(act(obs))
        _, fallen, _ = task._step(action)
        alive &= ~fallen
        up += alive
        obs = task._observe()
        if not alive.any():
            break
    return {"falls": int((~alive).sum()), "episodes": int(n), "seconds_up": float(up.mean() / task.fps)}
