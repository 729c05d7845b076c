"""Helpers the Blender tests import (the fixtures are in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, *args: str, cwd: Path | None = None, env: dict | None = None, timeout=600):
    """Run ``code`` in a fresh interpreter of this environment (Blender user dirs redirected by conftest)."""
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd or REPO_ROOT, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )


# Panels drawn in tests (test_sidebar.draw_panels) get their layout from ``popmenu_begin__internal``; its
# other half, ``popmenu_end__internal``, crashes background Blender (no window to show the menu in), so
# each drawn layout's blocks stay allocated until exit, where the bpy module reports them as "Error: Not
# freed memory blocks". conftest.py leaves without that teardown once a test has drawn panels.
POPUP_LAYOUTS_LEFT_OPEN = [0]
