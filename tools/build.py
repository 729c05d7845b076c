"""Build the installable extension zip(s).

    python tools/build.py                  # dist/rig_dojo-VERSION.zip
    python tools/build.py --wheels DIR     # one zip per platform, bundling DIR/*.whl

The files follow ``[build] paths_exclude_pattern`` of blender_manifest.toml
(gitignore syntax), so tests, benchmarks, caches and virtual environments stay
out. With ``--wheels``, each platform's zip lists its wheels and platform in the
manifest, as Blender's extension format expects (wheels for ``pip download
--only-binary=:all: --python-version 3.11 --platform ...``).
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# wheel platform tag -> Blender platform name
_PLATFORMS = (
    (re.compile(r"(manylinux|musllinux|linux).*_x86_64"), "linux-x64"),
    (re.compile(r"(manylinux|musllinux|linux).*_aarch64"), "linux-arm64"),
    (re.compile(r"win_amd64"), "windows-x64"),
    (re.compile(r"win_arm64"), "windows-arm64"),
    (re.compile(r"macosx_.*_(arm64|universal2)"), "macos-arm64"),
    (re.compile(r"macosx_.*_(x86_64|universal2)"), "macos-x64"),
)
ALL_PLATFORMS = ("windows-x64", "windows-arm64", "macos-arm64", "macos-x64", "linux-x64", "linux-arm64")


def is_excluded(relpath: str, is_dir: bool, patterns: list[str]) -> bool:
    """gitignore-style match of one path (POSIX, relative to the root) against ``patterns``."""
    parts = relpath.split("/")
    for raw in patterns:
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        dir_only = pattern.endswith("/")
        pattern = pattern.rstrip("/")
        if dir_only and not is_dir:
            continue
        if pattern.startswith("/") or "/" in pattern:
            if fnmatch.fnmatchcase(relpath, pattern.lstrip("/")):
                return True
        elif fnmatch.fnmatchcase(parts[-1], pattern):
            return True
    return False


def collect(root: Path, patterns: list[str]) -> list[Path]:
    """Files under ``root`` that are not excluded (an excluded folder is not entered)."""
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if not is_excluded(rel_dir + d, True, patterns))
        files.extend(
            Path(dirpath) / f for f in sorted(filenames) if not is_excluded(rel_dir + f, False, patterns)
        )
    return files


def wheel_platforms(wheel: str) -> tuple[str, ...]:
    """Blender platforms a wheel file runs on (all of them for a pure-Python wheel)."""
    platform_tag = Path(wheel).stem.split("-")[-1]
    if platform_tag == "any":
        return ALL_PLATFORMS
    found = tuple(name for tag in platform_tag.split(".") for rx, name in _PLATFORMS if rx.search(tag))
    if not found:
        raise SystemExit(f"build: unknown platform tag {platform_tag!r} in {wheel}")
    return tuple(dict.fromkeys(found))


def manifest_with_wheels(text: str, wheels: list[str], platform: str) -> str:
    """The manifest text with top-level ``wheels`` and ``platforms`` keys before its first table."""
    lines = [f'platforms = ["{platform}"]', "wheels = ["] + [f'  "./wheels/{w}",' for w in wheels] + ["]", ""]
    head, sep, tail = text.partition("\n[")
    return head.rstrip("\n") + "\n\n" + "\n".join(lines) + sep + tail


def build(out_dir: Path, wheels_dir: Path | None = None, root: Path = ROOT) -> list[Path]:
    manifest_text = (root / "blender_manifest.toml").read_text()
    manifest = tomllib.loads(manifest_text)
    patterns = manifest.get("build", {}).get("paths_exclude_pattern", [])
    files = [f for f in collect(root, patterns) if f.name != "blender_manifest.toml"]
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"{manifest['id']}-{manifest['version']}"

    # platform -> wheels in its zip; None is the one zip without bundled wheels
    targets: dict[str | None, list[Path]] = {None: []}
    if wheels_dir is not None:
        wheels = sorted(wheels_dir.glob("*.whl"))
        if not wheels:
            raise SystemExit(f"build: no .whl files in {wheels_dir}")
        per_platform = {w: wheel_platforms(w.name) for w in wheels}
        # a platform gets a zip when some binary wheel was given for it
        binary = {p for w, ps in per_platform.items() if ps != ALL_PLATFORMS for p in ps}
        targets = {p: [w for w in wheels if p in per_platform[w]] for p in (sorted(binary) or ALL_PLATFORMS)}

    written = []
    for platform, wheels_for in targets.items():
        name = f"{stem}.zip" if platform is None else f"{stem}-{platform.replace('-', '_')}.zip"
        path = out_dir / name
        tmp = path.with_suffix(".zip.tmp")
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            text = manifest_text
            if platform is not None:
                text = manifest_with_wheels(manifest_text, [w.name for w in wheels_for], platform)
                for wheel in wheels_for:
                    zf.write(wheel, f"wheels/{wheel.name}")
            zf.writestr("blender_manifest.toml", text)
            for f in files:
                zf.write(f, f.relative_to(root).as_posix())
        os.replace(tmp, path)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--wheels", type=Path, help="folder of .whl files to bundle, one zip per platform")
    args = parser.parse_args(argv)
    for path in build(args.out, args.wheels):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
