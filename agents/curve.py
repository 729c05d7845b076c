"""Reward curves as pixels (no bpy, no plotting library): the sidebar image and ``curve.png``.

:func:`render_plot` draws one or more named series on labelled axes (tick numbers in a built-in 5x7
bitmap font, units on both axes, one colour per series and a legend) into an RGBA float array that
the sidebar writes into a Blender image in one ``pixels.foreach_set`` call; :func:`write_png` saves
the same array as a PNG file with zlib alone. :func:`render_curve` is the same plot for bare arrays.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BACKGROUND = (0.11, 0.11, 0.12, 1.0)
PLOT_BACKGROUND = (0.14, 0.14, 0.15, 1.0)
GRID = (0.22, 0.22, 0.24, 1.0)
AXIS = (0.55, 0.55, 0.58, 1.0)
TEXT = (0.85, 0.85, 0.87, 1.0)
COLORS = ((0.35, 0.75, 1.0, 1.0), (1.0, 0.6, 0.25, 1.0), (0.5, 0.9, 0.45, 1.0), (0.95, 0.4, 0.55, 1.0),
          (0.8, 0.7, 1.0, 1.0), (0.95, 0.9, 0.4, 1.0))

# -- a 5x7 bitmap font: each glyph is 35 bits, row-major from the top-left (1 = ink) ----------------------
GLYPH_W, GLYPH_H = 5, 7
_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,-+:%/()_=#' "
_BITS = (
    15623448110,4701950094,15603929375,33357366830,2359917634,33854359086,6728664622,33321787656,
    15621113390,15621129292,15621670449,32801506878,15620129326,30687151708,33840644639,33840644624,
    15620359727,18842895921,15170932878,7585466956,18879369809,17734058527,19182306865,18850958897,
    15621211694,32801505808,15621215821,32801509969,16660235326,33424543876,18842437166,18842436932,
    18842572458,18834663985,18842194052,33321787935,396,12424,1015808,139432064,415248768,26610901603,
    35791360,2290360450,8726317192,31,32537600,11105828170,13027508224,0,
)
_FONT = {c: np.array([(bits >> (34 - i)) & 1 for i in range(35)], dtype=bool).reshape(GLYPH_H, GLYPH_W)
         for c, bits in zip(_CHARS, _BITS)}


def text_width(text: str, scale: int = 1) -> int:
    """Pixels ``text`` takes in :func:`draw_text` (one blank column between glyphs)."""
    return max(0, len(text) * (GLYPH_W + 1) - 1) * scale


def draw_text(image: np.ndarray, text: str, x: int, top: int, color=TEXT, scale: int = 1) -> int:
    """Write ``text`` (upper case; unknown characters as '#') with its top-left corner at column ``x``,
    ``top`` rows from the image's top edge (the image's row 0 is its bottom). Clipped at the edges;
    returns the x after the text."""
    height, width = image.shape[:2]
    for ch in text.upper():
        glyph = _FONT.get(ch, _FONT["#"])
        if scale > 1:
            glyph = np.kron(glyph, np.ones((scale, scale), dtype=bool))
        rows, cols = np.nonzero(glyph)
        ys, xs = height - 1 - (top + rows), x + cols
        keep = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        image[ys[keep], xs[keep]] = color
        x += (GLYPH_W + 1) * scale
    return x


# -- axes ------------------------------------------------------------------------------------------------
def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^k apart), from the last one at or below ``lo`` to the first at
    or above ``hi``: the axis starts and ends on a number."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    n = min(int(round((last - first) / step)), 50)
    return [round(first + i * step, 12) for i in range(n + 1)]


def format_number(value: float, step: float = 0.0) -> str:
    """A tick label: 1.2M, 250K, 0.05, -3.5 (as few digits as the tick spacing needs)."""
    size = max(abs(value), abs(step))
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if size >= limit:
            scaled, scaled_step = value / limit, step / limit
            digits = 0 if scaled_step == 0 or scaled_step >= 1 else min(3, -math.floor(math.log10(scaled_step)))
            return f"{scaled:.{digits}f}{suffix}"
    digits = 0 if step == 0 or step >= 1 else min(4, -math.floor(math.log10(step) + 1e-9))
    text = f"{value:.{digits}f}"
    return "0" if text in ("-0", "-0.0", "-0.00") else text


@dataclass
class Series:
    """One curve: its legend name, x values (steps) and y values (NaN where unknown), optional colour."""

    name: str
    x: np.ndarray
    y: np.ndarray
    color: tuple | None = None


def _line(image: np.ndarray, px: np.ndarray, py: np.ndarray, color, thick: int = 2) -> None:
    """A polyline through pixel coordinates (x right, y up from the image's bottom row), no gaps."""
    height, width = image.shape[:2]
    if len(px) == 1:
        image[int(np.clip(round(py[0]), 0, height - 1)), int(np.clip(round(px[0]), 0, width - 1))] = color
        return
    steps = np.maximum(np.ceil(np.maximum(np.abs(np.diff(px)), np.abs(np.diff(py)))).astype(int), 1)
    t = np.concatenate([np.linspace(0, 1, s, endpoint=False) for s in steps] + [np.ones(1)])
    seg = np.concatenate([np.full(s, i) for i, s in enumerate(steps)] + [np.array([len(steps) - 1])])
    xx = px[seg] + (px[seg + 1] - px[seg]) * t
    yy = py[seg] + (py[seg + 1] - py[seg]) * t
    for dy in range(thick):
        rows = np.clip(np.round(yy).astype(int) + dy, 0, height - 1)
        image[rows, np.clip(np.round(xx).astype(int), 0, width - 1)] = color


def render_plot(series: list[Series], width: int = 640, height: int = 240, *, x_label: str = "steps",
                y_label: str = "mean return per episode", legend: bool = True, scale: int = 1) -> np.ndarray:
    """(height, width, 4) float32 RGBA, row 0 at the bottom (Blender's image layout).

    The series share one x range and one y range (min to max of their finite values); the axes carry
    round tick values with their numbers, ``y_label`` is written above the y axis, ``x_label`` beside
    the x axis's end, and ``legend`` lists each series' name in its colour.
    """
    image = np.empty((height, width, 4), dtype=np.float32)
    image[:] = BACKGROUND
    glyph_h = GLYPH_H * scale
    finite_y = [s.y[np.isfinite(s.y)] for s in series if len(s.y)]
    finite_x = [np.asarray(s.x, dtype=np.float64) for s in series if len(s.x)]
    have_data = any(len(f) for f in finite_y)
    y_lo = min((f.min() for f in finite_y if len(f)), default=0.0)
    y_hi = max((f.max() for f in finite_y if len(f)), default=1.0)
    x_lo = min((float(f.min()) for f in finite_x), default=0.0)
    x_hi = max((float(f.max()) for f in finite_x), default=1.0)
    y_ticks = nice_ticks(y_lo, y_hi, 5 if height >= 160 else 3)
    x_ticks = nice_ticks(x_lo, x_hi, 6 if width >= 400 else 4)
    if y_ticks:
        y_lo, y_hi = min(y_lo, y_ticks[0]), max(y_hi, y_ticks[-1])
    if x_ticks:
        x_lo, x_hi = min(x_lo, x_ticks[0]), max(x_hi, x_ticks[-1])
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 0.0
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 0.0
    y_text = [format_number(v, y_step) for v in y_ticks]
    # the plot area: room for the y numbers on the left, the y label above, the x numbers below
    left = max((text_width(t, scale) for t in y_text), default=0) + 4 * scale + 2
    top, bottom = glyph_h + 4 * scale, glyph_h + 5 * scale
    right = width - 1 - max(3 * scale, text_width(format_number(x_ticks[-1], x_step), scale) // 2 if x_ticks else 0)
    plot_w, plot_h = max(right - left, 8), max(height - top - bottom, 8)
    y0 = bottom  # image row of the plot's bottom edge
    image[y0:y0 + plot_h + 1, left:left + plot_w + 1] = PLOT_BACKGROUND

    def to_px(x: np.ndarray) -> np.ndarray:
        return left + (np.asarray(x, dtype=np.float64) - x_lo) / ((x_hi - x_lo) or 1.0) * plot_w

    def to_py(y: np.ndarray) -> np.ndarray:
        return y0 + (np.asarray(y, dtype=np.float64) - y_lo) / ((y_hi - y_lo) or 1.0) * plot_h

    for value, text in zip(y_ticks, y_text):
        row = int(round(float(to_py(value))))
        image[row, left:left + plot_w + 1] = GRID
        image[row, left - 3 * scale:left] = AXIS
        draw_text(image, text, left - 4 * scale - text_width(text, scale), height - 1 - row - glyph_h // 2,
                  scale=scale)
    for value in x_ticks:
        col = int(round(float(to_px(value))))
        image[y0:y0 + plot_h + 1, col] = GRID
        image[y0 - 3 * scale:y0, col] = AXIS
        text = format_number(value, x_step)
        draw_text(image, text, col - text_width(text, scale) // 2, height - y0 + 2 * scale, scale=scale)
    image[y0, left:left + plot_w + 1] = AXIS  # the axes over the grid
    image[y0:y0 + plot_h + 1, left] = AXIS
    draw_text(image, y_label, left, 1 * scale, scale=scale)
    label_x = left + plot_w - text_width(x_label, scale)
    draw_text(image, x_label, max(left, label_x), height - y0 - glyph_h - 2 * scale, color=AXIS, scale=scale)
    if have_data:
        for k, s in enumerate(series):
            y = np.asarray(s.y, dtype=np.float64)
            keep = np.isfinite(y)
            if not keep.any():
                continue
            _line(image, to_px(np.asarray(s.x)[keep]), to_py(y[keep]), s.color or COLORS[k % len(COLORS)])
    if legend and series:
        row_top = top + 2 * scale
        box_w = 13 * scale + max(text_width(s.name, scale) for s in series) + 4 * scale
        box_h = len(series) * (glyph_h + 3 * scale) + scale
        box_top = height - 1 - (row_top - 2 * scale)  # image rows run upwards
        image[max(0, box_top - box_h):box_top + 1, left + 3 * scale:left + 3 * scale + box_w] = BACKGROUND
        for k, s in enumerate(series):
            color = s.color or COLORS[k % len(COLORS)]
            x = left + 6 * scale
            r = height - 1 - (row_top + glyph_h // 2)
            image[r - scale:r + scale, x:x + 8 * scale] = color
            draw_text(image, s.name, x + 11 * scale, row_top, color=color, scale=scale)
            row_top += glyph_h + 3 * scale
    return image


def stack(images: list[np.ndarray]) -> np.ndarray:
    """Plots of one width one above the other (the first on top)."""
    return np.concatenate(list(reversed(images)), axis=0)


def render_curve(series: list[np.ndarray] | np.ndarray, width: int = 256, height: int = 128,
                 x: np.ndarray | None = None, names: list[str] | None = None,
                 y_label: str = "mean return per episode") -> np.ndarray:
    """:func:`render_plot` for bare arrays: ``series`` is one array or a list drawn in ``COLORS`` order over
    ``x`` (steps; their index when None), named ``names`` in a legend when given."""
    if isinstance(series, np.ndarray) and series.ndim == 1:
        series = [series]
    named = []
    for k, values in enumerate(series):
        values = np.asarray(values, dtype=np.float64)
        xs = np.asarray(x, dtype=np.float64) if x is not None and len(x) == len(values) else np.arange(len(values))
        named.append(Series(names[k] if names else "", xs, values))
    return render_plot(named, width, height, y_label=y_label, legend=bool(names))


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
