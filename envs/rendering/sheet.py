"""Side-by-side comparison sheets with captions, as pixels (numpy only, no imaging library).

``side_by_side`` tiles rows of labelled images (e.g. reference / default / adaptive of a few
frames) into one RGBA array that ``agents.curve.write_png`` saves. Captions are drawn with a
small built-in 5x7 pixel font (upper case, digits and a little punctuation).
"""

from __future__ import annotations

import numpy as np

# 5x7 glyphs, 7 rows of 5 columns each ('#' = ink)
_GLYPHS = {
    'A': (' ### ', '#   #', '#   #', '#####', '#   #', '#   #', '#   #'),
    'B': ('#### ', '#   #', '#   #', '#### ', '#   #', '#   #', '#### '),
    'C': (' ### ', '#   #', '#    ', '#    ', '#    ', '#   #', ' ### '),
    'D': ('#### ', '#   #', '#   #', '#   #', '#   #', '#   #', '#### '),
    'E': ('#####', '#    ', '#    ', '#### ', '#    ', '#    ', '#####'),
    'F': ('#####', '#    ', '#    ', '#### ', '#    ', '#    ', '#    '),
    'G': (' ### ', '#   #', '#    ', '# ###', '#   #', '#   #', ' ####'),
    'H': ('#   #', '#   #', '#   #', '#####', '#   #', '#   #', '#   #'),
    'I': (' ### ', '  #  ', '  #  ', '  #  ', '  #  ', '  #  ', ' ### '),
    'J': ('  ###', '   # ', '   # ', '   # ', '   # ', '#  # ', ' ##  '),
    'K': ('#   #', '#  # ', '# #  ', '##   ', '# #  ', '#  # ', '#   #'),
    'L': ('#    ', '#    ', '#    ', '#    ', '#    ', '#    ', '#####'),
    'M': ('#   #', '## ##', '# # #', '#   #', '#   #', '#   #', '#   #'),
    'N': ('#   #', '##  #', '# # #', '#  ##', '#   #', '#   #', '#   #'),
    'O': (' ### ', '#   #', '#   #', '#   #', '#   #', '#   #', ' ### '),
    'P': ('#### ', '#   #', '#   #', '#### ', '#    ', '#    ', '#    '),
    'Q': (' ### ', '#   #', '#   #', '#   #', '# # #', '#  # ', ' ## #'),
    'R': ('#### ', '#   #', '#   #', '#### ', '# #  ', '#  # ', '#   #'),
    'S': (' ####', '#    ', '#    ', ' ### ', '    #', '    #', '#### '),
    'T': ('#####', '  #  ', '  #  ', '  #  ', '  #  ', '  #  ', '  #  '),
    'U': ('#   #', '#   #', '#   #', '#   #', '#   #', '#   #', ' ### '),
    'V': ('#   #', '#   #', '#   #', '#   #', '#   #', ' # # ', '  #  '),
    'W': ('#   #', '#   #', '#   #', '# # #', '# # #', '# # #', ' # # '),
    'X': ('#   #', '#   #', ' # # ', '  #  ', ' # # ', '#   #', '#   #'),
    'Y': ('#   #', '#   #', ' # # ', '  #  ', '  #  ', '  #  ', '  #  '),
    'Z': ('#####', '    #', '   # ', '  #  ', ' #   ', '#    ', '#####'),
    '0': (' ### ', '#   #', '#  ##', '# # #', '##  #', '#   #', ' ### '),
    '1': ('  #  ', ' ##  ', '  #  ', '  #  ', '  #  ', '  #  ', ' ### '),
    '2': (' ### ', '#   #', '    #', '   # ', '  #  ', ' #   ', '#####'),
    '3': ('#####', '   # ', '  #  ', '   # ', '    #', '#   #', ' ### '),
    '4': ('   # ', '  ## ', ' # # ', '#  # ', '#####', '   # ', '   # '),
    '5': ('#####', '#    ', '#### ', '    #', '    #', '#   #', ' ### '),
    '6': ('  ## ', ' #   ', '#    ', '#### ', '#   #', '#   #', ' ### '),
    '7': ('#####', '    #', '   # ', '  #  ', ' #   ', ' #   ', ' #   '),
    '8': (' ### ', '#   #', '#   #', ' ### ', '#   #', '#   #', ' ### '),
    '9': (' ### ', '#   #', '#   #', ' ####', '    #', '   # ', ' ##  '),
    '.': ('     ', '     ', '     ', '     ', '     ', ' ##  ', ' ##  '),
    ':': ('     ', ' ##  ', ' ##  ', '     ', ' ##  ', ' ##  ', '     '),
    '/': ('    #', '    #', '   # ', '  #  ', ' #   ', '#    ', '#    '),
    ',': ('     ', '     ', '     ', '     ', '  ## ', '   # ', '  #  '),
    '-': ('     ', '     ', '     ', '#####', '     ', '     ', '     '),
    '%': ('##   ', '##  #', '   # ', '  #  ', ' #   ', '#  ##', '   ##'),
    '=': ('     ', '     ', '#####', '     ', '#####', '     ', '     '),
    '(': ('   # ', '  #  ', ' #   ', ' #   ', ' #   ', '  #  ', '   # '),
    ')': (' #   ', '  #  ', '   # ', '   # ', '   # ', '  #  ', ' #   '),
    '*': ('     ', '# # #', ' ### ', '#####', ' ### ', '# # #', '     '),
    ' ': ('     ', '     ', '     ', '     ', '     ', '     ', '     '),
}
GLYPH_W, GLYPH_H = 5, 7


