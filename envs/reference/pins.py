"""``PinSet``: the animator's pins, as plain arrays (no bpy).

A pin is something the motion must pass through at one frame:

- a **pose pin**: the keyed rotations of some bones (a pose the animator blocked on the controls);
- an **effector pin**: a bone's head or tail on an object's position at a frame ("the hand on the cup at 45").

Each is **hard** (it decides success: met within tolerance, or the motion fails) or **soft** (a weighted
reward only), and has a weight. Pose rotations are local (basis) rotations as unit quaternions of
``pose_bones``; which of them a pin holds is its row of ``mask``. ``position`` is, for an effector pin, the
object's world position, and for a pose pin the world position of ``point_bone``'s point in the keyed
pose as Blender evaluated it (what the bake is checked against).

Family-independent: the kinematic family turns a PinSet into joint targets (``envs.kinematic.pinning``);
another family can turn the same pins into its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import numpy as np

from ...errors import RigDojoError

POSE, EFFECTOR = "pose", "effector"
_EFFECTOR_PIN = re.compile(r"^\s*(?:(?P<bone>[^:@]+?)\s*:)?\s*(?P<object>[^@]+?)\s*@\s*(?P<frame>-?\d+)\s*$")


def parse_effector_pin(text: str, what: str = "reference.effector_pins") -> tuple[str, str, int]:
    """``"Cup@45"`` → ``("", "Cup", 45)``; ``"DEF-hand.L:Cup@45"`` → ``("DEF-hand.L", "Cup", 45)``
    (an empty bone: the task's effector). RigDojoError saying the form otherwise."""
    m = _EFFECTOR_PIN.match(text)
    if m and m.group("object").lstrip().startswith(":"):
        raise RigDojoError(f"{what}: {text!r} has no bone before ':'; write BONE:OBJECT@FRAME, or OBJECT@FRAME for "
                           "the effector")
    if not m:
        raise RigDojoError(f"{what}: {text!r} is not OBJECT@FRAME or BONE:OBJECT@FRAME (e.g. Cup@45)")
    return (m.group("bone") or "").strip(), m.group("object").strip(), int(m.group("frame"))


@dataclass
class PinSet:
    """Pins in frame order (see the module docstring); ``P`` pins, ``B`` pose bones."""

    frame_start: int  # the frame an episode starts at (step 0)
    frames: np.ndarray  # (P,) int
    kinds: list[str]  # POSE or EFFECTOR
    pose_bones: list[str]
    rotations: np.ndarray  # (P, B, 4) keyed local rotations (identity rows for effector pins)
    mask: np.ndarray  # (P, B) bool: the bones each pin holds
    point_bone: list[str]  # (P,) the bone whose point is checked
    point: list[str]  # (P,) "head" or "tail"
    position: np.ndarray  # (P, 3) world position the point must be at
    hard: np.ndarray  # (P,) bool
    weight: np.ndarray  # (P,) float
    objects: list[str] = field(default_factory=list)  # (P,) the object of an effector pin ("" for a pose pin)
    start_rotations: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))  # (B, 4) the pose at frame_start
    angle_tolerance: float = 2.0  # degrees: a pose pin's bones must each be within this
    position_tolerance: float = 0.01  # chain lengths: a pose pin's point must be within this
    effector_tolerance: float = 0.02  # chain lengths: an effector pin's point must be within this
    source: str = ""  # the Action the pose pins come from
    metres_per_unit: float = 1.0  # the scene's unit scale (for centimetres in reports)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        order = np.argsort(np.asarray(self.frames), kind="stable")
        if np.any(order != np.arange(len(order))):
            for name in ("frames", "rotations", "mask", "position", "hard", "weight"):
                setattr(self, name, np.asarray(getattr(self, name))[order])
            for name in ("kinds", "point_bone", "point", "objects"):
                values = getattr(self, name)
                if values:
                    setattr(self, name, [values[i] for i in order])
        if not self.objects:
            self.objects = [""] * len(self.frames)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def steps(self) -> np.ndarray:
        """(P,) the episode step of each pin (its frame minus ``frame_start``)."""
        return np.asarray(self.frames, dtype=np.int64) - int(self.frame_start)

    def bones_of(self, k: int) -> list[str]:
        """The bones pin ``k`` holds (a pose pin's masked bones; an effector pin's bone)."""
        if self.kinds[k] == EFFECTOR:
            return [self.point_bone[k]]
        return [b for b, m in zip(self.pose_bones, self.mask[k]) if m]

    def rows(self) -> list[dict]:
        """One plain row per pin (the sidebar's list and reports): frame, kind, bones, object, weight, hard."""
        return [{"frame": int(f), "kind": self.kinds[k], "bones": self.bones_of(k), "object": self.objects[k],
                 "weight": float(self.weight[k]), "hard": bool(self.hard[k])} for k, f in enumerate(self.frames)]

    def validate(self, episode_steps: int) -> None:
        if len(self) == 0:
            raise RigDojoError("no pins: key poses on the controls or add an effector pin")
        steps = self.steps
        bad = [int(f) for f, s in zip(self.frames, steps) if s < 0 or s > episode_steps]
        if bad:
            raise RigDojoError(f"pins at frame {', '.join(map(str, bad))} are outside the frame range "
                               f"{self.frame_start}-{self.frame_start + episode_steps}; widen the frame range")
        if not (self.angle_tolerance > 0 and self.position_tolerance > 0 and self.effector_tolerance > 0):
            raise RigDojoError("pin tolerances must be greater than 0")

    # ---- file -----------------------------------------------------------------------
    _ARRAYS = ("frames", "rotations", "mask", "position", "hard", "weight", "start_rotations")

    def to_arrays(self, prefix: str = "pins.") -> dict[str, np.ndarray]:
        meta = {k: getattr(self, k) for k in ("frame_start", "kinds", "pose_bones", "point_bone", "point", "objects",
                                              "angle_tolerance", "position_tolerance", "effector_tolerance",
                                              "source", "metres_per_unit", "notes")}
        out = {prefix + "meta": np.array(json.dumps(meta))}
        out.update({prefix + k: np.asarray(getattr(self, k)) for k in self._ARRAYS})
        return out

    @classmethod
    def from_arrays(cls, data, prefix: str = "pins.") -> "PinSet":
        meta = json.loads(str(data[prefix + "meta"]))
        return cls(**meta, **{k: np.array(data[prefix + k]) for k in cls._ARRAYS})


