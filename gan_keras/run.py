"""Training runs: settings -> data -> models -> trainer -> callbacks -> a run folder.

Example:
    >>> result = train("mnist", epochs=2, steps_per_epoch=20, out="outputs/demo")
    >>> result = train("mnist", epochs=3, out="outputs/demo", resume=True)   # one more epoch
    >>> result.history["d_loss"]

A run folder holds `config.json`, `history.csv`, `samples/epoch-NNNN.png`, `losses.png`,
`progress.gif`, `fixed_noise.npy`, `checkpoints/`, with `tensorboard=True` a `tensorboard/` log, and at
the end `generator.keras`.
"""

import dataclasses
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_keras.errors import UsageError


@dataclass
class RunConfig:
    """Every setting of a run; saved as `config.json` and read back by `--resume`."""

    dataset: str = "mnist"
    model: str = "auto"  # mlp for small grayscale images (measured best there on CPU), else dcgan
    trainer: str = "fused"
    epochs: int | None = None  # default: 10, or as many as --max-minutes allows when it is given
    steps_per_epoch: int | None = None  # default: one pass over the data
    batch_size: int = 64  # per replica
    latent_dim: int = 100
    width: int = 64
    lr: float = 2e-4
    beta_1: float = 0.5
    image_size: int | None = None  # default: the data's own
    channels: int | None = None  # default: the data's own
    real_label: float = 1.0
    label_noise: float = 0.0
    walk_data: bool = False  # classic trainer: walk the data by a moving start index, unshuffled
    limit: int | None = None  # train on the first N images only (a small target set)
    init_from: str | None = None  # start from the G and D weights of another run (transfer learning)
    freeze_d: int = 0  # FreezeD: keep the lowest N convolution blocks of D fixed
    sample_every: int = 1
    checkpoint_every_steps: int = 0
    eval_every: int = 0
    tensorboard: bool = False  # also write scalars and grids to RUN/tensorboard/
    max_minutes: float | None = None
    seed: int = 0
    data_dir: str | None = None
    strategy: str = "auto"
    mixed_precision: str | None = None  # "auto", "bfloat16" or "float16" (see distribute.precision_policy)
    jit_compile: bool | None = None  # default: on with a GPU, off on CPU (slower there)
    steps_per_execution: int | None = None  # default: 8 on one GPU, else 1 (see accelerator_defaults)


# Settings that fix the shape of the networks: a resumed run must keep them.
SHAPE_SETTINGS = ("dataset", "model", "latent_dim", "width", "image_size", "channels", "trainer", "freeze_d")


@dataclass
class RunResult:
    """What `train` returns: the folder, the trainer (with `.generator`), history and why it stopped."""

    out: Path
    trainer: object
    history: dict
    stop_reason: str | None
    epochs_done: int


def default_out(config):
    name = Path(config.dataset).stem if config.dataset not in ("mnist", "fashion_mnist", "anime") else config.dataset
    return Path("outputs") / f"{name}-{config.model}-{time.strftime('%Y%m%d-%H%M%S')}"


def load_config(out):
    path = Path(out) / "config.json"
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
        if key in SHAPE_SETTINGS and value != getattr(config, key):
            raise UsageError(f"--resume: this run was trained with {key}={getattr(config, key)!r}, "
                             f"not {value!r}; use another --out for a new run")
        setattr(config, key, value)
    return config


DEFAULT_EPOCHS = 10
EPOCHS_UNTIL_BUDGET = 100_000  # "until --max-minutes runs out"


