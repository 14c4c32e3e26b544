"""Training runs: settings -> data -> models -> trainer -> callbacks -> a run folder.

Example:
    >>> result = train("mnist", epochs=2, steps_per_epoch=20, out="outputs/demo")
    >>> result = train("mnist", epochs=3, out="outputs/demo", resume=True)   # one more epoch
    >>> result.history["d_loss"]

A run folder holds `config.json`, `history.csv`, `samples/epoch-NNNN.png`, `losses.png`,
`progress.gif`, `fixed_noise.npy`, `checkpoints/`, with `tensorboard=True` a `tensorboard/` log, and at
the end `generator.keras`.
"""

import contextlib
import dataclasses
import json
import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_keras import recipe
from gan_keras.config import EPOCHS_UNTIL_BUDGET, resolve_config, validate
from gan_keras.errors import UsageError
from gan_keras.images import atomic_path


@dataclass
class RunResult:
    """What `train` returns: the folder, the trainer (`.sampler` draws its images), history and why it stopped."""

    out: Path
    trainer: object
    history: dict
    stop_reason: str | None
    epochs_done: int


def default_out(config):
    name = Path(config.dataset).stem if config.dataset not in ("mnist", "fashion_mnist", "anime") else config.dataset
    return Path("outputs") / f"{name}-{config.model}-{time.strftime('%Y%m%d-%H%M%S')}"


def whole_executions(steps_per_epoch, steps_per_execution):
    """Steps per epoch rounded down to whole executions (Keras would otherwise run past the epoch)."""
    return max(steps_per_execution, steps_per_epoch - steps_per_epoch % steps_per_execution)


def build_trainer(config, image_shape, strategy, num_classes=0):
    """Generator, discriminator (class-conditional with `num_classes`) and trainer inside the strategy's scope."""
    import keras

    from gan_keras.classic import ClassicGAN
    from gan_keras.fused import GAN, default_optimizer
    from gan_keras.models import Build_Disc, Build_Gen

    keras.utils.set_random_seed(config.seed)
    try:
        with strategy.scope():
            G = Build_Gen(config.model, config.latent_dim, image_shape, config.width, num_classes)
            D = Build_Disc(config.model, image_shape, config.width, num_classes)
            d_opt = default_optimizer(config.lr, beta_1=config.beta_1)
            g_opt = default_optimizer(config.lr, beta_1=config.beta_1)
            options = dict(real_label=config.real_label, label_noise=config.label_noise, seed=config.seed)
            if config.trainer == "classic":
                if strategy.num_replicas_in_sync > 1:
                    raise UsageError("the classic trainer runs on one device; use --trainer fused to distribute")
                return ClassicGAN(G, D, d_opt, g_opt, **options)
            gan = GAN(G, D, loss=config.loss, augment=config.augment, ada_target=config.ada_target, r1=config.r1,
                      n_critic=config.n_critic, ema=config.ema, **options)
            gan.compile(d_optimizer=d_opt, g_optimizer=g_opt, jit_compile=config.jit_compile,
                        steps_per_execution=config.steps_per_execution)
            return gan
    except ValueError as e:
        raise UsageError(f"cannot build model {config.model!r} for images {image_shape}: {e}") from None


def initialize_from(trainer, run_dir):
    """Copy G's and D's weights from another run's last checkpoint, or a shipped one's
    (`pretrained:NAME`); optimizer state is not copied."""
    from gan_keras.checkpoints import restore_networks
    from gan_keras.pretrained import run_folder

    try:
        restore_networks(run_folder(run_dir), generator=trainer.generator, discriminator=trainer.discriminator)
    except UsageError as e:
        raise UsageError(f"--init-from {run_dir}: {e}") from None
    if getattr(trainer, "ema", None):  # the average starts from the restored G, not the random one it cloned
        trainer.ema.average.set_weights(trainer.generator.get_weights())


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


def run_callbacks(config, trainer, write_dir, status, deadline, checkpoint, fixed_noise, data, global_batch):
    """The callbacks that write a run folder, in the order they must run; also returns the grid one."""
    from gan_keras import callbacks as cb

    history_path = write_dir / "history.csv"
    evaluation = (cb.EvalMetric(data.images, config.dataset, config.eval_every, data_dir=config.data_dir,
                                seed=config.seed, heldout=data.heldout, labels=data.labels,
                                heldout_labels=data.heldout_labels) if config.eval_every else None)
    grids = cb.SampleGrid(fixed_noise, write_dir / "samples", write_dir / "progress.gif", config.sample_every,
                          status)
    callbacks = [
        cb.StopGuard(status, deadline),
        cb.EpochTimer(global_batch),
        *([evaluation] if evaluation else []),
        cb.HistoryCSV(history_path, status, [*trainer.log_columns(), *(evaluation.columns if evaluation else [])]),
        cb.LossPlot(history_path, write_dir / "losses.png", title=f"{config.dataset} · {config.model}"),
        grids,
        *([cb.TensorBoardLog(write_dir / "tensorboard", write_dir / "samples", status)] if config.tensorboard else []),
        cb.Checkpointer(checkpoint, status, config.checkpoint_every_steps),
    ]
    return callbacks, grids


