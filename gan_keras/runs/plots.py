"""Figures of a run's history: losses, D's accuracy and the quality metric, one run or several.

Example:
    >>> from gan_keras.files import read_history
    >>> fig = plot_history(read_history("outputs/run/history.csv"))
"""

import math

import numpy as np

from gan_keras.files import atomic_write
from gan_keras.runs.history import metric_of_key


def _finite_points(xs, ys):
    """(xs, ys) without the entries whose y is NaN (epochs where a metric was not computed)."""
    kept = [(x, y) for x, y in zip(xs, ys) if not math.isnan(y)]
    return [x for x, _ in kept], [y for _, y in kept]


def _save_figure(fig, path):
    """Write the figure as a PNG atomically (a reader never sees half a file)."""
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=90, format="png")


def plot_history(history, path=None, title=None):
    """Loss curves (D, G), D accuracy on real and generated images, and any quality metric.

    `history` is a dict like `read_history` returns. Saves to `path` if given; returns the figure.
    """
    import matplotlib.pyplot as plt  # never switch the backend here: notebooks show figures inline

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
        >>> from gan_keras.files import read_history
        >>> fig = plot_metric({"mnist": read_history("outputs/run/history.csv")}, "d_acc_fake", ylim=(0, 1))
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

