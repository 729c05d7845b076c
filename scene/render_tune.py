"""The bpy edge of the render-settings tuner: Cycles renders, settings on the scene, keyed settings.

- :func:`check_cycles` refuses a Blender without Cycles (the tuner never falls back to EEVEE,
  which takes minutes per frame here).
- :class:`CyclesRenderer` renders a frame of the current scene with a
  :class:`~..envs.rendering.settings.RenderSettings` on the CPU in background mode and returns the image
  as the user sees it (the scene's view transform applied; 16-bit PNG through a temporary
  folder, because the Render Result's pixels are not readable in background mode), with the
  wall-clock and CPU seconds of the render itself. It implements the ``Renderer`` protocol of
  :mod:`envs.rendering.tune`, so the pure tuning loop drives it. The user's render settings are
  restored when it closes.
- :func:`key_settings` keys the chosen settings per frame on the scene (``cycles.samples``,
  ``cycles.adaptive_threshold``, the bounces, ``cycles.use_denoising``, constant interpolation).
  Keys rather than a frame-change handler: they travel with the .blend to any Blender (a render
  farm, a colleague without the extension), show in the Dope Sheet and are edited or deleted
  like any key, and ``blender -b shot.blend -a`` renders with them. The keys are written into
  the scene's Action; channels someone else keyed are never overwritten (that is an error
  naming them), our own from an earlier tune are replaced; :func:`clear_keyed_settings`
  removes them.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import bpy
import numpy as np

from ..envs.rendering.features import FrameFeatures, frame_features
from ..envs.rendering.report import TuneReport
from ..envs.rendering.settings import ReferenceSettings, RenderSettings
from ..envs.rendering.tune import RenderOutcome, TuneRun, check_target
from ..errors import RigDojoError

# Scene custom property listing the channels a tune keyed (JSON), so a later tune may replace them.
KEYED_PROPERTY = "rig_dojo_render_tune_keys"
REPORT_PROPERTY = "rig_dojo_render_tune_report"
PREVIEW_SAMPLES = 4            # the raw preview pair
DENOISED_PREVIEW_SAMPLES = 4   # the denoised preview pair
PREVIEW_SEEDS = (101, 202)
# The reference's seed differs from the renders' (the scene's seed) by this much: with one seed, a render's N samples
# are the first N of the reference's, and the SSIM against it flatters renders with samples near the reference's
REFERENCE_SEED_OFFSET = 7919

# scene.cycles attribute -> RenderSettings field (what is applied and keyed)
CYCLES_FIELDS = (("samples", "samples"), ("adaptive_threshold", "adaptive_threshold"),
                 ("diffuse_bounces", "diffuse_bounces"), ("glossy_bounces", "glossy_bounces"),
                 ("transmission_bounces", "transmission_bounces"), ("max_bounces", "max_bounces"),
                 ("use_denoising", "denoise"), ("use_adaptive_sampling", None),
                 ("denoising_prefilter", "denoiser"))
PREFILTERS = {"off": "ACCURATE", "fast": "FAST", "accurate": "ACCURATE"}


def has_cycles() -> bool:
    """Whether this Blender can render with Cycles (the add-on is built in and enabled)."""
    engines = {getattr(cls, "bl_idname", None) for cls in bpy.types.RenderEngine.__subclasses__()}
    return "CYCLES" in engines and hasattr(bpy.types.Scene, "cycles")


def check_cycles() -> None:
    if not has_cycles():
        raise RigDojoError("Cycles is not available in this Blender (enable the Cycles add-on in Preferences › "
                           "Add-ons); render tuning renders with Cycles only")


def scene_frame_range(scene: bpy.types.Scene) -> tuple[int, int]:
    return scene.frame_start, scene.frame_end


def check_frames(scene: bpy.types.Scene, frames: tuple[int, int]) -> None:
    start, end = frames
    lo, hi = scene_frame_range(scene)
    if end < start:
        raise RigDojoError(f"frames {start}-{end}: the end is before the start")
    if start < lo or end > hi:
        raise RigDojoError(f"frames {start}-{end} are outside the scene's frame range {lo}-{hi}; "
                           f"pick frames within it")


def apply_settings(scene: bpy.types.Scene, settings: RenderSettings, base_percentage: int = 100) -> None:
    """Put ``settings`` on ``scene`` (Cycles CPU, the bounces, the denoiser, the resolution scale)."""
    cycles = scene.cycles
    cycles.samples = int(settings.samples)
    cycles.use_adaptive_sampling = settings.adaptive_threshold > 0
    if settings.adaptive_threshold > 0:
        cycles.adaptive_threshold = float(settings.adaptive_threshold)
    cycles.diffuse_bounces = int(settings.diffuse_bounces)
    cycles.glossy_bounces = int(settings.glossy_bounces)
    cycles.transmission_bounces = int(settings.transmission_bounces)
    cycles.max_bounces = int(settings.max_bounces)
    cycles.use_denoising = bool(settings.denoise)
    cycles.denoising_prefilter = PREFILTERS[settings.denoiser]
    scene.render.resolution_percentage = max(1, round(base_percentage * settings.resolution_scale))


def read_settings(scene: bpy.types.Scene) -> RenderSettings:
    """The scene's current Cycles settings as a :class:`RenderSettings`."""
    c = scene.cycles
    denoiser = "off" if not c.use_denoising else "fast" if c.denoising_prefilter != 'ACCURATE' else "accurate"
    return RenderSettings(int(c.samples), float(c.adaptive_threshold) if c.use_adaptive_sampling else 0.0,
                          int(c.diffuse_bounces), int(c.glossy_bounces), int(c.transmission_bounces),
                          denoiser, 1.0)


