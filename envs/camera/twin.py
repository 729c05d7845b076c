"""The camera twin: batched camera dynamics, Blender's projection, occlusion and collision (no bpy).

Conventions (Blender's): a camera looks down its local ``-Z`` with ``+Y`` up. The
twin keeps its orientation as ``(yaw, pitch, roll)`` radians with

    R = Rz(yaw) @ Rx(pitch + 90°) @ Rz(roll)

so ``(0, 0, 0)`` looks horizontally along world ``+Y``, ``yaw`` pans about world
``Z``, ``pitch`` tilts up and ``roll`` turns about the view axis. Columns of ``R``
are the camera's X (right), Y (up) and Z (back) axes in world space.

:class:`Intrinsics` projects points exactly as
``bpy_extras.object_utils.world_to_camera_view`` does for the same camera matrix
(sensor fit, resolution, pixel aspect and shift included). :class:`ObstacleSet`
answers segment-blocked, point-distance and point-inside queries against a fixed
set of triangles through a small two-level bounding-box hierarchy built once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_HALF_PI = 0.5 * np.pi
DENSE_MAX_TRIANGLES = 64  # below this, testing every pair beats the hierarchy (bench/bench_camera.py)
MODES = ("free", "dolly", "pan")
PITCH_LIMIT = np.radians(85.0)  # keep clear of the pole, where yaw is undefined


# --- orientation ----------------------------------------------------------------------------


def camera_rotation(angles: np.ndarray) -> np.ndarray:
    """``(..., 3)`` yaw, pitch, roll -> ``(..., 3, 3)`` world rotation (columns: camera X, Y, Z)."""
    angles = np.asarray(angles, dtype=np.float64)
    cy, sy = np.cos(angles[..., 0]), np.sin(angles[..., 0])
    # Rx(pitch + 90°): cos -> -sin(pitch), sin -> cos(pitch)
    cp, sp = -np.sin(angles[..., 1]), np.cos(angles[..., 1])
    cr, sr = np.cos(angles[..., 2]), np.sin(angles[..., 2])
    out = np.empty(angles.shape[:-1] + (3, 3))
    # Rz(yaw) @ Rx(p') @ Rz(roll), multiplied out
    out[..., 0, 0] = cy * cr - sy * cp * sr
    out[..., 0, 1] = -cy * sr - sy * cp * cr
    out[..., 0, 2] = sy * sp
    out[..., 1, 0] = sy * cr + cy * cp * sr
    out[..., 1, 1] = -sy * sr + cy * cp * cr
    out[..., 1, 2] = -cy * sp
    out[..., 2, 0] = sp * sr
    out[..., 2, 1] = sp * cr
    out[..., 2, 2] = cp
    return out


def camera_angles(rotation: np.ndarray) -> np.ndarray:
    """Inverse of :func:`camera_rotation` (pitch in [-90°, 90°])."""
    r = np.asarray(rotation, dtype=np.float64)
    forward = -r[..., :, 2]
    yaw = np.arctan2(-forward[..., 0], forward[..., 1])
    pitch = np.arctan2(forward[..., 2], np.hypot(forward[..., 0], forward[..., 1]))
    base = camera_rotation(np.stack([yaw, pitch, np.zeros_like(yaw)], axis=-1))
    local = np.swapaxes(base, -1, -2) @ r  # = Rz(roll)
    roll = np.arctan2(local[..., 1, 0], local[..., 0, 0])
    return np.stack([yaw, pitch, roll], axis=-1)


def look_at_angles(camera_pos: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Yaw and pitch (``(..., 2)``) that aim the camera's ``-Z`` at ``target`` with world ``Z`` up.

    This is Blender's Track To constraint with ``-Z`` tracking and ``Y`` up.
    """
    d = np.asarray(target, dtype=np.float64) - np.asarray(camera_pos, dtype=np.float64)
    yaw = np.arctan2(-d[..., 0], d[..., 1])
    pitch = np.arctan2(d[..., 2], np.hypot(d[..., 0], d[..., 1]))
    return np.stack([yaw, pitch], axis=-1)


