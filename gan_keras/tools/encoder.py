"""An encoder: one pass from an image to the latent a trained generator draws it from (as pSp and
e4e, Richardson et al. 2021, Tov et al. 2021), the instant starting point of `project`.

It is trained once per generator, on the generator's own samples, whose latents are known: the
latent's own error (scaled by the latents' spread), plus pixels and SSIM of what G draws from the
encoded latent against the sample; and, when the run's training images can be read, on those too
(pixels and SSIM alone: their latent is unknown), so that it learns to place the images G was never
asked to draw. It predicts z for a DCGAN or an MLP and w for a style-based G
(a conditional G in w alone: its w already holds the class). `train_encoder` logs, every so many
seconds, the latent error and the PSNR of G(E(x)) on held samples, so what each CPU-minute buys is
in `encoder.json`; `run_train_encoder` (the `train-encoder` command) writes `RUN/encoder.npz` and
`encoder.json`, and `project` starts from that encoder when the run has one.

Example:
    >>> from gan_keras.tools.sample import generate
    >>> from gan_keras.runs.loading import load_generator
    >>> G = load_generator("pretrained:mnist")
    >>> E, log = train_encoder(G, steps=3, batch_size=8, verbose=0)
    >>> encode(E, generate(G, 5)).shape               # the z that G draws these five from
    (5, 100)
"""

import json
import time
from pathlib import Path

import numpy as np

from gan_keras.backend import require_tensorflow, to_numpy
from gan_keras.errors import UsageError

ENCODER_WEIGHTS = "encoder.npz"  # float16, as a shipped run's networks (checkpoints.save_networks)
ENCODER_CARD = "encoder.json"  # what builds it, whose generator it inverts, and its training log
MAX_FILTERS = 128
HIDDEN = 256
HELD_SAMPLES = 256  # the G samples every log row is measured on, never trained on
LATENT_WEIGHT, PIXEL_WEIGHT, SSIM_WEIGHT = 1.0, 1.0, 1.0


def build_encoder(image_shape, latent_size, width=32):
    """A convolutional encoder (N, H, W, C) in [-1, 1] -> (N, latent_size): stride-2 convolutions
    with LeakyReLU down to 4x4 or smaller, filters doubling from `width` up to 128, then one hidden
    dense layer of 256 (about a million weights for 64x64 images, 2 MB in float16). No batch norm:
    each image is encoded on its own."""
    import keras
    from keras import layers

    images = keras.Input(tuple(image_shape), name="images")
    x, size, filters = images, int(image_shape[0]), int(width)
    while True:
        x = layers.LeakyReLU(0.2)(layers.Conv2D(filters, 4, strides=2, padding="same")(x))
        size, filters = (size + 1) // 2, min(filters * 2, MAX_FILTERS)
        if size <= 4:
            break
    x = layers.LeakyReLU(0.2)(layers.Dense(HIDDEN)(layers.Flatten()(x)))
    latent = layers.Dense(int(latent_size), name="latent")(x)
    return keras.Model(images, latent, name="encoder")


def encoder_space(generator):
    """The space an encoder of `generator` predicts: w for a style-based G, else z (refused, in one
    line, for a conditional DCGAN or MLP, whose z means nothing without its class)."""
    from gan_keras.networks.build import num_classes
    from gan_keras.tools.latent import default_space

    space = default_space(generator)
    if space == "z" and num_classes(generator):
        raise UsageError("an encoder is for an unconditional DCGAN or MLP, or a style-based G (conditional or "
                         "not): this conditional generator's z needs its class; project it without one")
    return space


def encode(encoder, images, batch_size=256):
    """The latents `encoder` gives `images` ((N, H, W, C) in [-1, 1]), in batches."""
    images = np.asarray(images, np.float32)
    parts = [to_numpy(encoder(images[i:i + batch_size], training=False)) for i in range(0, len(images), batch_size)]
    return np.concatenate(parts) if parts else np.zeros((0, int(encoder.outputs[0].shape[-1])), np.float32)


def _sampler(generator, space, seed):
    """A function (step) -> (images, latents) of G's own samples in `space`, seeded per step."""
    import tensorflow as tf

    from gan_keras.networks.build import CLASS_EMBEDDING, num_classes
    from gan_keras.tools import latent
    from gan_keras.tools.latent import drawer

    size, classes = latent.latent_size(generator, "z"), num_classes(generator)
    draw_w = drawer(generator, space) if space != "z" else None
    mapping = None
    if space != "z":
        from gan_keras.networks.stylegan import MAPPING

        mapping = generator.get_layer(MAPPING)

    def sample(step, batch_size):
        z = tf.random.stateless_normal((batch_size, size), [seed, step])
        if space == "z":
            return generator(z, training=False), z
        if classes:
            labels = tf.random.stateless_uniform((batch_size,), [seed + 1, step], 0, classes, tf.int32)
            z = tf.concat([z, generator.get_layer(CLASS_EMBEDDING)(labels)], axis=-1)
        w = mapping(z, training=False)
        return draw_w(w), w

    return sample


