"""Files a run writes, written atomically (a temporary file, then a rename: a reader never sees half a
file), and `history.csv` read back.

Example:
    >>> import numpy as np
    >>> save_png(np.zeros((8, 8, 3), np.uint8), "outputs/black.png")
    >>> read_history("outputs/no-such-run/history.csv")
    {}
"""

import csv
import math
import os
from pathlib import Path

import numpy as np


def atomic_path(path):
    """A temporary sibling of `path` to write to before `os.replace`.

    Named per process: two processes writing the same file (two pytest workers, two runs) never
    share a temporary, so neither can move the other's half-written file into place.
    """
    path = Path(path)
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp{path.suffix}")


def atomic_write_text(path, text):
    tmp = atomic_path(path)
    tmp.write_text(text)
    os.replace(tmp, path)


def save_png(image, path):
    """Save a uint8 (H, W, C) or (H, W) image as PNG, atomically."""
    from PIL import Image

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    tmp = atomic_path(path)
    Image.fromarray(image).save(tmp, format="PNG")
    os.replace(tmp, path)


def write_gif(png_paths, path, seconds_per_frame=0.5):
    """An animated GIF of the PNG files, in order, looping; the last frame lingers. Each frame gets its
    own 256 colours by the fast octree: 50 grids of 530x530 took 1.3 s against 32.6 s by Pillow's
    default median cut (2026-12-04, one busy EPYC core), at 29.4 against 31.8 dB."""
    from PIL import Image

    frames = [Image.open(p).convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE) for p in png_paths]
    if not frames:
        return
    durations = [int(seconds_per_frame * 1000)] * (len(frames) - 1) + [2000]
    tmp = atomic_path(path)
    frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    os.replace(tmp, path)


def read_history(path):
    """history.csv as a dict of column -> list of floats (empty dict if there is no file)."""
    if not Path(path).is_file():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {key: [float(row[key]) if row[key] not in ("", None) else math.nan for row in rows]
            for key in (rows[0].keys() if rows else [])}

