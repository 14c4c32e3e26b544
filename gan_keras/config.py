"""The settings of a run (`RunConfig`), saved as `config.json`, read back on `--resume`, checked
once before anything is built.

Example:
    >>> config = resolve_config("outputs/run", resume=False, settings={"dataset": "anime", "ema": 0.999})
    >>> validate(config)       # one UsageError line for a bad combination, before TensorFlow loads
"""

import dataclasses
import importlib.util
import json
from dataclasses import dataclass, field

from gan_keras import registry
from gan_keras.errors import UsageError


# What a checkpoint fixes, declared on the fields of RunConfig (`field(metadata={CHECKPOINT: ...})`):
# a resumed run must keep a SAME setting, and may change an ON_OFF one (the EMA's decay) but not
# switch it on or off. `recipe.choose` writes its choices of these into the saved config.
CHECKPOINT, SAME, ON_OFF = "checkpoint", "same", "on/off"


def _fixed(default, how=SAME):
    return field(default=default, metadata={CHECKPOINT: how})


@dataclass
class RunConfig:
    """Every setting of a run; saved as `config.json` and read back by `--resume`."""

    dataset: str = _fixed("mnist")
    model: str = _fixed("auto")  # mlp for small grayscale images (measured best there on CPU), else dcgan
    conditional: bool = _fixed(False)  # class-conditional G and projection D, trained on (image, label) pairs
    # None below: chosen by gan_keras.recipe for the images and the device, with the reason in config.json
    trainer: str = _fixed("fused")
    epochs: int | None = None  # default: 10, or as many as --max-minutes allows when it is given
    steps_per_epoch: int | None = None  # default: one pass over the data
    batch_size: int = 64  # per replica
    latent_dim: int = _fixed(100)
    width: int | None = _fixed(None)  # DCGAN width; 16 for 64x64+ on a CPU, else 64
    lr: float = 2e-4
    beta_1: float = 0.5
    image_size: int | None = _fixed(None)  # default: the data's own
    channels: int | None = _fixed(None)  # default: the data's own
    loss: str = "nonsaturating"  # a registered loss (gan_keras.losses)
    n_critic: int = 1  # D steps per G step
    r1: float = 0.0  # R1 penalty gamma, lazily every 16 steps (0: off)
    augment: str | None = _fixed(None)  # a registered augmentation (gan_keras.augment); default: gan_keras.recipe
    ada_target: float = 0.6  # ADA's target for E[sign(D(real))]
    ema: float | None = _fixed(None, ON_OFF)  # decay of the generator's moving average, e.g. 0.999 (0: off)
    share_fakes: bool | None = None  # G's step scores D's generated batch (one G pass fewer); default: recipe
    real_label: float = 1.0
    label_noise: float = 0.0
    walk_data: bool = False  # classic trainer: walk the data by a moving start index, unshuffled
    limit: int | None = None  # train on the first N images only (a small target set)
    init_from: str | None = None  # start from the G and D weights of another run (transfer learning)
    freeze_d: int = _fixed(0)  # FreezeD: keep the lowest N convolution blocks of D fixed
    sample_every: int = 1
    checkpoint_every_steps: int = 0
    eval_every: int = 0
    tensorboard: bool = False  # also write scalars and grids to RUN/tensorboard/
    max_minutes: float | None = None
    seed: int = 0
    data_dir: str | None = None
    strategy: str = "auto"  # a registered strategy (gan_keras.distribute)
    mixed_precision: str | None = None  # a registered precision (gan_keras.distribute.precision_policy)
    jit_compile: bool | None = None  # default: on with a GPU, off on CPU (slower there)
    steps_per_execution: int | None = None  # default: 8 on one GPU, else 1


def fixed_by_checkpoint(how=None):
    """The settings a checkpoint fixes (all of them, or those fixed `how`: SAME or ON_OFF)."""
    return tuple(f.name for f in dataclasses.fields(RunConfig)
                 if CHECKPOINT in f.metadata and how in (None, f.metadata[CHECKPOINT]))


DEFAULT_EPOCHS = 10
EPOCHS_UNTIL_BUDGET = 100_000  # "until --max-minutes runs out"


