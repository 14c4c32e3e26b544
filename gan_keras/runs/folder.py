"""Where a run lives: a folder, or `pretrained:NAME` for one shipped in the package, and what it holds.

Example:
    >>> run_folder("pretrained:anime64").name, has_networks("pretrained:anime64")
    ('anime64', True)
    >>> run_folder("pretrained:nope")
    Traceback (most recent call last):
    gan_keras.errors.UsageError: no shipped generator 'nope'; choose one of pretrained:anime64, ...
"""

from pathlib import Path

from gan_keras.errors import UsageError
from gan_keras.pretrained import FOLDER as SHIPPED

PREFIX = "pretrained:"
WEIGHTS_FILE = "weights.npz"  # a shipped run's networks, float16 (gan_keras.runs.checkpoints.save_networks)


def generator_names():
    """The names of the shipped generators (folders of the package's `pretrained/` holding a `config.json`)."""
    return sorted(p.parent.name for p in SHIPPED.glob("*/config.json"))


def has_networks(run_dir):
    """Whether a run folder (or `pretrained:NAME`) holds networks to restore: a checkpoint, or a shipped
    `weights.npz`."""
    run_dir = run_folder(run_dir)
    return (run_dir / WEIGHTS_FILE).is_file() or (run_dir / "checkpoints" / "checkpoint").is_file()


def run_folder(run):
    """The folder of a run: `run` itself, or for `pretrained:NAME` the shipped one. One UsageError
    line for a name that is not shipped."""
    text = str(run)
    if not text.startswith(PREFIX):
        return Path(run)
    name = text[len(PREFIX):]
    if name not in generator_names():
        raise UsageError(f"no shipped generator {name!r}; choose one of "
                         f"{', '.join(PREFIX + n for n in generator_names()) or '(none shipped)'}")
    return SHIPPED / name
