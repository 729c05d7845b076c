"""``ReferenceClip``: an animation sampled once per frame, as plain arrays (no bpy).

Made by ``scene.reference.sample_action`` from Blender's evaluation of an Action on the rig (drivers on
the channels and the rig's constraints honoured), or by any reader of a motion file. Rotations are the
bones' local (basis) rotations as unit quaternions, so the clip does not depend on a bone's rotation
mode; ``points`` are world positions of bone tails as Blender evaluated them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from ...errors import RigDojoError
from .. import rotations


@dataclass
class ReferenceClip:
    """Frames ``frames`` (F,) of the clip ``name``; ``bones`` are rig bone names (after the bone map).

    Attributes:
        name: the Action (or file) it was read from.
        frames: (F,) frame numbers sampled, increasing.
        fps: frames per second of the scene it was sampled in.
        bones: the rig bones the clip poses, in the order of the arrays' B axis.
        rotations: (F, B, 4) local rotation of each bone, unit quaternion (w, x, y, z).
        locations: (F, B, 3) local location of each bone.
        point_names: the bones whose world tail positions ``points`` holds.
        points: (F, K, 3) world tail positions, from Blender's evaluation.
        keyed: (F,) bool, whether the source has a key at that frame (for any of ``bones``).
        source_bones: the clip's own name for each of ``bones`` (equal unless a bone map renamed it).
        notes: what the reading assumed or left out (shown to the user).
    """

    name: str
    frames: np.ndarray
    fps: float
    bones: list[str]
    rotations: np.ndarray
    locations: np.ndarray
    point_names: list[str] = field(default_factory=list)
    points: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3)))
    keyed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    source_bones: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Frames from the first sample to the last."""
        return float(self.frames[-1] - self.frames[0]) if len(self.frames) else 0.0

    def bone(self, name: str) -> int:
        return self.bones.index(name)

    def euler_xyz(self, bones: list[str] | None = None) -> np.ndarray:
        """(F, B, 3) Euler XYZ angles of the local rotations (the kinematic twin's joint parametrisation),
        continuous over the frames (no jumps of 2π)."""
        idx = [self.bone(b) for b in (bones or self.bones)]
        return rotations.quaternion_to_euler(self.rotations[:, idx], "XYZ")

    def check_length(self, control_step: float = 1.0, what: str = "the reference") -> None:
        """RigDojoError when the clip is shorter than one control step (``control_step`` frames)."""
        if len(self.frames) < 2 or self.duration < control_step - 1e-9:
            span = f"only frame {self.frames[0]:g}" if len(self.frames) else "no frames"
            raise RigDojoError(f"{what} {self.name!r} is shorter than one control step ({control_step:g} frame"
                               f"{'s' if control_step != 1 else ''}): it has {span}; key it over several frames")

    # ---- file -----------------------------------------------------------------------
    def to_arrays(self, prefix: str = "clip.") -> dict[str, np.ndarray]:
        meta = {"name": self.name, "fps": self.fps, "bones": self.bones, "point_names": self.point_names,
                "source_bones": self.source_bones, "notes": self.notes}
        return {prefix + "meta": np.array(json.dumps(meta)), prefix + "frames": np.asarray(self.frames, float),
                prefix + "rotations": self.rotations, prefix + "locations": self.locations,
                prefix + "points": self.points, prefix + "keyed": np.asarray(self.keyed, bool)}

    @classmethod
    def from_arrays(cls, data, prefix: str = "clip.") -> "ReferenceClip":
        meta = json.loads(str(data[prefix + "meta"]))
        return cls(frames=np.array(data[prefix + "frames"]), rotations=np.array(data[prefix + "rotations"]),
                   locations=np.array(data[prefix + "locations"]), points=np.array(data[prefix + "points"]),
                   keyed=np.array(data[prefix + "keyed"]), **meta)
