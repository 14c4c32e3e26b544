"""Training runs: settings -> data -> models -> trainer -> callbacks -> a run folder.

Example:
    >>> result = train("mnist", epochs=2, steps_per_epoch=20, out="outputs/demo", verbose=0)
    >>> result = train("mnist", epochs=3, out="outputs/demo", resume=True, verbose=0)   # one more epoch
    >>> result.history["epoch"], result.epochs_done
    ([1.0, 2.0, 3.0], 3)

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

from gan_keras import registry
from gan_keras.errors import UsageError
from gan_keras.runs.config import checked_config
from gan_keras.training import recipe
from gan_keras.training.config import EPOCHS_UNTIL_BUDGET
from gan_keras.training.trainer import Trainer


@dataclass
class RunResult:
    """What `train` returns: the folder, the trainer (`.sampler` draws its images), history and why it stopped."""

    out: Path
    trainer: Trainer
    history: dict
    stop_reason: str | None
    epochs_done: int


def default_out(config):
    name = config.dataset if config.dataset in registry.names("dataset") else Path(config.dataset).stem
    return Path("outputs") / f"{name}-{config.model}-{time.strftime('%Y%m%d-%H%M%S')}"


def whole_executions(steps_per_epoch, steps_per_execution):
    """Steps per epoch rounded down to whole executions (Keras would otherwise run past the epoch)."""
    return max(steps_per_execution, steps_per_epoch - steps_per_epoch % steps_per_execution)


def build_trainer(config, image_shape, strategy, num_classes=0):
    """Generator, discriminator (class-conditional with `num_classes`) and the trainer `config.trainer`
    names (`gan_keras.training.trainer.Trainer`), inside the strategy's scope."""
    import keras

    from gan_keras.networks.build import Build_Disc, Build_Gen
    from gan_keras.training.fused import default_optimizer

    keras.utils.set_random_seed(config.seed)
    try:
        with strategy.scope():
            G = Build_Gen(config.model, config.latent_dim, image_shape, config.width, num_classes)
            D = Build_Disc(config.model, image_shape, config.width, num_classes)
            d_opt = default_optimizer(config.lr, beta_1=config.beta_1)
            g_opt = default_optimizer(config.lr, beta_1=config.beta_1)
            trainer = registry.get("trainer", config.trainer).for_run(G, D, d_opt, g_opt, config, strategy)
    except ValueError as e:
        raise UsageError(f"cannot build model {config.model!r} for images {image_shape}: {e}") from None
    if not isinstance(trainer, Trainer):
        raise TypeError(f"the {config.trainer!r} trainer lacks part of gan_keras.training.trainer.Trainer")
    return trainer


def run_callbacks(config, trainer, write_dir, status, deadline, checkpoint, fixed_noise, data, global_batch,
                  started=None):
    """The callbacks that write a run folder, in the order they must run; also returns the grid one."""
    from gan_keras.files import read_history
    from gan_keras.runs import callbacks as cb
    from gan_keras.training.callbacks import EpochTimer, StopGuard
    from gan_keras.training.recording import RecordingClock
    from gan_keras.training.schedule import RunSchedule, progress_of, schedules_of

    history_path = write_dir / "history.csv"
    clock = RecordingClock(shares={"metrics": config.eval_share})
    # --eval-every's callback is declared by the metrics (a layer above this one), found by name
    evaluation = (registry.get("callback", "evaluation")(
                      data.images, config.dataset, config.eval_every, config.eval_samples,
                                data_dir=config.data_dir, seed=config.seed, heldout=data.heldout, labels=data.labels,
                                heldout_labels=data.heldout_labels, clock=clock, best_dir=write_dir / "best")
                  if config.eval_every else None)
    grids = cb.SampleGrid(fixed_noise, write_dir / "samples", write_dir / "progress.gif", config.sample_every,
                          status, clock)
    timer = EpochTimer(global_batch, clock)
    by_time = config.epochs == EPOCHS_UNTIL_BUDGET and deadline is not None  # else over the epochs, across resumes
    schedules = schedules_of(config, trainer)
    done = progress_of(read_history(history_path)) if by_time else 0.0  # a resumed run goes on from there
    schedule = (RunSchedule(schedules, config.lr_decay_start, config.schedule, config.epochs, started,
                            deadline if by_time else None, done=done) if schedules else None)
    callbacks = [
        StopGuard(status, deadline),
        timer,
        *([schedule] if schedule else []),
        *([evaluation] if evaluation else []),
        cb.HistoryCSV(history_path, status, [*trainer.log_columns(), *(schedule.columns if schedule else []),
                                             *(evaluation.columns if evaluation else [])]),
        cb.LossPlot(history_path, write_dir / "losses.png", title=f"{config.dataset} · {config.model}", clock=clock),
        grids,
        *([cb.TensorBoardLog(write_dir / "tensorboard", write_dir / "samples", status, clock)]
          if config.tensorboard else []),
        cb.Checkpointer(checkpoint, status, config.checkpoint_every_steps, clock),
    ]
    return callbacks, Recording(grids, timer, clock)


