"""The settings of a run (`RunConfig`), saved as `config.json`, read back on `--resume`, checked
once before anything is built.

A run folder's `config.json` is read back by `gan_keras.runs.config`.

Example:
    >>> config = RunConfig(dataset="anime", ema=0.999)
    >>> validate(config)       # one UsageError line for a bad combination, before TensorFlow loads
"""

import dataclasses
import importlib.util
from dataclasses import dataclass

from gan_keras import registry
from gan_keras.errors import UsageError
from gan_keras.options import option

# What a checkpoint fixes, declared on the fields of RunConfig (`fixed=SAME`): a resumed run must keep a
# SAME setting, and may change an ON_OFF one (the EMA's decay) but not switch it on or off.
# `recipe.choose` writes its choices of these into the saved config.
CHECKPOINT, SAME, ON_OFF = "checkpoint", "same", "on/off"


def setting(default=None, help="", fixed=None, **kwargs):
    """A field of RunConfig: its default, its `train` option (`gan_keras.options.option`) and what a
    checkpoint fixes of it."""
    return option(default, help, metadata={CHECKPOINT: fixed} if fixed else None, **kwargs)



@dataclass
class RunConfig:
    """Every setting of a run; saved as `config.json` and read back by `--resume`. Each field is also an
    option of `python -m gan_keras train` (its help, choices and default are declared here once)."""

    dataset: str = setting("mnist", "mnist, fashion_mnist, anime, a folder of images or an .npz (key 'images')",
                           SAME, positional=True)
    model: str = setting("auto", "network kind; auto: mlp for grayscale images up to 32x32 (measured best there on "
                         "CPU), else dcgan; stylegan: a style-based generator (mapping network, modulated "
                         "convolutions)", SAME, choices=("auto", *registry.names("network")))
    conditional: bool = setting(False, "class-conditional: G draws the class asked for, D is a projection "
                                "discriminator; needs labels (mnist, fashion_mnist, a folder of class sub-folders, "
                                "an .npz with 'labels')", SAME)
    trainer: str = setting("fused", "the fused train_step or the classic loop (the Keras 2 reference)", SAME,
                           choices="trainer")
    epochs: int | None = setting(None, "total epochs, counting those of a resumed run",
                                 default_help="10; with --max-minutes, until the time is spent")
    steps_per_epoch: int | None = setting(None, "training steps per epoch", default_help="one pass over the data")
    batch_size: int | None = setting(None, "images per step, per device",
                                     default_help="256 for 64x64 DCGAN faces on a CPU (7,000 images or more), else 64")
    latent_dim: int = setting(100, "noise size", SAME)
    width: int | None = setting(None, "DCGAN filters of the outer layers, doubling inwards", SAME,
                                default_help="16 for 64x64 and larger on a CPU, else 64")
    lr: float = setting(2e-4, "Adam learning rate of D and G")
    lr_decay_start: float | None = setting(
        None, "fraction of the run after which the learning rate falls to --lr-end times --lr by its end, and every "
        "other schedule moves (1: constant); the run is --epochs when given, counted across resumes, else "
        "--max-minutes, and a resumed run spreads what is left of its schedules over its new minutes",
        default_help="0 (falling over the whole run) with that batch of 256, else 1")
    lr_end: float = setting(0.1, "the learning rate at the end of a decaying run, as a fraction of --lr")
    schedule: str = setting("linear", "the shape of every schedule after --lr-decay-start",
                            choices="schedule")
    beta_1: float = setting(0.5, "Adam beta_1")
    beta_2: float = setting(0.999, "Adam beta_2")
    beta_2_end: float | None = setting(None, "Adam's beta_2 at the end of the run (R3GAN: 0.9 -> 0.99)",
                                       default_help="constant")
    image_size: int | None = setting(None, "train at this size", SAME, default_help="the data's own")
    channels: int | None = setting(None, "1 or 3", SAME, default_help="the data's own", cli=False)
    loss: str | None = setting(None, "GAN loss on D's logits (WGAN-GP also wants --n-critic 5)", choices="loss",
                               default_help="fastgan (hinge + D's self-supervision) for --model fastgan, else "
                                            "nonsaturating")
    n_critic: int = setting(1, "D steps per G step")
    r1: float = setting(0.0, "R1 penalty gamma on real images, lazily every 16 steps (0: off)")
    gamma: float = setting(2.0, "--loss rpgan: the weight of its R1 (real) and R2 (generated) penalties, every step")
    gamma_end: float | None = setting(None, "--loss rpgan: gamma at the end of the run (R3GAN: 2 -> 0.2)",
                                      default_help="constant")
    augment: str | None = setting(None, "augment what D sees: DiffAugment, or ADA with an adaptive probability",
                                  SAME, choices="augment",
                                  default_help="diffaug for DCGAN at 64x64 and larger, else none")
    ada_target: float = setting(0.6, "ADA: target of E[sign(D(real))]")
    augment_p_end: float | None = setting(None, "--augment ada: its probability rises from 0 to this by the end of "
                                          "the run instead of adapting to --ada-target (R3GAN: 0.3)",
                                          default_help="adaptive")
    ema: float | None = setting(None, "decay of the generator's moving average, e.g. 0.999; the average draws the "
                                "grids, samples and metrics (0: off)", ON_OFF,
                                default_help="0.999 for DCGAN at 64x64 and larger and for stylegan, else 0")
    ema_end: float | None = setting(None, "the average's decay at the end of the run: a longer half-life as the "
                                    "images settle (e.g. 0.999 -> 0.9999)", default_help="constant")
    share_fakes: bool | None = setting(None, "G's step scores the batch D's step just trained on (by the updated D), "
                                       "as PyTorch's DCGAN example does: one pass of G fewer a step", negatable=True,
                                       default_help="on for 64x64 DCGANs on a CPU, where measured")
    real_label: float = setting(1.0, "target for real images; 0.9 = one-sided label smoothing")
    label_noise: float = setting(0.0, "fraction of D labels flipped at random")
    walk_data: bool = setting(False, "classic trainer: walk the data by a moving start index instead of shuffling")
    limit: int | None = setting(None, "train on the first N images only (without --heldout, the rest are held out)")
    heldout: int | None = setting(None, "hold out N images drawn at random, the same draw in every run: what "
                                  "--eval-every and evaluate compare with (0: none)",
                                  default_help="the dataset's own: 1,000 of anime, none elsewhere")
    init_from: str | None = setting(None, "start from the networks of another run folder, or of pretrained:NAME "
                                    "(transfer learning)")
    freeze_d: int = setting(0, "FreezeD: keep D's lowest N convolution blocks fixed", SAME)
    sample_every: int = setting(1, "save a sample grid every N epochs (at most ~1.5% of the run's time)")
    checkpoint_every_steps: int = setting(0, "also checkpoint every N steps inside an epoch (0: off)")
    eval_every: int = setting(0, "add the cheap quality metric to history every N epochs and keep the best "
                                 "generator in RUN/best/ (0: off)")
    eval_samples: int = setting(2000, "generated (and real) images each of those evaluations compares; fewer are "
                                      "faster and noisier")
    eval_share: float = setting(0.02, "the most of the run's wall clock those evaluations may take, skipping "
                                      "the ones that would exceed it (1: every one asked for, for curves)")
    tensorboard: bool = setting(False, "also write losses, metrics, learning rates and grids to RUN/tensorboard/")
    max_minutes: float | None = setting(None, "stop cleanly (checkpoint, grid, generator) after M minutes")
    seed: int = setting(0, "seed of weights, noise and shuffling")
    data_dir: str | None = setting(None, "where named datasets live", default_help="$GAN_KERAS_DATA_DIR, else data/")
    strategy: str = setting("auto", "tf.distribute strategy", choices="strategy")
    mixed_precision: str | None = setting(
        None, "compute in 16 bits, weights in 32; alone: float16 on GPU (loss scaling per optimizer), bfloat16 "
        "elsewhere", choices="precision", const="auto",
        default_help="bfloat16 on a CPU with bfloat16 instructions for "
        f"{', '.join(registry.having('network', 'cpu_bfloat16'))} "
        "with the fused trainer, where it was measured to pay off; else off")
    jit_compile: bool | None = setting(None, "XLA-compile the training step", negatable=True,
                                       default_help="on with a GPU, off on CPU, where it is slower")
    steps_per_execution: int | None = setting(None, "train steps per call into TensorFlow",
                                              default_help="8 on one GPU, else 1")


