"""``RigTwin``: batched forward kinematics of a compiled rig, equal to Blender's pose evaluation.

No bpy. Given the control bones' local rotations for ``n_envs`` poses at once,
it returns the world matrices of the tracked bones. The loop runs over the
compiled nodes (a handful of bones), never over environments; every operation
is on ``(n_envs, 4, 4)`` arrays.

Each node reproduces ``BKE_pose_where_is_bone``: the local channel matrix, the
parent transform of ``BKE_bone_parent_transform_calc_from_matrices`` (hinge and
every inherit-scale mode), then the constraint stack in world space with
influence blending (``interp_m4_m4m4``), as ``BKE_constraints_solve`` does, and a
connected bone's head put back on its parent's tail. Location controls set the
location channels. An IK chain is solved (``envs.kinematic.ik``, Blender's Standard solver)
right after its last bone, replacing the chain bones' poses, as the IK plugin does.
"""

from __future__ import annotations

import numpy as np

from .. import kinematics as km
from . import constraints as cons
from . import ik
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
        self._location_of_node = {int(n): c for c, n in enumerate(spec.location_index)}
        self.n_locations = len(spec.location_controls)
        # Controls: chan = T(loc) @ R @ S with loc and scale held; split so R can be inserted.
        self._control_loc = spec.basis[spec.control_index, :3, 3].copy()
        self._control_scale = km.axis_lengths(spec.basis[spec.control_index])
        # every node's held channels, for a node whose location (or rotation) alone is a control
        self._held_scale = km.axis_lengths(spec.basis)
        self._held_rot = spec.basis[:, :3, :3] / np.where(self._held_scale > 0, self._held_scale, 1.0)[:, None, :]
        self._rest_location = np.asarray(spec.control_rest_location, dtype=np.float64).reshape(-1, 3)
        # an IK chain is solved right after its last bone is evaluated (extraction orders its dependents later)
        self._ik_after: dict[int, list[dict]] = {}
        for chain in spec.ik_chains:
            self._ik_after.setdefault(max(chain["nodes"]), []).append(chain)
        self._plans = self._plans_for()
        self._frame_twins: dict[int, RigTwin] = {}  # one per animation frame used (``forward(frame=...)``)

    # ---- compile ----------------------------------------------------------------------
    # Each node gets one of three plans:
    #   "alias":  a full-influence Copy Transforms (Replace, World/Pose) is its whole stack, so its pose
    #             is its target's pose (Rigify's ORG and DEF bones);
    #   "rigid":  no constraints and a parent whose pose is always rigid (unit scale, no shear), so every
    #             inherit-scale mode equals Full and the pose is a rotation and a translation;
    #   "general": everything else, evaluated with 4x4 matrices exactly as Blender does.
    def _plans_for(self) -> list[dict]:
        s = self.spec
        plans: list[dict] = []
        rigid_nodes = self._rigid_nodes()
        for i in range(self.n_nodes):
            c = self._control_of_node.get(i)
            stack = s.constraints[i]
            loc = self._location_of_node.get(i)
            plan: dict = {"control": c, "kind": "general", "location": loc}
            if loc is not None:
                pass  # a moving location: the general evaluation
            elif (len(stack) == 1 and stack[0].type == "COPY_TRANSFORMS" and stack[0].influence >= 1.0
                    and stack[0].target_node >= 0 and not stack[0].head_tail
                    and stack[0].params.get("mix_mode") == "REPLACE" and not stack[0].params.get("remove_target_shear")
                    and stack[0].owner_space in ("WORLD", "POSE") and stack[0].target_space in ("WORLD", "POSE")):
                plan = {"control": c, "kind": "alias", "target": stack[0].target_node, "location": None,
                        "head_from_parent": self._connected(i)}
            elif (not stack and not s.hinge[i] and not s.no_local_location[i]
                  and (s.inherit_scale[i] == _FULL or not s.has_parent[i] or self._parent_rigid(i, rigid_nodes))
                  and (c is None or np.allclose(self._control_scale[c], 1.0))):
                pre = s.offs_bone[i] @ (km.compose(self._control_loc[c], np.eye(3), np.ones(3)) if c is not None
                                        else s.basis[i])
                plan = {"control": c, "kind": "rigid", "R": pre[:3, :3].copy(), "t": pre[:3, 3].copy(), "location": None}
            plans.append(plan)
        return plans

    def _connected(self, i: int) -> bool:
        c = self.spec.connected
        return bool(len(c) and c[i] and self.spec.has_parent[i])

    def _parent_rigid(self, i: int, rigid_nodes: set[int]) -> bool:
        p = int(self.spec.parent_node[i])
        if p >= 0:
            return p in rigid_nodes
        m = self.spec.parent_const[i][:3, :3]
        return bool(np.allclose(m.T @ m, np.eye(3), atol=1e-9))

    def _rigid_nodes(self, samples: int = 16) -> set[int]:
        """Nodes whose pose is a pure rotation and translation at every sampled pose (general evaluation).

        Scale and shear in a pose come only from held scales and scale constraints, never from the control
        rotations alone, so a node rigid over random poses is rigid at all of them.
        """
        self._plans = [{"control": self._control_of_node.get(i), "kind": "general",
                        "location": self._location_of_node.get(i)} for i in range(self.n_nodes)]
        rng = np.random.default_rng(12345)
        angles = rng.uniform(-np.pi, np.pi, size=(samples, self.n_controls, 3))
        locations = self._rest_location + rng.uniform(-0.1, 0.1, size=(samples, self.n_locations, 3)) * \
            max(float(self.spec.lengths.max(initial=0.0)), 1e-3)
        poses = self._evaluate(km.euler_xyz_to_matrix(angles), locations)
        rigid = set()
        for i, (R, _) in enumerate(poses):
            gram = np.swapaxes(R, -1, -2) @ R
            if np.allclose(gram, np.eye(3), atol=1e-9):
                rigid.add(i)
        return rigid

    # ---- evaluate ---------------------------------------------------------------------
    def forward(self, control_rot: np.ndarray, all_nodes: bool = False,
                control_loc: np.ndarray | None = None, frame: np.ndarray | None = None) -> np.ndarray:
        """World matrices of the tracked bones, ``(n_envs, n_tracked, 4, 4)``.

        ``control_rot``: ``(n_envs, n_controls, 3, 3)`` local rotations of the control
        bones (the rotation of ``pose_bone.matrix_basis``); ``control_loc``: ``(n_envs,
        n_locations, 3)`` location channels of the location controls (default: as held).
        With ``all_nodes`` the result covers every compiled node instead. ``frame``: ``(n_envs,)``
        frames of the spec's animation (``RigSpec.anim_frames``; clipped to it) each environment is at: the
        bones the controls do not move play their animation. Environments at one frame are evaluated
        together (a training's batch usually is), each frame by a twin of that frame's spec.
        """
        control_rot = np.asarray(control_rot, dtype=np.float64)
        n = control_rot.shape[0]
        if control_loc is None:
            control_loc = np.broadcast_to(self._rest_location, (n, self.n_locations, 3))
        if frame is not None and self.spec.anim_frames:
            frame = np.clip(np.broadcast_to(np.asarray(frame, dtype=np.int64), (n,)), 0, self.spec.anim_frames - 1)
            frames = np.unique(frame)
            if len(frames) == 1:
                return self._at_frame(int(frames[0])).forward(control_rot, all_nodes, control_loc)
            out = None
            for k in frames:
                rows = frame == k
                part = self._at_frame(int(k)).forward(control_rot[rows], all_nodes, np.asarray(control_loc)[rows])
                if out is None:
                    out = np.zeros((n,) + part.shape[1:])
                out[rows] = part
            assert out is not None
            return out
        poses = self._evaluate(control_rot, np.asarray(control_loc, dtype=np.float64))
        which = range(self.n_nodes) if all_nodes else self.spec.tracked_index
        out = np.zeros((n, len(which), 4, 4))
        ob3, obt = self._obmat[:3, :3], self._obmat[:3, 3]
        for k, i in enumerate(which):
            R, t = poses[i]
            out[:, k, :3, :3] = ob3 @ R
            out[:, k, :3, 3] = t @ ob3.T + obt
        out[:, :, 3, 3] = 1.0
        return out

    def _at_frame(self, k: int) -> "RigTwin":
        """The twin of the spec's animation frame ``k`` (built on first use)."""
        twin = self._frame_twins.get(k)
        if twin is None:
            twin = self._frame_twins[k] = RigTwin(self.spec.at_frame(k))
        return twin

    def _evaluate(self, control_rot: np.ndarray, control_loc: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Armature-space pose of every node as (rotation-scale (n,3,3), translation (n,3))."""
        n = control_rot.shape[0]
        s = self.spec
        poses: list = [None] * self.n_nodes
        mats: dict[int, np.ndarray] = {}  # 4x4 views of poses, built when a general node needs them

        def as4(i: int) -> np.ndarray:
            if i not in mats:
                R, t = poses[i]
                m = np.zeros((n, 4, 4))
                m[:, :3, :3] = R
                m[:, :3, 3] = t
                m[:, 3, 3] = 1.0
                mats[i] = m
            return mats[i]

        for i, plan in enumerate(self._plans):
            for chain in self._ik_after.get(i - 1, ()):  # the previous node ended an IK chain: solve it now
                self._solve_ik(chain, as4, mats, poses, n)
            kind, c = plan["kind"], plan["control"]
            if kind == "alias":
                poses[i] = poses[plan["target"]]
                if plan["head_from_parent"]:  # a connected bone keeps its head on the parent's tail
                    p = int(s.parent_node[i])
                    Rp, tp = poses[p] if p >= 0 else (s.parent_const[i][:3, :3], s.parent_const[i][:3, 3])
                    poses[i] = (poses[i][0], np.broadcast_to(Rp @ s.offs_bone[i][:3, 3] + tp, (n, 3)))
                continue
            if kind == "rigid":
                if c is None:
                    R_local, t_local = plan["R"], plan["t"]
                else:
                    R_local, t_local = plan["R"] @ control_rot[:, c], plan["t"]
                if not s.has_parent[i]:
                    R, t = np.broadcast_to(R_local, (n, 3, 3)), np.broadcast_to(t_local, (n, 3))
                else:
                    p = int(s.parent_node[i])
                    if p >= 0:
                        Rp, tp = poses[p]
                    else:
                        Rp, tp = s.parent_const[i][:3, :3], s.parent_const[i][:3, 3]
                    R = np.broadcast_to(Rp @ R_local, (n, 3, 3))
                    t = np.broadcast_to(Rp @ t_local + tp, (n, 3))  # t_local is a constant (3,)
                poses[i] = (R, t)
                continue
            lc = plan.get("location")
            if lc is not None:
                rot = control_rot[:, c] if c is not None else self._held_rot[i][None]
                chan = km.compose(control_loc[:, lc], rot, self._held_scale[i][None])
            elif c is None:
                chan = np.broadcast_to(s.basis[i], (n, 4, 4))
            else:
                chan = km.compose(self._control_loc[c][None], control_rot[:, c], self._control_scale[c][None])
            if s.has_parent[i]:
                p = int(s.parent_node[i])
                parent = as4(p) if p >= 0 else s.parent_const[i]
            else:
                parent = None
            bpt = self._parent_transform(i, parent, n)
            pre = self._bone_to_pose(bpt, chan)
            m = self._constraints(i, pre, as4, bpt)
            if self._connected(i) and s.constraints[i]:
                m[:, :3, 3] = pre[:, :3, 3]  # BKE_pose_where_is_bone: constraints do not break a connected chain
            mats[i] = m
            poses[i] = (m[:, :3, :3], m[:, :3, 3])
        for chain in self._ik_after.get(self.n_nodes - 1, ()):
            self._solve_ik(chain, as4, mats, poses, n)
        return poses

    def _solve_ik(self, chain: dict, as4, mats: dict, poses: list, n: int) -> None:
        """Blender's IK for one chain (``envs.kinematic.ik``), replacing the chain bones' poses."""
        s = self.spec
        nodes = chain["nodes"]
        pre = [as4(j) for j in nodes]
        root = nodes[0]
        root_parent = None
        if s.has_parent[root]:
            p = int(s.parent_node[root])
            root_parent = as4(p) if p >= 0 else np.broadcast_to(s.parent_const[root], (n, 4, 4))

        def point(node_key: str, const_key: str, ht_key: str, len_key: str):
            if chain.get(node_key, -1) >= 0:
                m = as4(chain[node_key]).copy()
                m[:, :3, 3] += m[:, :3, 1] * (chain.get(len_key, 0.0) * chain.get(ht_key, 0.0))
                return m
            if chain.get(const_key) is None:
                return None
            return np.broadcast_to(self._obinv @ np.asarray(chain[const_key], dtype=np.float64), (n, 4, 4))

        target = point("target_node", "target_const", "target_head_tail", "target_length")
        pole = point("pole_node", "pole_const", "pole_head_tail", "pole_length")
        out = ik.solve_chain(chain, pre, root_parent, s.lengths[nodes], s.offs_bone[nodes, :3, :3], target, pole)
        for j, m in zip(nodes, out):
            mats[j] = m
            poses[j] = (m[:, :3, :3], m[:, :3, 3])

    def forward_euler(self, angles: np.ndarray, locations: np.ndarray | None = None) -> np.ndarray:
        """:meth:`forward` from ``(n_envs, n_controls, 3)`` Euler XYZ angles in radians (and locations)."""
        return self.forward(km.euler_xyz_to_matrix(np.asarray(angles, dtype=np.float64)), control_loc=locations)

    def _parent_transform(self, i: int, parent: np.ndarray | None, n: int):
        """``BKE_bone_parent_transform_calc_from_matrices``: (rotscale, loc_mat, post_scale or None)."""
        s = self.spec
        offs = s.offs_bone[i]
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
        return rotscale, loc_mat, post_scale

    @staticmethod
    def _bone_to_pose(bpt, mat: np.ndarray) -> np.ndarray:
        """``BKE_bone_parent_transform_apply``: a local (channel) matrix into pose space."""
        rotscale, loc_mat, post_scale = bpt
        out = rotscale @ mat
        out[..., :3, 3] = (loc_mat[..., :3, :3] @ mat[..., :3, 3, None])[..., 0] + loc_mat[..., :3, 3]
        if post_scale is not None:
            out[..., :3, :3] *= post_scale[..., None, :]
        return out

    @staticmethod
    def _pose_to_bone(bpt, mat: np.ndarray) -> np.ndarray:
        """``BKE_armature_mat_pose_to_bone``: the inverted parent transform applied, as Blender does it."""
        rotscale, loc_mat, post_scale = bpt
        inv_rs = km.affine_inverse(rotscale)
        inv_loc = inv_rs if loc_mat is rotscale else km.affine_inverse(loc_mat)
        out = inv_rs @ mat
        out[..., :3, 3] = (inv_loc[..., :3, :3] @ mat[..., :3, 3, None])[..., 0] + inv_loc[..., :3, 3]
        if post_scale is not None:
            safe = np.where(post_scale != 0, post_scale, 1.0)
            out[..., :3, :3] *= np.where(post_scale != 0, 1.0 / safe, 0.0)[..., None, :]
        return out

    # ---- constraints ------------------------------------------------------------------
    def _target_world(self, con, as4, n: int) -> np.ndarray:
        if con.target_node >= 0:
            target_pose = as4(con.target_node)
            if con.head_tail:
                target_pose = target_pose.copy()
                target_pose[..., :3, 3] += target_pose[..., :3, 1] * (con.target_length * con.head_tail)
            world = self._obmat @ target_pose
        else:
            world = np.asarray(con.target_const, dtype=np.float64)
        return np.broadcast_to(world, (n, 4, 4))

    def _deform_mean(self, con, as4, n: int) -> np.ndarray | None:
        """The Armature constraint's weighted mean of world deform matrices (pose @ rest⁻¹) of its targets."""
        total, weight = np.zeros((n, 4, 4)), 0.0
        for t in con.params["targets"]:
            if t["node"] >= 0:
                deform = self._obmat @ as4(t["node"]) @ np.asarray(t["rest_inv"]) @ self._obinv
            else:
                deform = np.asarray(t["deform"], dtype=np.float64)
            total = total + deform * t["weight"]
            weight += t["weight"]
        return total / weight if weight > 0 else None

    def _local_target(self, con, as4, n: int) -> np.ndarray:
        """A bone target in its own local space (Blender's pose-to-bone conversion of its pose)."""
        if con.target_node < 0:  # a constant target: extraction stored its local matrix
            return np.broadcast_to(np.asarray(con.target_const, dtype=np.float64), (n, 4, 4))
        j, s = con.target_node, self.spec
        if s.has_parent[j]:
            p = int(s.parent_node[j])
            parent = as4(p) if p >= 0 else s.parent_const[j]
        else:
            parent = None
        return self._pose_to_bone(self._parent_transform(j, parent, n), as4(j))

    def _constraints(self, i: int, pose_mat: np.ndarray, as4, bpt) -> np.ndarray:
        """``BKE_constraints_solve``: each constraint in its owner and target spaces, blended by influence."""
        stack = self.spec.constraints[i]
        if not stack:
            return pose_mat
        n = pose_mat.shape[0]
        world = self._obmat @ pose_mat
        for con in stack:
            if con.type in cons.TARGETLESS:
                target = None
            elif con.type in cons.MULTI_TARGET:
                target = self._deform_mean(con, as4, n)
            elif con.target_space == "LOCAL":
                target = self._local_target(con, as4, n)
            else:
                target = self._target_world(con, as4, n)
                if con.target_space == "POSE":
                    target = self._obinv @ target
            owner = world
            if con.owner_space in ("POSE", "LOCAL"):
                owner = self._obinv @ owner
            if con.owner_space == "LOCAL":
                owner = self._pose_to_bone(bpt, owner)
            result = _EVALUATE[con.type](owner.copy(), target, con.params)
            # Child Of sets CONSTRAINT_SPACEONCE: Blender does not convert its result back to world space
            if con.owner_space in ("POSE", "LOCAL") and con.type != "CHILD_OF":
                if con.owner_space == "LOCAL":
                    result = self._bone_to_pose(bpt, result)
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
    if (params.get("mix_mode", "REPLACE") != "REPLACE" or not all(params.get("use", (True,) * 3))
            or any(params.get("invert", (False,) * 3))):
        return cons.copy_rotation(owner, target, params)  # axis subsets, inverted axes, other mix modes
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


def _stretch_to(owner, target, params):
    """Blender's stretchto_evaluate (Swing Y, Plane X, Plane Z; every volume mode and bulge clamp)."""
    m = owner.copy()
    if params["keep_axis"] == "SWING_Y":
        m = km.orthogonalize_stable_y(m, False)
    m, size = km.normalize_axes(m)
    xx, zz = m[..., :3, 0].copy(), m[..., :3, 2].copy()
    vec = target[..., :3, 3] - m[..., :3, 3]
    dist = np.linalg.norm(vec, axis=-1)
    vec = vec / np.where(dist > 0, dist, 1.0)[..., None]
    dist = np.where(size[..., 1] != 0, dist / np.where(size[..., 1] != 0, size[..., 1], 1.0), 0.0)
    rest = params["rest_length"]
    scale = np.ones(size.shape)
    scale[..., 1] = dist / rest
    bulge = (rest / np.where(dist > 0, dist, 1e-30)) ** params["bulge"]
    if params["use_bulge_max"]:
        bmax = max(params["bulge_max"], 1.0)
        rng = bmax - 1.0
        soft = 1.0 + rng * np.arctan((bulge - 1.0) * (1.0 / rng if rng > 0 else 0.0)) / (np.pi / 2)
        bulge = np.where(bulge > 1.0, soft + (np.minimum(bulge, bmax) - soft) * params["bulge_smooth"], bulge)
    if params["use_bulge_min"]:
        bmin = min(max(params["bulge_min"], 0.0), 1.0)
        rng = 1.0 - bmin
        soft = 1.0 - rng * np.arctan((1.0 - bulge) * (1.0 / rng if rng > 0 else 0.0)) / (np.pi / 2)
        bulge = np.where(bulge < 1.0, soft + (np.maximum(bulge, bmin) - soft) * params["bulge_smooth"], bulge)
    volume = params["volume"]
    if volume == "VOLUME_XZX":
        scale[..., 0] = scale[..., 2] = np.sqrt(bulge)
    elif volume == "VOLUME_X":
        scale[..., 0] = bulge
    elif volume == "VOLUME_Z":
        scale[..., 2] = bulge
    size = size * scale
    if params["keep_axis"] == "SWING_Y":
        m[..., :3, :3] = _damped_track_y(m[..., :3, :3], vec)
    elif params["keep_axis"] == "PLANE_X":
        orth = np.cross(xx, vec)
        orth /= np.linalg.norm(orth, axis=-1, keepdims=True)
        new_x = np.cross(vec, orth)
        m[..., :3, 0] = new_x / np.linalg.norm(new_x, axis=-1, keepdims=True)
        m[..., :3, 1], m[..., :3, 2] = vec, orth
    else:  # PLANE_Z
        orth = np.cross(zz, vec)
        orth /= np.linalg.norm(orth, axis=-1, keepdims=True)
        new_z = np.cross(vec, orth)
        m[..., :3, 0], m[..., :3, 1] = -orth, vec
        m[..., :3, 2] = new_z / np.linalg.norm(new_z, axis=-1, keepdims=True)
    m[..., :3, :3] *= size[..., None, :]
    return m


def _turn_axis_onto(m3: np.ndarray, column: int, sign: float, direction: np.ndarray) -> np.ndarray:
    """Blender's damptrack_do_transform: the shortest rotation taking the owner's axis onto ``direction``,
    applied to the 3x3 part (scale kept)."""
    axis_vec = m3[..., :, column] * sign
    axis_vec = axis_vec / np.maximum(np.linalg.norm(axis_vec, axis=-1, keepdims=True), 1e-30)
    target = direction / np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-30)
    cross = np.cross(axis_vec, target)
    cos = np.clip(np.sum(axis_vec * target, axis=-1), -1.0, 1.0)
    norm = np.linalg.norm(cross, axis=-1)
    ok = norm > 1e-12
    axis = np.where(ok[..., None], cross / np.where(ok, norm, 1.0)[..., None], [1.0, 0.0, 0.0])
    angle = np.where(ok, np.arccos(cos), np.where(cos < 0, np.pi, 0.0))
    return km.axis_angle_to_matrix(axis, angle) @ m3


