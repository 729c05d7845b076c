"""Render-settings tuning on real Cycles renders (issue 19): the tuner end to end, keys, operators, panel,
command line, bad input.

Renders are Cycles on the CPU with one thread at 48x36 pixels and few samples (the ``tiny`` shot: a
brightly lit flat wall on frame 1, a dark corner lit by one bounce on frame 2), so a whole tune takes
seconds. Never EEVEE.
"""

from __future__ import annotations

import json
import subprocess
import sys

import addon_utils
import bpy
import pytest

from rig_dojo.envs.rendering.settings import RenderSettings
from rig_dojo.envs.rendering.tune import TuneRun
from rig_dojo.errors import RigDojoError
from harness import run_cli

FAST = {"threads": 1, "reference_samples": 32, "sampled": 2, "rounds": 2}


@pytest.fixture
def tiny(factory):
    from rig_dojo.scene.builders.render_shots import build_shot

    return build_shot("tiny")


@pytest.fixture(scope="module")
def tiny_blend(tmp_path_factory, dojo_registered):
    from rig_dojo.scene.builders.render_shots import build_shot

    bpy.ops.wm.read_factory_settings(use_empty=True)
    build_shot("tiny")
    path = tmp_path_factory.mktemp("render_tune") / "tiny.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def test_a_tiny_shot_is_tuned_end_to_end(tiny):
    from rig_dojo.scene.render_tune import KEYED_PROPERTY, keyed_frames, stored_summary, tune_scene

    scene = tiny
    report = tune_scene(scene, (1, 2), 0.95, **FAST)
    assert [f.frame for f in report.frames] == [1, 2]
    assert report.sampled_frames == [1, 2]
    # every frame was checked against its reference and reaches the target
    for result in report.frames:
        assert result.sampled and result.measured_ssim is not None and result.measured_ssim >= 0.95
        assert result.cpu_seconds > 0 and 0 < result.predicted_ssim <= 1
    assert report.below_target == []
    # the two frames differ (a lit flat wall, a dark corner), and so do their settings
    choices = report.choices()
    assert choices[1] != choices[2]
    # keyed on the scene, constant per frame; the user's render settings are back between keys
    assert keyed_frames(scene) == [1, 2] and KEYED_PROPERTY in scene
    for frame, settings in choices.items():
        scene.frame_set(frame)
        assert scene.cycles.samples == settings.samples
        assert scene.cycles.use_denoising == settings.denoise
        assert scene.cycles.diffuse_bounces == settings.diffuse_bounces
        assert scene.cycles.max_bounces == settings.max_bounces
    # the tune's own render settings are gone: engine, size, threads and output format are the scene's again
    assert scene.render.engine == 'CYCLES' and scene.render.resolution_percentage == 100
    assert scene.render.threads_mode == 'AUTO' and scene.render.image_settings.color_depth == '8'
    assert stored_summary(scene)["frames"][0][0] == 1
    text = report.format()
    assert "target SSIM 0.95" in text and "0 below the target" in text
    assert json.loads(report.to_json())["frames"][1]["settings"]["samples"] == choices[2].samples


def test_keys_never_overwrite_settings_the_user_keyed(tiny):
    from rig_dojo.scene.render_tune import clear_keyed_settings, key_settings

    tiny.cycles.samples = 300
    tiny.cycles.keyframe_insert("samples", frame=1)
    with pytest.raises(RigDojoError, match="cycles.samples"):
        key_settings(tiny, {1: RenderSettings(8, 0.0, 2, 2, 4, "fast")})
    tiny.animation_data.action = None
    key_settings(tiny, {1: RenderSettings(8, 0.0, 2, 2, 4, "fast"), 2: RenderSettings(16, 0.1, 4, 4, 12, "off")})
    tiny.frame_set(1)
    assert tiny.cycles.denoising_prefilter == 'FAST' and tiny.cycles.samples == 8
    tiny.frame_set(2)
    assert not tiny.cycles.use_denoising and tiny.cycles.adaptive_threshold == pytest.approx(0.1)
    # a second tune replaces its own keys
    key_settings(tiny, {1: RenderSettings(12, 0.0, 2, 2, 4, "fast")})
    tiny.frame_set(1)
    assert tiny.cycles.samples == 12
    assert clear_keyed_settings(tiny) > 0
    assert "rig_dojo_render_tune_keys" not in tiny