def fixed_by_checkpoint(how=None):
    """The settings a checkpoint fixes (all of them, or those fixed `how`: SAME or ON_OFF)."""
    return tuple(f.name for f in dataclasses.fields(RunConfig)
                 if CHECKPOINT in f.metadata and how in (None, f.metadata[CHECKPOINT]))


DEFAULT_EPOCHS = 10
EPOCHS_UNTIL_BUDGET = 100_000  # "until --max-minutes runs out"


def validate(config):
    """Check a config (and fill in the epochs); raises UsageError with one line saying what is wrong."""
    if config.epochs is None:
        config.epochs = EPOCHS_UNTIL_BUDGET if config.max_minutes else DEFAULT_EPOCHS
    positive = {"epochs": config.epochs, "latent_dim": config.latent_dim,
                "sample_every": config.sample_every, "n_critic": config.n_critic, "eval_samples": config.eval_samples}
    for optional in ("batch_size", "steps_per_epoch", "steps_per_execution", "width", "image_size", "channels"):
        if getattr(config, optional) is not None:
            positive[optional] = getattr(config, optional)
    for name, value in positive.items():
        if value < 1:
            raise UsageError(f"{name.replace('_', '-')} must be a positive number, got {value}")
    if config.eval_every < 0 or config.checkpoint_every_steps < 0:
        raise UsageError("eval-every and checkpoint-every-steps must be 0 (off) or positive")
    decay_start = 1.0 if config.lr_decay_start is None else config.lr_decay_start
    if not (0 <= decay_start <= 1 and 0 <= config.lr_end <= 1):
        raise UsageError(f"lr-decay-start and lr-end are fractions from 0 to 1, got {config.lr_decay_start} and "
                         f"{config.lr_end}")
    if not 0 < config.eval_share <= 1:
        raise UsageError(f"eval-share is a share of the wall clock, above 0 and at most 1, got {config.eval_share}")
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
    loss = config.loss or default_loss(config.model)
    if not registry.info("loss", loss)["uses_targets"] and (config.real_label != 1.0 or config.label_noise > 0):
        raise UsageError(f"--real-label and --label-noise set targets, which the {loss} loss has none of; "
                         f"use them with {' or '.join(targets)}")
    if config.tensorboard and importlib.util.find_spec("tensorboard") is None:
        raise UsageError("--tensorboard needs the tensorboard package: pip install tensorboard")
    if config.r1 < 0:
        raise UsageError(f"r1 must be 0 (off) or positive, got {config.r1}")
    if config.gamma < 0:
        raise UsageError(f"gamma must be 0 (off) or positive, got {config.gamma}")
    _check_schedules(config)
    if config.ema is not None and config.ema != 0 and not 0 < config.ema < 1:
        raise UsageError(f"ema is a decay in (0, 1), e.g. 0.999, got {config.ema}")
    if not 0 < config.ada_target < 1:
        raise UsageError(f"ada-target must be in (0, 1), got {config.ada_target}")
    if config.limit is not None and config.limit < 1:
        raise UsageError(f"limit must be positive, got {config.limit}")
    if config.heldout is not None and config.heldout < 0:
        raise UsageError(f"heldout must be 0 (none) or positive, got {config.heldout}")
    if config.lr <= 0:
        raise UsageError(f"lr must be positive, got {config.lr}")
    if config.max_minutes is not None and config.max_minutes <= 0:
        raise UsageError(f"max-minutes must be positive, got {config.max_minutes}")
    if not 0 < config.real_label <= 1:
        raise UsageError(f"real-label is the target for real images in (0, 1], e.g. 0.9, got {config.real_label}")
    if not 0 <= config.label_noise < 0.5:
        raise UsageError(f"label-noise is a fraction in [0, 0.5), got {config.label_noise}")


