"""`python -m gan_keras bench`: training images/s of the fused trainer, the classic loop and a
plain reference loop, on the same networks, batch and synthetic data, in one process; and the
input pipeline's own images/s (far above training's: the trainer does not wait for data).

The reference is the same algorithm (one D step, then one G step) written the usual way: one
`tf.function` with two GradientTapes, as in the TensorFlow DCGAN tutorial. The fused trainer does
the same work, so any gap between them is overhead.
"""

import json
import resource
import time

import numpy as np

MODELS = {"mlp": ("mlp", (28, 28, 1)), "dcgan": ("dcgan", (28, 28, 1)), "dcgan64": ("dcgan", (64, 64, 3))}


def _timed(step, steps, warmup=3):
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return time.perf_counter() - start


def reference_step(G, D, latent_dim):
    """The plain tf.function training step of the same algorithm, for comparison."""
    import keras
    import tensorflow as tf

    bce = keras.losses.BinaryCrossentropy()
    d_opt, g_opt = keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5)

    @tf.function
    def step(real):
        batch = tf.shape(real)[0]
        fake = G(tf.random.normal((batch, latent_dim)), training=True)
        with tf.GradientTape() as tape:
            p_real, p_fake = D(real, training=True), D(fake, training=True)
            d_loss = 0.5 * (bce(tf.ones_like(p_real), p_real) + bce(tf.zeros_like(p_fake), p_fake))
        d_opt.apply_gradients(zip(tape.gradient(d_loss, D.trainable_weights), D.trainable_weights))
        with tf.GradientTape() as tape:
            p_gen = D(G(tf.random.normal((batch, latent_dim)), training=True), training=True)
            g_loss = bce(tf.ones_like(p_gen), p_gen)
        g_opt.apply_gradients(zip(tape.gradient(g_loss, G.trainable_weights), G.trainable_weights))
        return d_loss, g_loss

    return step


def bench_model(name, batch_size=64, steps=30, latent_dim=100):
    """images/s of the three loops for one model; returns a dict."""
    import keras
    import tensorflow as tf

    from gan_keras.classic import ClassicGAN
    from gan_keras.data import make_dataset
    from gan_keras.fused import GAN
    from gan_keras.models import Build_Disc, Build_Gen

    kind, shape = MODELS[name]
    real = np.random.default_rng(0).uniform(-1, 1, (batch_size, *shape)).astype("float32")

    keras.utils.set_random_seed(0)
    gan = GAN(Build_Gen(kind, latent_dim, shape), Build_Disc(kind, shape))
    gan.compile(jit_compile=bool(tf.config.list_physical_devices("GPU")))
    dataset = tf.data.Dataset.from_tensors(real).repeat()
    marks = []
    timer = keras.callbacks.LambdaCallback(  # the steps themselves, without fit()'s start and end
        on_train_batch_begin=lambda batch, logs: marks.append(time.perf_counter()) if batch == 0 else None,
        on_train_batch_end=lambda batch, logs: marks.append(time.perf_counter()) if batch == steps - 1 else None)
    gan.fit(dataset, epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)  # warm-up: tracing
    gan.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False, callbacks=[timer])
    fused = marks[-1] - marks[0]

    classic = ClassicGAN(Build_Gen(kind, latent_dim, shape), Build_Disc(kind, shape))
    classic_s = _timed(lambda: classic.train_on_batch(real), steps)

    step = reference_step(Build_Gen(kind, latent_dim, shape), Build_Disc(kind, shape), latent_dim)
    real_tensor = tf.constant(real)
    reference_s = _timed(lambda: [t.numpy() for t in step(real_tensor)], steps)

    pixels = np.random.default_rng(0).integers(0, 256, (max(4096, batch_size), *shape), dtype=np.uint8)
    batches = iter(make_dataset(pixels, batch_size, shape))
    data_s = _timed(lambda: next(batches), steps * 4)

    def rate(seconds):
        return steps * batch_size / seconds

    return {"model": name, "image_shape": list(shape), "batch_size": batch_size, "steps": steps,
            "fused_images_per_s": round(rate(fused), 1), "classic_images_per_s": round(rate(classic_s), 1),
            "reference_images_per_s": round(rate(reference_s), 1),
            "input_pipeline_images_per_s": round(4 * rate(data_s), 1),
            "fused_vs_classic": round(classic_s / fused, 2), "fused_vs_reference": round(reference_s / fused, 2)}


def machine():
    import os
    import platform

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {"cpus": os.cpu_count(), "gpus": len(gpus), "platform": platform.platform(terse=True),
            "tensorflow": tf.__version__}


def main(args):
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        from gan_keras.errors import UsageError

        raise UsageError(f"unknown bench model(s) {', '.join(unknown)}; choose from {', '.join(MODELS)}")
    info = machine()
    if not args.json:
        print(f"machine: {info}")
        print(f"{'model':<9} {'fused img/s':>12} {'classic img/s':>14} {'reference img/s':>16} "
              f"{'fused/classic':>14} {'fused/reference':>16} {'input img/s':>12}")
    for name in names:
        result = bench_model(name, args.batch_size, args.steps)
        result["peak_host_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        if args.json:
            print(json.dumps({**result, "machine": info}), flush=True)
        else:
            print(f"{name:<9} {result['fused_images_per_s']:>12.1f} {result['classic_images_per_s']:>14.1f} "
                  f"{result['reference_images_per_s']:>16.1f} {result['fused_vs_classic']:>13.2f}x "
                  f"{result['fused_vs_reference']:>15.2f}x {result['input_pipeline_images_per_s']:>12.0f}", flush=True)
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