@pytest.mark.parametrize("frames,target,message", [
    ((0, 2), 0.95, "outside the scene's frame range 1-2"),
    ((1, 5), 0.95, "outside the scene's frame range"),
    ((1, 2), 0.0, "(0, 1]"),
    ((1, 2), 1.2, "(0, 1]"),
    ((1, 2), 1.0, "below 1"),
    ((1, 2), float("nan"), "(0, 1]"),
    ((1, 2), float("inf"), "(0, 1]"),
    ((2, 1), 0.95, "the end is before the start"),
    ((1, 10 ** 12), 0.95, "outside the scene's frame range"),
])
def test_bad_input_is_one_clear_error(tiny, frames, target, message):
    from rig_dojo.scene.render_tune import tune_scene

    samples = tiny.cycles.samples
    with pytest.raises(RigDojoError, match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")
                       .replace("]", r"\]")):
        tune_scene(tiny, frames, target, **FAST)
    assert tiny.cycles.samples == samples and "rig_dojo_render_tune_keys" not in tiny


def test_no_cycles_is_refused_by_the_tuner_the_operator_and_the_command(tiny, capsys):
    from rig_dojo import cli
    from rig_dojo.scene.render_tune import tune_scene

    addon_utils.disable("cycles")
    try:
        with pytest.raises(RigDojoError, match="Cycles is not available"):
            tune_scene(tiny, (1, 2), 0.95, **FAST)
        with pytest.raises(RuntimeError, match="Cycles is not available"):  # the operator's ERROR report
            bpy.ops.rig_dojo.render_tune()
        assert cli.main(["render-tune", "--frames", "1-2", "--target-ssim", "0.95"], register=False) == 2
    finally:
        addon_utils.enable("cycles")
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rig_dojo: error: Cycles is not available")
    assert "rig_dojo_render_tune_keys" not in tiny and tiny.animation_data is None  # nothing keyed


def test_a_scene_without_a_camera_is_refused(tiny):
    from rig_dojo.scene.render_tune import tune_scene

    tiny.camera = None
    with pytest.raises(RigDojoError, match="no camera"):
        tune_scene(tiny, (1, 2), 0.95, **FAST)


@pytest.mark.parametrize("args,message", [
    (["--frames", "1-2", "--target-ssim", "0"], "(0, 1]"),
    (["--frames", "1-2", "--target-ssim", "1.5"], "(0, 1]"),
    (["--frames", "1-9", "--target-ssim", "0.95"], "outside the scene's frame range 1-2"),
    (["--frames", "2-1"], "END must be after START"),
    (["--minutes", "-1"], "--minutes: -1 is outside (0"),
    (["--sampled", "0"], "--sampled: 0 is outside 1..64; or all (every frame)"),
    (["--sampled", "some"], "--sampled: 'some' is not a whole number; or all (every frame)"),
    # hostile numbers: not a number, infinite, overflowing, absurd counts
    (["--frames", "1-2", "--target-ssim", "nan"], "target SSIM nan: give a value in (0, 1]"),
    (["--frames", "1-2", "--target-ssim", "inf"], "target SSIM inf: give a value in (0, 1]"),
    (["--frames", "1-2", "--target-ssim=-1e999"], "target SSIM -inf: give a value in (0, 1]"),
    (["--frames", "1-99999999999999999999"], "at most 100,000"),
    (["--frames", "1-2", "--minutes", "nan"], "--minutes: nan is outside (0"),
    (["--frames", "1-2", "--reference-samples", "99999999"], "--reference-samples: 99999999 is outside 1..65,536"),
    (["--frames", "1-2", "--threads", "-3"], "--threads: -3 is outside 0..1,024"),
])
def test_the_command_refuses_bad_input_with_one_line(tiny_blend, tmp_path, args, message):
    before = tiny_blend.read_bytes()
    proc = run_cli("render-tune", tiny_blend, *args, "--out", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "out").exists()
    # the .blend is untouched, and nothing was saved beside it
    assert tiny_blend.read_bytes() == before
    assert sorted(p.name for p in tiny_blend.parent.iterdir()) == ["tiny.blend"]