_SAVED_CYCLES = ("samples", "adaptive_threshold", "adaptive_min_samples", "use_adaptive_sampling", "diffuse_bounces",
                 "glossy_bounces", "transmission_bounces", "max_bounces", "use_denoising", "denoiser",
                 "denoising_prefilter", "denoising_quality", "denoising_input_passes", "seed", "device")
_SAVED_RENDER = ("engine", "resolution_percentage", "filepath", "threads_mode", "threads", "use_persistent_data")
_SAVED_IMAGE = ("file_format", "color_depth", "color_mode")


class CyclesRenderer:
    """Renders frames of ``scene`` with given settings on the CPU; restores the scene's settings on close.

    ``threads``: Cycles threads (a fixed count so a shared machine is not starved; 0 keeps
    Blender's automatic count). Images are ``(height, width, 3)`` float32 in display space,
    row 0 at the bottom (Blender's layout).
    """

    def __init__(self, scene: bpy.types.Scene, threads: int = 2, reference: ReferenceSettings | None = None,
                 preview_samples: int = PREVIEW_SAMPLES, size: int | None = None):
        check_cycles()
        if scene.camera is None:
            raise RigDojoError(f"scene {scene.name!r} has no camera; set the scene camera to render with")
        self.scene = scene
        self.threads = threads
        self.reference_settings = reference or ReferenceSettings()
        self.preview_samples = preview_samples
        self._saved = self._save()
        self._frame = scene.frame_current
        self._base_percentage = scene.render.resolution_percentage
        if size is not None:  # render at most ``size`` pixels on the longest side
            longest = max(scene.render.resolution_x, scene.render.resolution_y) * self._base_percentage / 100.0
            if longest > size:
                self._base_percentage = max(1, int(self._base_percentage * size / longest))
        scene.render.resolution_percentage = self._base_percentage
        self._tmp = Path(tempfile.mkdtemp(prefix="rig_dojo_render_"))
        self._references: dict[int, np.ndarray] = {}
        render = scene.render
        render.engine = 'CYCLES'  # type: ignore[assignment]  # fake-bpy-module lists EEVEE only
        scene.cycles.device = 'CPU'
        if threads > 0:
            render.threads_mode, render.threads = 'FIXED', threads
        render.image_settings.file_format = 'PNG'
        render.image_settings.color_depth = '16'
        render.image_settings.color_mode = 'RGB'
        self.renders = 0
        self.render_seconds = 0.0

    # --- the Renderer protocol (rendering.tune) ------------------------------------------------

    def render(self, frame: int, settings: RenderSettings, seed: int | None = None) -> RenderOutcome:
        """Render ``frame`` with ``settings``; the image, and the render's wall-clock and CPU seconds."""
        scene = self.scene
        if scene.frame_current != frame:
            scene.frame_set(frame)
        apply_settings(scene, settings, self._base_percentage)
        scene.cycles.seed = self._saved["cycles"]["seed"] if seed is None else seed
        wall, cpu = time.perf_counter(), time.process_time()
        bpy.ops.render.render()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        self.renders += 1
        self.render_seconds += wall
        return RenderOutcome(self._read_result(), wall, cpu)

    def reference(self, frame: int) -> np.ndarray:
        """The reference image of ``frame`` (rendered once, then cached), with a seed of its own
        (``REFERENCE_SEED_OFFSET``) so that its noise is independent of the renders measured against it."""
        if frame not in self._references:
            seed = (int(self._saved["cycles"]["seed"]) + REFERENCE_SEED_OFFSET) % (2 ** 31)
            self._references[frame] = self.render(frame, self.reference_settings.settings(), seed=seed).image
        return self._references[frame]

    def features(self, frame: int) -> FrameFeatures:
        """Cheap features of ``frame``: two raw low-sample previews and two denoised ones (seeds differ)."""
        raw = RenderSettings(self.preview_samples, 0.0, 4, 4, 8, "off", 1.0)
        denoised = RenderSettings(DENOISED_PREVIEW_SAMPLES, 0.0, 4, 4, 8, "accurate", 1.0)
        outcomes = [self.render(frame, raw, seed=PREVIEW_SEEDS[0]), self.render(frame, raw, seed=PREVIEW_SEEDS[1]),
                    self.render(frame, denoised, seed=PREVIEW_SEEDS[0]),
                    self.render(frame, denoised, seed=PREVIEW_SEEDS[1])]
        return frame_features(frame, outcomes[0].image, outcomes[1].image, self.preview_samples, outcomes[2].image,
                              outcomes[3].image, seconds=sum(o.seconds for o in outcomes),
                              cpu_seconds=sum(o.cpu_seconds for o in outcomes))

    @property
    def pixels(self) -> int:
        """Pixels of a full-scale render (what the time model counts)."""
        render = self.scene.render
        scale = self._base_percentage / 100.0
        return int(round(render.resolution_x * scale)) * int(round(render.resolution_y * scale))

    # --- internals -------------------------------------------------------------------------------

    def _read_result(self) -> np.ndarray:
        path = self._tmp / "render.png"
        result = bpy.data.images["Render Result"]
        result.save_render(filepath=str(path), scene=self.scene)
        image = bpy.data.images.load(str(path))
        try:
            image.colorspace_settings.name = 'Non-Color'  # keep the display-encoded values as written
            width, height = image.size
            pixels = np.empty(width * height * image.channels, dtype=np.float32)
            image.pixels.foreach_get(pixels)  # type: ignore[attr-defined]  # a bpy_prop_array
        finally:
            bpy.data.images.remove(image)
        return pixels.reshape(height, width, -1)[..., :3].copy()

    def _save(self) -> dict:
        scene = self.scene
        cycles = scene.cycles
        return {"cycles": {name: getattr(cycles, name) for name in _SAVED_CYCLES},
                "render": {name: getattr(scene.render, name) for name in _SAVED_RENDER},
                "image": {name: getattr(scene.render.image_settings, name) for name in _SAVED_IMAGE}}

    def close(self) -> None:
        """Restore the scene's settings and frame; remove the temporary folder."""
        scene = self.scene
        for group, owner in (("render", scene.render), ("image", scene.render.image_settings),
                             ("cycles", scene.cycles)):
            for name, value in self._saved[group].items():
                with contextlib.suppress(AttributeError, TypeError, ValueError):
                    setattr(owner, name, value)
        scene.frame_set(self._frame)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> CyclesRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- keyed settings -------------------------------------------------------------------------------