def validate(config):
    if config.epochs is None:
        config.epochs = EPOCHS_UNTIL_BUDGET if config.max_minutes else DEFAULT_EPOCHS
    positive = {"epochs": config.epochs, "batch_size": config.batch_size, "latent_dim": config.latent_dim,
                "sample_every": config.sample_every}
    for optional in ("steps_per_epoch", "steps_per_execution"):
        if getattr(config, optional) is not None:
            positive[optional] = getattr(config, optional)
    for name, value in positive.items():
        if value < 1:
            raise UsageError(f"{name.replace('_', '-')} must be a positive number, got {value}")
    if config.eval_every < 0 or config.checkpoint_every_steps < 0:
        raise UsageError("eval-every and checkpoint-every-steps must be 0 (off) or positive")
    if config.trainer == "classic" and (config.steps_per_execution or 1) > 1:
        raise UsageError("steps-per-execution needs the fused trainer: the classic loop calls Keras once per step")
    if config.freeze_d and config.trainer == "classic":
        raise UsageError("freeze-d needs the fused trainer: the classic loop unfreezes all of D for its step")
    if config.limit is not None and config.limit < 1:
        raise UsageError(f"limit must be positive, got {config.limit}")
    if config.init_from and not Path(config.init_from, "checkpoints", "checkpoint").is_file():
        raise UsageError(f"--init-from {config.init_from}: no checkpoint there")
    if config.lr <= 0:
        raise UsageError(f"lr must be positive, got {config.lr}")
    if config.max_minutes is not None and config.max_minutes <= 0:
        raise UsageError(f"max-minutes must be positive, got {config.max_minutes}")
    if config.trainer not in ("fused", "classic"):
        raise UsageError(f"unknown trainer {config.trainer!r}; choose fused or classic")
    if not 0 <= config.label_noise < 0.5:
        raise UsageError(f"label-noise is a fraction in [0, 0.5), got {config.label_noise}")


def auto_model(size, channels):
    """The default network for images of this size: "mlp" for grayscale up to 32x32, else "dcgan".

    On 2 CPU cores, 5 minutes of MNIST gave a domain FID of 9.7 with the MLP and 17.7-21 with DCGAN
    variants (README, "Defaults"); the MLP cannot scale to colour faces, where DCGAN is the choice.
    """
    return "mlp" if channels == 1 and size <= 32 else "dcgan"


def accelerator_defaults(config, strategy):
    """A copy of `config` with `jit_compile` and `steps_per_execution`, where unset, chosen by device.

    On one GPU: XLA on and 8 steps per call into TensorFlow, since a fast device idles while Python
    starts each step. On a CPU: XLA off (the DCGAN steps ran 1.3x-1.5x slower with it on 2 cores)
    and one step per call (8 gained no more than the run-to-run spread there; docs/BENCHMARKS.md).
    Under a multi-replica strategy one step per call: Keras 3.15 wraps each of several steps in a
    `tf.cond`, where the optimizer's cross-replica update fails (keras-team/keras#19246).
    The saved config keeps unset values unset, so a run resumed elsewhere gets that machine's choice.
    """
    import tensorflow as tf

    accelerated = bool(tf.config.list_physical_devices("GPU")) or isinstance(strategy, tf.distribute.TPUStrategy)
    replicas = strategy.num_replicas_in_sync
    if (config.steps_per_execution or 1) > 1 and replicas > 1:
        raise UsageError(f"--steps-per-execution {config.steps_per_execution} fails with {replicas} replicas on "
                         "Keras 3.15 (keras-team/keras#19246); leave it at 1 when distributing")
    jit = accelerated if config.jit_compile is None else config.jit_compile
    per_call = config.steps_per_execution or (8 if accelerated and replicas == 1 and config.trainer == "fused" else 1)
    return dataclasses.replace(config, jit_compile=jit, steps_per_execution=per_call)


def whole_executions(steps_per_epoch, steps_per_execution):
    """Steps per epoch rounded down to whole executions (Keras would otherwise run past the epoch)."""
    return max(steps_per_execution, steps_per_epoch - steps_per_epoch % steps_per_execution)