# --- projection -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Intrinsics:
    """What Blender's ``Camera.view_frame(scene=...)`` needs, as plain values.

    Attributes:
        lens: focal length in mm.
        sensor_width, sensor_height: mm.
        sensor_fit: ``"AUTO"``, ``"HORIZONTAL"`` or ``"VERTICAL"``.
        resolution_x, resolution_y: render size in pixels (percentage does not matter).
        pixel_aspect_x, pixel_aspect_y: render pixel aspect.
        shift_x, shift_y: lens shift, in units of the fitted sensor dimension.
    """

    lens: float
    sensor_width: float
    sensor_height: float
    sensor_fit: str
    resolution_x: int
    resolution_y: int
    pixel_aspect_x: float = 1.0
    pixel_aspect_y: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    def frame(self, lens: np.ndarray | float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Half width, half height and centre (x, y) of the frame on the plane at depth 1.

        Mirrors ``BKE_camera_view_frame_ex``: the fit is resolved from the aspect
        (``AUTO`` fits the longer side), but the sensor size taken is the height
        only for an explicit ``VERTICAL`` fit, as Blender does.
        """
        lens = np.asarray(self.lens if lens is None else lens, dtype=np.float64)
        aspx = self.resolution_x * self.pixel_aspect_x
        aspy = self.resolution_y * self.pixel_aspect_y
        fit = self.sensor_fit
        if fit == "AUTO":
            fit = "HORIZONTAL" if aspx >= aspy else "VERTICAL"
        sensor = self.sensor_height if self.sensor_fit == "VERTICAL" else self.sensor_width
        if fit == "HORIZONTAL":
            ax, ay = 1.0, aspy / aspx
        else:
            ax, ay = aspx / aspy, 1.0
        half = 0.5 * sensor / lens
        return half * ax, half * ay, 2.0 * half * self.shift_x, 2.0 * half * self.shift_y

    @property
    def aspect(self) -> float:
        """Frame width / height."""
        return (self.resolution_x * self.pixel_aspect_x) / (self.resolution_y * self.pixel_aspect_y)

    def project(self, cam_pos: np.ndarray, cam_rot: np.ndarray, points: np.ndarray,
                lens: np.ndarray | float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Normalised image coordinates of world ``points``, as ``world_to_camera_view``.

        Args:
            cam_pos: ``(n, 3)`` camera positions.
            cam_rot: ``(n, 3, 3)`` camera rotations (columns: camera axes in world).
            points: ``(n, P, 3)`` or ``(n, 3)`` world points.
            lens: ``(n,)`` focal lengths in mm, or None for :attr:`lens`.

        Returns:
            ``uv`` ``(n, P, 2)`` (or ``(n, 2)``): (0, 0) bottom left, (1, 1) top right;
            ``depth`` ``(n, P)`` (or ``(n,)``): distance along the view axis, negative behind.
            A point at depth 0 maps to (0.5, 0.5) like Blender.
        """
        single = np.ndim(points) == 2
        pts = points[:, None, :] if single else points
        rel = pts - cam_pos[:, None, :]
        local = np.einsum("nji,npj->npi", cam_rot, rel)  # R^T (p - c)
        depth = -local[..., 2]
        hw, hh, cx, cy = self.frame(lens)
        if np.ndim(hw):
            hw, hh, cx, cy = (a[:, None] for a in (hw, hh, cx, cy))
        with np.errstate(divide="ignore", invalid="ignore"):
            inv = np.where(depth != 0.0, 1.0 / depth, 0.0)
        u = np.where(depth != 0.0, (local[..., 0] * inv - cx + hw) / (2.0 * hw), 0.5)
        v = np.where(depth != 0.0, (local[..., 1] * inv - cy + hh) / (2.0 * hh), 0.5)
        uv = np.stack([u, v], axis=-1)
        if single:
            return uv[:, 0], depth[:, 0]
        return uv, depth


# --- obstacles ------------------------------------------------------------------------------


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                     a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                     a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def _segment_box_overlap(p0: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``(S, B)``: whether segment ``p0 + t d``, ``t`` in [0, 1], meets each box (slab test)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d  # inf where d == 0: the slab test below still works
        t1 = (lo[None] - p0[:, None]) * inv[:, None]
        t2 = (hi[None] - p0[:, None]) * inv[:, None]
    # a zero direction component inside the slab gives nan (0 * inf): treat as unbounded
    tmin = np.fmin(t1, t2)
    tmax = np.fmax(t1, t2)
    flat = d[:, None, :] == 0.0
    inside = (p0[:, None] >= lo[None]) & (p0[:, None] <= hi[None])
    tmin = np.where(flat, np.where(inside, -np.inf, np.inf), tmin)
    tmax = np.where(flat, np.where(inside, np.inf, -np.inf), tmax)
    enter = np.maximum(tmin.max(axis=-1), 0.0)
    leave = np.minimum(tmax.min(axis=-1), 1.0)
    return enter <= leave


class ObstacleSet:
    """Static triangles with a two-level box hierarchy (groups of leaves of triangles), built once.

    Args:
        triangles: ``(T, 3, 3)`` world-space triangle corners.
        object_ids: ``(T,)`` index of the obstacle object each triangle belongs to.
        closed: ``(K,)`` whether each object's mesh is closed (only closed meshes have an inside).
        leaf_size: triangles per leaf.
        group_size: leaves per group.
    """

    def __init__(self, triangles: np.ndarray, object_ids: np.ndarray | None = None,
                 closed: np.ndarray | None = None, leaf_size: int = 8, group_size: int = 16):
        tri = np.asarray(triangles, dtype=np.float64).reshape(-1, 3, 3)
        self.n_triangles = len(tri)
        self.object_ids = (np.zeros(len(tri), dtype=np.int64) if object_ids is None
                           else np.asarray(object_ids, dtype=np.int64))
        self.n_objects = int(self.object_ids.max()) + 1 if len(tri) else 0
        self.closed = (np.zeros(self.n_objects, dtype=bool) if closed is None
                       else np.asarray(closed, dtype=bool))
        self.v0 = tri[:, 0]
        self.e1 = tri[:, 1] - tri[:, 0]
        self.e2 = tri[:, 2] - tri[:, 0]
        self.tri_lo = tri.min(axis=1)
        self.tri_hi = tri.max(axis=1)
        self.lo = self.tri_lo.min(axis=0) if len(tri) else np.zeros(3)
        self.hi = self.tri_hi.max(axis=0) if len(tri) else np.zeros(3)
        leaves = self._split(np.arange(len(tri)), tri.mean(axis=1), leaf_size) if len(tri) else []
        self.leaf_tris = np.full((len(leaves), leaf_size), -1, dtype=np.int64)
        for i, idx in enumerate(leaves):
            self.leaf_tris[i, :len(idx)] = idx
        self.leaf_lo = np.array([self.tri_lo[idx].min(axis=0) for idx in leaves]).reshape(-1, 3)
        self.leaf_hi = np.array([self.tri_hi[idx].max(axis=0) for idx in leaves]).reshape(-1, 3)
        # leaves are in spatial (median-split) order, so consecutive runs make compact groups
        n_groups = -(-len(leaves) // group_size)
        self.group_leaves = np.full((n_groups, group_size), -1, dtype=np.int64)
        for g in range(n_groups):
            members = np.arange(g * group_size, min((g + 1) * group_size, len(leaves)))
            self.group_leaves[g, :len(members)] = members
        self.group_lo = np.array([self.leaf_lo[m[m >= 0]].min(axis=0) for m in self.group_leaves]).reshape(-1, 3)
        self.group_hi = np.array([self.leaf_hi[m[m >= 0]].max(axis=0) for m in self.group_leaves]).reshape(-1, 3)
        # per object: its triangles and box (the dense path tests segments against these boxes first)
        self._object_tris = [np.flatnonzero(self.object_ids == k) for k in range(self.n_objects)]
        self._object_tris = [idx for idx in self._object_tris if idx.size]
        self._object_lo = np.array([self.tri_lo[idx].min(axis=0) for idx in self._object_tris]).reshape(-1, 3)
        self._object_hi = np.array([self.tri_hi[idx].max(axis=0) for idx in self._object_tris]).reshape(-1, 3)
        extent = self.hi - self.lo
        self._far = float(np.linalg.norm(extent)) * 2.0 + 1.0
        # a direction unlikely to run along edges, for the inside (parity) test
        self._ray_dir = np.array([0.0123, 0.0371, 1.0]) / np.linalg.norm([0.0123, 0.0371, 1.0])

    @staticmethod
    def _split(idx: np.ndarray, centroids: np.ndarray, leaf_size: int) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        stack = [idx]
        while stack:
            cur = stack.pop()
            if len(cur) <= leaf_size:
                out.append(cur)
                continue
            c = centroids[cur]
            axis = int(np.argmax(c.max(axis=0) - c.min(axis=0)))
            order = cur[np.argsort(c[:, axis], kind="stable")]
            half = len(order) // 2
            stack.extend([order[half:], order[:half]])
        return out

    # ---- candidate pairs through the hierarchy ---------------------------------------------
    def _segment_candidates(self, p0: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(segment, triangle) pairs whose boxes the segments meet."""
        gs, gg = np.nonzero(_segment_box_overlap(p0, d, self.group_lo, self.group_hi))
        if gs.size == 0:
            return gs, gg
        leaves = self.group_leaves[gg]  # (pairs, G)
        s = np.repeat(gs, leaves.shape[1])
        leaf = leaves.ravel()
        keep = leaf >= 0
        s, leaf = s[keep], leaf[keep]
        hit = _rowwise_slab(p0[s], d[s], self.leaf_lo[leaf], self.leaf_hi[leaf])
        s, leaf = s[hit], leaf[hit]
        tris = self.leaf_tris[leaf]
        s = np.repeat(s, tris.shape[1])
        t = tris.ravel()
        keep = t >= 0
        return s[keep], t[keep]

    def _intersect(self, p0: np.ndarray, d: np.ndarray, s: np.ndarray, t: np.ndarray,
                   t_min: float, t_max: float) -> np.ndarray:
        """Möller–Trumbore on pairs: whether segment ``s`` crosses triangle ``t`` at a parameter in (t_min, t_max)."""
        dd = d[s]
        e1, e2 = self.e1[t], self.e2[t]
        pvec = _cross(dd, e2)
        det = _dot(e1, pvec)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        tvec = p0[s] - self.v0[t]
        u = _dot(tvec, pvec) * inv
        qvec = _cross(tvec, e1)
        v = _dot(dd, qvec) * inv
        tt = _dot(e2, qvec) * inv
        return ok & (u >= 0.0) & (v >= 0.0) & (u + v <= 1.0) & (tt > t_min) & (tt < t_max)

    def segments_blocked(self, p0: np.ndarray, p1: np.ndarray, eps: float = 1e-6) -> np.ndarray:
        """``(S,)``: whether the open segment ``p0 -> p1`` crosses any triangle."""
        p0 = np.asarray(p0, dtype=np.float64).reshape(-1, 3)
        p1 = np.asarray(p1, dtype=np.float64).reshape(-1, 3)
        out = np.zeros(len(p0), dtype=bool)
        if self.n_triangles == 0 or len(p0) == 0:
            return out
        d = p1 - p0
        if self.n_triangles <= DENSE_MAX_TRIANGLES:
            return self._dense_blocked(p0, d, eps)
        s, t = self._segment_candidates(p0, d)
        if s.size:
            hit = self._intersect(p0, d, s, t, eps, 1.0 - eps)
            out[s[hit]] = True
        return out

    def _dense_blocked(self, p0: np.ndarray, d: np.ndarray, eps: float) -> np.ndarray:
        """Every segment against every triangle (few triangles) of each obstacle whose box it meets."""
        out = np.zeros(len(p0), dtype=bool)
        meets = _segment_box_overlap(p0, d, self._object_lo, self._object_hi)  # (S, objects)
        for k, tris in enumerate(self._object_tris):
            rows = np.flatnonzero(meets[:, k] & ~out)
            if rows.size == 0:
                continue
            v0, e1, e2 = self.v0[tris][None], self.e1[tris][None], self.e2[tris][None]
            p, dd = p0[rows][:, None], d[rows][:, None]
            pv = _cross(dd, e2)
            det = _dot(e1, pv)
            ok = np.abs(det) > 1e-12
            inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
            tv = p - v0
            u = _dot(tv, pv) * inv
            qv = _cross(tv, e1)
            v = _dot(dd, qv) * inv
            t = _dot(e2, qv) * inv
            hit = ok & (u >= 0.0) & (v >= 0.0) & (u + v <= 1.0) & (t > eps) & (t < 1.0 - eps)
            out[rows] = hit.any(axis=1)
        return out

    def inside(self, points: np.ndarray) -> np.ndarray:
        """``(N,)``: whether each point is inside a closed obstacle (ray parity per object)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        out = np.zeros(len(pts), dtype=bool)
        if self.n_triangles == 0 or not self.closed.any():
            return out
        d = np.broadcast_to(self._ray_dir * self._far, pts.shape)
        s, t = self._segment_candidates(pts, d)
        if s.size == 0:
            return out
        closed_pair = self.closed[self.object_ids[t]]
        s, t = s[closed_pair], t[closed_pair]
        hit = self._intersect(pts, d, s, t, 0.0, 1.0)
        counts = np.bincount(s[hit] * self.n_objects + self.object_ids[t[hit]],
                             minlength=len(pts) * self.n_objects).reshape(len(pts), self.n_objects)
        return (counts % 2 == 1).any(axis=1)

    def distance(self, points: np.ndarray, max_distance: float) -> np.ndarray:
        """``(N,)``: distance from each point to the nearest triangle, capped at ``max_distance``."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        out = np.full(len(pts), float(max_distance))
        if self.n_triangles == 0:
            return out
        r = max_distance
        near_g = np.all((pts[:, None] >= self.group_lo[None] - r) & (pts[:, None] <= self.group_hi[None] + r), axis=-1)
        gs, gg = np.nonzero(near_g)
        if gs.size == 0:
            return out
        leaves = self.group_leaves[gg]
        s = np.repeat(gs, leaves.shape[1])
        leaf = leaves.ravel()
        keep = leaf >= 0
        s, leaf = s[keep], leaf[keep]
        near_l = np.all((pts[s] >= self.leaf_lo[leaf] - r) & (pts[s] <= self.leaf_hi[leaf] + r), axis=-1)
        s, leaf = s[near_l], leaf[near_l]
        tris = self.leaf_tris[leaf]
        s = np.repeat(s, tris.shape[1])
        t = tris.ravel()
        keep = t >= 0
        s, t = s[keep], t[keep]
        if s.size == 0:
            return out
        dist = _point_triangle_distance(pts[s], self.v0[t], self.e1[t], self.e2[t])
        np.minimum.at(out, s, dist)
        return out



class MovingObstacles:
    """Obstacles sampled per frame (animated objects): one :class:`ObstacleSet` per frame of the shot.

    Args:
        triangles: ``(F, T, 3, 3)`` world-space triangles at each frame.
        object_ids: ``(T,)`` obstacle index of each triangle (as :class:`ObstacleSet`).
        closed: ``(K,)`` whether each obstacle (by index) is a closed mesh.

    Every query takes ``frames``: the frame index (into the shot) of each row.
    """

    def __init__(self, triangles: np.ndarray, object_ids: np.ndarray, closed: np.ndarray):
        tri = np.asarray(triangles, dtype=np.float64)
        self.n_triangles = int(tri.shape[1]) if tri.ndim == 4 else 0
        ids = np.asarray(object_ids, dtype=np.int64).reshape(-1)
        self.sets = [ObstacleSet(t, ids, closed) for t in tri] if self.n_triangles else []

    def _per_frame(self, frames: np.ndarray, fn) -> None:
        for f in np.unique(frames):
            fn(self.sets[int(f)], np.flatnonzero(frames == f))

    def segments_blocked(self, p0: np.ndarray, p1: np.ndarray, frames: np.ndarray) -> np.ndarray:
        out = np.zeros(len(p0), dtype=bool)
        if self.n_triangles:
            def one(obs, rows):
                out[rows] = obs.segments_blocked(p0[rows], p1[rows])
            self._per_frame(np.asarray(frames), one)
        return out

    def inside(self, points: np.ndarray, frames: np.ndarray) -> np.ndarray:
        out = np.zeros(len(points), dtype=bool)
        if self.n_triangles:
            def one(obs, rows):
                out[rows] = obs.inside(points[rows])
            self._per_frame(np.asarray(frames), one)
        return out

    def distance(self, points: np.ndarray, max_distance: float, frames: np.ndarray) -> np.ndarray:
        out = np.full(len(points), float(max_distance))
        if self.n_triangles:
            def one(obs, rows):
                out[rows] = obs.distance(points[rows], max_distance)
            self._per_frame(np.asarray(frames), one)
        return out


def _rowwise_slab(p0: np.ndarray, d: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = 1.0 / d
        t1 = (lo - p0) * inv
        t2 = (hi - p0) * inv
    tmin, tmax = np.fmin(t1, t2), np.fmax(t1, t2)
    flat = d == 0.0
    inside = (p0 >= lo) & (p0 <= hi)
    tmin = np.where(flat, np.where(inside, -np.inf, np.inf), tmin)
    tmax = np.where(flat, np.where(inside, np.inf, -np.inf), tmax)
    return np.maximum(tmin.max(axis=-1), 0.0) <= np.minimum(tmax.min(axis=-1), 1.0)


def _point_triangle_distance(p: np.ndarray, a: np.ndarray, e1: np.ndarray, e2: np.ndarray) -> np.ndarray:
    """Row-wise distance from ``p`` to triangle ``(a, a + e1, a + e2)``."""
    n = _cross(e1, e2)
    nn = _dot(n, n)
    ap = p - a
    with np.errstate(divide="ignore", invalid="ignore"):
        # barycentric coordinates of the projection onto the plane
        v = _dot(_cross(ap, e2), n) / nn
        w = _dot(_cross(e1, ap), n) / nn
        plane = np.abs(_dot(ap, n)) / np.sqrt(nn)
    interior = (nn > 1e-24) & (v >= 0) & (w >= 0) & (v + w <= 1)
    b = a + e1
    c = a + e2
    edge = np.minimum(np.minimum(_point_segment_distance(p, a, b), _point_segment_distance(p, b, c)),
                      _point_segment_distance(p, c, a))
    return np.where(interior, plane, edge)


def _point_segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    denom = _dot(ab, ab)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip(np.where(denom > 0, _dot(p - a, ab) / denom, 0.0), 0.0, 1.0)
    q = a + t[:, None] * ab
    return np.linalg.norm(p - q, axis=-1)


# --- dynamics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraLimits:
    """How fast the camera may move; actions in [-1, 1] scale the accelerations.

    Attributes:
        max_speed: scene units per second.
        max_accel: scene units per second².
        max_turn_rate: radians per second (yaw, pitch, roll).
        max_turn_accel: radians per second².
        lens_min, lens_max: focal length range, mm.
        max_lens_rate: mm per second.
        max_lens_accel: mm per second².
    """

    max_speed: float
    max_accel: float
    max_turn_rate: float = np.radians(120.0)
    max_turn_accel: float = np.radians(480.0)
    lens_min: float = 18.0
    lens_max: float = 135.0
    max_lens_rate: float = 40.0
    max_lens_accel: float = 160.0


class CameraTwin:
    """``n_envs`` cameras stepped together with acceleration-limited velocities.

    Args:
        n_envs: number of cameras.
        limits: :class:`CameraLimits`.
        dt: seconds per step (one frame).
        mode: ``"free"`` (move and turn), ``"dolly"`` (move only, orientation fixed) or
            ``"pan"`` (turn only, position fixed).
        use_lens: also animate the focal length (one more action).
        allow_roll: let the policy roll the camera (one more action in free/pan).

    Actions are ``(n, action_dim)`` in [-1, 1]: first the linear accelerations along the
    camera's own X, Y, Z (free, dolly), then yaw and pitch (and roll) accelerations
    (free, pan), then the lens acceleration (``use_lens``).
    """

    def __init__(self, n_envs: int, limits: CameraLimits, dt: float, mode: str = "free",
                 use_lens: bool = False, allow_roll: bool = False):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.n = int(n_envs)
        self.limits = limits
        self.dt = float(dt)
        self.mode = mode
        self.use_lens = bool(use_lens)
        self.allow_roll = bool(allow_roll)
        self.n_linear = 3 if mode in ("free", "dolly") else 0
        self.n_angular = (3 if allow_roll else 2) if mode in ("free", "pan") else 0
        self.action_dim = self.n_linear + self.n_angular + (1 if use_lens else 0)
        n = self.n
        self.pos = np.zeros((n, 3))
        self.angles = np.zeros((n, 3))
        self.lens = np.zeros(n)
        self.vel = np.zeros((n, 3))
        self.ang_vel = np.zeros((n, 3))
        self.lens_vel = np.zeros(n)
        self.acc = np.zeros((n, 3))  # realised accelerations of the last step (for jerk)
        self.ang_acc = np.zeros((n, 3))
        self.jerk = np.zeros((n, 3))
        self.ang_jerk = np.zeros((n, 3))

    @property
    def rotation(self) -> np.ndarray:
        return camera_rotation(self.angles)

    def reset(self, idx: np.ndarray, pos: np.ndarray, angles: np.ndarray, lens: np.ndarray) -> None:
        """Place cameras ``idx`` at rest."""
        self.pos[idx] = pos
        self.angles[idx] = angles
        self.lens[idx] = lens
        for a in (self.vel, self.ang_vel, self.lens_vel, self.acc, self.ang_acc, self.jerk, self.ang_jerk):
            a[idx] = 0.0

    def step(self, action: np.ndarray) -> None:
        """Advance every camera by one frame."""
        lim, dt = self.limits, self.dt
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(self.n, self.action_dim), -1.0, 1.0)
        k = 0
        if self.n_linear:
            local = a[:, :3] * lim.max_accel
            world = np.einsum("nij,nj->ni", self.rotation, local)
            vel = self.vel + world * dt
            speed = np.linalg.norm(vel, axis=1, keepdims=True)
            vel *= np.minimum(1.0, lim.max_speed / np.maximum(speed, 1e-12))
            k = 3
        else:
            vel = np.zeros_like(self.vel)
        if self.n_angular:
            turn = np.zeros((self.n, 3))
            turn[:, :self.n_angular] = a[:, k:k + self.n_angular] * lim.max_turn_accel
            ang_vel = np.clip(self.ang_vel + turn * dt, -lim.max_turn_rate, lim.max_turn_rate)
            k += self.n_angular
        else:
            ang_vel = np.zeros_like(self.ang_vel)
        acc = (vel - self.vel) / dt
        ang_acc = (ang_vel - self.ang_vel) / dt
        self.jerk = (acc - self.acc) / dt
        self.ang_jerk = (ang_acc - self.ang_acc) / dt
        self.acc, self.ang_acc = acc, ang_acc
        self.vel, self.ang_vel = vel, ang_vel
        self.pos = self.pos + vel * dt
        angles = self.angles + ang_vel * dt
        pitch = np.clip(angles[:, 1], -PITCH_LIMIT, PITCH_LIMIT)
        self.ang_vel[:, 1] = np.where(pitch != angles[:, 1], 0.0, self.ang_vel[:, 1])
        angles[:, 1] = pitch
        self.angles = angles
        if self.use_lens:
            lens_vel = np.clip(self.lens_vel + a[:, k] * lim.max_lens_accel * dt, -lim.max_lens_rate, lim.max_lens_rate)
            lens = np.clip(self.lens + lens_vel * dt, lim.lens_min, lim.lens_max)
            self.lens_vel = np.where((lens == lim.lens_min) | (lens == lim.lens_max), 0.0, lens_vel)
            self.lens = lens


# --- the shot as plain data -----------------------------------------------------------------

SENSOR_FITS = ("AUTO", "HORIZONTAL", "VERTICAL")


@dataclass
class CameraSpec:
    """A camera shot as plain data: intrinsics, the subject's motion, obstacles, region.

    Made by ``scene.camera.extract.extract_camera_shot`` from a Blender scene or by hand;
    saved to one ``.npz`` without pickle (:meth:`save`, :meth:`load`).

    Attributes:
        camera_name: the camera object.
        subject_name, subject_bone: the subject object (and bone, for an armature; "" otherwise).
        lens, sensor_width, sensor_height, sensor_fit, resolution_x, resolution_y,
            pixel_aspect_x, pixel_aspect_y, shift_x, shift_y: the camera's intrinsics (see :class:`Intrinsics`).
        clip_start, clip_end: clipping distances.
        frame_start, frame_end: the shot's frame range (inclusive); one step per frame.
        fps: frames per second (render fps / fps_base).
        subject_positions: ``(F, 3)`` subject centre per frame, world space.
        subject_points: ``(F, P, 3)`` points on the subject per frame (occlusion rays end there).
        subject_radius: half the subject's size (for its size in frame).
        camera_position: ``(3,)`` start position; camera_angles: ``(3,)`` start yaw, pitch, roll.
        obstacle_triangles: ``(T, 3, 3)`` world-space triangles of the static obstacles.
        obstacle_ids: ``(T,)`` which obstacle each triangle belongs to; obstacle_names: one per obstacle.
        obstacle_closed: ``(K,)`` whether each obstacle mesh is closed (has an inside).
        moving_triangles: ``(F, Tm, 3, 3)`` world-space triangles of the animated obstacles at each frame
            (objects that move or deform over the shot, sampled per frame); moving_ids: ``(Tm,)`` which
            obstacle (index into obstacle_names) each belongs to.
        region_min, region_max: ``(3,)`` the axis-aligned box the camera should stay in.
        region_name: the object the region came from ("" when derived from the shot).
    """

    camera_name: str
    subject_name: str
    subject_positions: np.ndarray
    subject_points: np.ndarray
    camera_position: np.ndarray
    camera_angles: np.ndarray
    subject_bone: str = ""
    subject_radius: float = 0.5
    lens: float = 50.0
    sensor_width: float = 36.0
    sensor_height: float = 24.0
    sensor_fit: str = "AUTO"
    resolution_x: int = 1920
    resolution_y: int = 1080
    pixel_aspect_x: float = 1.0
    pixel_aspect_y: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0
    clip_start: float = 0.1
    clip_end: float = 1000.0
    frame_start: int = 1
    frame_end: int = 48
    fps: float = 24.0
    obstacle_triangles: np.ndarray = None  # type: ignore[assignment]
    obstacle_ids: np.ndarray = None  # type: ignore[assignment]
    obstacle_names: list = None  # type: ignore[assignment]
    obstacle_closed: np.ndarray = None  # type: ignore[assignment]
    moving_triangles: np.ndarray = None  # type: ignore[assignment]
    moving_ids: np.ndarray = None  # type: ignore[assignment]
    region_min: np.ndarray = None  # type: ignore[assignment]
    region_max: np.ndarray = None  # type: ignore[assignment]
    region_name: str = ""

    _ARRAYS = ("subject_positions", "subject_points", "camera_position", "camera_angles", "obstacle_triangles",
               "obstacle_ids", "obstacle_closed", "region_min", "region_max", "moving_triangles", "moving_ids")
    _OPTIONAL = ("moving_triangles", "moving_ids")  # absent from shot files written before them

    def __post_init__(self) -> None:
        self.subject_positions = np.asarray(self.subject_positions, dtype=np.float64).reshape(-1, 3)
        pts = np.asarray(self.subject_points, dtype=np.float64)
        self.subject_points = pts.reshape(len(self.subject_positions), -1, 3)
        self.camera_position = np.asarray(self.camera_position, dtype=np.float64).reshape(3)
        self.camera_angles = np.asarray(self.camera_angles, dtype=np.float64).reshape(3)
        if self.obstacle_triangles is None:
            self.obstacle_triangles = np.zeros((0, 3, 3))
        self.obstacle_triangles = np.asarray(self.obstacle_triangles, dtype=np.float64).reshape(-1, 3, 3)
        if self.obstacle_ids is None:
            self.obstacle_ids = np.zeros(len(self.obstacle_triangles), dtype=np.int64)
        self.obstacle_ids = np.asarray(self.obstacle_ids, dtype=np.int64).reshape(-1)
        if self.moving_triangles is None:
            self.moving_triangles = np.zeros((len(self.subject_positions), 0, 3, 3))
        self.moving_triangles = np.asarray(self.moving_triangles, dtype=np.float64).reshape(
            len(self.subject_positions), -1, 3, 3)
        if self.moving_ids is None:
            self.moving_ids = np.zeros(self.moving_triangles.shape[1], dtype=np.int64)
        self.moving_ids = np.asarray(self.moving_ids, dtype=np.int64).reshape(-1)
        n_obj = max(int(self.obstacle_ids.max()) + 1 if self.obstacle_ids.size else 0,
                    int(self.moving_ids.max()) + 1 if self.moving_ids.size else 0)
        if self.obstacle_names is None:
            self.obstacle_names = [f"obstacle{i}" for i in range(n_obj)]
        self.obstacle_names = [str(n) for n in self.obstacle_names]
        if self.obstacle_closed is None:
            self.obstacle_closed = np.zeros(n_obj, dtype=bool)
        self.obstacle_closed = np.asarray(self.obstacle_closed, dtype=bool).reshape(-1)
        if self.region_min is None or self.region_max is None:
            pts = np.vstack([self.subject_positions, self.camera_position[None]])
            margin = max(self.scale, 1e-3)
            self.region_min, self.region_max = pts.min(axis=0) - margin, pts.max(axis=0) + margin
        self.region_min = np.asarray(self.region_min, dtype=np.float64).reshape(3)
        self.region_max = np.asarray(self.region_max, dtype=np.float64).reshape(3)

    @property
    def n_frames(self) -> int:
        return len(self.subject_positions)

    @property
    def frames(self) -> np.ndarray:
        """``(F,)`` the shot's frame numbers."""
        return np.arange(self.frame_start, self.frame_start + self.n_frames, dtype=np.float64)

    @property
    def scale(self) -> float:
        """The shot scale: camera–subject distance at the first frame (observations and terms use it)."""
        return float(max(np.linalg.norm(self.subject_positions[0] - self.camera_position), 1e-6))

    @property
    def intrinsics(self) -> Intrinsics:
        return Intrinsics(self.lens, self.sensor_width, self.sensor_height, self.sensor_fit, self.resolution_x,
                          self.resolution_y, self.pixel_aspect_x, self.pixel_aspect_y, self.shift_x, self.shift_y)

    def obstacles(self) -> ObstacleSet:
        """The static obstacles with their search structure (build once per task)."""
        return ObstacleSet(self.obstacle_triangles, self.obstacle_ids, self.obstacle_closed)

    def moving_obstacles(self) -> MovingObstacles:
        """The animated obstacles, one search structure per frame (build once per task)."""
        return MovingObstacles(self.moving_triangles, self.moving_ids, self.obstacle_closed)

    def validate(self) -> None:
        """Raise :class:`RigDojoError` for a shot the camera task cannot train on."""
        from ...errors import RigDojoError

        if self.n_frames < 2:
            raise RigDojoError(f"the shot has {self.n_frames} frame(s); it needs at least 2 "
                               "(set frame end after frame start)")
        if self.sensor_fit not in SENSOR_FITS:
            raise RigDojoError(f"unknown sensor fit {self.sensor_fit!r}; one of {', '.join(SENSOR_FITS)}")
        if not (self.lens > 0 and self.sensor_width > 0 and self.sensor_height > 0
                and self.resolution_x > 0 and self.resolution_y > 0 and self.fps > 0):
            raise RigDojoError("the camera's lens, sensor, resolution and fps must all be positive")
        for name in self._ARRAYS:
            if not np.all(np.isfinite(getattr(self, name))):
                raise RigDojoError(f"the shot's {name} has NaN or infinite values; extract it again")
        if len(self.obstacle_ids) != len(self.obstacle_triangles):
            raise RigDojoError("obstacle_ids must have one entry per obstacle triangle")
        if len(self.moving_triangles) != self.n_frames or len(self.moving_ids) != self.moving_triangles.shape[1]:
            raise RigDojoError("moving_triangles must hold one set of triangles per frame, with one moving_ids "
                               "entry per triangle")

    # ---- file -------------------------------------------------------------------------------
    def save(self, path) -> "Path":
        """Write the shot to ``path`` (``.npz``: arrays plus one JSON string; no pickle), atomically."""
        from ..spec_file import write_spec

        meta = {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in self._ARRAYS}
        return write_spec(path, "camera", meta, {k: getattr(self, k) for k in self._ARRAYS})

    @classmethod
    def load(cls, path) -> "CameraSpec":
        """Read a shot written by :meth:`save`; :class:`RigDojoError` if it is not one."""
        from ...errors import RigDojoError
        from ..spec_file import read_spec

        meta, data = read_spec(path, "camera")
        try:
            return cls(**meta, **{k: data[k] for k in cls._ARRAYS if k in data or k not in cls._OPTIONAL})
        except (ValueError, KeyError, TypeError) as exc:
            raise RigDojoError(f"{path} is not a Rig Dojo camera shot file ({exc}); extract it again") from None