@contextlib.contextmanager
def one_writer(folder):
    """Hold `folder/.lock` while this process writes the run folder: a second `train --out` of the same
    folder gets one line naming the process that writes it. The lock is the operating system's
    (`flock`), so a killed process never leaves it stuck."""
    import fcntl

    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise UsageError(f"{folder} is being written by {holder}; wait for it to finish, or train into "
                             "another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"process {os.getpid()} on {socket.gethostname()}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def save_generator(generator, path):
    """`generator.keras`, written to a temporary file first so a crash never leaves half a file; with Keras's
    own BatchNormalization, so plain `keras.saving.load_model` reads it (`networks.with_keras_batch_norm`)."""
    from gan_keras.networks import with_keras_batch_norm

    tmp = atomic_path(path)
    with_keras_batch_norm(generator).save(tmp)
    os.replace(tmp, path)


@dataclass
class TrainingData:
    """The images a run trains on, their labels when conditional, and those `--limit` holds out."""

    images: np.ndarray
    labels: np.ndarray | None = None
    class_names: list | None = None
    heldout: np.ndarray | None = None
    heldout_labels: np.ndarray | None = None

    @classmethod
    def load(cls, config):
        from gan_keras.data import load_images, load_labeled_images

        if config.conditional:
            data = cls(*load_labeled_images(config.dataset, config.image_size, config.channels, config.data_dir))
        else:
            data = cls(load_images(config.dataset, config.image_size, config.channels, config.data_dir))
        if config.limit:
            data.images, data.heldout = data.images[:config.limit], data.images[config.limit:]
            if data.labels is not None:
                data.labels, data.heldout_labels = data.labels[:config.limit], data.labels[config.limit:]
        return data

    @property
    def num_classes(self):
        return len(self.class_names or [])


def train(dataset=None, out=None, resume=False, verbose=None, **settings):
    """Train a GAN into a run folder; see `RunConfig` for the settings. Returns a `RunResult`.

    With `resume=True`, continues the run in `out` from its last checkpoint up to `epochs` in total.
    """
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
    training_data = TrainingData.load(config)
    images = training_data.images
    image_shape = (config.image_size or images.shape[1], config.image_size or images.shape[2],
                   config.channels or images.shape[3])
    if verbose != 0:
        seconds = time.perf_counter() - read_start
        classes = f" in {training_data.num_classes} classes" if training_data.num_classes else ""
        print(f"data: {len(images):,} images of {'x'.join(map(str, images.shape[1:]))}{classes} from {config.dataset}, "
              f"read in {seconds:.1f} s ({len(images) / max(seconds, 1e-9):,.0f} images/s)", flush=True)

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
    effective, why_chosen = recipe.choose(config, image_shape, recipe.Device.of(strategy))
    for name in recipe.KEPT_ON_RESUME:  # they fix what the checkpoint holds
        setattr(config, name, getattr(effective, name))
    with precision_scope(effective.mixed_precision), contextlib.ExitStack() as writing:
        global_batch = config.batch_size * strategy.num_replicas_in_sync
        check_batch_size(global_batch, len(images))
        steps_per_epoch = whole_executions(config.steps_per_epoch or len(images) // global_batch,
                                           effective.steps_per_execution)
        trainer = build_trainer(effective, image_shape, strategy, training_data.num_classes)
        if config.init_from and not resume:
            initialize_from(trainer, config.init_from)
        if config.freeze_d:
            freeze_lower_layers(trainer.discriminator, config.freeze_d)

        chief = is_chief(strategy)
        write_dir = out if chief else Path(tempfile.mkdtemp(prefix="gan_keras_worker_"))
        write_dir.mkdir(parents=True, exist_ok=True)
        writing.enter_context(one_writer(write_dir))
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
            data = make_dataset(images, global_batch, image_shape, seed=config.seed, repeat=True, start=consumed,
                                labels=training_data.labels)
        record = {**dataclasses.asdict(config), "image_shape": list(image_shape), "images": len(images),
                  "class_names": training_data.class_names,
                  "steps_per_epoch": steps_per_epoch, "global_batch_size": global_batch,
                  "replicas": strategy.num_replicas_in_sync, "precision": keras.mixed_precision.global_policy().name,
                  "jit_compile_used": effective.jit_compile, "steps_per_execution_used": effective.steps_per_execution,
                  "chosen": {name: {"value": getattr(effective, name), "why": why}
                             for name, why in why_chosen.items()},
                  "tensorflow": tf.__version__,
                  "keras": keras.__version__}
        atomic_write_text(write_dir / "config.json", json.dumps(record, indent=2) + "\n")

        status = cb.RunStatus()
        deadline = started + config.max_minutes * 60 if config.max_minutes else None
        callbacks, grids = run_callbacks(config, trainer, write_dir, status, deadline, checkpoint, fixed_noise,
                                         training_data, global_batch)
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
        save_generator(trainer.sampler, write_dir / "generator.keras")
        if verbose != 0:
            reason = {"time": f"stopped at the {config.max_minutes}-minute budget",
                      "signal": f"stopped by {status.detail}"}.get(status.stop_reason, "done")
            print(f"{reason}: {epochs_done} epochs; run folder {out}", flush=True)
        return RunResult(out, trainer, read_history(write_dir / "history.csv"), status.stop_reason, epochs_done)