def next_pins(steps: np.ndarray, t: np.ndarray, which: np.ndarray, inclusive: bool = True,
              skip: int = 0) -> np.ndarray:
    """For each step in ``t``, the index of the ``skip``-th pin among ``which`` (a mask over pins whose episode
    steps, in order, are ``steps``) at (``inclusive``) or after it; -1 if none. Any family's per-step lookup tables."""
    idx = np.flatnonzero(which)
    if not len(idx):
        return np.full(len(t), -1)
    pos = np.searchsorted(np.asarray(steps)[idx], t, side="left" if inclusive else "right") + skip
    return np.where(pos < len(idx), idx[np.minimum(pos, len(idx) - 1)], -1)


def measure_pins(pins: PinSet, rotations: np.ndarray, points: np.ndarray, unit: float) -> dict:
    """How far a motion is from its pins, at each pin's frame.

    ``rotations``: ``(P, B, 4)`` the local rotations of ``pins.pose_bones`` the motion has at each pin's frame;
    ``points``: ``(P, 3)`` the world position of each pin's point then; ``unit``: world units per chain length.
    Returns per pin (``pins``: frame, kind, bones, angle error in degrees (mean and worst over its bones),
    point error in chain lengths and centimetres, hit) and overall: ``pin_hit_rate`` (every pin),
    ``hard_pin_hit_rate``, ``mean_angle_error_degrees`` (pose pins, every pinned bone), ``max_angle_error_degrees``,
    ``mean_effector_error`` / ``mean_effector_error_cm`` (every pin's point) and the worst of them.
    """
    from .. import rotations as rot

    angles = np.degrees(rot.rotation_angle(np.asarray(rotations, dtype=np.float64), pins.rotations))  # (P, B)
    err = np.linalg.norm(np.asarray(points, dtype=np.float64) - pins.position, axis=1) / unit  # chain lengths
    cm = err * unit * pins.metres_per_unit * 100.0
    rows, pose_angles = [], []
    for k, row in enumerate(pins.rows()):
        held = pins.mask[k] if row["kind"] == POSE else np.zeros(len(pins.pose_bones), bool)
        a = angles[k][held]
        pose_angles += a.tolist()
        tolerance = pins.position_tolerance if row["kind"] == POSE else pins.effector_tolerance
        hit = bool(err[k] <= tolerance and (a.size == 0 or a.max() <= pins.angle_tolerance))
        rows.append({**row, "angle_error_degrees": float(a.mean()) if a.size else 0.0,
                     "max_angle_error_degrees": float(a.max()) if a.size else 0.0,
                     "effector_error": float(err[k]), "effector_error_cm": float(cm[k]), "hit": hit})
    hits = np.array([r["hit"] for r in rows], dtype=bool)
    hard = np.asarray(pins.hard, dtype=bool)
    return {
        "pins": rows,
        "pin_hit_rate": float(hits.mean()) if hits.size else float("nan"),
        "hard_pin_hit_rate": float(hits[hard].mean()) if hard.any() else float("nan"),
        "mean_angle_error_degrees": float(np.mean(pose_angles)) if pose_angles else 0.0,
        "max_angle_error_degrees": float(np.max(pose_angles)) if pose_angles else 0.0,
        "mean_effector_error": float(err.mean()) if err.size else 0.0,
        "max_effector_error": float(err.max()) if err.size else 0.0,
        "mean_effector_error_cm": float(cm.mean()) if cm.size else 0.0,
        "max_effector_error_cm": float(cm.max()) if cm.size else 0.0,
    }


def format_measures(m: dict) -> str:
    """The measures of :func:`measure_pins` in one line."""
    hits = sum(r["hit"] for r in m["pins"])
    return (f"pins: {hits}/{len(m['pins'])} hit; joint-angle error mean {m['mean_angle_error_degrees']:.2f} deg "
            f"(worst {m['max_angle_error_degrees']:.2f}); effector error mean {m['mean_effector_error_cm']:.2f} cm "
            f"({m['mean_effector_error']:.2%} of the chain), worst {m['max_effector_error_cm']:.2f} cm "
            f"({m['max_effector_error']:.2%})")