def _keyed_paths() -> list[str]:
    return [f"cycles.{name}" for name, _ in CYCLES_FIELDS]


def _value(scene: bpy.types.Scene, settings: RenderSettings, field_name: str | None) -> float:
    if field_name is None:  # use_adaptive_sampling
        return float(settings.adaptive_threshold > 0)
    if field_name == "denoiser":  # an enum is keyed as its items' value
        items = scene.cycles.bl_rna.properties["denoising_prefilter"].enum_items
        return float(items[PREFILTERS[settings.denoiser]].value)
    return float(getattr(settings, field_name))


def key_settings(scene: bpy.types.Scene, choices: dict[int, RenderSettings], report: dict | None = None) -> int:
    """Key ``choices`` (frame -> settings) on ``scene``'s Cycles settings; return the keys written.

    Constant interpolation, one key per frame and channel. Refuses (RigDojoError) when the scene
    already has keys on one of these channels that an earlier tune did not write.
    """
    from . import anim

    if not choices:
        raise RigDojoError("no frames to key")
    ours = set(json.loads(scene.get(KEYED_PROPERTY, "[]")))
    action = scene.animation_data.action if scene.animation_data is not None else None
    if action is not None:
        theirs = [c.data_path for c in anim.iter_fcurves(action, scene)
                  if c.data_path in _keyed_paths() and c.data_path not in ours]
        if theirs:
            raise RigDojoError(f"scene {scene.name!r} already has keys on {', '.join(sorted(set(theirs)))}; "
                               "delete them (Dope Sheet) to let the tuner key its settings")
    if action is None:
        action = anim.new_action(f"{scene.name}RenderSettings")
        anim.assign_action(scene, action)  # type: ignore[arg-type]  # any ID takes an Action
    frames = np.array(sorted(choices), dtype=np.float64)
    written = 0
    for name, field_name in CYCLES_FIELDS:
        curve = anim.ensure_fcurve(action, scene, f"cycles.{name}", 0, group_name="Render Tune")
        values = np.array([_value(scene, choices[int(f)], field_name) for f in frames])
        written += anim.write_keys(curve, frames, values, interpolation="CONSTANT")
    scene[KEYED_PROPERTY] = json.dumps(_keyed_paths())
    if report is not None:
        scene[REPORT_PROPERTY] = json.dumps(report)
    return written


