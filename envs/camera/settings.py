"""The camera family's settings: the ``[camera]`` table of a TrainConfig (no bpy)."""

from __future__ import annotations

from dataclasses import dataclass

from ...agents.schema import check_choices, setting

CAMERA_MODES = (("free", "Free", "The camera moves and turns"),
                ("dolly", "Dolly", "The camera moves only (its rotation is kept)"),
                ("pan", "Pan", "The camera turns only (it stays in place)"))
FRAMING = (("center", "Center", "Keep the subject at the centre of the frame"),
           ("left_third", "Left Third", "Keep the subject on the left vertical third line (rule of thirds)"),
           ("right_third", "Right Third", "Keep the subject on the right vertical third line (rule of thirds)"),
           ("nearest_third", "Nearest Third", "Keep the subject on whichever third line is nearer"))


@dataclass
class CameraConfig:
    """The camera task: which camera follows which subject over which shot, and how it may move."""

    camera: str = setting("", label="Camera", kind="camera", cli=True,
                          description="The camera to move (empty: the scene's camera); only cameras can be picked")
    subject: str = setting("", label="Subject", kind="object", cli=True,
                           description="The animated object the camera keeps framed (an armature: pick a bone too)")
    bone: str = setting("", label="Bone", kind="bone", cli=True,
                        description="The subject armature's bone to frame (empty: the object's origin)")
    frame_start: int = setting(0, label="Start", description="First frame of the shot (0 and 0: the scene's range)")
    frame_end: int = setting(0, label="End", description="Last frame of the shot (after Start)")
    mode: str = setting("free", label="Mode", description="How the camera may move", choices=CAMERA_MODES,
                       cli=True)
    framing: str = setting("center", label="Framing", description="Where in the frame the subject is kept",
                           choices=FRAMING, cli=True)
    use_lens: bool = setting(False, label="Animate Lens",
                             description="Let the policy change the focal length too (keyed on the camera data)")
    allow_roll: bool = setting(False, label="Allow Roll",
                               description="Let the camera roll about its view axis (off: the horizon stays level)")
    tolerance: float = setting(0.08, label="Framing Tolerance", min=1e-6, soft_max=0.5, precision=3, advanced=True,
                               description="Distance from the framing point (image units) that counts as framed")
    start_noise: float = setting(0.0, label="Start Noise", min=0.0, soft_max=0.5, precision=3, advanced=True,
                                 description="Random start offset while training (in shot sizes; 0: always start "
                                             "from the camera's pose)")
    occlusion: bool = setting(True, label="Occlusion", advanced=True,
                              description="Trace rays to the subject to find when something hides it")
    region: str = setting("", label="Region", kind="object",
                          description="The camera stays inside this object's bounds (empty: a box around the shot)")

    def set_frames(self, start: int, end: int) -> None:
        """``--frames START-END``: the shot."""
        self.frame_start, self.frame_end = int(start), int(end)

    def validate(self, config) -> None:
        """RigDojoError naming the key for values that parse but make no sense."""
        from ...errors import RigDojoError

        check_choices(self, "camera")
        if (self.frame_start or self.frame_end) and self.frame_end <= self.frame_start:
            raise RigDojoError(f"camera.frame_end ({self.frame_end}) must be after camera.frame_start "
                               f"({self.frame_start}); a shot needs at least two frames (0 and 0: the scene's range)")
        if not self.tolerance > 0:
            raise RigDojoError(f"camera.tolerance must be greater than 0 (found {self.tolerance})")
        if not self.start_noise >= 0:
            raise RigDojoError(f"camera.start_noise must not be negative (found {self.start_noise})")