def train_encoder(generator, steps=None, minutes=10.0, batch_size=32, width=32, lr=1e-3, seed=0, log_every_s=30.0,
                  verbose=1, real_images=None):
    """Train an encoder of `generator` on its samples for `steps` (or, when None, `minutes` of wall
    clock), and on `real_images` (uint8 (N, H, W, C), the run's training images) when given: a batch
    of each per step. Returns (encoder, log): log rows of {step, seconds, latent_error, psnr} measured on
    `HELD_SAMPLES` held samples at the start, every `log_every_s` seconds and at the end; latent_error
    is the mean squared error over the latents' variance (0 exact, 1 no better than the mean)."""
    require_tensorflow("train-encoder (its training loop)")
    import keras
    import tensorflow as tf

    from gan_keras.images import psnr_ssim
    from gan_keras.tools import latent
    from gan_keras.tools.latent import drawer

    if (steps is not None and steps < 1) or (steps is None and not minutes > 0) or batch_size < 1:
        raise UsageError("--steps, --minutes and --batch-size must be positive")
    space = encoder_space(generator)
    image_shape = tuple(generator.outputs[0].shape[1:])
    encoder = build_encoder(image_shape, latent.latent_size(generator, space), width)
    sample, draw = _sampler(generator, space, seed), drawer(generator, space)
    held_images, held_latents = (np.asarray(a) for a in sample(10**6, HELD_SAMPLES))
    latent_var = float(np.mean(np.var(held_latents, axis=0)))
    encoder.get_layer("latent").bias.assign(held_latents.mean(0))  # start at the average latent
    optimizer = keras.optimizers.Adam(lr)
    channels_max = 2.0  # images in [-1, 1]
    filter_size = min(11, image_shape[0] // 2 * 2 - 1)

    real = None if real_images is None else tf.constant(np.asarray(real_images, np.float32) / 127.5 - 1.0)

    def redrawing_loss(images, predicted):
        redrawn = draw(predicted)
        return (PIXEL_WEIGHT * tf.reduce_mean(tf.square(redrawn - images))
                + SSIM_WEIGHT * (1.0 - tf.reduce_mean(tf.image.ssim(redrawn + 1, images + 1, channels_max,
                                                                    filter_size=filter_size))))

    @tf.function
    def step(i):
        images, latents = sample(i, batch_size)
        with tf.GradientTape() as tape:
            predicted = encoder(images, training=True)
            loss = LATENT_WEIGHT * tf.reduce_mean(tf.square(predicted - latents)) / latent_var
            loss += redrawing_loss(images, predicted)
            if real is not None:
                index = tf.random.stateless_uniform((batch_size,), [seed + 2, i], 0, tf.shape(real)[0], tf.int32)
                real_batch = tf.gather(real, index)
                loss += redrawing_loss(real_batch, encoder(real_batch, training=True))
        grads = tape.gradient(loss, encoder.trainable_weights)
        optimizer.apply_gradients(zip(grads, encoder.trainable_weights))
        return loss

    log, started, done = [], time.perf_counter(), 0

    def measure():
        predicted = encode(encoder, held_images)
        psnr, _ = psnr_ssim(latent.render(generator, predicted, space), held_images)
        log.append({"step": done, "seconds": round(time.perf_counter() - started, 1),
                    "latent_error": float(np.mean(np.square(predicted - held_latents)) / latent_var),
                    "psnr": float(np.mean(psnr))})

    measure()
    deadline = started + (minutes * 60 if steps is None else float("inf"))
    bar = keras.utils.Progbar(steps, unit_name="step", stateful_metrics=["loss"]) if verbose else None
    next_log = time.perf_counter() + log_every_s
    while (done < steps) if steps is not None else (time.perf_counter() < deadline):
        loss = float(step(tf.constant(done, tf.int32)))
        done += 1
        if bar:
            bar.update(done, [("loss", loss)])
        if time.perf_counter() >= next_log:
            measure()
            next_log = time.perf_counter() + log_every_s
    if log[-1]["step"] != done:
        measure()
    return encoder, log


def save_encoder(encoder, folder, generator, log, width=32):
    """Write `encoder.npz` (float16 weights) and `encoder.json` into `folder`."""
    from gan_keras.files import atomic_write_text
    from gan_keras.runs.checkpoints import save_networks
    from gan_keras.tools.latent import fingerprint

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    save_networks(folder / ENCODER_WEIGHTS, encoder=encoder)
    card = {"image_shape": list(encoder.inputs[0].shape[1:]), "latent_size": int(encoder.outputs[0].shape[-1]),
            "width": width, "space": encoder_space(generator), "generator": fingerprint(generator), "log": log}
    atomic_write_text(folder / ENCODER_CARD, json.dumps(card, indent=2))


def load_encoder(folder, generator=None):
    """The encoder saved in `folder` (a run folder, `pretrained:NAME`, or where `--out` put it), or None
    when there is none. With `generator`, one UsageError line when it inverts another generator."""
    from gan_keras.files import read_json
    from gan_keras.runs.checkpoints import load_networks
    from gan_keras.runs.folder import run_folder

    folder = run_folder(folder)
    card_path = folder / ENCODER_CARD
    if not card_path.is_file() or not (folder / ENCODER_WEIGHTS).is_file():
        return None
    card = read_json(card_path, "the encoder")
    missing = {"generator", "image_shape", "latent_size", "width"} - set(card)
    if missing:
        raise UsageError(f"{card_path} is damaged (no {', '.join(sorted(missing))}); the encoder cannot be read")
    if generator is not None:
        from gan_keras.tools.latent import check_fingerprint

        check_fingerprint(generator, card["generator"], f"the encoder in {folder}", "")
    encoder = build_encoder(card["image_shape"], card["latent_size"], card["width"])
    load_networks(folder / ENCODER_WEIGHTS, "the encoder", encoder=encoder)
    return encoder


def encoder_for(run, generator, encoder="auto"):
    """The encoder `project` starts from: "auto", the run's own when it has one that fits its generator
    (a warning when it no longer does); a folder holding one; "none". None when there is none."""
    import warnings

    if encoder == "none":
        return None
    if encoder != "auto":
        found = load_encoder(encoder, generator)
        if found is None:
            raise UsageError(f"no encoder in {encoder} (encoder.npz and encoder.json, from train-encoder)")
        encoder_space(generator)
        return found
    try:
        return load_encoder(run, generator)
    except UsageError:  # the run trained on after its encoder was: it no longer fits
        warnings.warn(f"the encoder in {run} was trained for an earlier generator of this run; projecting "
                      "without it (train-encoder again)", stacklevel=3)
        return None


def training_images(run, data_dir=None):
    """The images `run` trained on (uint8; the first `--limit` when it held the rest out), or None with
    one warning when its dataset cannot be read here."""
    import warnings

    from gan_keras.data.load import load_images, split_for_training
    from gan_keras.runs.config import load_config

    config, saved = load_config(run)
    shape = saved.get("image_shape", [None, None, None])
    try:
        images = load_images(config.dataset, shape[0], shape[2], data_dir or config.data_dir)
    except (UsageError, OSError) as e:
        warnings.warn(f"the run's training images could not be read ({str(e).splitlines()[0][:120]}): training "
                      "the encoder on the generator's samples alone", stacklevel=2)
        return None
    if tuple(images.shape[1:]) != tuple(shape):
        warnings.warn(f"the run's images are {images.shape[1:]}, its generator draws {tuple(shape)}: training the "
                      "encoder on the generator's samples alone", stacklevel=2)
        return None
    return split_for_training(images, config.limit, config.heldout)[0]


def run_train_encoder(run, out=None, steps=None, minutes=10.0, batch_size=32, width=32, seed=0, verbose=1,
                      real=True, data_dir=None):
    """The `train-encoder` command: train an encoder of `run`'s generator (on its samples and, with
    `real`, the images the run trained on) and save it in `out` (default: the run folder), where
    `project` finds it. Prints the log's first and last rows."""
    from gan_keras.runs.folder import PREFIX
    from gan_keras.runs.loading import load_generator

    if out is None and str(run).startswith(PREFIX):
        raise UsageError("a shipped generator's folder is part of the package: give --out DIR, then "
                         "project with --encoder DIR")
    generator = load_generator(run)
    encoder_space(generator)
    real_images = training_images(run, data_dir) if real else None
    encoder, log = train_encoder(generator, steps=steps, minutes=minutes, batch_size=batch_size, width=width,
                                 seed=seed, verbose=verbose, real_images=real_images)
    folder = Path(out) if out is not None else Path(run)
    save_encoder(encoder, folder, generator, log, width)
    first, last = log[0], log[-1]
    print(f"encoder of {run}: {last['step']:,} steps in {last['seconds'] / 60:.1f} min; on {HELD_SAMPLES} held "
          f"samples latent error {first['latent_error']:.3f} -> {last['latent_error']:.3f}, PSNR of G(E(x)) "
          f"{first['psnr']:.2f} -> {last['psnr']:.2f} dB; wrote {folder}/{ENCODER_WEIGHTS} and {ENCODER_CARD}")
    return encoder, log