@pytest.mark.slow  # renders a whole tune through a subprocess (~7 s)
def test_the_command_tunes_and_writes_a_report_and_a_keyed_copy(tiny_blend, tmp_path):
    before = tiny_blend.read_bytes()
    out = tmp_path / "out"
    proc = run_cli("render-tune", tiny_blend, "--frames", "1-2", "--target-ssim", "0.95",
                   "--threads", "1", "--reference-samples", "32", "--out", out, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)  # stdout is the JSON alone (Blender's notes are silenced)
    assert [f["frame"] for f in report["frames"]] == [1, 2] and report["below_target"] == []
    # the default measures every frame against its reference (--sampled all)
    assert report["sampled_frames"] == [1, 2] and all(f["sampled"] for f in report["frames"])
    assert all(f["measured_ssim"] >= 0.95 for f in report["frames"])
    assert json.loads((out / "report.json").read_text())["target_ssim"] == 0.95
    assert tiny_blend.read_bytes() == before  # the user's file is untouched
    code = ("import bpy, sys; bpy.ops.wm.open_mainfile(filepath=sys.argv[1]); s = bpy.context.scene;"
            "s.frame_set(2); print('SAMPLES', s.cycles.samples)")
    check = subprocess.run([sys.executable, "-c", code, str(out / "tuned.blend")], capture_output=True, text=True,
                           timeout=300)
    assert f"SAMPLES {report['frames'][1]['settings']['samples']}" in check.stdout, check.stdout + check.stderr
    table = run_cli("render-tune", tiny_blend, "--frames", "1-2", "--target-ssim", "0.95", "--sampled", "1",
                    "--threads", "1", "--reference-samples", "16", "--minutes", "0.01", "--out", tmp_path / "o2",
                    cwd=tmp_path)
    assert table.returncode == 0, table.stderr[-3000:]
    assert "pred SSIM" in table.stdout and "target SSIM 0.95" in table.stdout


def test_sampled_defaults_to_every_frame_on_the_command_line():
    from rig_dojo.cli import build_parser

    def sampled(*args):
        return build_parser().parse_args(["render-tune", "shot.blend", *args]).sampled

    assert sampled() is None and sampled("--sampled", "all") is None and sampled("--sampled", "ALL") is None
    assert sampled("--sampled", "7") == 7


def test_the_operators_tune_render_and_clear(tiny, tmp_path):
    from rig_dojo.scene.render_tune import keyed_frames, stored_summary

    settings = tiny.rig_dojo_render_tune
    settings.target_ssim = 0.95
    assert settings.sampled_frames == 0  # the default: every frame measured
    assert not bpy.ops.rig_dojo.render_adaptive.poll()  # nothing tuned yet
    assert bpy.ops.rig_dojo.render_tune() == {'FINISHED'}
    assert keyed_frames(tiny) == [1, 2]
    assert stored_summary(tiny)["sampled_frames"] == [1, 2]
    tiny.render.filepath = str(tmp_path / "frame_")
    tiny.render.image_settings.file_format = 'PNG'
    tiny.cycles.device = 'CPU'
    tiny.render.threads_mode, tiny.render.threads = 'FIXED', 1
    assert bpy.ops.rig_dojo.render_adaptive() == {'FINISHED'}
    assert sorted(p.name for p in tmp_path.glob("frame_*.png")) == ["frame_0001.png", "frame_0002.png"]
    assert bpy.ops.rig_dojo.render_tune_clear() == {'FINISHED'}
    assert keyed_frames(tiny) == [] and not bpy.ops.rig_dojo.render_adaptive.poll()


def test_the_render_tune_panel_draws(tiny, capfd):
    import test_sidebar

    from rig_dojo.scene.render_tune import _panel_summary, key_settings
    from rig_dojo.envs.rendering.report import FrameResult, TuneReport

    frames = [FrameResult(f, RenderSettings(8, 0.0, 2, 2, 4, "fast"), 0.97, 0.96, 0.1, sampled=f == 1,
                          measured_ssim=0.971 if f == 1 else None) for f in (1, 2)]
    report = TuneReport(0.95, frames, [1], 5, 1.0, {})
    key_settings(tiny, report.choices(), report=_panel_summary(report))
    saved = test_sidebar.PANELS
    test_sidebar.PANELS = ("VIEW3D_PT_rig_dojo", "VIEW3D_PT_rig_dojo_render_tune")
    try:
        tiny.rig_dojo_render_tune.use_scene_range = False
        assert test_sidebar.draw_panels(capfd) == list(test_sidebar.PANELS)
    finally:
        test_sidebar.PANELS = saved


@pytest.mark.slow  # renders every frame to verify (~4 s)
def test_the_tune_loop_respects_the_time_budget_and_verify_measures_every_frame(tiny):
    from rig_dojo.scene.render_tune import CyclesRenderer

    with CyclesRenderer(tiny, threads=1) as renderer:
        renderer.reference_settings = type(renderer.reference_settings)(samples=16)
        run = TuneRun(renderer, [1, 2], 0.9, sampled=1, rounds=50, minutes=1e-4, verify=True,
                      pixels=renderer.pixels)
        report = run.run()
    # one round over the one sampled frame, then the budget stops training (the check still runs)
    assert len([h for h in run.history if h["phase"] == "train"]) == 1
    assert len(report.sampled_frames) == 1 and len(report.frames) == 2
    # --verify: the frame without a reference during training is rendered against one for the report
    assert [f.measured_ssim is not None for f in report.frames] == [True, True]
