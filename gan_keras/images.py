"""Image grids, PNG/GIF files and the loss figure, all written atomically (temp file, then rename).

Example:
    >>> grid = image_grid(generator.predict(noise))   # (64, H, W, C) in [-1, 1] -> one uint8 image
    >>> save_png(grid, "outputs/run/samples/epoch-0001.png")
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


def to_uint8(images):
    """float images in [-1, 1] -> uint8 in [0, 255]."""
    return np.clip((np.asarray(images, dtype=np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def image_grid(images, cols=None, pad=2):
    """(N, H, W, C) images in [-1, 1] -> one uint8 grid image (rows x cols, `pad` pixels apart)."""
    images = to_uint8(images)
    n, h, w, c = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i, image in enumerate(images):
        r, k = divmod(i, cols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + k * (w + pad):pad + k * (w + pad) + w] = image
    return grid


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
    """An animated GIF of the PNG files, in order, looping; the last frame lingers."""
    from PIL import Image

    frames = [Image.open(p).convert("RGB") for p in png_paths]
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


def _finite_points(xs, ys):
    """(xs, ys) without the entries whose y is NaN (epochs where a metric was not computed)."""
    kept = [(x, y) for x, y in zip(xs, ys) if not math.isnan(y)]
    return [x for x, _ in kept], [y for _, y in kept]


def _save_figure(fig, path):
    """Write the figure as a PNG atomically (a reader never sees half a file)."""
    tmp = atomic_path(path)
    fig.savefig(tmp, dpi=90, format="png")
    os.replace(tmp, path)


def plot_history(history, path=None, title=None):
    """Loss curves (D, G), D accuracy on real and generated images, and any quality metric.

    `history` is a dict like `read_history` returns. Saves to `path` if given; returns the figure.
    """
    import matplotlib.pyplot as plt  # never switch the backend here: notebooks show figures inline

    from gan_keras.metrics import metric_of_key

    metric = next((k for k in history if k.startswith("eval_") and metric_of_key(k)), None)
    panels = 3 if metric else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 3.4))
    epochs = history.get("epoch", [])
    axes[0].plot(epochs, history.get("d_loss", []), label="D loss")
    axes[0].plot(epochs, history.get("g_loss", []), label="G loss")
    axes[0].set_xlabel("epoch")
    axes[0].set_title("losses")
    axes[0].legend()
    axes[1].plot(epochs, history.get("d_acc_real", []), label="D acc, real")
    axes[1].plot(epochs, history.get("d_acc_fake", []), label="D acc, generated")
    for key, label in (("eval_d_acc_train", "D acc, training reals (eval)"),
                       ("eval_d_acc_heldout", "D acc, held-out reals (eval)"),
                       ("eval_cond_acc", "drawn as the class asked (eval)")):
        if key in history:
            axes[1].plot(*_finite_points(epochs, history[key]), "o:", ms=3, label=label)
    if "ada_p" in history:
        axes[1].plot(epochs, history["ada_p"], "--", color="C3", label="ADA p")
    axes[1].axhline(0.5, color="grey", lw=0.8, ls="--")
    axes[1].set_ylim(-0.02, 1.02)
    axes[1].set_xlabel("epoch")
    axes[1].set_title("discriminator accuracy (0.5 = fooled)")
    axes[1].legend()
    if metric:
        axes[2].plot(*_finite_points(epochs, history[metric]), "o-", color="C2")
        axes[2].set_xlabel("epoch")
        better = "lower" if metric_of_key(metric)[1] else "higher"
        axes[2].set_title(f"{metric.removeprefix('eval_')} ({better} is better)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _save_figure(fig, path)
        plt.close(fig)
    return fig


def plot_recipes(histories, metric="eval_swd", path=None, title=None):
    """Several runs side by side against training steps: the quality metric, and D's accuracy on
    training vs held-out reals (solid vs dotted; the gap is D memorising its training set).

    `histories` maps a name to a history dict (`read_history`) of a run trained with
    `eval_every` and `limit`. Saves to `path` if given; returns the figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    _plot_against_steps(axes[0], histories, metric)
    for i, (name, history) in enumerate(histories.items()):
        steps = np.cumsum(history["steps"])
        for key, style in (("eval_d_acc_train", "-"), ("eval_d_acc_heldout", ":")):
            xs, ys = _finite_points(steps, history.get(key, []))
            if xs:
                axes[1].plot(xs, ys, style, color=f"C{i}", label=f"{name}, {key.split('_')[-1]}")
    axes[0].set_title(metric.removeprefix("eval_") + " vs held-out reals (lower is better)")
    axes[1].set_title("D accuracy on reals: training (solid) vs held-out (dotted)")
    axes[1].set_ylim(-0.02, 1.02)
    for ax in axes:
        ax.set_xlabel("training steps")
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    if path is not None:
        _save_figure(fig, path)
    return fig


def _plot_against_steps(ax, histories, column):
    """One line per run: `column` of its history against the training steps done."""
    for i, (name, history) in enumerate(histories.items()):
        xs, ys = _finite_points(np.cumsum(history["steps"]), history.get(column, []))
        if xs:
            ax.plot(xs, ys, "o-", color=f"C{i}", ms=3, label=name)
    ax.set_xlabel("training steps")


def plot_metric(histories, column, path=None, title=None, ylim=None):
    """Several runs' `column` (e.g. "eval_cond_acc") against training steps, in one panel.

    Example:
        >>> plot_metric({"mnist": read_history(a), "fashion": read_history(b)}, "eval_cond_acc", ylim=(0, 1))
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    _plot_against_steps(ax, histories, column)
    ax.set_title(title or column.removeprefix("eval_"))
    if ylim:
        ax.set_ylim(*ylim)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        _save_figure(fig, path)
    return fig


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
        >>> print(folder_listing("outputs/01_mnist_gan"))
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
            lines.append(f"  {str(parent) + '/':<40} {len(files)} files, {total} ({files[0].name} ... {files[-1].name})")
        else:
            lines += [f"  {str(p.relative_to(folder)):<40} {human_size(p.stat().st_size):>9}" for p in files]
    return "\n".join(lines)