def build_trainer(config, image_shape, strategy):
    """Generator, discriminator and trainer inside the strategy's scope."""
    import keras

    from gan_keras.classic import ClassicGAN
    from gan_keras.fused import GAN
    from gan_keras.models import Build_Disc, Build_Gen

    keras.utils.set_random_seed(config.seed)
    try:
        with strategy.scope():
            G = Build_Gen(config.model, config.latent_dim, image_shape, config.width)
            D = Build_Disc(config.model, image_shape, config.width)
            d_opt = keras.optimizers.Adam(config.lr, beta_1=config.beta_1)
            g_opt = keras.optimizers.Adam(config.lr, beta_1=config.beta_1)
            options = dict(real_label=config.real_label, label_noise=config.label_noise, seed=config.seed)
            if config.trainer == "classic":
                if strategy.num_replicas_in_sync > 1:
                    raise UsageError("the classic trainer runs on one device; use --trainer fused to distribute")
                return ClassicGAN(G, D, d_opt, g_opt, **options)
            gan = GAN(G, D, **options)
            gan.compile(d_optimizer=d_opt, g_optimizer=g_opt, jit_compile=config.jit_compile,
                        steps_per_execution=config.steps_per_execution)
            return gan
    except ValueError as e:
        raise UsageError(f"cannot build model {config.model!r} for images {image_shape}: {e}") from None


def initialize_from(trainer, run_dir):
    """Copy G's and D's weights from another run's last checkpoint (optimizer state is not copied)."""
    import tensorflow as tf

    from gan_keras.checkpoints import restore_newest

    try:
        restore_newest(tf.train.Checkpoint(generator=trainer.generator, discriminator=trainer.discriminator),
                       Path(run_dir) / "checkpoints")
    except UsageError as e:
        raise UsageError(f"--init-from {run_dir}: {e}") from None


