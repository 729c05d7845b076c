"""``blender -b scene.blend -c rig_dojo SUBCOMMAND``: the registered command runs on the open file.

There is no Blender binary here, so the test does what Blender does: the .blend is
open, and the callback registered with ``bpy.utils.register_cli_command`` is called
with the arguments after ``-c rig_dojo``.
"""

from __future__ import annotations

import json

import bpy

import rig_dojo
from rig_dojo import cli
from rig_dojo.scene.builders import scenes


def test_register_keeps_a_cli_command_handle(dojo_registered):
    assert rig_dojo._cli_handle is not None


def test_the_command_verifies_the_open_file(factory, tmp_path, capfd):
    scenes.build_chain("Arm", (0.5, 0.4, 0.2), ("upper_arm", "forearm", "hand"))
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "scene.blend"))
    code = cli.blender_command(["verify", "--rig", "Arm", "--controls", "upper_arm,forearm", "--track", "hand",
                                "--samples", "4", "--json"])
    assert code == 0
    out = capfd.readouterr().out
    assert json.loads(out[out.index("{"):])["exact"]


def test_the_command_reports_bad_input_as_exit_2(factory, capfd):
    scenes.add_empty("Target")  # the file Blender opened
    code = cli.blender_command(["verify", "--rig", "Nothing", "--controls", "a", "--track", "b"])
    assert code == 2
    assert "no object named 'Nothing'" in capfd.readouterr().err