@dataclass
class Recording:
    """What `fit` hands `finish`: the grid writer, and where the run's seconds went."""

    grids: object  # callbacks.SampleGrid
    timer: object  # callbacks.EpochTimer
    clock: object  # recording.RecordingClock

    def summary(self, wall_seconds):
        """'1,650 s of 1,780 in training steps (92.7%), 61 s recording (grids 20.1 s, ...)'."""
        steps, recording = self.timer.step_seconds, self.clock.total
        line = (f"{steps:,.0f} s of {wall_seconds:,.0f} in {self.timer.steps_done:,} training steps "
                f"({100 * steps / max(wall_seconds, 1e-9):.1f}%), {recording:,.1f} s recording")
        return line + (f" ({self.clock.summary()})" if recording else "")


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


@dataclass
class TrainingData:
    """The images a run trains on, their labels when conditional, and those it holds out (`--heldout`,
    `--limit`)."""

    images: np.ndarray
    labels: np.ndarray | None = None
    class_names: list | None = None
    heldout: np.ndarray | None = None
    heldout_labels: np.ndarray | None = None

    @classmethod
    def load(cls, config):
        from gan_keras.data.load import load_images, load_labeled_images, split_for_training

        if config.conditional:
            data = cls(*load_labeled_images(config.dataset, config.image_size, config.channels, config.data_dir))
        else:
            data = cls(load_images(config.dataset, config.image_size, config.channels, config.data_dir))
        data.images, data.heldout = split_for_training(data.images, config.limit, config.heldout)
        data.labels, data.heldout_labels = split_for_training(data.labels, config.limit, config.heldout)
        return data

    @property
    def num_classes(self):
        return len(self.class_names or [])


@dataclass
class Plan:
    """Phase 1's result: what the run will be, settled before TensorFlow loads."""

    config: object  # RunConfig
    out: Path
    resume: bool
    data: TrainingData
    image_shape: tuple
    started: float


@dataclass
class Built:
    """Phase 2's result: the strategy, the recipe's choices and the trainer."""

    strategy: object
    effective: object  # the RunConfig with every unset setting chosen
    why_chosen: dict
    trainer: Trainer
    global_batch: int
    steps_per_epoch: int


@dataclass
class Start:
    """Phase 3's result: where training starts, and what it writes into."""

    write_dir: Path
    checkpoint: object
    epoch: int
    fixed_noise: np.ndarray


def has_checkpoints(out):
    """Whether a run folder holds a checkpoint of either kind (TensorFlow's index, or an .npz)."""
    folder = Path(out) / "checkpoints"
    return (folder / "checkpoint").is_file() or any(folder.glob("ckpt-*.npz"))


def check_same_backend(out):
    """A run resumes on the backend that wrote its checkpoints (folders from before this was recorded
    were TensorFlow's); one line otherwise."""
    from gan_keras import backend
    from gan_keras.files import read_json

    path = Path(out) / "config.json"
    written = read_json(path, "the run's config").get("backend", "tensorflow") if path.is_file() else None
    if written and written != backend.name():
        raise UsageError(f"{out} was trained on {written}; resume it with KERAS_BACKEND={written} "
                         f"(this process runs Keras on {backend.name()})")


def plan_run(dataset, out, resume, settings, verbose):
    """Phase 1, plan: the settings resolved and checked, the folder checked, the images read."""
    started = time.monotonic()
    if dataset is not None:
        settings["dataset"] = dataset
    if resume and out is None:
        raise UsageError("--resume needs --out: the run folder to continue")
    config = checked_config(out, resume, settings)
    out = Path(out) if out is not None else default_out(config)
    has_checkpoint = has_checkpoints(out)
    if resume and not has_checkpoint:
        raise UsageError(f"--resume: no checkpoint in {out / 'checkpoints'}")
    if resume:
        check_same_backend(out)
    if not resume and has_checkpoint:
        raise UsageError(f"{out} already holds a run; add --resume to continue it, or choose another --out")
    read_start = time.perf_counter()
    data = TrainingData.load(config)
    images = data.images
    image_shape = (config.image_size or images.shape[1], config.image_size or images.shape[2],
                   config.channels or images.shape[3])
    if verbose != 0:
        seconds = time.perf_counter() - read_start
        classes = f" in {data.num_classes} classes" if data.num_classes else ""
        print(f"data: {len(images):,} images of {'x'.join(map(str, images.shape[1:]))}{classes} from {config.dataset}, "
              f"read in {seconds:.1f} s ({len(images) / max(seconds, 1e-9):,.0f} images/s)", flush=True)
    return Plan(config, out, resume, data, image_shape, started)


