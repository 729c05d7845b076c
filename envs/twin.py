"""``RigTwin``: batched forward kinematics of a compiled rig, equal to Blender's pose evaluation.

No bpy. Given the control bones' local rotations for ``n_envs`` poses at once,
it returns the world matrices of the tracked bones. The loop runs over the
compiled nodes (a handful of bones), never over environments; every operation
is on ``(n_envs, 4, 4)`` arrays.

Each node reproduces ``BKE_pose_where_is_bone``: the local channel matrix, the
parent transform of ``BKE_bone_parent_transform_calc_from_matrices`` (hinge and
every inherit-scale mode), then the constraint stack in world space with
influence blending (``interp_m4_m4m4``), as ``BKE_constraints_solve`` does.
"""

from __future__ import annotations

import numpy as np

from . import kinematics as km
from .rig_spec import INHERIT_SCALE, RigSpec

_FULL, _FIX_SHEAR, _AVERAGE, _NONE, _NONE_LEGACY, _ALIGNED = (
    INHERIT_SCALE[k] for k in ("FULL", "FIX_SHEAR", "AVERAGE", "NONE", "NONE_LEGACY", "ALIGNED")
)


class RigTwin:
    """Forward kinematics of ``spec`` for batches of control rotations."""

    def __init__(self, spec: RigSpec):
        self.spec = spec
        self.n_nodes = len(spec.node_names)
        self.n_controls = len(spec.controls)
        self.n_tracked = len(spec.tracked)
        self._obmat = spec.object_matrix.astype(np.float64)
        self._obinv = np.linalg.inv(self._obmat)
        self._control_of_node = {int(n): c for c, n in enumerate(spec.control_index)}
        # Controls: chan = T(loc) @ R @ S with loc and scale held; split so R can be inserted.
        self._control_loc = spec.basis[spec.control_index, :3, 3].copy()
        self._control_scale = km.axis_lengths(spec.basis[spec.control_index])
        self._plans = [self._plan(i) for i in range(self.n_nodes)]

    # ---- compile ----------------------------------------------------------------------
    def _plan(self, i: int) -> dict:
        s = self.spec
        full = (not s.hinge[i]) and s.inherit_scale[i] == _FULL
        simple = full and not s.constraints[i] and not s.no_local_location[i]
        plan = {"simple": simple, "control": self._control_of_node.get(i)}
        if simple:
            # pose = parent @ offs @ chan; for a control chan = T(loc) R S, so pre = offs @ T(loc)
            pre = s.offs_bone[i].copy()
            if plan["control"] is not None:
                pre = pre @ km.compose(self._control_loc[plan["control"]], np.eye(3), np.ones(3))
            else:
                pre = pre @ s.basis[i]
            plan["pre"] = pre
        return plan

    # ---- evaluate ---------------------------------------------------------------------
    def forward(self, control_rot: np.ndarray, all_nodes: bool = False) -> np.ndarray:
        """World matrices of the tracked bones, ``(n_envs, n_tracked, 4, 4)``.

        ``control_rot``: ``(n_envs, n_controls, 3, 3)`` local rotations of the control
        bones (the rotation of ``pose_bone.matrix_basis``). With ``all_nodes`` the
        result covers every compiled node instead.
        """
        control_rot = np.asarray(control_rot, dtype=np.float64)
        n = control_rot.shape[0]
        s = self.spec
        pose: list[np.ndarray] = [None] * self.n_nodes  # type: ignore[list-item]
        for i, plan in enumerate(self._plans):
            parent = self._parent_pose(i, pose)
            c = plan["control"]
            if plan["simple"]:
                if c is None:
                    local = plan["pre"]
                else:
                    rs = np.zeros((n, 4, 4))
                    rs[:, :3, :3] = control_rot[:, c] * self._control_scale[c][None, None, :]
                    rs[:, 3, 3] = 1.0
                    local = plan["pre"] @ rs
                pose[i] = local if parent is None else parent @ local
                if pose[i].ndim == 2:
                    pose[i] = np.broadcast_to(pose[i], (n, 4, 4))
                continue
            if c is None:
                chan = np.broadcast_to(s.basis[i], (n, 4, 4))
            else:
                chan = km.compose(self._control_loc[c][None], control_rot[:, c], self._control_scale[c][None])
            pose[i] = self._constraints(i, self._apply_parent(i, parent, chan), pose)
        out = np.stack(pose, axis=1)
        world = self._obmat @ out
        return world if all_nodes else world[:, s.tracked_index]

    def forward_euler(self, angles: np.ndarray) -> np.ndarray:
        """:meth:`forward` from ``(n_envs, n_controls, 3)`` Euler XYZ angles in radians."""
        return self.forward(km.euler_xyz_to_matrix(np.asarray(angles, dtype=np.float64)))

    def _parent_pose(self, i: int, pose: list) -> np.ndarray | None:
        s = self.spec
        if not s.has_parent[i]:
            return None
        p = int(s.parent_node[i])
        return pose[p] if p >= 0 else s.parent_const[i]

    def _apply_parent(self, i: int, parent: np.ndarray | None, chan: np.ndarray) -> np.ndarray:
        """``BKE_bone_parent_transform_calc_from_matrices`` then ``BKE_bone_parent_transform_apply``."""
        s = self.spec
        offs = s.offs_bone[i]
        n = chan.shape[0]
        post_scale = None
        if parent is None:
            rotscale = np.broadcast_to(offs, (n, 4, 4))
            if s.no_local_location[i]:
                loc_mat = np.broadcast_to(np.eye(4), (n, 4, 4)).copy()
                loc_mat[:, :3, 3] = offs[:3, 3]
            else:
                loc_mat = rotscale
        else:
            parent = np.broadcast_to(parent, (n, 4, 4))
            use_rotation = not s.hinge[i]
            mode = int(s.inherit_scale[i])
            full = use_rotation and mode == _FULL
            if full:
                rotscale = parent @ offs
            else:
                if use_rotation:
                    tmat = parent.copy()
                    if mode in (_NONE, _AVERAGE):
                        tmat = km.orthogonalize_stable_y(tmat, True)
                    elif mode == _ALIGNED:
                        tmat, post_scale = km.normalize_axes(km.orthogonalize_stable_y(tmat, False))
                    elif mode == _NONE_LEGACY:
                        tmat, _ = km.normalize_axes(tmat)
                else:
                    tmat = np.broadcast_to(s.parent_arm[i], (n, 4, 4)).copy()
                    if mode == _FULL:
                        tmat[:, :3, :3] *= km.axis_lengths(parent)[:, None, :]
                    elif mode == _FIX_SHEAR:
                        tmat[:, :3, :3] *= km.size_fix_shear(parent)[:, None, :]
                    elif mode == _ALIGNED:
                        post_scale = km.size_fix_shear(parent)
                if mode == _AVERAGE:
                    tmat[:, :3, :3] *= np.cbrt(np.abs(km.volume_scale(parent)))[:, None, None]
                rotscale = tmat @ offs
                if mode == _FIX_SHEAR:
                    rotscale = km.orthogonalize_stable_y(rotscale, False)
            if s.no_local_location[i]:
                loc_mat = np.broadcast_to(np.eye(4), (n, 4, 4)).copy()
                loc_mat[:, :3, 3] = (parent @ offs[:, 3])[:, :3]
                loc_mat[:, :3, :3] = parent[:, :3, :3]
            elif not full:
                loc_mat = parent @ offs
            else:
                loc_mat = rotscale
        out = rotscale @ chan
        out[:, :3, 3] = (loc_mat @ np.concatenate([chan[:, :3, 3], np.ones((n, 1))], axis=1)[..., None])[:, :3, 0]
        if post_scale is not None:
            out[:, :3, :3] *= post_scale[:, None, :]
        return out

    # ---- constraints ------------------------------------------------------------------
    def _target_world(self, con, pose: list, n: int) -> np.ndarray:
        if con.target_node >= 0:
            target_pose = pose[con.target_node]
            if con.head_tail:
                target_pose = target_pose.copy()
                target_pose[..., :3, 3] += target_pose[..., :3, 1] * (con.target_length * con.head_tail)
            world = self._obmat @ target_pose
        else:
            world = np.asarray(con.target_const, dtype=np.float64)
        return np.broadcast_to(world, (n, 4, 4))

    def _constraints(self, i: int, pose_mat: np.ndarray, pose: list) -> np.ndarray:
        stack = self.spec.constraints[i]
        if not stack:
            return pose_mat
        n = pose_mat.shape[0]
        world = self._obmat @ pose_mat
        for con in stack:
            target = self._target_world(con, pose, n)
            owner = world
            if con.owner_space == "POSE":
                owner = self._obinv @ owner
            if con.target_space == "POSE":
                target = self._obinv @ target
            result = _EVALUATE[con.type](owner.copy(), target, con.params)
            # Child Of sets CONSTRAINT_SPACEONCE: Blender does not convert its result back to world space
            if con.owner_space == "POSE" and con.type != "CHILD_OF":
                result = self._obmat @ result
            world = result if con.influence >= 1.0 else km.interp_matrix(world, result, con.influence)
        return self._obinv @ world


