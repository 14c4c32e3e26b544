"""A run folder's settings: `config.json` read back (`load_config`), and the settings of a new or
resumed run resolved against it (`resolve_config`), checked once before anything is built.

Example:
    >>> config = resolve_config("outputs/new-run", resume=False, settings={"dataset": "anime", "ema": 0.999})
    >>> config.ema
    0.999
"""

import dataclasses

from gan_keras import registry
from gan_keras.errors import UsageError
from gan_keras.files import read_json
from gan_keras.runs.folder import has_networks, run_folder
from gan_keras.training.config import ON_OFF, SAME, RunConfig, fixed_by_checkpoint, validate


def load_config(out):
    """(RunConfig, the whole saved record) of a run folder; one UsageError line if it is missing or damaged."""
    path = run_folder(out) / "config.json"
    if not path.is_file():
        raise UsageError(f"{out} is not a run folder (no config.json)")
    saved = read_json(path, "the settings of this run")
    saved.setdefault("heldout", 0)  # written before --heldout: held out by --limit alone
    fields = {f.name for f in dataclasses.fields(RunConfig)}
    return RunConfig(**{k: v for k, v in saved.items() if k in fields}), saved


def resolve_config(out, resume, settings):
    """The run's config: defaults + `settings`, or on resume the saved config + compatible `settings`."""
    settings = {k: v for k, v in settings.items() if v is not None}
    unknown = set(settings) - {f.name for f in dataclasses.fields(RunConfig)}
    if unknown:
        raise UsageError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    if not resume:
        return RunConfig(**settings)
    config, _ = load_config(out)
    for key, value in settings.items():
        if key in fixed_by_checkpoint(SAME) and value != getattr(config, key):
            raise UsageError(f"--resume: this run was trained with {key}={getattr(config, key)!r}, "
                             f"not {value!r}; use another --out for a new run")
        if key in fixed_by_checkpoint(ON_OFF) and bool(value) != bool(getattr(config, key)):
            on = "with" if getattr(config, key) else "without"
            raise UsageError(f"--resume: this run was trained {on} --{key.replace('_', '-')}; "
                             "its checkpoint cannot switch it on or off")
        setattr(config, key, value)
    return config


def default_heldout(dataset):
    """How many images of a dataset a run holds out unless `--heldout` says: its declared `heldout`."""
    return registry.info("dataset", str(dataset), default={}).get("heldout", 0)


def checked_config(out, resume, settings):
    """`resolve_config` then `validate`, and the run `--init-from` names has networks to start from."""
    config = resolve_config(out, resume, settings)
    if config.heldout is None:
        config.heldout = default_heldout(config.dataset)
    validate(config)
    if config.init_from and not has_networks(config.init_from):
        raise UsageError(f"--init-from {config.init_from}: no checkpoint there")
    return config
