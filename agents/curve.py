"""Reward curves as pixels (no bpy, no plotting library): the sidebar image and ``curve.png``.

``render_curve`` rasterises one or more series into an RGBA float array that the
sidebar writes into a Blender image in one ``pixels.foreach_set`` call, and
``write_png`` saves the same array as a PNG file with zlib alone.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

BACKGROUND = (0.11, 0.11, 0.12, 1.0)
GRID = (0.22, 0.22, 0.24, 1.0)
COLORS = ((0.35, 0.75, 1.0, 1.0), (1.0, 0.6, 0.25, 1.0), (0.5, 0.9, 0.45, 1.0), (0.95, 0.4, 0.55, 1.0),
          (0.8, 0.7, 1.0, 1.0), (0.95, 0.9, 0.4, 1.0))


def render_curve(series: list[np.ndarray] | np.ndarray, width: int = 256, height: int = 128,
                 x: np.ndarray | None = None) -> np.ndarray:
    """(height, width, 4) float32 RGBA, row 0 at the bottom (Blender's image layout).

    ``series``: one array, or a list of arrays drawn in ``COLORS`` order over the
    same x range; they share one y range (min to max of all finite values).
    """
    image = np.empty((height, width, 4), dtype=np.float32)
    image[:] = BACKGROUND
    for frac in (0.25, 0.5, 0.75):
        image[int(frac * (height - 1)), :] = GRID
    if isinstance(series, np.ndarray) and series.ndim == 1:
        series = [series]
    series = [np.asarray(s, dtype=np.float64) for s in series]
    finite = [s[np.isfinite(s)] for s in series]
    if not any(len(f) for f in finite):
        return image
    lo = min(f.min() for f in finite if len(f))
    hi = max(f.max() for f in finite if len(f))
    span = hi - lo if hi > lo else 1.0
    for k, values in enumerate(series):
        if len(values) == 0:
            continue
        xs = np.asarray(x, dtype=np.float64) if x is not None and len(x) == len(values) else np.arange(len(values))
        x_span = xs[-1] - xs[0] if len(xs) > 1 and xs[-1] > xs[0] else 1.0
        px = (xs - xs[0]) / x_span * (width - 1)
        py = (np.nan_to_num(values, nan=lo) - lo) / span * (height - 1)
        color = COLORS[k % len(COLORS)]
        if len(values) == 1:
            image[int(round(py[0])), int(round(px[0]))] = color
            continue
        # sample each segment densely enough to leave no gaps, then plot 2-pixel-thick points
        steps = np.maximum(np.ceil(np.maximum(np.abs(np.diff(px)), np.abs(np.diff(py)))).astype(int), 1)
        t = np.concatenate([np.linspace(0, 1, s, endpoint=False) for s in steps] + [np.ones(1)])
        seg = np.concatenate([np.full(s, i) for i, s in enumerate(steps)] + [np.array([len(steps) - 1])])
        xx = px[seg] + (px[seg + 1] - px[seg]) * t
        yy = py[seg] + (py[seg + 1] - py[seg]) * t
        for dy in (0, 1):
            rows = np.clip(np.round(yy).astype(int) + dy, 0, height - 1)
            image[rows, np.clip(np.round(xx).astype(int), 0, width - 1)] = color
    return image


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Save an (h, w, 3|4) float array in [0, 1] (row 0 at the bottom) as an 8-bit PNG."""
    data = np.clip(np.asarray(image)[::-1] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    h, w, c = data.shape
    color_type = {3: 2, 4: 6}[c]
    raw = b"".join(b"\x00" + data[row].tobytes() for row in range(h))

    def chunk(tag: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", zlib.crc32(tag + payload))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(png)
    tmp.replace(path)
    return path


def read_png_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from a PNG header (for tests and reports)."""
    with open(path, "rb") as f:
        header = f.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    return struct.unpack(">II", header[16:24])
