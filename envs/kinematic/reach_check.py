"""Is the target within the chain's reach? A warning at extraction, not an error (no bpy).

A reach whose region lies beyond what the effector can touch trains to 0% success without a word (a
neck and head asked to reach a box a metre away). :func:`reach_warning` samples the controls' whole joint
box in the twin (the poses a policy can take: rotations within their limits, locations within their
bounds), and measures how far each target point (random points of the region, the frames of an animated
target, or the fixed target) is from the nearest effector position found. A point farther than
:data:`REACH_MARGIN` chain lengths (or three sample spacings, when the samples are sparser) cannot be
reached by any pose.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .task_spec import TaskSpec

REACH_MARGIN = 0.15  # chain lengths beyond the farthest sampled effector position before a point counts as out of reach
WARN_FRACTION = 0.1  # of a region's (or an animated target's) points out of reach before it is worth a warning


def _target_points(spec: TaskSpec, count: int, rng: np.random.Generator) -> np.ndarray:
    tgt = spec.target
    if tgt.kind == "region":
        u = rng.uniform(-1.0, 1.0, size=(count, 3)) * tgt.region_half
        return tgt.region_center + u @ np.asarray(tgt.region_rot).T
    if tgt.kind == "trajectory":
        return np.asarray(tgt.trajectory, dtype=np.float64)
    return np.asarray(tgt.position, dtype=np.float64)[None]


def out_of_reach(spec: TaskSpec, samples: int = 2048, points: int = 256, seed: int = 0
                 ) -> tuple[float, float, float]:
    """(fraction of target points out of reach, the farthest point's distance from any reached position,
    the margin used), distances in chain lengths."""
    from .tasks import make_task

    spec = dataclasses.replace(spec, curriculum=[], warnings=[])
    task = make_task(spec, n_envs=samples, seed=seed)
    rng = np.random.default_rng(seed)
    task.q = task.q_low + rng.uniform(size=task.q.shape) * (task.q_high - task.q_low)
    task._forward()
    reached = task.effector_pos()  # (samples, 3), chain lengths from the chain's root
    wanted = task.normalise(_target_points(spec, points, rng))
    nearest = np.full(len(wanted), np.inf)
    for start in range(0, len(reached), 1024):  # (points, 1024) distances at a time
        block = reached[start:start + 1024]
        d = np.linalg.norm(wanted[:, None, :] - block[None, :, :], axis=-1).min(axis=1)
        nearest = np.minimum(nearest, d)
    # how sparse the samples are: the median distance from a sample to its nearest other sample
    probe = reached[: min(256, len(reached))]
    d = np.linalg.norm(probe[:, None, :] - reached[None, :, :], axis=-1)
    d[np.arange(len(probe)), np.arange(len(probe))] = np.inf
    spacing = float(np.median(d.min(axis=1))) if len(reached) > 1 else 0.0
    margin = max(REACH_MARGIN, 3.0 * spacing)
    return float(np.mean(nearest > margin)), float(nearest.max()), margin


def reach_warning(spec: TaskSpec) -> str | None:
    """One line saying how much of a reach task's target is out of the chain's reach, or None."""
    if spec.kind != "reach":
        return None
    fraction, farthest, margin = out_of_reach(spec)
    kind, name = spec.target.kind, spec.target.name or "the target"
    if kind == "fixed" and fraction > 0:
        return (f"the target {name!r} is {farthest:.2g} chain lengths from the nearest place the {spec.effector} can "
                f"reach (the margin is {margin:.2g}): no pose reaches it; move it closer or add controls")
    if fraction >= WARN_FRACTION:
        what = f"the region {name!r}" if kind == "region" else f"the frames of the animated target {name!r}"
        return (f"{fraction:.0%} of {what} is out of the chain's reach (farther than {margin:.2g} chain lengths from "
                f"every pose of {spec.effector}; the farthest point {farthest:.2g}): those targets cannot be reached, "
                "so success stays low; move or shrink the region, or add controls")
    return None
