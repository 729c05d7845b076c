"""Image quality against a reference: SSIM on luminance with a Gaussian window, and PSNR (numpy only).

Images are display-referred arrays in [0, 1], shaped ``(height, width)`` (luminance) or
``(height, width, channels)`` (RGB or RGBA; alpha is ignored). SSIM follows Wang et al. 2004:
an 11-tap Gaussian window with sigma 1.5, ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2`` with ``L = 1``,
and the mean over the windows that lie fully inside the image (the ``valid`` region, as in the
authors' reference code).
"""

from __future__ import annotations

import functools

import numpy as np

SIGMA = 1.5
RADIUS = 5  # 11 taps
C1 = 0.01 ** 2
C2 = 0.03 ** 2
# Rec. 709 luma weights, applied to display-encoded RGB (what the viewer sees)
LUMA = np.array([0.2126, 0.7152, 0.0722])


def luminance(image: np.ndarray) -> np.ndarray:
    """``(h, w)`` luminance of an ``(h, w)``, ``(h, w, 3)`` or ``(h, w, 4)`` image (float64)."""
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 2:
        return image
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected an (h, w), (h, w, 3) or (h, w, 4) image, got shape {image.shape}")
    if image.shape[2] == 1:
        return image[..., 0]
    return image[..., :3] @ LUMA


@functools.lru_cache(maxsize=4)
def gaussian_taps(sigma: float = SIGMA, radius: int = RADIUS) -> np.ndarray:
    """The normalised 1-D Gaussian window (``2 radius + 1`` taps)."""
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 * (x / sigma) ** 2)
    taps /= taps.sum()
    taps.flags.writeable = False
    return taps


def gaussian_filter_valid(image: np.ndarray, sigma: float = SIGMA, radius: int = RADIUS) -> np.ndarray:
    """Separable Gaussian filter of a 2-D array (or a stack ``(..., h, w)``), ``valid`` region only.

    The result is ``2 radius`` smaller along each of the last two axes: every output pixel is the
    weighted mean of a full window of the input.
    """
    taps = gaussian_taps(sigma, radius)
    size = taps.size
    image = np.asarray(image, dtype=np.float64)
    h, w = image.shape[-2:]
    if h < size or w < size:
        raise ValueError(f"image {w}x{h} is smaller than the {size}x{size} SSIM window")
    rows = sum(taps[k] * image[..., k:h - size + 1 + k, :] for k in range(size))
    return sum(taps[k] * rows[..., :, k:w - size + 1 + k] for k in range(size))


def ssim_map(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-window SSIM of ``image`` against ``reference`` on luminance (the ``valid`` region)."""
    x = luminance(image)
    y = luminance(reference)
    if x.shape != y.shape:
        raise ValueError(f"image {x.shape} and reference {y.shape} differ in size")
    stack = gaussian_filter_valid(np.stack([x, y, x * x, y * y, x * y]))
    mx, my, xx, yy, xy = stack
    vx = xx - mx * mx
    vy = yy - my * my
    cxy = xy - mx * my
    return ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2))


def match_size(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``image`` resized (bilinear) to ``reference``'s height and width: a frame rendered at a smaller
    resolution scale, compared with a full-size reference. Same-size images come back unchanged."""
    image = np.asarray(image)
    h, w = np.asarray(reference).shape[:2]
    ih, iw = image.shape[:2]
    if (ih, iw) == (h, w):
        return image
    ys = np.clip((np.arange(h) + 0.5) * ih / h - 0.5, 0, ih - 1)
    xs = np.clip((np.arange(w) + 0.5) * iw / w - 0.5, 0, iw - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, ih - 1), np.minimum(x0 + 1, iw - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    if image.ndim == 3:
        fy, fx = fy[..., None], fx[..., None]
    top = image[y0][:, x0] * (1 - fx) + image[y0][:, x1] * fx
    bottom = image[y1][:, x0] * (1 - fx) + image[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def ssim(image: np.ndarray, reference: np.ndarray) -> float:
    """Mean SSIM on luminance (1.0 for identical images)."""
    return float(ssim_map(image, reference).mean())


def psnr(image: np.ndarray, reference: np.ndarray, peak: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB over the colour channels (``inf`` for identical images)."""
    x = np.asarray(image, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"image {x.shape} and reference {y.shape} differ in size")
    if x.ndim == 3 and x.shape[2] == 4:
        x, y = x[..., :3], y[..., :3]
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * np.log10(peak * peak / mse)


def quality_db(ssim_value: float) -> float:
    """SSIM as ``-10 log10(1 - SSIM)`` (dB of dissimilarity): 0.98 -> 17.0, 0.99 -> 20.0.

    The learner models quality on this scale, where it is close to linear in log samples.
    """
    return float(-10.0 * np.log10(max(1.0 - ssim_value, 1e-6)))


def ssim_from_db(db: float) -> float:
    """Inverse of :func:`quality_db`."""
    return float(1.0 - 10.0 ** (-db / 10.0))