def clear_keyed_settings(scene: bpy.types.Scene) -> int:
    """Remove the channels a tune keyed on ``scene``; return how many were removed."""
    from . import anim

    ours = json.loads(scene.get(KEYED_PROPERTY, "[]"))
    action = scene.animation_data.action if scene.animation_data is not None else None
    removed = 0
    if action is not None:
        for path in ours:
            removed += anim.remove_fcurve(action, scene, path, 0)
    for prop in (KEYED_PROPERTY, REPORT_PROPERTY):
        if prop in scene.keys():
            del scene[prop]
    return removed


def keyed_frames(scene: bpy.types.Scene) -> list[int]:
    """Frames that carry tuned settings (the keys of ``cycles.samples`` a tune wrote)."""
    from . import anim

    if KEYED_PROPERTY not in scene.keys() or scene.animation_data is None or scene.animation_data.action is None:
        return []
    curve = anim.find_fcurve(scene.animation_data.action, scene, "cycles.samples", 0)
    if curve is None:
        return []
    return sorted(int(round(p.co[0])) for p in curve.keyframe_points)


# --- the whole tune, for the command line and the operator -------------------------------------------


def start_tune(scene: bpy.types.Scene, frames: tuple[int, int], target_ssim: float, *, minutes: float | None = None,
               sampled: int | None = None, rounds: int = 6, verify: bool = False, threads: int = 2,
               size: int | None = 160,
               reference_samples: int = 256, seed: int = 0) -> tuple[CyclesRenderer, TuneRun]:
    """Check the input and set up a tune of ``frames`` of ``scene`` (the caller runs ``run.steps()``
    and then :func:`finish_tune`, or :func:`tune_scene` does both). ``sampled``: how many frames are rendered
    against references; None (the default) measures every frame, which saves the most render time (a frame
    between sampled frames is only predicted, with a margin that costs samples)."""
    check_target(target_ssim)
    check_cycles()
    check_frames(scene, frames)
    renderer = CyclesRenderer(scene, threads=threads, size=size,
                              reference=ReferenceSettings(samples=reference_samples))
    try:
        run = TuneRun(renderer, list(range(frames[0], frames[1] + 1)), target_ssim, minutes=minutes, sampled=sampled,
                      rounds=rounds, verify=verify, pixels=renderer.pixels, seed=seed)
    except BaseException:
        renderer.close()
        raise
    return renderer, run


def finish_tune(scene: bpy.types.Scene, renderer: CyclesRenderer, run: TuneRun, key: bool = True) -> TuneReport:
    """Restore the scene's settings, then key the chosen settings per frame (``key``)."""
    renderer.close()
    report = run.report
    if report is None:
        raise RigDojoError("the tune did not finish")
    if key:
        key_settings(scene, report.choices(), report=_panel_summary(report))
    return report


def tune_scene(scene: bpy.types.Scene, frames: tuple[int, int], target_ssim: float, *, key: bool = True,
               progress=None, **options) -> TuneReport:
    """Tune ``frames`` of ``scene`` for ``target_ssim`` and key the chosen settings (see :func:`start_tune`)."""
    renderer, run = start_tune(scene, frames, target_ssim, **options)
    try:
        for line in run.steps():
            if progress is not None:
                progress(line)
    except BaseException:
        renderer.close()
        raise
    return finish_tune(scene, renderer, run, key=key)


def _panel_summary(report: TuneReport) -> dict:
    """What the sidebar shows of a tune (kept on the scene as JSON)."""
    return {"target_ssim": report.target_ssim, "sampled_frames": report.sampled_frames,
            "below_target": report.below_target,
            "frames": [[f.frame, f.settings.short(), round(f.predicted_ssim, 4),
                        None if f.measured_ssim is None else round(f.measured_ssim, 4), round(f.predicted_seconds, 3)]
                       for f in report.frames]}


def stored_summary(scene: bpy.types.Scene) -> dict | None:
    """The last tune's summary stored on ``scene`` (None if it was never tuned or was cleared)."""
    text = scene.get(REPORT_PROPERTY)
    return json.loads(text) if text else None
