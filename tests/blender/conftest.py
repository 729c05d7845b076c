"""Test harness: the real ``bpy`` module, Blender's user folders in a temporary directory.

The environment variables must be set before the first ``import bpy`` (Blender
reads them once at start-up), so this runs at conftest import, before any test
module imports bpy.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

_USER_DIR = Path(tempfile.mkdtemp(prefix="rig_dojo_blender_user_"))
for _var, _sub in {
    "BLENDER_USER_RESOURCES": "",
    "BLENDER_USER_CONFIG": "config",
    "BLENDER_USER_SCRIPTS": "scripts",
    "BLENDER_USER_DATAFILES": "datafiles",
    "BLENDER_USER_EXTENSIONS": "extensions",
}.items():
    os.environ[_var] = str(_USER_DIR / _sub)

from harness import REPO_ROOT, run_python  # noqa: E402,F401  (re-exported for older imports)

import bpy  # noqa: E402  (after the user folders are redirected)


_EXIT_STATUS = [0]


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_USER_DIR, ignore_errors=True)
    _EXIT_STATUS[0] = int(exitstatus)


def pytest_unconfigure(config):
    # The 4.2-4.5 bpy wheels segfault while Python tears them down; leave with pytest's own status instead.
    # After panel draws, Blender's teardown would only report the popup layouts the tests had to leave
    # open (harness.py): leave the same way, so a green run ends green.
    from harness import POPUP_LAYOUTS_LEFT_OPEN

    if bpy.app.version < (5, 0, 0) or POPUP_LAYOUTS_LEFT_OPEN[0]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS[0])


@pytest.fixture(scope="session")
def blender_user_dir() -> Path:
    return _USER_DIR


@pytest.fixture(scope="session")
def dojo_registered():
    """The development checkout registered as an add-on for the whole session."""
    import rig_dojo

    if not hasattr(bpy.types.Scene, "rig_dojo"):
        rig_dojo.register()
    yield rig_dojo


@pytest.fixture
def factory(dojo_registered):
    """Every test that needs a scene starts from factory settings with an empty file."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


@pytest.fixture(scope="session")
def rigify_blend(tmp_path_factory) -> Path:
    """A Rigify-generated human with FK arms, saved once per test session (generation takes ~7 s)."""
    from rigs import generate_rigify_blend

    return generate_rigify_blend(tmp_path_factory.mktemp("rigify") / "rigify_human.blend")


@pytest.fixture
def rigify_rig(dojo_registered, rigify_blend):
    bpy.ops.wm.open_mainfile(filepath=str(rigify_blend))
    return bpy.data.objects["rig"]


@pytest.fixture(scope="session")
def rigify_ik_blend(tmp_path_factory) -> Path:
    """A Rigify-generated human as Rigify makes it (limbs in IK, poles off), saved once per session."""
    from rigs import generate_rigify_blend

    return generate_rigify_blend(tmp_path_factory.mktemp("rigify_ik") / "rigify_human_ik.blend", fk_arms=False)
