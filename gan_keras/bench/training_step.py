"""`python -m gan_keras bench`: training speed of the fused trainer, the classic loop and a plain
reference loop on the same networks, batch and data, in one process, with a step-time breakdown.

The reference is the same algorithm (one D step, then one G step) written the usual way, as in the
TensorFlow DCGAN tutorial: one `tf.function` with two GradientTapes, called from a Python loop over
a `tf.data` dataset. The fused trainer does the same work, so any gap between them is overhead.

`bench_model("mlp")` times every loop on the MLP (about half a minute) and returns a dict of images/s,
GFLOP/s and milliseconds per part of the step.

Example:
Each loop is timed in several rounds, the loops taking turns, and the median round is reported:
on a shared or throttled machine one slow moment then cannot decide a comparison.
"""

import json
import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_keras.bench.flops import MODELS, cpu_peak_gflops, model_flops
from gan_keras.bench.profiling import profile_fit
from gan_keras.options import option
from gan_keras.training.recipe import cpu_info

LOOPS = ("fused", "reference", "compute", "classic")
SECONDS_PER_MEASUREMENT = 2.0  # how long one timed loop runs when --steps is not given


def reference_step(G, D, latent_dim, jit_compile=False):
    """The plain tf.function training step of the same algorithm, for comparison."""
    import keras
    import tensorflow as tf

    from gan_keras.training.fused import default_optimizer

    bce = keras.losses.BinaryCrossentropy()
    d_opt, g_opt = default_optimizer(), default_optimizer()
    if keras.mixed_precision.global_policy().compute_dtype == "float16":
        d_opt, g_opt = keras.optimizers.LossScaleOptimizer(d_opt), keras.optimizers.LossScaleOptimizer(g_opt)

    @tf.function(jit_compile=jit_compile)
    def step(real):
        batch = tf.shape(real)[0]
        fake = G(tf.random.normal((batch, latent_dim)), training=True)
        with tf.GradientTape() as tape:
            p_real, p_fake = D(real, training=True), D(fake, training=True)
            d_loss = 0.5 * (bce(tf.ones_like(p_real), p_real) + bce(tf.zeros_like(p_fake), p_fake))
            scaled = d_opt.scale_loss(d_loss)
        d_opt.apply_gradients(zip(tape.gradient(scaled, D.trainable_weights), D.trainable_weights))
        with tf.GradientTape() as tape:
            p_gen = D(G(tf.random.normal((batch, latent_dim)), training=True), training=True)
            g_loss = bce(tf.ones_like(p_gen), p_gen)
            scaled = g_opt.scale_loss(g_loss)
        g_opt.apply_gradients(zip(tape.gradient(scaled, G.trainable_weights), G.trainable_weights))
        return d_loss, g_loss

    return step


class _FitTimer:
    """Times `fit` from the start of its first step to the end of its last (not fit's set-up)."""

    def __init__(self, steps):
        import keras

        self.steps, self.marks = steps, []
        self.callback = keras.callbacks.LambdaCallback(
            on_train_batch_begin=lambda batch, logs: self.marks.append(time.perf_counter()) if batch == 0 else None,
            on_train_batch_end=lambda batch, logs: self.marks.append(time.perf_counter())
            if batch == steps - 1 else None)

    def seconds(self):
        return self.marks[-1] - self.marks[-2]