def choose_settings(plan, verbose):
    """Phase 2a: the strategy, and the recipe's choice of every unset setting for this device; the
    chosen settings that fix the checkpoint or shape the run go into the run's own config (a resume
    keeps them)."""
    from gan_keras import backend

    if backend.is_tensorflow():
        from gan_keras.quiet_tensorflow import import_tensorflow

        import_tensorflow()
    import keras

    from gan_keras.training.config import fixed_by_checkpoint
    from gan_keras.training.distribute import make_strategy

    keras.utils.set_random_seed(plan.config.seed)  # before the dataset: its shuffle order depends on it
    strategy = make_strategy(plan.config.strategy, verbose=verbose != 0)
    effective, why_chosen = recipe.choose(plan.config, plan.image_shape, recipe.Device.of(strategy),
                                          len(plan.data.images))
    for name in (*fixed_by_checkpoint(), *recipe.CHOSEN_ONCE):
        if name in why_chosen:
            setattr(plan.config, name, getattr(effective, name))
    return strategy, effective, why_chosen


def build(plan, strategy, effective, why_chosen):
    """Phase 2b, build: G, D and the trainer, started from `--init-from` and with `--freeze-d` applied."""
    from gan_keras.data.pipeline import check_batch_size
    from gan_keras.runs.transfer import freeze_lower_layers, initialize_from

    config = plan.config
    global_batch = config.batch_size * strategy.num_replicas_in_sync
    check_batch_size(global_batch, len(plan.data.images))
    steps_per_epoch = whole_executions(config.steps_per_epoch or len(plan.data.images) // global_batch,
                                       effective.steps_per_execution)
    trainer = build_trainer(effective, plan.image_shape, strategy, plan.data.num_classes)
    if config.init_from and not plan.resume:
        initialize_from(trainer, config.init_from)
    if config.freeze_d:
        freeze_lower_layers(trainer.discriminator, config.freeze_d)
    return Built(strategy, effective, why_chosen, trainer, global_batch, steps_per_epoch)


def restore_or_start(plan, built, writing):
    """Phase 3: claim the run folder (one writer), then restore the last checkpoint or start anew."""
    import keras

    from gan_keras.runs.callbacks import HistoryCSV
    from gan_keras.runs.checkpoints import RunCheckpoint
    from gan_keras.training.distribute import is_chief
    from gan_keras.training.noise import Stream, latent_noise

    chief = is_chief(built.strategy)
    write_dir = plan.out if chief else Path(tempfile.mkdtemp(prefix="gan_keras_worker_"))
    write_dir.mkdir(parents=True, exist_ok=True)
    writing.enter_context(one_writer(write_dir))
    with built.strategy.scope():
        checkpoint = RunCheckpoint((plan.out if plan.resume else write_dir) / "checkpoints", built.trainer)
    if not plan.resume:
        fixed_noise = keras.ops.convert_to_numpy(
            latent_noise(plan.config.seed, 0, 64, plan.config.latent_dim, stream=Stream.FIXED_NOISE))
        np.save(write_dir / "fixed_noise.npy", fixed_noise)
        return Start(write_dir, checkpoint, 0, fixed_noise)
    epoch = checkpoint.restore()
    for optimizer in (built.trainer.d_optimizer, built.trainer.g_optimizer):
        optimizer.learning_rate = plan.config.lr  # the checkpoint holds the old rate; --lr may change it
    if not chief:
        checkpoint = RunCheckpoint(write_dir / "checkpoints", built.trainer)
    HistoryCSV.truncate(write_dir / "history.csv", epoch)
    return Start(write_dir, checkpoint, epoch, np.load(plan.out / "fixed_noise.npy"))


def record(plan, built, start):
    """Phase 4: `config.json`, every setting and what the recipe chose and why, with the versions."""
    import keras

    from gan_keras import backend
    from gan_keras.files import atomic_write_text

    effective = built.effective
    saved = {**dataclasses.asdict(plan.config), "image_shape": list(plan.image_shape), "images": len(plan.data.images),
             "class_names": plan.data.class_names, "steps_per_epoch": built.steps_per_epoch,
             "global_batch_size": built.global_batch, "replicas": built.strategy.num_replicas_in_sync,
             "precision": keras.mixed_precision.global_policy().name, "jit_compile_used": effective.jit_compile,
             "steps_per_execution_used": effective.steps_per_execution,
             "chosen": {name: {"value": getattr(effective, name), "why": why}
                        for name, why in built.why_chosen.items()},
             **backend.versions()}
    atomic_write_text(start.write_dir / "config.json", json.dumps(saved, indent=2) + "\n")