def load_config(out):
    """(RunConfig, the whole saved record) of a run folder; one UsageError line if it is missing or damaged."""
    from gan_keras.pretrained import run_folder

    path = run_folder(out) / "config.json"
    if not path.is_file():
        raise UsageError(f"{out} is not a run folder (no config.json)")
    try:
        saved = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is damaged ({e}); the settings of this run cannot be read") from None
    if not isinstance(saved, dict):
        raise UsageError(f"{path} is damaged (not a JSON object); the settings of this run cannot be read")
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


def validate(config):
    """Check a config (and fill in the epochs); raises UsageError with one line saying what is wrong."""
    from gan_keras.pretrained import has_networks, run_folder

    if config.epochs is None:
        config.epochs = EPOCHS_UNTIL_BUDGET if config.max_minutes else DEFAULT_EPOCHS
    positive = {"epochs": config.epochs, "batch_size": config.batch_size, "latent_dim": config.latent_dim,
                "sample_every": config.sample_every, "n_critic": config.n_critic}
    for optional in ("steps_per_epoch", "steps_per_execution", "width", "image_size", "channels"):
        if getattr(config, optional) is not None:
            positive[optional] = getattr(config, optional)
    for name, value in positive.items():
        if value < 1:
            raise UsageError(f"{name.replace('_', '-')} must be a positive number, got {value}")
    if config.eval_every < 0 or config.checkpoint_every_steps < 0:
        raise UsageError("eval-every and checkpoint-every-steps must be 0 (off) or positive")
    if config.model != "auto":
        registry.check("network", config.model)
    if registry.info("trainer", config.trainer).get("reference"):
        _refuse_for_classic(config)
    if config.augment is not None:
        registry.check("augment", config.augment)
    for kind, value in (("strategy", config.strategy), ("precision", config.mixed_precision)):
        if isinstance(value, str):  # the Python API also takes mixed_precision=True / False
            registry.check(kind, value)
    targets = registry.where("loss", uses_targets=True)
    if not registry.info("loss", config.loss)["uses_targets"] and (config.real_label != 1.0 or config.label_noise > 0):
        raise UsageError(f"--real-label and --label-noise set targets, which the {config.loss} loss has none of; "
                         f"use them with {' or '.join(targets)}")
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise UsageError("--tensorboard needs the tensorboard package: pip install tensorboard")
    if config.r1 < 0:
        raise UsageError(f"r1 must be 0 (off) or positive, got {config.r1}")
    if config.ema is not None and config.ema != 0 and not 0 < config.ema < 1:
        raise UsageError(f"ema is a decay in (0, 1), e.g. 0.999, got {config.ema}")
    if not 0 < config.ada_target < 1:
        raise UsageError(f"ada-target must be in (0, 1), got {config.ada_target}")
    if config.limit is not None and config.limit < 1:
        raise UsageError(f"limit must be positive, got {config.limit}")
    if config.init_from and not has_networks(run_folder(config.init_from)):
        raise UsageError(f"--init-from {config.init_from}: no checkpoint there")
    if config.lr <= 0:
        raise UsageError(f"lr must be positive, got {config.lr}")
    if config.max_minutes is not None and config.max_minutes <= 0:
        raise UsageError(f"max-minutes must be positive, got {config.max_minutes}")
    if not 0 < config.real_label <= 1:
        raise UsageError(f"real-label is the target for real images in (0, 1], e.g. 0.9, got {config.real_label}")
    if not 0 <= config.label_noise < 0.5:
        raise UsageError(f"label-noise is a fraction in [0, 0.5), got {config.label_noise}")


def _refuse_for_classic(config):
    """The classic loop is the faithful Keras-2-style reference: BCE on P(real), nothing added."""
    modern = {"loss": config.loss != "nonsaturating", "n-critic": config.n_critic != 1, "r1": config.r1 > 0,
              "augment": config.augment not in (None, "none"), "ema": bool(config.ema),
              "steps-per-execution": (config.steps_per_execution or 1) > 1, "freeze-d": bool(config.freeze_d),
              "share-fakes": bool(config.share_fakes),
              "conditional": config.conditional}
    used = [name for name, on in modern.items() if on]
    if used:
        raise UsageError(f"--{', --'.join(used)} need{'s' if len(used) == 1 else ''} the fused trainer: the classic "
                         "loop is the Keras 2 reference (binary cross-entropy on P(real), one D and one G call)")