def bench_model(name, batch_size=64, steps=None, rounds=3, mixed_precision=None, jit_compile=None,
                steps_per_execution=1, width=None, augment=None, ema=None, profile_dir=None, share_fakes=None):
    """Training speed of the fused, reference and classic loops for one model; returns a dict.

    Args:
        name: "mlp", "dcgan" (28x28x1) or "dcgan64" (64x64x3).
        steps: timed steps per loop and round; default: about 2 seconds' worth of the model's step.
        rounds: the loops take turns this many times; the median round is reported.
        mixed_precision, jit_compile, width, augment, ema, share_fakes: as `train` takes them; left None, what
            `gan_keras.training.recipe` chooses for these images on this machine, so the fused loop times the
            step `train` runs. Precision applies to all loops; width to all; augmentation, EMA and
            shared fakes are the fused trainer's (the reference and classic loops are the plain algorithm).
        steps_per_execution: the fused trainer's steps per call into TensorFlow.
        profile_dir: also trace the fused step there and add `profile`, ms per step per op class.

    Reported `step_ms`: `input`, one batch from the tf.data pipeline alone; `compute`, the reference
    step on a batch already in memory (the floor any loop of this algorithm can reach); `reference`,
    `fused` and `classic`, each loop's whole step with its data. Their differences are overhead.
    """
    import keras
    import tensorflow as tf

    from gan_keras.data.pipeline import make_dataset, to_model_range
    from gan_keras.networks.build import Build_Disc, Build_Gen
    from gan_keras.training import recipe
    from gan_keras.training.classic import ClassicGAN
    from gan_keras.training.config import RunConfig
    from gan_keras.training.distribute import precision_scope
    from gan_keras.training.fused import GAN

    kind, shape = MODELS[name]
    latent_dim = 100
    settings, _ = recipe.choose(RunConfig(model=kind, width=width, augment=augment, ema=ema, share_fakes=share_fakes,
                                          mixed_precision=mixed_precision, jit_compile=jit_compile,
                                          steps_per_execution=steps_per_execution),
                                shape, recipe.Device.of(tf.distribute.get_strategy()))
    jit_compile, width = settings.jit_compile, settings.width
    with precision_scope(settings.mixed_precision):
        keras.utils.set_random_seed(0)
        pixels = np.random.default_rng(0).integers(0, 256, (max(4096, 4 * batch_size), *shape), dtype=np.uint8)
        dataset = make_dataset(pixels, batch_size, shape)  # what `train` feeds: shuffled, batched, prefetched
        in_memory = to_model_range(pixels[:batch_size])
        as_floats = to_model_range(pixels).numpy()  # the classic scripts index a float array in [-1, 1]
        rng = np.random.default_rng(0)

        def networks():
            return Build_Gen(kind, latent_dim, shape, width), Build_Disc(kind, shape, width)

        gan = GAN(*networks(), augment=settings.augment, ema=settings.ema or None, share_fakes=settings.share_fakes)
        gan.compile(jit_compile=jit_compile, steps_per_execution=steps_per_execution)
        classic = ClassicGAN(*networks())
        step = reference_step(*networks(), latent_dim, jit_compile)
        batches = iter(dataset)
        reference_batches = iter(dataset)

        def input_loop(n):
            for _ in range(n):
                next(batches)

        def reference_loop(n):  # the tutorial's `for image_batch in dataset: train_step(image_batch)`
            for _ in range(n):
                losses = step(next(reference_batches))
            float(losses[0])

        def compute_loop(n):
            for _ in range(n):
                losses = step(in_memory)
            float(losses[0])

        def classic_loop(n):
            for _ in range(n):
                classic.train_on_batch(as_floats[rng.integers(0, len(as_floats), batch_size)])

        def fused_loop(n):
            timer = _FitTimer(n)
            gan.fit(dataset, epochs=1, steps_per_epoch=n, verbose=0, shuffle=False, callbacks=[timer.callback])
            return timer.seconds()

        loops = {"fused": fused_loop, "reference": reference_loop, "compute": compute_loop, "classic": classic_loop}
        for loop in loops.values():  # warm-up: tracing, first allocations
            loop(2 * steps_per_execution)
        if steps is None:
            start = time.perf_counter()
            compute_loop(3)
            steps = int(np.clip(SECONDS_PER_MEASUREMENT / ((time.perf_counter() - start) / 3), 5, 1000))
        steps = -(-steps // steps_per_execution) * steps_per_execution  # whole executions

        seconds = {key: [] for key in (*LOOPS, "input")}
        for _ in range(rounds):
            for key, loop in loops.items():
                start = time.perf_counter()
                inside = loop(steps)
                seconds[key].append(inside if inside is not None else time.perf_counter() - start)
            start = time.perf_counter()
            input_loop(4 * steps)
            seconds["input"].append((time.perf_counter() - start) / 4)

        median = {key: float(np.median(values)) for key, values in seconds.items()}
        flops = model_flops(gan.generator, gan.discriminator, gan.share_fakes) * batch_size * steps
        profile = {} if profile_dir is None else {"profile": profile_fit(gan, dataset, steps, Path(profile_dir) / name)}
        return {
            "model": name, "image_shape": list(shape), "batch_size": batch_size, "steps": steps, "rounds": rounds,
            "precision": keras.mixed_precision.global_policy().name, "jit_compile": bool(jit_compile),
            "steps_per_execution": steps_per_execution, "width": width, "augment": settings.augment,
            "ema": settings.ema, "share_fakes": settings.share_fakes,
            **{f"{key}_images_per_s": round(steps * batch_size / median[key], 1)
               for key in ("fused", "classic", "reference")},
            "input_pipeline_images_per_s": round(steps * batch_size / median["input"], 1),
            "fused_vs_classic": round(median["classic"] / median["fused"], 2),
            "fused_vs_reference": round(median["reference"] / median["fused"], 2),
            "step_ms": {key: round(1000 * median[key] / steps, 3) for key in ("input", *LOOPS)},
            "step_ms_range": {key: [round(1000 * min(v) / steps, 3), round(1000 * max(v) / steps, 3)]
                              for key, v in seconds.items()},
            "gflop_per_step": round(flops / steps / 1e9, 3),
            "fused_gflop_per_s": round(flops / median["fused"] / 1e9, 2),
            **profile,
        }


def machine(threads=None):
    import platform

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    cores = threads or len(os.sched_getaffinity(0))
    info = {"cpus": os.cpu_count(), "cores_used": cores, "gpus": len(gpus), "platform": platform.platform(terse=True),
            "tensorflow": tf.__version__}
    model = cpu_info().get("model name")
    if model:
        info["cpu"] = model
    if gpus:
        info["gpu"] = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    else:
        info["float32_peak_gflops"] = cpu_peak_gflops(cores)
    return info


def _print_tables(results, peak_gflops=None):
    print(f"\n{'model':<9} {'fused img/s':>12} {'classic img/s':>14} {'plain img/s':>12} "
          f"{'fused/classic':>14} {'fused/plain':>12} {'input img/s':>12}")
    for r in results:
        print(f"{r['model']:<9} {r['fused_images_per_s']:>12.1f} {r['classic_images_per_s']:>14.1f} "
              f"{r['reference_images_per_s']:>12.1f} {r['fused_vs_classic']:>13.2f}x "
              f"{r['fused_vs_reference']:>11.2f}x {r['input_pipeline_images_per_s']:>12.0f}")
    print("\nstep-time breakdown, ms per step (median round): input = one batch from tf.data alone; "
          "compute = the plain step on a batch in memory")
    print(f"{'model':<9} {'input':>8} {'compute':>9} {'plain':>9} {'fused':>9} {'classic':>9} "
          f"{'fused-compute':>14} {'classic-compute':>16} {'GFLOP/step':>11} {'GFLOP/s':>8}"
          + (f" {'% of peak':>10}" if peak_gflops else ""))
    for r in results:
        ms = r["step_ms"]
        print(f"{r['model']:<9} {ms['input']:>8.2f} {ms['compute']:>9.2f} {ms['reference']:>9.2f} "
              f"{ms['fused']:>9.2f} {ms['classic']:>9.2f} {ms['fused'] - ms['compute']:>14.2f} "
              f"{ms['classic'] - ms['compute']:>16.2f} {r['gflop_per_step']:>11.2f} {r['fused_gflop_per_s']:>8.1f}"
              + (f" {100 * r['fused_gflop_per_s'] / peak_gflops:>9.1f}%" if peak_gflops else ""))
    for r in results:
        if "profile" in r:
            total = sum(r["profile"].values())
            print(f"\n{r['model']}: fused step by op class, ms per step (op time summed over threads: {total:.1f})")
            for key, ms in r["profile"].items():
                print(f"  {key:<32} {ms:>8.2f} {100 * ms / total:>6.1f}%")


@dataclass
class BenchOptions:
    """The options of `python -m gan_keras bench` (besides --mixed-precision and --jit-compile, which are
    `train`'s own, from RunConfig)."""

    json: bool = option(False, "one JSON line per model")
    models: str = option("mlp,dcgan,dcgan64", "comma-separated: " + ", ".join(MODELS))
    batch_size: int = option(64, "images per step")
    steps: int | None = option(None, "timed steps per loop and round", default_help="about 2 s of steps")
    rounds: int = option(3, "the loops take turns this often; median reported")
    peak_gflops: float | None = option(None, "the device's peak GFLOP/s for the share reached",
                                       default_help="on a CPU: its float32 FMA peak from /proc/cpuinfo")
    threads: int | None = option(None, "TensorFlow threads (intra- and inter-op)", default_help="every core")
    width: int | None = option(None, "DCGAN width", default_help="what train chooses")
    augment: str | None = option(None, "the fused trainer's augmentation", choices="augment",
                                 default_help="what train chooses")
    ema: float | None = option(None, "the fused trainer's EMA decay, 0: off", default_help="what train chooses")
    share_fakes: bool | None = option(None, "the fused trainer's G step on D's generated batch", negatable=True,
                                      default_help="what train chooses")
    profile: str | None = option(None, "also trace the fused step into DIR and print its time per op class",
                                 metavar="DIR")
    steps_per_execution: int = option(1, "train steps per call into TensorFlow")
    backends: str | None = option(None, "comma-separated Keras backends (tensorflow, jax, torch) whose fused step "
                                  "to time side by side, each in its own process",
                                  default_help="this process's backend: on TensorFlow every loop, else its step")


def _side_by_side(args, names):
    """`bench --backends`: the fused step of each backend in a process of its own (`bench.backends`)."""
    from gan_keras import backend
    from gan_keras.bench.backends import BACKENDS, run_backends
    from gan_keras.errors import UsageError

    wanted = [b.strip() for b in (args.backends or backend.name()).split(",") if b.strip()]
    unknown = [b for b in wanted if b not in BACKENDS]
    if unknown:
        raise UsageError(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    cores = args.threads or len(os.sched_getaffinity(0))
    peak = args.peak_gflops or cpu_peak_gflops(cores)
    print(f"machine: {cpu_info().get('model name', 'unknown CPU')}, {cores} core(s)"
          + (f", float32 peak {peak:g} GFLOP/s" if peak else ""), flush=True)
    rows = run_backends(wanted, names, args.batch_size, args.steps or 20, args.rounds, args.width, peak, args.threads)
    if args.json:
        for row in rows:
            print(json.dumps({**row, "peak_gflops": peak}), flush=True)
    return 0


def main(args):
    from gan_keras.errors import UsageError

    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise UsageError(f"unknown bench model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    for name in ("batch_size", "rounds", "steps_per_execution"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    for name in ("steps", "threads", "width", "peak_gflops"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise UsageError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    from gan_keras import backend

    if args.backends or not backend.is_tensorflow():
        return _side_by_side(args, names)
    if args.threads:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    info = machine(args.threads)
    peak = args.peak_gflops or info.get("float32_peak_gflops")
    if not args.json:
        print(f"machine: {info}", flush=True)
    results = []
    for name in names:
        if not args.json:
            print(f"timing {name} ...", flush=True)
        result = bench_model(name, args.batch_size, args.steps, args.rounds, args.mixed_precision,
                             args.jit_compile, args.steps_per_execution, args.width, args.augment, args.ema,
                             args.profile, args.share_fakes)
        result["peak_host_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        if peak:
            result["peak_gflops"] = peak
            result["share_of_peak"] = round(result["fused_gflop_per_s"] / peak, 4)
        results.append(result)
        if args.json:
            print(json.dumps({**result, "machine": info}), flush=True)
    if not args.json:
        _print_tables(results, peak)
        last = results[-1]
        print(f"\npeak host memory: {last['peak_host_memory_mb']:.0f} MB; precision {last['precision']}, "
              f"XLA {'on' if last['jit_compile'] else 'off'}, steps per execution {args.steps_per_execution}"
              + (f"; share of peak against {peak:g} GFLOP/s (float32 FMA, {info['cores_used']} core(s))" if peak
                 else ""))
    return 0


def plot(results, path=None):
    """Bar chart of images/s per model for the three loops; returns the figure."""
    import matplotlib.pyplot as plt

    loops = [("classic", "classic loop"), ("reference", "plain tf.function"), ("fused", "fused train_step")]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    width = 0.8 / len(loops)
    for i, (key, label) in enumerate(loops):
        values = [r[f"{key}_images_per_s"] for r in results]
        bars = ax.bar(np.arange(len(results)) + i * width, values, width, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=8)
    ax.set_xticks(np.arange(len(results)) + width, [r["model"] for r in results])
    ax.set_ylabel("training images / s")
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig
