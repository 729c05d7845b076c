"""Blender's IK constraint (the Standard / legacy ``iksolver``), batched over environments (no bpy).

What Blender runs, reproduced step by step so the twin's result equals Blender's (the solver
stops after a convergence test, so its answer is not the exact solution of the reach; only
running the same iterations gives the same pose):

- ``source/blender/ikplugin/intern/iksolver_plugin.cc``: ``execute_posetree`` builds one
  segment per chain bone from its pose before IK (rotation relative to the normalised parent
  and the rest ``bone_mat``, the offset from the parent's tail, the length scaled by the pose),
  IK locks choose the segment type, ``ik_stretch`` adds a translation along Y with stiffness
  ``1 - ik_stretch²``; the goal and the pole are taken into the frame of the root's parent;
  after the solve ``where_is_ik_bone`` applies each bone's basis change (and stretch).
- ``intern/iksolver/intern/IK_QJacobianSolver.cpp``: scale the problem to unit length, turn the
  root towards the pole once (``ConstrainPoleVector``), then iterate: Jacobian, SVD, selectively
  damped least squares (``IK_QJacobian::InvertSDLS``), update every segment, stop when the
  largest update is under 1e-3 after at least 12 iterations, or after ``iterations``.
- ``IK_QSegment.cpp`` (spherical, revolute, swing, elbow, translate segments), ``IK_QTask.cpp``
  (position and orientation tasks, the clamp of the position error), ``IK_Math.h``.

Not reproduced (refused at extraction with the reason): IK joint limits (the solver's inner
clamping loop), tree IK (several IK chains sharing bones), Auto IK and Spline IK.

A chain is a plain dict (``RigSpec.ik_chains``), so a spec stays JSON and numpy only.
"""

from __future__ import annotations

import numpy as np

from .. import kinematics as km

EPS = 1e-20  # IK_EPSILON
_SDLS_MAX_ANGLE = np.pi / 4
STRETCH_MIN = 0.001  # IK_STRETCH_STIFF_MIN
STATS: list | None = None  # set to a list to collect each solve's iteration count (benchmarks)


# ---- IK_Math.h ----------------------------------------------------------------------------------


def _rot(angle: np.ndarray, axis: int) -> np.ndarray:
    """RotationMatrix(angle, axis), batched."""
    return _rot_sc(np.sin(angle), np.cos(angle), axis)


def _rot_sc(s: np.ndarray, c: np.ndarray, axis: int) -> np.ndarray:
    out = np.zeros(np.shape(s) + (3, 3))
    a, b = [(1, 2), (2, 0), (0, 1)][axis]
    out[..., axis, axis] = 1.0
    out[..., a, a] = c
    out[..., b, b] = c
    out[..., a, b] = -s
    out[..., b, a] = s
    return out


def _twist(r: np.ndarray) -> np.ndarray:
    """ComputeTwist: the rotation about Y of a rotation matrix."""
    qy = r[..., 0, 2] - r[..., 2, 0]
    qw = r[..., 0, 0] + r[..., 1, 1] + r[..., 2, 2] + 1.0
    return 2.0 * np.arctan2(qy, qw)


def _remove_twist(r: np.ndarray) -> np.ndarray:
    return r @ np.swapaxes(_rot(_twist(r), 1), -1, -2)


def _euler_angle(r: np.ndarray, axis: int) -> np.ndarray:
    """EulerAngleFromMatrix."""
    t = np.sqrt(r[..., 0, 0] ** 2 + r[..., 0, 1] ** 2)
    big = t > 16.0 * EPS
    if axis == 0:
        return np.where(big, -np.arctan2(r[..., 1, 2], r[..., 2, 2]), -np.arctan2(-r[..., 2, 1], r[..., 1, 1]))
    if axis == 1:
        return np.arctan2(-r[..., 0, 2], t)
    return np.where(big, -np.arctan2(r[..., 0, 1], r[..., 0, 0]), 0.0)


def _rodrigues(dq: np.ndarray) -> np.ndarray:
    """The rotation IK_QSphericalSegment::UpdateAngle builds from an update vector (identity when ~0)."""
    theta = np.sqrt(np.einsum("...i,...i->...", dq, dq))
    small = theta < EPS
    w = dq / np.where(small, 1.0, theta)[..., None]
    s, c = np.sin(theta), np.cos(theta)
    ci = 1.0 - c
    x, y, z = w[..., 0], w[..., 1], w[..., 2]
    m = np.empty(dq.shape[:-1] + (3, 3))
    m[..., 0, 0] = c + x * x * ci
    m[..., 0, 1] = -z * s + x * y * ci
    m[..., 0, 2] = y * s + x * z * ci
    m[..., 1, 0] = z * s + x * y * ci
    m[..., 1, 1] = c + y * y * ci
    m[..., 1, 2] = -x * s + y * z * ci
    m[..., 2, 0] = -y * s + x * z * ci
    m[..., 2, 1] = x * s + y * z * ci
    m[..., 2, 2] = c + z * z * ci
    m[small] = np.eye(3)
    return m


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product over the last axis (np.cross costs more in Python than the arithmetic on small batches)."""
    out = np.empty(np.broadcast_shapes(a.shape, b.shape))
    a0, a1, a2 = a[..., 0], a[..., 1], a[..., 2]
    b0, b1, b2 = b[..., 0], b[..., 1], b[..., 2]
    out[..., 0] = a1 * b2 - a2 * b1
    out[..., 1] = a2 * b0 - a0 * b2
    out[..., 2] = a0 * b1 - a1 * b0
    return out


def _normalize(v: np.ndarray) -> np.ndarray:
    """IK_Math normalize(): a zero vector stays zero."""
    length = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(length < EPS, 0.0, v / np.where(length < EPS, 1.0, length))


# ---- segments -------------------------------------------------------------------------------------


def segment_kind(dof: list[bool]) -> tuple[str, int]:
    """IK_Solver.cpp CreateSegment: the rotation segment for a bone's free IK axes (kind, axis)."""
    free = [k for k in range(3) if dof[k]]
    if not free:
        return "none", -1
    if len(free) == 1:
        return "revolute", free[0]
    if len(free) == 2:
        if free == [0, 2]:
            return "swing", -1
        return "elbow", 0 if free[0] == 0 else 2
    return "spherical", -1


class _Seg:
    """One IK_QSegment of a chain, with batched state."""

    def __init__(self, kind: str, axis: int = -1, translational: bool = False):
        self.kind, self.axis, self.translational = kind, axis, translational
        self.ndof = {"none": 0, "revolute": 1, "swing": 2, "elbow": 2, "spherical": 3, "translate": 1}[kind]
        self.weight = np.ones(max(self.ndof, 1))
        self.dof_id = 0
        self.identity_frame = False  # a stretch segment composed with its bone's rotation: no turn of its own
        self.zero_start = False

    def set_transform(self, start, rest, basis, length):
        self.start = start  # (n,3)
        self.rest = rest  # (3,3) or (n,3,3)
        self.orig_basis = basis  # (n,3,3)
        self.max_extension = np.linalg.norm(start, axis=-1) + length
        self.translation = np.zeros(start.shape)
        self.translation[:, 1] = length
        self.orig_translation = self.translation.copy()
        self.set_basis(basis)

    def set_basis(self, basis):
        k = self.kind
        if k == "none":
            self.basis = np.broadcast_to(np.eye(3), basis.shape).copy()
        elif k == "revolute":
            self.angle = _twist(basis) if self.axis == 1 else _euler_angle(basis, self.axis)
            self.basis = _rot(self.angle, self.axis)
        elif k == "swing":
            self.basis = _remove_twist(basis)
        elif k == "elbow":
            self.twist = _twist(basis)
            self.angle = _euler_angle(basis, self.axis)
            self.basis = _rot(self.angle, self.axis) @ _rot(self.twist, 1)
            self.cos_twist, self.sin_twist = np.ones(len(basis)), np.zeros(len(basis))
        else:  # spherical, translate
            self.basis = basis.copy()

    def set_weight(self, axis: int, weight: float) -> None:
        k = self.kind
        if k == "spherical":
            self.weight[axis] = weight
        elif k == "revolute" and axis == self.axis:
            self.weight[0] = weight
        elif k == "swing" and axis in (0, 2):
            self.weight[0 if axis == 0 else 1] = weight
        elif k == "elbow" and (axis == self.axis or axis == 1):
            self.weight[0 if axis == self.axis else 1] = weight
        elif k == "translate" and axis == 1:
            self.weight[0] = weight

    def state(self) -> dict:
        """Working copies of what the iterations change (and read), one row per environment."""
        st = {"basis": self.basis.copy(), "ty": self.translation[:, 1].copy(), "start": self.start}
        if self.kind in ("revolute", "elbow"):
            st["angle"] = self.angle.copy()
        if self.kind == "elbow":
            st.update(twist=self.twist.copy(), cos=self.cos_twist.copy(), sin=self.sin_twist.copy())
        return st

    def store(self, st: dict, rows: np.ndarray, sel) -> None:
        """Write the working state of ``sel`` back to the environments ``rows``."""
        self.basis[rows] = st["basis"][sel]
        self.translation[rows, 1] = st["ty"][sel]
        if self.kind in ("revolute", "elbow"):
            self.angle[rows] = st["angle"][sel]
        if self.kind == "elbow":
            self.twist[rows], self.cos_twist[rows], self.sin_twist[rows] = st["twist"][sel], st["cos"][sel], st["sin"][sel]

    def axes_of(self, R: np.ndarray, st: dict) -> list[np.ndarray]:
        """Axis(dof) of each DoF from the segment's global rotation R (working state ``st``)."""
        k = self.kind
        if k == "spherical":
            return [R[:, :, 0], R[:, :, 1], R[:, :, 2]]
        if k == "revolute":
            return [R[:, :, self.axis]]
        if k == "swing":
            return [R[:, :, 0], R[:, :, 2]]
        if k == "elbow":
            c, s = st["cos"], st["sin"]
            v = np.stack([c, np.zeros_like(c), s], -1) if self.axis == 0 else np.stack([-s, np.zeros_like(c), c], -1)
            return [np.einsum("kij,kj->ki", R, v), R[:, :, 1]]
        if k == "translate":
            return [R[:, :, 1]]
        return []

    def apply(self, st: dict, d: np.ndarray) -> None:
        """UpdateAngle + UpdateAngleApply (no limits) on the working state; ``d`` (k, ndof)."""
        k = self.kind
        if k == "spherical":
            st["basis"] = st["basis"] @ _rodrigues(d)
        elif k == "swing":
            dq = np.stack([d[:, 0], np.zeros(len(d)), d[:, 1]], -1)
            st["basis"] = _remove_twist(st["basis"] @ _rodrigues(dq))
        elif k == "revolute":
            st["angle"] = st["angle"] + d[:, 0]
            st["basis"] = _rot(st["angle"], self.axis)
        elif k == "elbow":
            st["angle"] = st["angle"] + d[:, 0]
            st["twist"] = st["twist"] + d[:, 1]
            st["sin"], st["cos"] = np.sin(st["twist"]), np.cos(st["twist"])
            st["basis"] = _rot(st["angle"], self.axis) @ _rot_sc(st["sin"], st["cos"], 1)
        elif k == "translate":
            st["ty"] = st["ty"] + d[:, 0]

    def axes(self, R: np.ndarray, idx: np.ndarray) -> list[np.ndarray]:
        """Axis(dof) for each DoF of the environments ``idx``, from the segment's global rotation R."""
        k = self.kind
        if k == "spherical":
            return [R[:, :, 0], R[:, :, 1], R[:, :, 2]]
        if k in ("revolute",):
            return [R[:, :, self.axis]]
        if k == "swing":
            return [R[:, :, 0], R[:, :, 2]]
        if k == "elbow":
            c, s = self.cos_twist[idx], self.sin_twist[idx]
            v = np.stack([c, np.zeros_like(c), s], -1) if self.axis == 0 else np.stack([-s, np.zeros_like(c), c], -1)
            return [(R @ v[..., None])[..., 0], R[:, :, 1]]
        if k == "translate":
            return [R[:, :, 1]]
        return []

    def update(self, d: np.ndarray, idx: np.ndarray) -> None:
        """UpdateAngle + UpdateAngleApply (no limits) for the environments ``idx``; ``d`` (k, ndof)."""
        k = self.kind
        if k == "spherical":
            self.basis[idx] = self.basis[idx] @ _rodrigues(d)
        elif k == "swing":
            dq = np.stack([d[:, 0], np.zeros(len(d)), d[:, 1]], -1)
            self.basis[idx] = _remove_twist(self.basis[idx] @ _rodrigues(dq))
        elif k == "revolute":
            self.angle[idx] = self.angle[idx] + d[:, 0]
            self.basis[idx] = _rot(self.angle[idx], self.axis)
        elif k == "elbow":
            self.angle[idx] = self.angle[idx] + d[:, 0]
            self.twist[idx] = self.twist[idx] + d[:, 1]
            self.sin_twist[idx], self.cos_twist[idx] = np.sin(self.twist[idx]), np.cos(self.twist[idx])
            self.basis[idx] = _rot(self.angle[idx], self.axis) @ _rot_sc(self.sin_twist[idx], self.cos_twist[idx], 1)
        elif k == "translate":
            self.translation[idx, 1] = self.translation[idx, 1] + d[:, 0]


# ---- the solve ------------------------------------------------------------------------------------


def _eigh3(G: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-decomposition of symmetric (k, 3, 3) matrices, eigenvalues descending: the trigonometric
    formula and cross products of rows (several times faster than ``np.linalg.eigh`` on small matrices);
    rows with (nearly) repeated eigenvalues, where that is inaccurate, go to ``np.linalg.eigh``."""
    k = len(G)
    a00, a11, a22 = G[:, 0, 0], G[:, 1, 1], G[:, 2, 2]
    a01, a02, a12 = G[:, 0, 1], G[:, 0, 2], G[:, 1, 2]
    q = (a00 + a11 + a22) / 3.0
    p1 = a01 * a01 + a02 * a02 + a12 * a12
    p2 = (a00 - q) ** 2 + (a11 - q) ** 2 + (a22 - q) ** 2 + 2.0 * p1
    p = np.sqrt(p2 / 6.0)
    safe_p = np.where(p > 0, p, 1.0)
    b00, b11, b22 = (a00 - q) / safe_p, (a11 - q) / safe_p, (a22 - q) / safe_p
    b01, b02, b12 = a01 / safe_p, a02 / safe_p, a12 / safe_p
    r = (b00 * (b11 * b22 - b12 * b12) - b01 * (b01 * b22 - b12 * b02) + b02 * (b01 * b12 - b11 * b02)) / 2.0
    phi = np.arccos(np.clip(r, -1.0, 1.0)) / 3.0
    lam = np.empty((k, 3))
    lam[:, 0] = q + 2.0 * p * np.cos(phi)
    lam[:, 2] = q + 2.0 * p * np.cos(phi + 2.0 * np.pi / 3.0)
    lam[:, 1] = 3.0 * q - lam[:, 0] - lam[:, 2]
    # the largest and smallest eigenvectors at once: the longest cross product of two rows of G - lambda I
    m = G[:, None] - lam[:, [0, 2], None, None] * np.eye(3)  # (k, 2, 3, 3)
    c = _cross(m[:, :, [0, 0, 1]], m[:, :, [1, 2, 2]])  # (k, 2, 3 row pairs, 3)
    n2 = np.einsum("kecd,kecd->kec", c, c)
    best = np.argmax(n2, axis=2)
    ks, es = np.arange(k)[:, None], np.arange(2)[None, :]
    v = c[ks, es, best]  # (k, 2, 3)
    norm = np.sqrt(n2[ks, es, best])  # (k, 2)
    scale = np.maximum(np.abs(lam[:, 0]), 1e-300)
    ok = np.all(norm > 1e-12 * (scale * scale)[:, None], axis=1)
    v = v / np.where(norm > 0, norm, 1.0)[:, :, None]
    vecs = np.empty((k, 3, 3))
    vecs[:, :, 0], vecs[:, :, 2] = v[:, 0], v[:, 1]
    vecs[:, :, 1] = _cross(vecs[:, :, 2], vecs[:, :, 0])
    gap = np.minimum(lam[:, 0] - lam[:, 1], lam[:, 1] - lam[:, 2])
    ok &= gap > 1e-7 * scale
    if not ok.all():
        bad = ~ok
        w, v = np.linalg.eigh(G[bad])
        lam[bad], vecs[bad] = w[:, ::-1], v[:, :, ::-1]
    return lam, vecs


def _svd(J: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin SVD of a batch of small matrices through the eigen-decomposition of the smaller Gram matrix
    (2-3x faster than ``np.linalg.svd`` on 3x6; the SDLS step does not depend on the singular vectors' signs)."""
    k, rows, cols = J.shape
    if rows <= cols:
        if rows == 3:
            lam, U = _eigh3(J @ np.swapaxes(J, 1, 2))
        else:
            lam, U = np.linalg.eigh(J @ np.swapaxes(J, 1, 2))  # ascending
            U, lam = U[:, :, ::-1], lam[:, ::-1]
        w = np.sqrt(np.maximum(lam, 0.0))
        V = np.swapaxes(J, 1, 2) @ U / np.where(w > 0, w, 1.0)[:, None, :]
        return U, w, np.swapaxes(V, 1, 2)
    lam, V = np.linalg.eigh(np.swapaxes(J, 1, 2) @ J)
    V, lam = V[:, :, ::-1], lam[:, ::-1]
    w = np.sqrt(np.maximum(lam, 0.0))
    U = J @ V / np.where(w > 0, w, 1.0)[:, None, :]
    return U, w, np.swapaxes(V, 1, 2)


def _sdls(J: np.ndarray, beta: np.ndarray, weight: np.ndarray, n_blocks: int) -> np.ndarray:
    """IK_QJacobian::Invert + InvertSDLS for a batch: J (k, 3B, D), beta (k, 3B) -> dtheta (k, D)."""
    k, rows, ndof = J.shape
    wsqrt = np.sqrt(weight)
    # a position task: the Gram route (fast); with an orientation task singular values can be exactly repeated
    # (the rotation axes), where the damped step depends on the basis of the repeated subspace: there use the
    # LAPACK SVD, which picks the same basis as Blender's Eigen JacobiSVD on the rigs we measured
    U, w, Vt = _svd(J) if n_blocks == 1 else np.linalg.svd(J, full_matrices=False)  # (k,rows,r) (k,r) (k,r,D)
    blocks = J.reshape(k, n_blocks, 3, ndof)
    norm = np.sqrt(np.einsum("kbcd,kbcd->kbd", blocks, blocks)).sum(axis=1)  # (k, D)
    valid = w > 1e-10
    w_inv = np.where(valid, 1.0 / np.where(valid, w, 1.0), 0.0)
    alpha = np.einsum("kri,kr->ki", U, beta) * w_inv  # (k, r)
    Ub = U.reshape(k, n_blocks, 3, -1)
    N = np.sqrt(np.einsum("kbcr,kbcr->kbr", Ub, Ub)).sum(axis=1)  # (k, r)
    V = Vt  # (k, r, D): V[:, i, j] = v_ji
    M = np.einsum("kij,kj->ki", np.abs(V), norm) * w_inv
    dtmp = V * alpha[:, :, None]  # (k, r, D)
    max_dtheta = np.max(np.abs(dtmp) * wsqrt, axis=2)
    gamma = _SDLS_MAX_ANGLE * np.where(N < M, N / np.where(M > 0, M, 1.0), 1.0)
    damp = np.where(gamma < max_dtheta, gamma / np.where(max_dtheta > 0, max_dtheta, 1.0), 1.0)
    dofdamp = np.minimum(damp[:, :, None] / weight, 1.0)
    dtheta = np.sum(np.where(valid[:, :, None], 0.8 * dofdamp * dtmp, 0.0), axis=1)
    dtheta = dtheta * weight
    max_angle = np.max(np.abs(dtheta), axis=1, keepdims=True)
    over = max_angle > _SDLS_MAX_ANGLE
    return np.where(over, dtheta * (_SDLS_MAX_ANGLE / (_SDLS_MAX_ANGLE + max_angle)), dtheta)


def _forward(segs: list, state: dict, root_R: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """IK_QSegment::UpdateTransform down the chain: per segment (global start, rotation, end)."""
    out = []
    R_g, t_g = root_R, None
    for s in segs:
        st = state[id(s)]
        if t_g is None:  # the root starts at the origin (its offset is zero)
            gs = np.zeros((len(root_R), 3))
        elif s.zero_start:
            gs = t_g
        else:
            gs = t_g + np.einsum("kij,kj->ki", R_g, st["start"])
        R = R_g if s.identity_frame else R_g @ (s.rest @ st["basis"])
        end = gs + R[:, :, 1] * st["ty"][:, None]
        out.append((gs, R, end))
        R_g, t_g = R, end
    return out


def _iterate(segs, root_R, goalpos, goalrot, clamp, tasks, task_w, weight, norm_weight, iterations) -> None:
    """IK_QJacobianSolver::Solve's loop for every environment; each stops when its own update is under 1e-3
    (after 12 iterations) and its segments keep that state. Finished environments leave the working set."""
    n = len(goalpos)
    rows = np.arange(n)
    state = {id(s): s.state() for s in segs}
    ndof = len(weight)
    wsqrt = np.sqrt(weight)
    trans = np.zeros(ndof, dtype=bool)
    for s in segs:
        trans[s.dof_id:s.dof_id + s.ndof] = s.translational
    n_blocks = len(tasks)
    for it in range(iterations):
        fwd = _forward(segs, state, root_R)
        k = len(rows)
        pos = fwd[-1][2]
        axes, starts = [], []
        for s, (gs, R, _) in zip(segs, fwd):
            for ax in s.axes_of(R, state[id(s)]):
                axes.append(ax)
                starts.append(gs)
        A = np.stack(axes, 1)  # (k, D, 3)
        J = np.zeros((k, 3 * n_blocks, ndof))
        beta = np.empty((k, 3 * n_blocks))
        for b, ((kind, _), tw) in enumerate(zip(tasks, task_w)):
            if kind == "position":
                d_pos = goalpos - pos
                length = np.sqrt(np.einsum("ki,ki->k", d_pos, d_pos))
                over = length > clamp
                d_pos = np.where(over[:, None], d_pos * (clamp / np.where(over, length, 1.0))[:, None], d_pos)
                beta[:, 3 * b:3 * b + 3] = tw * d_pos
                P = np.stack(starts, 1) - pos[:, None, :]
                cols = np.where(trans[None, :, None], A * tw, _cross(P, A * tw))
            else:
                rot = fwd[-1][1]
                d = np.swapaxes(goalrot @ np.swapaxes(rot, -1, -2), -1, -2)
                d_rot = -0.5 * np.stack([d[:, 2, 1] - d[:, 1, 2], d[:, 0, 2] - d[:, 2, 0], d[:, 1, 0] - d[:, 0, 1]], -1)
                beta[:, 3 * b:3 * b + 3] = tw * d_rot
                cols = np.where(trans[None, :, None], 0.0, A * tw)
            J[:, 3 * b:3 * b + 3, :] = np.swapaxes(cols * wsqrt[None, :, None], 1, 2)
        dtheta = _sdls(J, beta, weight, n_blocks)
        for s in segs:
            if s.ndof:
                s.apply(state[id(s)], dtheta[:, s.dof_id:s.dof_id + s.ndof])
        if it > 10:
            done = np.max(np.abs(dtheta * norm_weight), axis=1) < 1e-3
            if done.any():
                if STATS is not None:
                    STATS.extend([it + 1] * int(done.sum()))
                for s in segs:
                    s.store(state[id(s)], rows[done], done)
                keep = ~done
                rows = rows[keep]
                if len(rows) == 0:
                    break
                for st in state.values():
                    for key in st:
                        st[key] = st[key][keep]
                root_R, goalpos, goalrot, clamp = root_R[keep], goalpos[keep], goalrot[keep], clamp[keep]
    else:
        for s in segs:  # the ones that used every iteration
            s.store(state[id(s)], rows, slice(None))


def _interp_m3(dst: np.ndarray, src: np.ndarray, t: float) -> np.ndarray:
    """blend_m3_m3m3: slerp the rotations, lerp the axis lengths."""
    return km.interp_matrix(km._as4(dst), km._as4(src), t)[..., :3, :3]


def solve_chain(chain: dict, pre: list[np.ndarray], root_parent: np.ndarray | None, lengths: np.ndarray,
                bone_mats: np.ndarray, target: np.ndarray, pole: np.ndarray | None) -> list[np.ndarray]:
    """Blender's IK for one chain: the chain bones' pose matrices after IK.

    ``pre``: (n,4,4) armature-space pose matrices of the chain bones before IK, root first;
    ``root_parent``: (n,4,4) pose of the root's parent (``None`` without parent); ``lengths`` and
    ``bone_mats``: each chain bone's rest length and rest rotation relative to its parent;
    ``target`` / ``pole``: (n,4,4) armature-space matrices of the target (head_tail applied) and pole.
    """
    n = pre[0].shape[0]
    nb = len(pre)
    segs_of_bone: list[list[_Seg]] = []
    segs: list[_Seg] = []
    stretch = bool(chain.get("stretch", False))
    ikstretch = [float(s.get("ikstretch", 0.0)) for s in chain["segments"]]
    pose_len = []
    for a in range(nb):
        desc = chain["segments"][a]
        R_bone = pre[a][:, :3, :3]
        if a == 0:
            R_par = np.broadcast_to(np.eye(3), (n, 3, 3)) if root_parent is None else root_parent[:, :3, :3]
        else:
            R_par = pre[a - 1][:, :3, :3]
        if a > 0:
            parent_tail = pre[a - 1][:, :3, 3] + pre[a - 1][:, :3, 1] * lengths[a - 1]
            start = pre[a][:, :3, 3] - parent_tail
        else:
            start = np.zeros((n, 3))
        length = lengths[a] * np.linalg.norm(R_bone[:, :, 1], axis=-1)
        pose_len.append(length)
        R_bone_n = R_bone / np.linalg.norm(R_bone, axis=-2, keepdims=True)
        R_par_n = R_par / np.linalg.norm(R_par, axis=-2, keepdims=True)
        rest = np.asarray(bone_mats[a], dtype=np.float64)
        iR_par = km.inverse3(R_par_n)
        basis = rest.T @ iR_par @ R_bone_n
        start = (iR_par @ start[..., None])[..., 0]
        kind, axis = segment_kind(desc["dof"])
        has_trans = stretch and ikstretch[a] > 0.0
        rot = _Seg(kind, axis) if kind != "none" else None
        trans = _Seg("translate", 1, translational=True) if has_trans else None
        if rot is None and trans is None:
            rot = _Seg("none")
        if rot is not None and trans is not None:
            rot.set_transform(start, rest, basis, np.zeros(n))
            trans.set_transform(np.zeros((n, 3)), np.eye(3), np.broadcast_to(np.eye(3), (n, 3, 3)).copy(), length)
            trans.identity_frame = trans.zero_start = True
            mine = [rot, trans]
        elif rot is not None:
            rot.set_transform(start, rest, basis, length)
            mine = [rot]
        else:
            trans.set_transform(start, rest, basis, length)
            mine = [trans]
        # IK_SetStiffness: weight = 1 - stiffness (stiffness clamped to 0.999, negative ignored)
        for ax in range(3):
            stiff = float(desc.get("stiffness", [0.0, 0.0, 0.0])[ax])
            if stiff >= 0.0:
                mine[0].set_weight(ax, 1.0 - min(stiff, 0.999))
        if has_trans:
            stiff = np.float32(1.0) - np.float32(ikstretch[a]) ** 2
            if stiff >= 0.0:
                trans.set_weight(1, 1.0 - min(float(stiff), 0.999))
        segs_of_bone.append(mine)
        segs += mine

    ndof = 0
    for s in segs:
        s.dof_id = ndof
        ndof += s.ndof
    # the goal, in the frame of the root's (normalised) parent at the root's head
    if root_parent is not None:
        rootmat = root_parent.copy()
        rootmat[:, :3, :3] = rootmat[:, :3, :3] / np.linalg.norm(rootmat[:, :3, :3], axis=-2, keepdims=True)
    else:
        rootmat = np.broadcast_to(np.eye(4), (n, 4, 4)).copy()
    rootmat[:, :3, 3] = pre[0][:, :3, 3]
    goalinv = km.affine_inverse(rootmat)
    goal = goalinv @ target
    goalpos = goal[:, :3, 3].copy()
    goalrot = goal[:, :3, :3] / np.linalg.norm(goal[:, :3, :3], axis=-2, keepdims=True)
    influence = float(chain.get("influence", 1.0))
    polepos = None
    if pole is not None:
        polepos = (goalinv @ pole)[:, :3, 3]
    elif influence != 1.0:
        tip = pre[-1].copy()
        tip[:, :3, 3] = tip[:, :3, 3] + tip[:, :3, 1] * lengths[-1]
        world_pose = goalinv @ tip
        goalpos = influence * goalpos + (1.0 - influence) * world_pose[:, :3, 3]
        q = km.slerp(km.matrix_to_quaternion(goalrot), km.matrix_to_quaternion(
            world_pose[:, :3, :3] / np.linalg.norm(world_pose[:, :3, :3], axis=-2, keepdims=True)), 1.0 - influence)
        goalrot = km.quaternion_to_matrix(q)
    if ndof == 0:
        return [p.copy() for p in pre]

    tasks = []  # (kind, weight)
    if chain.get("use_location", True) and chain.get("weight", 1.0) != 0.0:
        tasks.append(("position", float(chain.get("weight", 1.0))))
    if chain.get("use_rotation", False) and chain.get("orient_weight", 1.0) != 0.0:
        tasks.append(("orientation", float(chain.get("orient_weight", 1.0))))
    if not tasks:
        return [p.copy() for p in pre]
    total_weight = sum(w for _, w in tasks)
    task_w = [np.sqrt(w / total_weight) for _, w in tasks]
    tip_seg = segs[-1]
    clamp_length = sum(s.max_extension for s in segs) / (2 * len(segs))  # IK_QPositionTask, before scaling

    # IK_QJacobianSolver::Solve: scale to unit length
    scale = (1.0 / np.sum([s.max_extension for s in segs], axis=0)).astype(np.float32).astype(np.float64)
    sc = scale[:, None]
    for s in segs:
        s.start = s.start * sc
        s.translation = s.translation * sc
        s.orig_translation = s.orig_translation * sc
    goalpos = goalpos * sc
    clamp_length = clamp_length * scale
    weight = np.ones(ndof)
    norm_weight = np.ones(ndof)
    for s in segs:
        for i in range(s.ndof):
            weight[s.dof_id + i] = s.weight[i]
            norm_weight[s.dof_id + i] = 1e2 if s.translational else 1.0

    root_R = np.broadcast_to(np.eye(3), (n, 3, 3)).copy()
    if polepos is not None:  # ConstrainPoleVector, before solving
        polepos = polepos * sc
        state = {id(s): s.state() for s in segs}
        fwd = _forward(segs, state, root_R)
        root_start, root_R_g = fwd[0][0], fwd[0][1]
        end = fwd[-1][2]  # the end of the chain (the tip bone's stretch segment when it has one)
        angle = float(chain.get("pole_angle", 0.0))
        dir_ = _normalize(end - root_start)
        up = root_R_g[:, :, 0] * np.cos(angle) + root_R_g[:, :, 2] * np.sin(angle)
        poledir = _normalize(goalpos - root_start)
        poleup = _normalize(polepos - root_start)
        mat = np.empty((n, 3, 3))
        mat[:, 0] = _normalize(np.cross(dir_, up))
        mat[:, 1] = np.cross(mat[:, 0], dir_)
        mat[:, 2] = -dir_
        polemat = np.empty((n, 3, 3))
        polemat[:, 0] = _normalize(np.cross(poledir, poleup))
        polemat[:, 1] = np.cross(polemat[:, 0], poledir)
        polemat[:, 2] = -poledir
        root_R = np.swapaxes(polemat, -1, -2) @ mat
    _iterate(segs, root_R, goalpos, goalrot, clamp_length, tasks, task_w, weight, norm_weight,
             int(chain.get("iterations", 500)))
    # PrependBasis on the root segment, then scale back
    root = segs[0]
    if polepos is not None:
        root.basis = root.rest.T @ root_R @ root.rest @ root.basis  # rest is a rotation: inverse = transpose
    inv_scale = (np.float32(1.0) / scale.astype(np.float32)).astype(np.float64)[:, None]
    for s in segs:
        s.translation = s.translation * inv_scale
        s.orig_translation = s.orig_translation * inv_scale

    # gather basis changes (iksolver_plugin.cc) and apply them (where_is_ik_bone)
    changes = []
    stretch_of = []
    for a, mine in enumerate(segs_of_bone):
        s0 = mine[0]  # IK_GetBasisChange: the rotation segment (a lone translate segment keeps its basis)
        change = np.swapaxes(s0.orig_basis, -1, -2) @ s0.basis
        change = change.astype(np.float32).astype(np.float64)
        if stretch and any(v > 0 for v in ikstretch):
            parent_stretch = stretch_of[a - 1] if a > 0 else np.ones(n)
            if ikstretch[a] > 0.0:
                tseg = mine[-1]
                trans = (tseg.translation[:, 1] - tseg.orig_translation[:, 1]).astype(np.float32).astype(np.float64)
                length = pose_len[a]
                mine_stretch = np.where(length == 0.0, 1.0, (trans + length) / np.where(length == 0.0, 1.0, length))
            else:
                mine_stretch = np.ones(n)
            stretch_of.append(mine_stretch)
            factor = np.where(parent_stretch == 0.0, 1.0, mine_stretch / np.where(parent_stretch == 0.0, 1.0,
                                                                                    parent_stretch))
            change = change * factor[:, None, None]
        if polepos is not None and influence != 1.0:
            change = _interp_m3(np.broadcast_to(np.eye(3), change.shape), change, influence)
        changes.append(change)

    chan = []
    for a in range(nb):
        parent_pre = (root_parent if a == 0 else pre[a - 1])
        chan.append(pre[a] if parent_pre is None else km.affine_inverse(parent_pre) @ pre[a])
    out = []
    for a in range(nb):
        parent_new = root_parent if a == 0 else out[a - 1]
        pose = chan[a].copy() if parent_new is None else parent_new @ chan[a]
        size = km.axis_lengths(pose)
        pose[:, :3, 0] *= (size[:, 1] / np.where(size[:, 0] > 0, size[:, 0], 1.0))[:, None]
        pose[:, :3, 2] *= (size[:, 1] / np.where(size[:, 2] > 0, size[:, 2], 1.0))[:, None]
        pose[:, :3, :3] = pose[:, :3, :3] @ changes[a]
        ik_size = np.linalg.norm(changes[a], axis=-2)
        for col, axis in ((0, 0), (2, 2)):
            cur = np.linalg.norm(pose[:, :3, col], axis=-1)
            want = size[:, axis] * ik_size[:, axis]
            pose[:, :3, col] *= (want / np.where(cur > 0, cur, 1.0))[:, None]
        out.append(pose)
    return out