def _copy_transforms(owner, target, params):
    mix = params.get("mix_mode", "REPLACE")
    if params.get("remove_target_shear"):
        target = km.orthogonalize_stable_y(target, False)
    if mix == "REPLACE":
        return target.copy()
    if mix == "BEFORE_FULL":
        return target @ owner
    return owner @ target  # AFTER_FULL


def _copy_rotation(owner, target, params):
    # Blender's rotlike_evaluate, all axes, REPLACE: the target's rotation (orthogonalised around Y)
    # with the owner's location and scale
    rot = km.orthogonalize_stable_y(target, True)
    size = km.axis_lengths(owner) * np.sign(km.volume_scale(owner))[..., None]
    out = owner.copy()
    out[..., :3, :3] = rot[..., :3, :3] * size[..., None, :]
    return out


def _copy_location(owner, target, params):
    out = owner.copy()
    for axis, use in enumerate(params["use"]):
        if use:
            value = -target[..., axis, 3] if params["invert"][axis] else target[..., axis, 3]
            out[..., axis, 3] = value + (owner[..., axis, 3] if params.get("use_offset") else 0.0)
    return out


def _copy_scale(owner, target, params):
    # Blender's sizelike_evaluate
    size = km.axis_lengths(target)
    own = km.axis_lengths(owner)
    use = list(params["use"])
    if params.get("uniform"):
        if all(use):
            total = np.abs(km.volume_scale(target))[..., None]
        else:
            total = np.prod(np.where(use, size, 1.0), axis=-1, keepdims=True)
        size = np.repeat(np.cbrt(total), 3, axis=-1)
        use = [True, True, True]
    size = size ** params.get("power", 1.0)
    if params.get("use_offset"):
        size = size + own - 1.0 if params.get("use_add") else size * own
    out = owner.copy()
    for axis, on in enumerate(use):
        if on:
            factor = np.where(own[..., axis] != 0, size[..., axis] / np.where(own[..., axis] != 0, own[..., axis], 1), 1)
            out[..., :3, axis] *= factor[..., None]
    return out


def _child_of(owner, target, params):
    return target @ np.asarray(params["inverse_matrix"], dtype=np.float64) @ owner


_EVALUATE = {
    "COPY_TRANSFORMS": _copy_transforms,
    "COPY_ROTATION": _copy_rotation,
    "COPY_LOCATION": _copy_location,
    "COPY_SCALE": _copy_scale,
    "CHILD_OF": _child_of,
}
SUPPORTED_CONSTRAINTS = frozenset(_EVALUATE)