def freeze_lower_layers(discriminator, blocks):
    """FreezeD (Mo et al. 2020): make D's lowest `blocks` convolution blocks untrainable.

    A block is a Conv2D (or Dense) with the layers that follow it up to the next one.
    """
    import keras

    weighted = [i for i, layer in enumerate(discriminator.layers)
                if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    if blocks >= len(weighted):
        raise UsageError(f"freeze-d {blocks}: D has only {len(weighted)} weighted layers")
    for layer in discriminator.layers[:weighted[blocks]]:
        layer.trainable = False


def run_callbacks(config, write_dir, status, deadline, checkpoint, fixed_noise, images, global_batch):
    """The callbacks that write a run folder, in the order they must run; also returns the grid one."""
    from gan_keras import callbacks as cb

    history_path = write_dir / "history.csv"
    evaluation = (cb.EvalMetric(images, config.dataset, config.eval_every, data_dir=config.data_dir,
                                seed=config.seed) if config.eval_every else None)
    grids = cb.SampleGrid(fixed_noise, write_dir / "samples", write_dir / "progress.gif", config.sample_every,
                          status)
    callbacks = [
        cb.StopGuard(status, deadline),
        cb.EpochTimer(global_batch),
        *([evaluation] if evaluation else []),
        cb.HistoryCSV(history_path, status, [evaluation.column] if evaluation else []),
        cb.LossPlot(history_path, write_dir / "losses.png", title=f"{config.dataset} · {config.model}"),
        grids,
        *([cb.TensorBoardLog(write_dir / "tensorboard", write_dir / "samples", status)] if config.tensorboard else []),
        cb.Checkpointer(checkpoint, status, config.checkpoint_every_steps),
    ]
    return callbacks, grids


def save_generator(generator, path):
    """`generator.keras`, written to a temporary file first so a crash never leaves half a file."""
    tmp = Path(path).with_name(".generator.tmp.keras")
    generator.save(tmp)
    os.replace(tmp, path)


def train(dataset=None, out=None, resume=False, verbose=None, **settings):
    """Train a GAN into a run folder; see `RunConfig` for the settings. Returns a `RunResult`.

    With `resume=True`, continues the run in `out` from its last checkpoint up to `epochs` in total.
    """
    from gan_keras.data import load_images

    started = time.monotonic()
    if dataset is not None:
        settings["dataset"] = dataset
    if resume and out is None:
        raise UsageError("--resume needs --out: the run folder to continue")
    config = resolve_config(out, resume, settings)
    validate(config)
    out = Path(out) if out is not None else default_out(config)
    ckpt_dir = out / "checkpoints"
    if resume and not (ckpt_dir / "checkpoint").is_file():
        raise UsageError(f"--resume: no checkpoint in {ckpt_dir}")
    if not resume and (ckpt_dir / "checkpoint").is_file():
        raise UsageError(f"{out} already holds a run; add --resume to continue it, or choose another --out")
    read_start = time.perf_counter()
    images = load_images(config.dataset, config.image_size, config.channels, config.data_dir)
    if config.limit:
        images = images[:config.limit]
    image_shape = (config.image_size or images.shape[1], config.image_size or images.shape[2],
                   config.channels or images.shape[3])
    if verbose != 0:
        seconds = time.perf_counter() - read_start
        print(f"data: {len(images):,} images of {'x'.join(map(str, images.shape[1:]))} from {config.dataset}, "
              f"read in {seconds:.1f} s ({len(images) / max(seconds, 1e-9):,.0f} images/s)", flush=True)
    if config.model == "auto":
        config.model = auto_model(image_shape[0], image_shape[2])

    import keras  # TensorFlow loads here, after the checks that need none
    import tensorflow as tf

    from gan_keras import callbacks as cb
    from gan_keras.checkpoints import RunCheckpoint
    from gan_keras.data import check_batch_size, make_dataset, to_model_range, walk_batches
    from gan_keras.distribute import is_chief, make_strategy, precision_scope
    from gan_keras.images import atomic_write_text, read_history
    from gan_keras.noise import latent_noise

    keras.utils.set_random_seed(config.seed)  # before the dataset: its shuffle order depends on it
    strategy = make_strategy(config.strategy, verbose=verbose != 0)
    with precision_scope(config.mixed_precision):
        global_batch = config.batch_size * strategy.num_replicas_in_sync
        check_batch_size(global_batch, len(images))
        effective = accelerator_defaults(config, strategy)
        steps_per_epoch = whole_executions(config.steps_per_epoch or len(images) // global_batch,
                                           effective.steps_per_execution)
        trainer = build_trainer(effective, image_shape, strategy)
        if config.init_from and not resume:
            initialize_from(trainer, config.init_from)
        if config.freeze_d:
            freeze_lower_layers(trainer.discriminator, config.freeze_d)

        chief = is_chief(strategy)
        write_dir = out if chief else Path(tempfile.mkdtemp(prefix="gan_keras_worker_"))
        write_dir.mkdir(parents=True, exist_ok=True)
        with strategy.scope():
            checkpoint = RunCheckpoint((out if resume else write_dir) / "checkpoints", trainer)
        start_epoch = 0
        if resume:
            start_epoch = checkpoint.restore()
            for optimizer in (trainer.d_optimizer, trainer.g_optimizer):
                optimizer.learning_rate = config.lr  # the checkpoint holds the old rate; --lr may change it
            if not chief:
                checkpoint = RunCheckpoint(write_dir / "checkpoints", trainer)
            cb.HistoryCSV.truncate(write_dir / "history.csv", start_epoch)
            fixed_noise = np.load(out / "fixed_noise.npy")
        else:
            fixed_noise = latent_noise(config.seed, 0, 64, config.latent_dim, stream=1000).numpy()
            np.save(write_dir / "fixed_noise.npy", fixed_noise)
        consumed = int(trainer.g_optimizer.iterations.numpy()) * global_batch  # images read before a resume
        if config.walk_data and config.trainer == "classic":
            data = (to_model_range(b, image_shape).numpy()
                    for b in walk_batches(images, global_batch, consumed % len(images)))
        else:
            data = make_dataset(images, global_batch, image_shape, seed=config.seed, repeat=True, start=consumed)
        record = {**dataclasses.asdict(config), "image_shape": list(image_shape), "images": len(images),
                  "steps_per_epoch": steps_per_epoch, "global_batch_size": global_batch,
                  "replicas": strategy.num_replicas_in_sync, "precision": keras.mixed_precision.global_policy().name,
                  "jit_compile_used": effective.jit_compile, "steps_per_execution_used": effective.steps_per_execution,
                  "tensorflow": tf.__version__,
                  "keras": keras.__version__}
        atomic_write_text(write_dir / "config.json", json.dumps(record, indent=2) + "\n")

        status = cb.RunStatus()
        deadline = started + config.max_minutes * 60 if config.max_minutes else None
        callbacks, grids = run_callbacks(config, write_dir, status, deadline, checkpoint, fixed_noise, images,
                                         global_batch)
        if verbose is None:
            verbose = 1 if sys.stdout.isatty() else 2
        if start_epoch >= config.epochs:
            print(f"{out}: already trained {start_epoch} of {config.epochs} epochs; nothing to do", flush=True)
        else:
            if config.epochs == EPOCHS_UNTIL_BUDGET and verbose != 0:
                print(f"training until the {config.max_minutes}-minute budget is spent "
                      f"({steps_per_epoch} steps of {global_batch} images per epoch)", flush=True)
            restore_signals = status.handle_signals()
            try:
                trainer.fit(data, epochs=config.epochs, steps_per_epoch=steps_per_epoch, initial_epoch=start_epoch,
                            callbacks=callbacks, verbose=verbose, **({} if config.trainer == "classic"
                                                                      else {"shuffle": False}))
            finally:
                restore_signals()
        epochs_done = int(checkpoint.epoch.numpy()) if checkpoint.latest else start_epoch
        if status.stop_reason == "diverged":
            last = f"epoch {epochs_done}" if checkpoint.latest else "none"
            raise UsageError(f"training diverged: {status.detail}. Kept the last good checkpoint ({last}); "
                             f"resume it with a lower learning rate, e.g. --resume --out {out} --lr {config.lr / 2:g}")
        grids.set_model(trainer)
        if not (write_dir / "samples" / f"epoch-{epochs_done:04d}.png").is_file():
            grids.save(epochs_done)
        save_generator(trainer.generator, write_dir / "generator.keras")
        if verbose != 0:
            reason = {"time": f"stopped at the {config.max_minutes}-minute budget",
                      "signal": f"stopped by {status.detail}"}.get(status.stop_reason, "done")
            print(f"{reason}: {epochs_done} epochs; run folder {out}", flush=True)
        return RunResult(out, trainer, read_history(write_dir / "history.csv"), status.stop_reason, epochs_done)


def load_generator(run_dir):
    """The generator of a run: `generator.keras`, or rebuilt from config + newest readable checkpoint.

    A damaged `generator.keras` (a copy that stopped half way) is skipped with a warning.
    """
    import warnings

    import keras

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"run folder {run_dir} does not exist")
    saved_model = run_dir / "generator.keras"
    if saved_model.is_file():
        try:
            return keras.saving.load_model(saved_model, compile=False)
        except Exception as e:  # a cut-short zip raises ValueError, BadZipFile, OSError, EOFError ...
            warnings.warn(f"{saved_model} is damaged ({type(e).__name__}); rebuilding the generator from "
                          "the checkpoints", stacklevel=2)
    config, saved = load_config(run_dir)
    import tensorflow as tf

    from gan_keras.checkpoints import restore_newest
    from gan_keras.models import Build_Gen

    generator = Build_Gen(config.model, config.latent_dim, tuple(saved["image_shape"]), config.width)
    restore_newest(tf.train.Checkpoint(generator=generator), run_dir / "checkpoints")
    return generator


def generate(generator, n, seed=0, batch_size=256):
    """`n` images in [-1, 1] from a generator, in batches, seeded."""
    from gan_keras.noise import latent_noise

    latent_dim = int(generator.inputs[0].shape[-1])
    parts = [np.asarray(generator(latent_noise(seed, i, min(batch_size, n - i), latent_dim, stream=2000),
                                  training=False)) for i in range(0, n, batch_size)]
    return np.concatenate(parts)[:n]