def default_loss(model):
    """The loss a network family is trained with unless --loss says otherwise (its declared `loss`)."""
    return registry.info("network", model).get("loss", "nonsaturating") if model != "auto" else "nonsaturating"


def _refuse_for_classic(config):
    """The classic loop is the faithful Keras-2-style reference: BCE on P(real), nothing added."""
    modern = {"loss": config.loss not in (None, "nonsaturating"), "n-critic": config.n_critic != 1, "r1": config.r1 > 0,
              "augment": config.augment not in (None, "none"), "ema": bool(config.ema),
              "steps-per-execution": (config.steps_per_execution or 1) > 1, "freeze-d": bool(config.freeze_d),
              "share-fakes": bool(config.share_fakes),
              "conditional": config.conditional}
    used = [name for name, on in modern.items() if on]
    if used:
        raise UsageError(f"--{', --'.join(used)} need{'s' if len(used) == 1 else ''} the fused trainer: the classic "
                         "loop is the Keras 2 reference (binary cross-entropy on P(real), one D and one G call)")


def _check_schedules(config):
    """One line for a schedule that cannot apply: its setting is off, or its end is out of range."""
    loss = config.loss or default_loss(config.model)
    if config.gamma_end is not None and not registry.info("loss", loss).get("takes_gamma"):
        raise UsageError(f"--gamma-end schedules the gamma of --loss rpgan, not of {loss}")
    if config.gamma_end is not None and config.gamma_end < 0:
        raise UsageError(f"gamma-end must be 0 or positive, got {config.gamma_end}")
    if config.augment_p_end is not None and config.augment != "ada":
        raise UsageError("--augment-p-end schedules the probability of --augment ada")
    if config.ema_end is not None and not config.ema:
        raise UsageError("--ema-end schedules the moving average's decay: give --ema too")
    for name in ("beta_2", "beta_2_end", "ema_end", "augment_p_end"):
        value = getattr(config, name)
        if value is not None and not 0 <= value < 1:
            raise UsageError(f"{name.replace('_', '-')} must be in [0, 1), got {value}")