def _damped_track_y(rot: np.ndarray, direction: np.ndarray) -> np.ndarray:
    return _turn_axis_onto(rot, 1, 1.0, direction)


_TRACK_AXES = {"TRACK_X": (0, 1.0), "TRACK_Y": (1, 1.0), "TRACK_Z": (2, 1.0),
               "TRACK_NEGATIVE_X": (0, -1.0), "TRACK_NEGATIVE_Y": (1, -1.0), "TRACK_NEGATIVE_Z": (2, -1.0)}


def _damped_track(owner, target, params):
    column, sign = _TRACK_AXES[params["track_axis"]]
    direction = target[..., :3, 3] - owner[..., :3, 3]
    out = owner.copy()
    out[..., :3, :3] = _turn_axis_onto(owner[..., :3, :3], column, sign, direction)
    return out


def _child_of(owner, target, params):
    return target @ np.asarray(params["inverse_matrix"], dtype=np.float64) @ owner


_EVALUATE = {
    "COPY_TRANSFORMS": _copy_transforms,
    "COPY_ROTATION": _copy_rotation,
    "COPY_LOCATION": _copy_location,
    "COPY_SCALE": _copy_scale,
    "CHILD_OF": _child_of,
    "STRETCH_TO": _stretch_to,
    "DAMPED_TRACK": _damped_track,
    **{k: f for k, f in cons.EVALUATE.items() if k != "COPY_ROTATION"},
}
SUPPORTED_CONSTRAINTS = frozenset(_EVALUATE)
