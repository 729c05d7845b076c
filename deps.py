"""Training dependencies inside a user's Blender.

Blender ships numpy but not torch, Stable-Baselines3, Gymnasium or MuJoCo. The
add-on registers without them; when they are missing the sidebar says so and
the preferences offer "Install dependencies", which runs pip with Blender's own
Python into the extension's user directory (never Blender's install folder).
That directory is appended to ``sys.path`` at register, after Blender's own
paths, so Blender's bundled numpy keeps precedence.

No bpy at import time: the paths are resolved inside the functions.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# import name -> pinned requirement (the versions the test suite runs against)
PINNED: dict[str, str] = {
    "torch": "torch==2.13.0",
    "stable_baselines3": "stable-baselines3==2.9.2",
    "gymnasium": "gymnasium==1.4.0",
    "mujoco": "mujoco==4.0.0",
}

# optional: what sweeps and Ray workers need (the extension works without it); pyarrow pinned to one that runs
# on Blender's numpy 1.x
OPTIONAL: dict[str, list[str]] = {
    "ray": ["ray[tune]==2.60.0", "pyarrow==18.1.0"],
}

_active_site: str | None = None


def missing(modules: list[str] | None = None) -> list[str]:
    """Import names among ``modules`` (default: the pinned ones) that cannot be found."""
    names = list(PINNED) if modules is None else modules
    return [name for name in names if importlib.util.find_spec(name) is None]


def status_line() -> str:
    """One line for the sidebar: empty when every dependency is present."""
    absent = missing()
    if not absent:
        return ""
    return f"Missing {', '.join(absent)}: open Preferences > Add-ons > Rig Dojo > Install dependencies"


def user_site(package: str, create: bool = False) -> Path:
    """Where dependencies are installed for this add-on.

    For an installed extension that is ``bpy.utils.extension_path_user``; a
    development checkout imported as a plain module falls back to Blender's user
    scripts folder.
    """
    import bpy

    try:
        return Path(bpy.utils.extension_path_user(package, path="site-packages", create=create))
    except ValueError:
        path = Path(bpy.utils.user_resource("SCRIPTS", path=os.path.join("rig_dojo", "site-packages")))
        if create:
            path.mkdir(parents=True, exist_ok=True)
        return path


def activate_user_site(package: str) -> None:
    """Make previously installed dependencies importable (appended after Blender's paths)."""
    global _active_site
    path = str(user_site(package))
    if os.path.isdir(path) and path not in sys.path:
        sys.path.append(path)
        _active_site = path
        importlib.invalidate_caches()


def deactivate_user_site() -> None:
    global _active_site
    if _active_site is not None and _active_site in sys.path:
        sys.path.remove(_active_site)
    _active_site = None


def pip_command(target: Path, requirements: list[str], python: str | None = None) -> list[str]:
    """The pip invocation that installs ``requirements`` into ``target``."""
    exe = python or sys.executable
    return [
        exe, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
        "--upgrade", "--target", str(target), *requirements,
    ]


@dataclass
class Installer:
    """One pip run in a subprocess, polled from a timer so Blender stays responsive."""

    target: Path
    requirements: list[str] = field(default_factory=lambda: list(PINNED.values()))
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    returncode: int | None = None

    def start(self) -> None:
        if importlib.util.find_spec("pip") is None:
            raise RuntimeError("Blender's Python has no pip; reinstall Blender or install pip for it")
        self.target.mkdir(parents=True, exist_ok=True)
        self.log_path = self.target.parent / "install.log"
        log = open(self.log_path, "w", encoding="utf-8")
        self.process = subprocess.Popen(
            pip_command(self.target, self.requirements), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def poll(self) -> int | None:
        """None while running, then pip's exit code."""
        if self.process is not None and self.returncode is None:
            self.returncode = self.process.poll()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        assert self.process is not None
        self.process.wait(timeout)
        return self.poll()  # type: ignore[return-value]

    def cancel(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def last_error(self) -> str:
        """The last line pip printed that names an error, for the preferences panel."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        lines = [ln.strip() for ln in self.log_path.read_text(errors="replace").splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()]
        return (errors or lines or [""])[-1][:200]


# The one installer of this Blender session (the preferences poll it).
current: Installer | None = None
