"""Solve a camera move over a known shot (no bpy): the path is searched, the aim is solved.

The subject's motion over the shot is known (sampled from Blender), so the camera's move can be
optimised directly instead of learned as a reaction:

- **Position**: ``p(t) = p0 + scale * (c + d * t + B(t) @ z)``: the scene camera's position ``p0``,
  a constant offset ``c`` (a better spot), a straight dolly ``d`` and a smooth residual, a clamped
  cubic B-spline with about one control point per second (``z``). In shot scales.
- **Aim**: for every frame the yaw and pitch that put the subject exactly on the framing point
  (a Track To that can frame on a third), then smoothed over time by a Whittaker smoother
  (least squares with a penalty ``lambda`` on the third difference): the damped Track To an
  operator would give, trading a little framing for a steadier picture. ``lambda`` is chosen
  per candidate path from a grid; roll stays the scene camera's.
- **Lens** (``use_lens``): ``lens(t) = lens0 * exp(B(t) @ z_lens)``, aimed at the subject size of the
  ``camera_subject_size`` term.

Every candidate is scored by :class:`PathScorer` with the task's own measurements
(:meth:`CameraTask.measure_positions`, :meth:`CameraTask.project_subject`) and the shot metrics'
jerk (:func:`~.task.jerk_parts`), so the solver optimises the numbers it is judged by:

``cost = w_framing * framing + w_occlusion * occlusion + w_jerk * r + w_rougher * max(r - 1, 0)
+ w_collision * collision frames + w_region * region + w_distance * distance band
+ w_limits * turn-limit excess + w_travel * travel (+ w_size * size error with a lens)``

where ``r = jerk / jerk_track_to``, the jerk relative to a Track To camera at the scene camera's
position: what "smooth" is measured against. The search is a cross-entropy method over ``(c, d, z[, z_lens])``, started
from the best of a structured first generation (static offsets and straight dollies), keeping
the best path found. Modes: ``free`` (both), ``dolly`` (position only, the orientation held at
the scene camera's), ``pan`` (aim and lens only, the camera stays put).

:func:`track_to_dolly` is the baseline an animator would set up in a minute: Track To plus the
best straight dolly (a straight line from the scene camera at constant speed), scored the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ...errors import RigDojoError
from ...rewards.camera_terms import FRAMING_POINTS, framing_distance
from .task import CameraRollout, CameraTask, evaluate_poses, jerk_parts, scripted_rollout, shot_metrics
from .twin import PITCH_LIMIT, camera_rotation, look_at_angles

#: Whittaker smoothing strengths tried for the aim (0: an exact Track To); about 1..12 frames of smoothing
SMOOTHING = (0.0,) + tuple(10.0 ** np.arange(0.0, 9.01, 0.5))


@dataclass
class SolveWeights:
    """The cost of a camera path (see the module docstring); every weight multiplies a shot-metric-like number.

    Attributes:
        framing: per image unit of mean framing error.
        occlusion: per unit of mean occluded fraction.
        jerk: per unit of jerk relative to a Track To camera's.
        rougher: per unit of jerk above a Track To camera's (shaking more than the simple rig is worse still).
        collision: per unit of the fraction of frames in collision.
        region: per shot scale outside the region (plus 1 while outside), averaged over frames.
        distance: per shot scale outside the distance band, averaged over frames.
        limits: per unit of turn rate / turn acceleration above the camera's limits.
        travel: per shot scale of mean distance from the scene camera (prefer staying near it).
        size: per unit of subject size error / tolerance (lens moves only).
    """

    framing: float = 20.0
    occlusion: float = 5.0
    jerk: float = 0.5
    rougher: float = 5.0
    collision: float = 50.0
    region: float = 10.0
    distance: float = 2.0
    limits: float = 2.0
    travel: float = 0.05
    size: float = 0.5

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass
class SolvedPath:
    """A camera move over a shot, one row per frame (what a solve writes and a bake reads)."""

    frames: np.ndarray
    positions: np.ndarray
    angles: np.ndarray
    lens: np.ndarray
    cost: float = float("nan")
    smoothing: float = 0.0
    params: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def arrays(self) -> dict[str, np.ndarray]:
        return {"frames": np.asarray(self.frames, np.float64), "positions": np.asarray(self.positions, np.float64),
                "angles": np.asarray(self.angles, np.float64), "lens": np.asarray(self.lens, np.float64),
                "params": np.asarray(self.params, np.float64)}


# --- building blocks ------------------------------------------------------------------------


def bspline_basis(n_frames: int, n_ctrl: int) -> np.ndarray:
    """``(F, K)`` clamped uniform cubic B-spline basis over the shot (rows sum to 1)."""
    k = 3
    n_ctrl = max(int(n_ctrl), k + 1)
    inner = np.linspace(0.0, 1.0, n_ctrl - k + 1)
    knots = np.concatenate([np.zeros(k), inner, np.ones(k)])
    t = np.linspace(0.0, 1.0, n_frames)
    # degree 0, then Cox-de Boor upwards; the last sample belongs to the last span
    basis = np.zeros((n_frames, len(knots) - 1))
    for i in range(len(knots) - 1):
        if knots[i] < knots[i + 1]:
            basis[:, i] = (t >= knots[i]) & (t < knots[i + 1])
    basis[t >= 1.0, n_ctrl - 1] = 1.0
    for d in range(1, k + 1):
        nxt = np.zeros((n_frames, len(knots) - 1 - d))
        for i in range(len(knots) - 1 - d):
            left = knots[i + d] - knots[i]
            right = knots[i + d + 1] - knots[i + 1]
            if left > 0:
                nxt[:, i] += (t - knots[i]) / left * basis[:, i]
            if right > 0:
                nxt[:, i] += (knots[i + d + 1] - t) / right * basis[:, i + 1]
        basis = nxt
    return basis[:, :n_ctrl]


def whittaker_matrices(n_frames: int, lambdas) -> np.ndarray:
    """``(L, F, F)``: ``(I + lambda D3^T D3)^-1`` for each ``lambda`` (D3: third differences)."""
    eye = np.eye(n_frames)
    if n_frames < 4:
        return np.stack([eye for _ in lambdas])
    d3 = np.diff(eye, n=3, axis=0)
    dtd = d3.T @ d3
    return np.stack([eye if lam == 0 else np.linalg.inv(eye + lam * dtd) for lam in lambdas])


def framing_targets(framing: str) -> list[tuple[float, float]]:
    """Image points the aim may put the subject on (both thirds for ``nearest_third``)."""
    if framing not in FRAMING_POINTS:
        raise RigDojoError(f"unknown framing point {framing!r}; choose one of {', '.join(FRAMING_POINTS)}")
    if framing == "nearest_third":
        return [(1.0 / 3.0, 0.5), (2.0 / 3.0, 0.5)]
    return [FRAMING_POINTS[framing]]


def aim_angles(task: CameraTask, pos: np.ndarray, frames: np.ndarray, roll: float, lens: np.ndarray,
               target: tuple[float, float], iterations: int = 4) -> np.ndarray:
    """``(m, 2)`` yaw and pitch that put the subject at image point ``target`` for cameras at ``pos``
    ``(m, 3)`` with ``roll`` and ``lens`` ``(m,)`` at shot ``frames`` (Gauss-Newton from a look-at)."""
    subject = task.spec.subject_positions[frames]
    ang = look_at_angles(pos, subject)
    intr = task.intrinsics
    exact = target == (0.5, 0.5) and roll == 0.0 and intr.shift_x == 0.0 and intr.shift_y == 0.0
    if exact:
        return ang
    goal = np.asarray(target, np.float64)

    def uv_of(a):
        full = np.concatenate([a, np.full((len(a), 1), roll)], axis=1)
        return intr.project(pos, camera_rotation(full), subject, lens)[0]

    eps = 1e-5
    for _ in range(iterations):
        uv = uv_of(ang)
        ju = (uv_of(ang + [eps, 0.0]) - uv) / eps
        jv = (uv_of(ang + [0.0, eps]) - uv) / eps
        det = ju[:, 0] * jv[:, 1] - jv[:, 0] * ju[:, 1]
        det = np.where(np.abs(det) > 1e-12, det, 1e-12)
        r = goal - uv
        ang = ang + np.stack([(r[:, 0] * jv[:, 1] - jv[:, 0] * r[:, 1]) / det,
                              (ju[:, 0] * r[:, 1] - r[:, 0] * ju[:, 1]) / det], axis=1)
    return ang


# --- scoring --------------------------------------------------------------------------------


class PathScorer:
    """Scores batches of candidate camera paths over one shot (see the module docstring).

    Args:
        task: the camera task (``n_envs=1`` is enough: its measurements are used batched).
        weights: :class:`SolveWeights`.
        knots_per_second: control points of the position (and lens) spline per second of shot.
        smoothing: the aim's Whittaker strengths to choose from.
        distance_band: ``(near, far)`` in shot scales (default: the task's ``camera_distance_band``
            term, else (0.5, 2.0)).
        size_target: ``(target, tolerance)`` of the subject's size (lens moves; default: the task's
            ``camera_subject_size`` term, else (0.3, 0.1)).
    """

    def __init__(self, task: CameraTask, weights: SolveWeights | None = None, knots_per_second: float = 1.0,
                 smoothing=SMOOTHING, distance_band: tuple[float, float] | None = None,
                 size_target: tuple[float, float] | None = None):
        self.task, self.spec = task, task.spec
        spec = self.spec
        self.weights = weights or SolveWeights()
        self.mode, self.use_lens = task.twin.mode, task.twin.use_lens
        self.F, self.fps, self.scale = spec.n_frames, spec.fps, spec.scale
        self.p0, self.a0 = spec.camera_position.copy(), spec.camera_angles.copy()
        self.K = max(4, int(round(self.F / self.fps * knots_per_second)) + 3)
        self.basis = bspline_basis(self.F, self.K)
        self.tau = np.linspace(0.0, 1.0, self.F)
        self.lambdas = np.asarray(smoothing, np.float64) if self.mode != "dolly" else np.zeros(1)
        self.smoothers = whittaker_matrices(self.F, self.lambdas)
        self.targets = framing_targets(task.framing)
        terms = {t.name: t for t in task.terms if t.enabled}
        self.band = distance_band or _term_params(terms, "camera_distance_band", ("near", "far"), (0.5, 2.0))
        self.size_target = size_target or _term_params(terms, "camera_subject_size", ("target", "tolerance"),
                                                       (0.3, 0.1))
        self.n_pos = 6 + 3 * self.K if self.mode in ("free", "dolly") else 0
        self.n_params = self.n_pos + (self.K if self.use_lens else 0)
        track = scripted_rollout(task, "track_to")
        self.track_to_jerk = float(shot_metrics(task, track)["jerk"])
        self.jerk_ref = max(self.track_to_jerk, 1e-3)
        self._frames = np.arange(self.F)

    # -- parameters -> paths --------------------------------------------------------------------
    def sigmas(self, position: float = 0.3, residual: float = 0.1, lens: float = 0.2) -> np.ndarray:
        """Initial search spread per parameter (shot scales; log lens)."""
        out = []
        if self.n_pos:
            out += [position] * 6 + [residual] * (3 * self.K)
        if self.use_lens:
            out += [lens] * self.K
        return np.asarray(out, np.float64)

    def positions(self, params: np.ndarray) -> np.ndarray:
        """``(N, F, 3)`` camera positions of parameter rows ``(N, D)``."""
        n = len(params)
        if not self.n_pos:
            return np.broadcast_to(self.p0, (n, self.F, 3)).copy()
        c, d = params[:, 0:3], params[:, 3:6]
        z = params[:, 6:self.n_pos].reshape(n, self.K, 3)
        off = c[:, None] + d[:, None] * self.tau[None, :, None] + np.einsum("fk,nkc->nfc", self.basis, z)
        return self.p0 + self.scale * off

    def lenses(self, params: np.ndarray) -> np.ndarray:
        """``(N, F)`` focal lengths."""
        lim = self.task.limits
        if not self.use_lens:
            return np.full((len(params), self.F), self.spec.lens)
        zl = params[:, self.n_pos:self.n_pos + self.K]
        return np.clip(self.spec.lens * np.exp(zl @ self.basis.T), lim.lens_min, lim.lens_max)

    def params_of_dolly(self, offsets: np.ndarray, dollies: np.ndarray) -> np.ndarray:
        """Parameter rows of static offsets ``c`` and straight dollies ``d`` (shot scales), ``(N, 3)`` each."""
        rows = np.zeros((len(offsets), self.n_params))
        if self.n_pos:
            rows[:, 0:3], rows[:, 3:6] = offsets, dollies
        return rows

    # -- aim --------------------------------------------------------------------------------
    def aims(self, pos: np.ndarray, lens: np.ndarray, options: np.ndarray | None = None) -> np.ndarray:
        """``(N, O, F, 3)`` smoothed yaw/pitch/roll for each smoothing x framing target option."""
        n = len(pos)
        roll = float(self.a0[2])
        if self.mode == "dolly":
            return np.broadcast_to(self.a0, (n, 1, self.F, 3)).copy()
        frames = np.tile(self._frames, n)
        flat_pos, flat_lens = pos.reshape(-1, 3), lens.reshape(-1)
        out = []
        for target in self.targets:
            raw = aim_angles(self.task, flat_pos, frames, roll, flat_lens, target).reshape(n, self.F, 2)
            raw[..., 0] = np.unwrap(raw[..., 0], axis=1)
            flat = raw.transpose(1, 0, 2).reshape(self.F, n * 2)  # (F, n*2): one matrix product per strength
            smooth = (self.smoothers @ flat).reshape(len(self.lambdas), self.F, n, 2).transpose(2, 0, 1, 3)
            out.append(smooth)
        ang2 = np.concatenate(out, axis=1)
        ang2[..., 1] = np.clip(ang2[..., 1], -PITCH_LIMIT, PITCH_LIMIT)
        return np.concatenate([ang2, np.full(ang2.shape[:-1] + (1,), roll)], axis=-1)

    def option_lambda(self, option: int) -> float:
        return float(self.lambdas[option % len(self.lambdas)])

    # -- cost -------------------------------------------------------------------------------
    def score(self, params: np.ndarray, parts: bool = False):
        """Cost ``(N,)`` of parameter rows ``(N, D)`` and the best aim option of each ``(N,)``
        (with ``parts``: also a dict of the cost's terms at that option)."""
        params = np.atleast_2d(np.asarray(params, np.float64))
        task, w, F = self.task, self.weights, self.F
        n = len(params)
        pos = self.positions(params)
        lens = self.lenses(params)
        frames = np.tile(self._frames, n)
        occ, col, excess = task.measure_positions(pos.reshape(-1, 3), frames)
        occ, col, excess = occ.reshape(n, F), col.reshape(n, F), excess.reshape(n, F)
        subject = self.spec.subject_positions
        dist = np.linalg.norm(subject[None] - pos, axis=-1) / self.scale
        near, far = self.band
        band = (np.maximum(near - dist, 0.0) + np.maximum(dist - far, 0.0)).mean(axis=1)
        region = np.where(excess > 0, excess + 1.0, 0.0).mean(axis=1)
        travel = (np.linalg.norm(pos - self.p0, axis=-1) / self.scale).mean(axis=1)
        fixed = (w.occlusion * occ.mean(axis=1) + w.collision * col.mean(axis=1) + w.region * region
                 + w.distance * band + w.travel * travel)

        ang = self.aims(pos, lens)  # (n, O, F, 3)
        n_opt = ang.shape[1]
        rot = camera_rotation(ang.reshape(-1, 3))
        rep_pos = np.broadcast_to(pos[:, None], (n, n_opt, F, 3)).reshape(-1, 3)
        rep_lens = np.broadcast_to(lens[:, None], (n, n_opt, F)).reshape(-1)
        uv, depth, size = task.project_subject(rep_pos, rot, rep_lens, np.tile(self._frames, n * n_opt))
        framing = framing_distance(uv, depth, task.framing).reshape(n, n_opt, F).mean(axis=2)
        jp, jr = jerk_parts(pos[:, None], ang, subject, self.fps)
        jerk = np.hypot(jp, jr) / self.jerk_ref
        lim = task.limits
        rate = np.abs(np.diff(ang[..., :2], axis=2)).max(axis=(2, 3)) * self.fps if F > 1 else np.zeros((n, n_opt))
        accel = np.abs(np.diff(ang[..., :2], n=2, axis=2)).max(axis=(2, 3)) * self.fps**2 if F > 2 else rate * 0
        limits = np.maximum(rate / lim.max_turn_rate - 1.0, 0.0) + np.maximum(accel / lim.max_turn_accel - 1.0, 0.0)
        if self.mode == "dolly":
            limits = np.zeros_like(limits)
        cost = (fixed[:, None] + w.framing * framing + w.jerk * jerk + w.rougher * np.maximum(jerk - 1.0, 0.0)
                + w.limits * limits)
        size_err = np.zeros_like(cost)
        if self.use_lens:
            target, tol = self.size_target
            size_err = (np.abs(size.reshape(n, n_opt, F) - target) / tol).mean(axis=2)
            cost = cost + w.size * size_err
        best = np.argmin(cost, axis=1)
        rows = np.arange(n)
        total = cost[rows, best]
        if not parts:
            return total, best
        return total, best, {
            "framing": framing[rows, best], "occlusion": occ.mean(axis=1), "jerk": jerk[rows, best] * self.jerk_ref,
            "jerk_ratio": jerk[rows, best], "collision": col.mean(axis=1), "region": region, "distance": band,
            "travel": travel, "limits": limits[rows, best], "size": size_err[rows, best]}

    def path(self, params: np.ndarray, option: int | None = None) -> SolvedPath:
        """The camera path of one parameter row (its best aim option unless ``option``)."""
        params = np.asarray(params, np.float64).reshape(1, -1)
        cost, best = self.score(params)
        opt = int(best[0]) if option is None else int(option)
        pos = self.positions(params)[0]
        lens = self.lenses(params)[0]
        ang = self.aims(pos[None], lens[None])[0, opt]
        return SolvedPath(self.spec.frames.copy(), pos, ang, lens, float(cost[0]), self.option_lambda(opt),
                          params[0].copy())

    def rollout(self, path: SolvedPath) -> CameraRollout:
        """The path measured frame by frame like any camera move (``evaluate_poses``)."""
        return evaluate_poses(self.task, path.positions, path.angles, path.lens)


def _term_params(terms: dict, name: str, keys: tuple[str, str], default: tuple[float, float]) -> tuple[float, float]:
    term = terms.get(name)
    if term is None:
        return default
    return tuple(float(term.params.get(k, d)) for k, d in zip(keys, default))  # type: ignore[return-value]


# --- the structured first generation and the Track To + dolly baseline ----------------------------


def sphere_directions(n: int) -> np.ndarray:
    """``(n, 3)`` unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(np.maximum(0.0, 1.0 - z * z))
    phi = np.pi * (1.0 + 5.0**0.5) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def track_to_dolly(task: CameraTask, lengths=(0.15, 0.35, 0.7, 1.2), directions: int = 48,
                   weights: SolveWeights | None = None) -> tuple[CameraRollout, np.ndarray]:
    """The baseline an animator sets up in a minute: a Track To camera on the best straight dolly.

    The dolly starts at the scene camera and moves at constant speed along a straight line; every
    direction of a Fibonacci sphere at each length (shot scales), and no move at all, are scored
    with :class:`PathScorer`'s cost with the aim held at an exact, centring Track To. Returns the best
    move and its dolly vector (scene units over the shot).
    """
    free = CameraTask(task.spec, n_envs=1, terms=task.terms, mode="free", framing=task.framing,
                      tolerance=task.tolerance, occlusion=task.use_occlusion, limits=task.limits)
    scorer = PathScorer(free, weights, smoothing=(0.0,))
    scorer.targets = [(0.5, 0.5)]  # Track To centres the subject
    dirs = sphere_directions(directions)
    d = np.concatenate([np.zeros((1, 3))] + [dirs * length for length in lengths])
    params = scorer.params_of_dolly(np.zeros_like(d), d)
    cost = np.concatenate([scorer.score(params[i:i + 64])[0] for i in range(0, len(params), 64)])
    best = int(np.argmin(cost))
    path = scorer.path(params[best], option=0)
    return evaluate_poses(task, path.positions, path.angles), d[best] * scorer.scale


# --- the search -----------------------------------------------------------------------------


class ShotSolver:
    """Cross-entropy search over camera paths, one generation per :meth:`step` (resumable state).

    Args:
        task: the camera task of the shot.
        population: candidate paths per generation.
        elite: fraction kept to refit the search distribution.
        seed: random seed.
        weights, knots_per_second: see :class:`PathScorer`.
    """

    def __init__(self, task: CameraTask, population: int = 64, elite: float = 0.125, seed: int = 0,
                 weights: SolveWeights | None = None, knots_per_second: float = 1.0):
        self.scorer = PathScorer(task, weights, knots_per_second)
        self.population = max(int(population), 4)
        self.n_elite = max(2, int(round(elite * self.population)))
        self.rng = np.random.default_rng(seed)
        self.sigma0 = self.scorer.sigmas()
        self.mean = np.zeros(self.scorer.n_params)
        self.std = self.sigma0.copy()
        self.best_params = np.zeros(self.scorer.n_params)
        self.best_cost = float("inf")
        self.generation = 0
        self.last_costs = np.zeros(0)

    @property
    def steps_per_generation(self) -> int:
        """Camera-frames measured per generation (the step count of a solve)."""
        return self.population * (self.scorer.F - 1)

    def _first_generation(self) -> np.ndarray:
        """Staying put, static offsets and straight dollies from the scene camera, spread evenly over the
        sphere at a few distances (about four generations' worth, evaluated once)."""
        sc = self.scorer
        if not sc.n_pos:
            rest = self.rng.standard_normal((self.population - 1, sc.n_params)) * self.sigma0
            return np.concatenate([np.zeros((1, sc.n_params)), rest]) if sc.n_params else np.zeros((1, 0))
        n_dirs = max(8, self.population // 2)
        dirs = sphere_directions(n_dirs)
        offsets = np.concatenate([dirs * r for r in (0.3, 0.6, 1.0, 1.5)])
        dollies = np.concatenate([dirs * r for r in (0.3, 0.7, 1.2)])
        rows = [np.zeros((1, sc.n_params)), sc.params_of_dolly(offsets, np.zeros_like(offsets)),
                sc.params_of_dolly(np.zeros_like(dollies), dollies)]
        return np.concatenate(rows)

    def step(self) -> float:
        """One generation; returns the best cost so far."""
        if self.generation == 0:
            cand = self._first_generation()
        else:
            noise = self.rng.standard_normal((self.population, self.mean.size))
            half = self.population // 2
            # half around the elite mean (explore), half close around the best path (refine)
            cand = np.concatenate([self.mean + self.std * noise[:half],
                                   self.best_params + 0.5 * self.std * noise[half:]])
            cand[0] = self.best_params  # the best path so far stays in the running
        costs = np.concatenate([self.scorer.score(cand[i:i + 256])[0] for i in range(0, len(cand), 256)])
        self.last_costs = costs
        order = np.argsort(costs)
        if costs[order[0]] < self.best_cost:
            self.best_cost, self.best_params = float(costs[order[0]]), cand[order[0]].copy()
        elite = cand[order[:self.n_elite]]
        if self.generation == 0:
            self.mean, self.std = self.best_params.copy(), self.sigma0.copy()
        else:
            self.mean = elite.mean(axis=0)
            self.std = elite.std(axis=0) + 0.02 * self.sigma0
        self.generation += 1
        return self.best_cost

    def result(self) -> SolvedPath:
        return self.scorer.path(self.best_params)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that resume the search (with ``rng.bit_generator.state`` and ``generation``)."""
        return {"mean": self.mean, "std": self.std, "best_params": self.best_params,
                "best_cost": np.array(self.best_cost)}

    def restore(self, arrays: dict[str, np.ndarray], generation: int, rng_state: dict | None = None) -> None:
        if np.asarray(arrays["mean"]).shape != self.mean.shape:
            raise RigDojoError("the checkpoint does not fit this shot's camera path (another mode, lens setting "
                               "or shot length); start a new run")
        self.mean, self.std = np.array(arrays["mean"]), np.array(arrays["std"])
        self.best_params, self.best_cost = np.array(arrays["best_params"]), float(arrays["best_cost"])
        self.generation = int(generation)
        if rng_state is not None:
            self.rng.bit_generator.state = rng_state


def solve_shot(spec, generations: int = 40, population: int = 64, seed: int = 0,
               weights: SolveWeights | None = None, **task_kwargs) -> tuple[SolvedPath, CameraTask, list[float]]:
    """Solve the camera move of ``spec`` (a ``CameraSpec``) with ``generations`` of :class:`ShotSolver`.

    ``task_kwargs`` go to :class:`CameraTask` (mode, use_lens, framing, ...). Returns the path, the
    task it was scored on and the best cost per generation.
    """
    task = CameraTask(spec, n_envs=1, **task_kwargs)
    solver = ShotSolver(task, population=population, seed=seed, weights=weights)
    history = [solver.step() for _ in range(max(1, generations))]
    return solver.result(), task, history
