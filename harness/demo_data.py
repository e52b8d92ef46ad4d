"""`demo-shapes`: a small image task generated in code, so the demo needs no data folder and no network.

Ten classes of 16x16 RGB images, each a seeded procedural pattern drawn at a random place, size, phase and
contrast, in random foreground/background colours, under Gaussian pixel noise:

  0 horizontal grating   1 vertical grating   2 diagonal grating (/)   3 diagonal grating (\\)
  4 checkerboard         5 concentric rings   6 filled square          7 filled disc
  8 plus sign            9 scattered dots

Colour carries no class information (fore- and background colours are drawn independently of the class),
so a network has to find the spatial pattern; the patterns span several scales (thin gratings need
small receptive fields, shapes and rings larger ones), and the noise keeps accuracy well below 100%, so
architectures with different convolutions and depths differ. Generation is vectorised numpy and fully
determined by (split, n, seed): the same call gives the same bytes on every machine. Classes are
balanced exactly (n/10 images each, in a seeded random order).
"""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10
SIDE = 16
CLASS_NAMES = (
    "horizontal grating",
    "vertical grating",
    "diagonal grating /",
    "diagonal grating \\",
    "checkerboard",
    "rings",
    "square",
    "disc",
    "plus",
    "dots",
)
SIZES = {"train": 2000, "test": 1000}
SEEDS = {"train": 20240, "test": 20241}  # different streams: no test image repeats a training image
NOISE = 0.1  # std of the pixel noise on the [0, 1] scale
# the data set's own statistics are near 0.5 / 0.31 per channel (colours are uniform)
MEAN = (0.5, 0.5, 0.5)
STD = (0.31, 0.31, 0.31)


def _masks(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n, 16, 16) float pattern intensity in [0, 1] for each label."""
    n = len(labels)
    yy, xx = np.meshgrid(np.arange(SIDE, dtype=np.float64), np.arange(SIDE, dtype=np.float64), indexing="ij")
    yy, xx = yy[None], xx[None]
    cy = rng.uniform(4.0, 11.0, n)[:, None, None]  # pattern centre, random placement
    cx = rng.uniform(4.0, 11.0, n)[:, None, None]
    radius = rng.uniform(3.0, 6.0, n)[:, None, None]  # shape size / grating window
    period = rng.uniform(3.0, 5.5, n)[:, None, None]  # grating period in pixels
    phase = rng.uniform(0.0, 2 * np.pi, n)[:, None, None]
    dy, dx = yy - cy, xx - cx
    dist = np.sqrt(dy**2 + dx**2)
    window = np.clip(radius + 2.0 - dist, 0.0, 1.0)  # soft round window for the textures
    out = np.zeros((n, SIDE, SIDE))

    def wave(coord):
        return 0.5 + 0.5 * np.sin(2 * np.pi * coord / period + phase)

    lab = labels[:, None, None]
    out = np.where(lab == 0, wave(yy) * window, out)
    out = np.where(lab == 1, wave(xx) * window, out)
    out = np.where(lab == 2, wave((xx + yy) / np.sqrt(2)) * window, out)
    out = np.where(lab == 3, wave((xx - yy) / np.sqrt(2)) * window, out)
    cell = np.floor(period / 1.5).clip(2, None)
    checker = ((np.floor((yy + phase) / cell) + np.floor((xx + phase) / cell)) % 2).astype(np.float64)
    out = np.where(lab == 4, checker * window, out)
    out = np.where(lab == 5, wave(dist) * window, out)
    half = radius * 0.75
    square = ((np.abs(dy) <= half) & (np.abs(dx) <= half)).astype(np.float64)
    out = np.where(lab == 6, square, out)
    out = np.where(lab == 7, (dist <= radius * 0.85).astype(np.float64), out)
    arm = np.clip(radius * 0.3, 1.0, None)
    bar = arm / 2 + 0.5
    plus = ((np.abs(dy) <= bar) & (np.abs(dx) <= radius)) | ((np.abs(dx) <= bar) & (np.abs(dy) <= radius))
    out = np.where(lab == 8, plus.astype(np.float64), out)
    dots = np.zeros((n, SIDE, SIDE))
    for _ in range(5):  # five small blobs anywhere in the image
        py = rng.uniform(1.5, 14.5, n)[:, None, None]
        px = rng.uniform(1.5, 14.5, n)[:, None, None]
        dots = np.maximum(dots, np.clip(1.6 - np.sqrt((yy - py) ** 2 + (xx - px) ** 2), 0.0, 1.0))
    out = np.where(lab == 9, dots, out)
    return out


def generate(split: str, n: int | None = None, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (n, 3, 16, 16), labels int64 (n,)) of `split` ("train" or "test"), deterministic."""
    n = SIZES[split] if n is None else int(n)
    seed = SEEDS[split] if seed is None else int(seed)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % NUM_CLASSES).astype(np.int64)
    mask = _masks(labels, rng)[:, None]  # (n, 1, H, W)
    bg = rng.uniform(0.2, 0.8, (n, 3, 1, 1))
    sign = rng.choice([-1.0, 1.0], (n, 1, 1, 1))
    contrast = rng.uniform(0.5, 1.0, (n, 1, 1, 1))  # low-contrast images are the hard ones
    fg = bg + sign * rng.uniform(0.25, 0.5, (n, 3, 1, 1)) * contrast
    img = bg + (fg - bg) * mask + rng.normal(0.0, NOISE, (n, 3, SIDE, SIDE))
    images = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(images), labels
