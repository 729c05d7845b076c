"""Dependencies inside a user's Blender: detection, the sidebar line, a real pip install into a user folder."""

from __future__ import annotations

import sys
import zipfile

import bpy

from rig_dojo import deps


def test_missing_names_modules_that_cannot_be_found():
    assert deps.missing(["numpy", "surely_not_a_module_rig_dojo"]) == ["surely_not_a_module_rig_dojo"]
    assert deps.missing() == []  # the test environment has every pinned dependency


def test_status_line_and_panel_say_what_is_missing(factory, monkeypatch):
    assert deps.status_line() == ""
    monkeypatch.setitem(deps.PINNED, "surely_not_a_module_rig_dojo", "nothing==1")
    line = deps.status_line()
    assert "surely_not_a_module_rig_dojo" in line and "Install dependencies" in line


def _tiny_wheel(folder) -> str:
    """A real, minimal pure-Python wheel, so the installer runs pip for real without the network."""
    path = folder / "rigdojo_tiny-1.0-py3-none-any.whl"
    dist = "rigdojo_tiny-1.0.dist-info"
    files = {
        "rigdojo_tiny.py": "VALUE = 42\n",
        f"{dist}/METADATA": "Metadata-Version: 2.1\nName: rigdojo-tiny\nVersion: 1.0\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{name},,\n" for name in files) + f"{dist}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return str(path)


def test_installer_puts_packages_in_the_user_folder_and_activation_makes_them_importable(tmp_path, monkeypatch):
    target = tmp_path / "site-packages"
    installer = deps.Installer(target=target, requirements=["--no-index", _tiny_wheel(tmp_path)])
    installer.start()
    assert installer.wait(300) == 0, installer.log_path.read_text()
    assert (target / "rigdojo_tiny.py").is_file()
    assert not str(target).startswith(sys.prefix)  # never into the interpreter's own folders

    monkeypatch.setattr(deps, "user_site", lambda package, create=False: target)
    deps.activate_user_site("rig_dojo")
    try:
        assert sys.path[-1] == str(target)  # after Blender's own paths
        import rigdojo_tiny

        assert rigdojo_tiny.VALUE == 42
    finally:
        deps.deactivate_user_site()
        sys.modules.pop("rigdojo_tiny", None)
    assert str(target) not in sys.path


def test_a_failed_install_reports_pip_error(tmp_path):
    installer = deps.Installer(target=tmp_path / "site", requirements=["--no-index", str(tmp_path / "absent.whl")])
    installer.start()
    assert installer.wait(300) != 0
    assert "absent.whl" in installer.last_error() or "error" in installer.last_error().lower()


def test_default_user_site_is_in_blenders_user_folder(dojo_registered, blender_user_dir):
    path = deps.user_site("rig_dojo")
    assert str(path).startswith(str(blender_user_dir))
    assert not str(path).startswith(bpy.utils.resource_path("LOCAL"))


def test_the_addon_registers_and_says_what_is_missing_without_training_dependencies():
    from harness import run_python

    code = r'''
import sys
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "stable_baselines3", "gymnasium", "mujoco"):
            raise ImportError(f"{name} is not installed in this Blender")
sys.meta_path.insert(0, Blocker())
import importlib.util
importlib.util.find_spec = (lambda original: lambda name, package=None: None
    if name.split(".")[0] in ("torch", "stable_baselines3", "gymnasium", "mujoco") else original(name, package)
)(importlib.util.find_spec)
import bpy, rig_dojo
from rig_dojo import deps
rig_dojo.register()
print("PANEL", hasattr(bpy.types, "VIEW3D_PT_rig_dojo"), "SETTINGS", hasattr(bpy.types.Scene, "rig_dojo"))
print("LINE", deps.status_line())
rig_dojo.unregister()
print("LEAKED", sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "stable_baselines3", "gymnasium", "mujoco")))
'''
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "PANEL True SETTINGS True" in proc.stdout
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("LINE"))
    for name in ("torch", "stable_baselines3", "gymnasium", "mujoco"):
        assert name in line
    assert "LEAKED []" in proc.stdout