def fit(plan, built, start, verbose):
    """Phase 5: train from the start epoch with the run's callbacks, stopping cleanly on the budget, a
    signal or divergence; returns the run's epochs done and its status."""
    from gan_keras.training.callbacks import RunStatus

    config, trainer = plan.config, built.trainer
    from gan_keras.backend import to_numpy

    consumed = int(to_numpy(trainer.g_optimizer.iterations)) * built.global_batch  # images read before a resume
    data = trainer.training_batches(plan.data.images, plan.data.labels, plan.image_shape, built.global_batch,
                                    config.seed, consumed)
    status = RunStatus()
    deadline = plan.started + config.max_minutes * 60 if config.max_minutes else None
    callbacks, recording = run_callbacks(config, trainer, start.write_dir, status, deadline, start.checkpoint,
                                         start.fixed_noise, plan.data, built.global_batch, plan.started)
    if start.epoch >= config.epochs:
        print(f"{plan.out}: already trained {start.epoch} of {config.epochs} epochs; nothing to do", flush=True)
    else:
        if config.epochs == EPOCHS_UNTIL_BUDGET and verbose != 0:
            print(f"training until the {config.max_minutes}-minute budget is spent "
                  f"({built.steps_per_epoch} steps of {built.global_batch} images per epoch)", flush=True)
        restore_signals = status.handle_signals()
        try:
            trainer.fit(data, epochs=config.epochs, steps_per_epoch=built.steps_per_epoch, initial_epoch=start.epoch,
                        callbacks=callbacks, verbose=verbose, **trainer.fit_options)
        finally:
            restore_signals()
    epochs_done = start.checkpoint.last_epoch(default=start.epoch)
    return epochs_done, status, recording


def finish(plan, built, start, epochs_done, status, recording, verbose):
    """After fitting: the last grid and `generator.keras`, or one line for a diverged run."""
    from gan_keras.files import read_history
    from gan_keras.runs.best import best_summary
    from gan_keras.runs.checkpoints import save_generator
    config, out = plan.config, plan.out
    if status.stop_reason == "diverged":
        last = f"epoch {epochs_done}" if start.checkpoint.latest else "none"
        raise UsageError(f"training diverged: {status.detail}. Kept the last good checkpoint ({last}); "
                         f"resume it with a lower learning rate, e.g. --resume --out {out} --lr {config.lr / 2:g}")
    grids = recording.grids
    grids.set_model(built.trainer)
    if not (start.write_dir / "samples" / f"epoch-{epochs_done:04d}.png").is_file():
        grids.save(epochs_done)
        grids.write_gif()
    save_generator(built.trainer.sampler, start.write_dir / "generator.keras")
    if verbose != 0:
        reason = {"time": f"stopped at the {config.max_minutes}-minute budget",
                  "signal": f"stopped by {status.detail}"}.get(status.stop_reason, "done")
        print(f"{reason}: {epochs_done} epochs; run folder {out}; "
              f"{recording.summary(time.monotonic() - plan.started)}", flush=True)
        best = best_summary(start.write_dir, read_history(start.write_dir / "history.csv"))
        if best:
            print(best, flush=True)


def train(dataset=None, out=None, resume=False, verbose=None, **settings):
    """Train a GAN into a run folder; see `RunConfig` for the settings. Returns a `RunResult`.

    With `resume=True`, continues the run in `out` from its last checkpoint up to `epochs` in total.
    The phases: plan (no TensorFlow yet) -> choose and build -> restore or start -> record -> fit.
    """
    from gan_keras.files import read_history

    plan = plan_run(dataset, out, resume, settings, verbose)
    strategy, effective, why_chosen = choose_settings(plan, verbose)  # TensorFlow loads here

    from gan_keras.training.distribute import precision_scope

    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    with precision_scope(effective.mixed_precision), contextlib.ExitStack() as writing:
        built = build(plan, strategy, effective, why_chosen)
        start = restore_or_start(plan, built, writing)
        record(plan, built, start)
        epochs_done, status, recording = fit(plan, built, start, verbose)
        finish(plan, built, start, epochs_done, status, recording, verbose)
        return RunResult(plan.out, built.trainer, read_history(start.write_dir / "history.csv"), status.stop_reason,
                         epochs_done)
