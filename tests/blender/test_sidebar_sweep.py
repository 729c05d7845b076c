"""The Sweep panel: it draws, starts a sweep of the Dojo tab's settings in a process of its own, lists the trials
best first, previews one on the rig (pose restored) and bakes it as a take."""

from __future__ import annotations

import time
from pathlib import Path

import bpy
import numpy as np
import pytest

import test_sidebar
from rig_dojo.operators import sweep as sweep_ops
from test_sidebar import demo, draw_panels, pose

pytest.importorskip("ray", reason="sweeps need ray[tune] (./dojo setup installs it)")


@pytest.fixture
def sweep_panel(monkeypatch):
    monkeypatch.setattr(test_sidebar, "PANELS", ("VIEW3D_PT_rig_dojo", "VIEW3D_PT_rig_dojo_sweep"))


def test_the_sweep_panel_draws_its_settings(factory, sweep_panel, capfd):
    demo()
    assert draw_panels(capfd) == ["VIEW3D_PT_rig_dojo", "VIEW3D_PT_rig_dojo_sweep"]
    sweep = bpy.context.scene.rig_dojo_sweep
    sweep.variations = "rewards.distanse.weight=1,2"
    with pytest.raises(RuntimeError, match="unknown key 'distanse'"):
        bpy.ops.rig_dojo.sweep_start()


@pytest.mark.slow
def test_a_sweep_from_the_sidebar_lists_trials_previews_and_bakes_a_take(factory, sweep_panel, tmp_path, capfd):
    objs = demo(steps=2048)
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    sweep = bpy.context.scene.rig_dojo_sweep
    sweep.seeds, sweep.variations, sweep.cpus = "0-1", "", 2
    assert bpy.ops.rig_dojo.sweep_start() == {'FINISHED'}
    assert sweep_ops.is_running() and (tmp_path / "rig_dojo_runs") in Path(sweep.folder).parents
    end = time.monotonic() + 600
    while sweep_ops.poll_sweep() is not None:
        assert time.monotonic() < end, "the sweep did not end"
        time.sleep(1.0)
    assert sweep.status == "Finished", (tmp_path / "rig_dojo_runs").glob("*/sweep.log")
    assert [t.name for t in sweep.results] and len(sweep.results) == 2
    assert sweep.results[0].rank == 1 and all(t.status in ("done", "stopped early") for t in sweep.results)
    assert draw_panels(capfd) == ["VIEW3D_PT_rig_dojo", "VIEW3D_PT_rig_dojo_sweep"]  # the results list draws

    arm = objs["rig"]
    rest = pose(arm)
    sweep.active = 0
    assert bpy.ops.rig_dojo.sweep_preview() == {'FINISHED'}
    moved = False
    while sweep_ops._preview_tick() is not None:
        moved = moved or not np.allclose(pose(arm), rest)
    assert moved and np.allclose(pose(arm), rest)  # played, then put back

    assert bpy.ops.rig_dojo.sweep_bake_take() == {'FINISHED'}
    best = sweep.results[0].name
    assert arm.animation_data.action.name == best
    assert [t.name for t in arm.animation_data.nla_tracks] == [f"take 1: {best}"]
