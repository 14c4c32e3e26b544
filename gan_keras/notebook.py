"""What the notebooks show: rows of images, saved PNGs, a run's grids side by side, a folder's files.

Example:
    >>> print(folder_listing("outputs/run"))
    outputs/run/  (... MB)
      config.json ...
"""

from pathlib import Path

import numpy as np

from gan_keras.images import to_uint8


def show_images(rows, labels=None, title=None, path=None, scale=1.6):
    """Show rows of images side by side with matplotlib (and save the figure to `path`).

    `rows` is a list of image batches (N, H, W, C) in [-1, 1], one per row, or one batch for a
    single row; `labels` names each row. Returns the figure. Used by the notebooks, so that every
    figure they show is also a file under outputs/.
    """
    import matplotlib.pyplot as plt

    rows = [rows] if np.asarray(rows[0]).ndim == 3 else rows
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(scale * n_cols, scale * n_rows + (0.4 if title else 0)),
                             squeeze=False)
    for r, row in enumerate(rows):
        for c in range(n_cols):
            ax = axes[r][c]
            ax.axis("off")
            if c < len(row):
                image = to_uint8(row[c])
                ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
        if labels:
            axes[r][0].set_title(labels[r], loc="left", fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
    return fig


def show_file(path, title=None, width=6):
    """Display a saved PNG (a sample grid, the loss figure) in a notebook; returns the figure."""
    import matplotlib.pyplot as plt
    from PIL import Image

    image = np.asarray(Image.open(path).convert("RGB"))
    fig, ax = plt.subplots(figsize=(width, width * image.shape[0] / image.shape[1]))
    ax.imshow(image)
    ax.axis("off")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def show_progress(run_dir, count=5, path=None):
    """The run's sample grids from first to last, side by side (saved to `path` if given)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    grids = sorted(Path(run_dir, "samples").glob("epoch-*.png"))
    picks = [grids[round(i)] for i in np.linspace(0, len(grids) - 1, min(count, len(grids)))]
    fig, axes = plt.subplots(1, len(picks), figsize=(3.2 * len(picks), 3.5), squeeze=False)
    for ax, grid in zip(axes[0], picks):
        ax.imshow(np.asarray(Image.open(grid).convert("RGB")))
        ax.set_title(grid.stem.replace("-", " "))
        ax.axis("off")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig


def human_size(n_bytes):
    """1536 -> '1.5 KB'."""
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024


def folder_listing(folder, max_files=6):
    """What a run folder holds, as text: a line per file with its size; a sub-folder of more than
    `max_files` files (the grids of every epoch) in one line with its count and total size.

    Example:
        >>> print(folder_listing("outputs/run"))
        outputs/run/  (... MB)
          config.json ...
    """
    folder = Path(folder)
    groups = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            groups.setdefault(path.parent.relative_to(folder), []).append(path)
    lines = [f"{folder}/  ({sum(p.stat().st_size for files in groups.values() for p in files) / 2**20:.1f} MB)"]
    for parent, files in sorted(groups.items(), key=lambda item: (len(item[0].parts), str(item[0]))):
        if parent != Path(".") and len(files) > max_files:
            total = human_size(sum(p.stat().st_size for p in files))
            lines.append(f"  {str(parent) + '/':<40} {len(files)} files, {total} "
                         f"({files[0].name} ... {files[-1].name})")
        else:
            lines += [f"  {str(p.relative_to(folder)):<40} {human_size(p.stat().st_size):>9}" for p in files]
    return "\n".join(lines)

