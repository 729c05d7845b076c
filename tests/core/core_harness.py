"""Helpers the core tests import (no bpy)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, *args: str, cwd: Path | None = None, env: dict | None = None, timeout=600):
    """Run ``code`` in a fresh interpreter of this environment."""
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd or REPO_ROOT, capture_output=True, text=True,
        env={**os.environ, **(env or {})}, timeout=timeout,
    )
