"""Side-by-side comparison sheets with captions, as pixels (numpy only, no imaging library).

``side_by_side`` tiles rows of labelled images (e.g. reference / default / adaptive of a few
frames) into one RGBA array that ``agents.curve.write_png`` saves; captions use the curve
module's 5x7 bitmap font (``agents.curve.draw_text``).
"""

from __future__ import annotations

import numpy as np

from ...agents.curve import GLYPH_H, draw_text

BACKGROUND = (0.08, 0.08, 0.09, 1.0)
INK = (1.0, 1.0, 1.0, 1.0)
PAD = 4


def side_by_side(rows: list[list[tuple[np.ndarray, str]]], zoom: int = 2, title: str = "") -> np.ndarray:
    """Tile ``rows`` of ``(image, caption)`` into one RGBA float array, row 0 at the bottom (Blender's layout).

    Images are ``(h, w, 3|4)`` in display space with row 0 at the bottom, all the same size;
    each is enlarged ``zoom`` times (nearest) and captioned underneath.
    """
    if not rows or not rows[0]:
        raise ValueError("nothing to tile")
    h, w = rows[0][0][0].shape[:2]
    tile_h, tile_w = h * zoom, w * zoom
    caption_h = GLYPH_H + 2 * PAD
    title_h = caption_h if title else 0
    columns = max(len(r) for r in rows)
    height = title_h + len(rows) * (tile_h + caption_h + PAD) + PAD
    width = columns * (tile_w + PAD) + PAD
    sheet = np.empty((height, width, 4), dtype=np.float32)
    sheet[:] = BACKGROUND
    if title:
        draw_text(sheet, title, PAD, PAD, color=INK)
    for r, row in enumerate(rows):
        top = title_h + PAD + r * (tile_h + caption_h + PAD)  # rows from the sheet's top edge
        for c, (image, caption) in enumerate(row):
            left = PAD + c * (tile_w + PAD)
            tile = np.ones((h, w, 4), dtype=np.float32)
            tile[..., :3] = np.clip(image[..., :3], 0.0, 1.0)
            if zoom > 1:
                tile = np.repeat(np.repeat(tile, zoom, axis=0), zoom, axis=1)
            bottom = height - top - tile_h  # in Blender's layout, row 0 at the bottom
            sheet[bottom:bottom + tile_h, left:left + tile_w] = tile
            draw_text(sheet, caption, left, top + tile_h + PAD, color=INK)
    return sheet