def _glyph(char: str) -> np.ndarray:
    rows = _GLYPHS.get(char.upper(), _GLYPHS["*"])
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """``(7 scale, 6 len scale)`` boolean ink mask of ``text``, row 0 at the top."""
    if not text:
        return np.zeros((GLYPH_H * scale, 0), dtype=bool)
    cells = [np.pad(_glyph(c), ((0, 0), (0, 1))) for c in text]
    mask = np.concatenate(cells, axis=1)
    return np.kron(mask, np.ones((scale, scale), dtype=bool)).astype(bool)


def _upscale(image: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image


def side_by_side(rows: list[list[tuple[np.ndarray, str]]], zoom: int = 2, caption_scale: int = 1,
                 background=(0.08, 0.08, 0.09, 1.0), ink=(1.0, 1.0, 1.0, 1.0), title: str = "") -> np.ndarray:
    """Tile ``rows`` of ``(image, caption)`` into one RGBA float array, row 0 at the bottom (Blender's layout).

    Images are ``(h, w, 3|4)`` in display space with row 0 at the bottom, all the same size;
    each is enlarged ``zoom`` times (nearest) and captioned underneath.
    """
    if not rows or not rows[0]:
        raise ValueError("nothing to tile")
    h, w = rows[0][0][0].shape[:2]
    tile_h, tile_w = h * zoom, w * zoom
    pad = 4
    cap_h = GLYPH_H * caption_scale + 2 * pad
    title_h = (GLYPH_H * caption_scale + 2 * pad) if title else 0
    columns = max(len(r) for r in rows)
    height = title_h + len(rows) * (tile_h + cap_h + pad) + pad
    width = columns * (tile_w + pad) + pad
    sheet = np.empty((height, width, 4), dtype=np.float32)
    sheet[:] = background
    # draw top-down, flip at the end
    top = np.flipud(sheet).copy()

    def put_text(text: str, y: int, x: int) -> None:
        mask = text_mask(text, caption_scale)
        mh, mw = mask.shape
        mw = min(mw, width - x)
        region = top[y:y + mh, x:x + mw]
        region[mask[:, :mw]] = ink

    if title:
        put_text(title, pad, pad)
    for r, row in enumerate(rows):
        y0 = title_h + pad + r * (tile_h + cap_h + pad)
        for c, (image, caption) in enumerate(row):
            x0 = pad + c * (tile_w + pad)
            rgba = np.ones((h, w, 4), dtype=np.float32)
            rgba[..., :3] = np.clip(image[..., :3], 0.0, 1.0)
            top[y0:y0 + tile_h, x0:x0 + tile_w] = np.flipud(_upscale(rgba, zoom))
            put_text(caption, y0 + tile_h + pad, x0)
    return np.flipud(top).copy()
