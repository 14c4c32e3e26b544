"""Projection: find the latent that makes a trained generator draw a given image (GAN inversion).

For a style-based generator, w (or w+, one w per layer) is optimised from the average w, as StyleGAN2-ADA's
`projector.py` does: Adam, a learning rate that ramps up and then down along a cosine, and noise added to w
early on that fades out. The per-pixel noise is the generator's fixed inference noise here (one buffer per
layer, shared by every image), so it is not optimised and needs no regulariser. For the DCGAN and the MLP,
z is optimised with the same schedule and a prior term that keeps |z| on the shell where N(0, I) noise
lives, from several random starts at once, keeping the best. A conditional generator projects with a given
class, or searches every class (starts spread over the classes) and reports the class it found. The
distance is pixels plus a perceptual term, a registered "distance" (`gan_keras.tools.perceptual`).

Example:
    >>> from gan_keras.runs.loading import load_generator
    >>> G = load_generator("pretrained:anime64")
    >>> result = project(G, load_targets(["me.png"], G), steps=20, distance="pixel", verbose=0)
    >>> result.latents.shape, result.space, result.psnr.shape
    ((1, 100), 'z', (1,))
"""

import math
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from gan_keras import registry
from gan_keras.backend import to_numpy
from gan_keras.data.folders import load_targets
from gan_keras.errors import UsageError
from gan_keras.images import psnr_ssim
from gan_keras.tools.latent import drawer
from gan_keras.tools.perceptual import make_distance

# StyleGAN2-ADA projector.py's schedule, as fractions of the steps
INITIAL_LR = 0.1
LR_RAMPUP = 0.05
LR_RAMPDOWN = 0.25
NOISE_FACTOR = 0.05
NOISE_RAMP = 0.75
Z_PRIOR_WEIGHT = 0.1
REFINE_LR_SCALE = 0.2  # the encoder's start takes a fifth of the steps of the random ones: it starts near


# ---------------------------------------------------------------------------------------------
# The optimisation


@dataclass
class Projection:
    """What `project` found: per image its latent, the image G draws from it, and how close it is."""

    latents: np.ndarray  # (N, dim) in z or w; (N, num_ws, dim) in w+
    space: str
    images: np.ndarray  # G's images of the latents, [-1, 1]
    targets: np.ndarray
    labels: np.ndarray | None
    psnr: np.ndarray  # dB, per image, on 8-bit images
    ssim: np.ndarray
    distance: str
    losses: list = field(default_factory=list)  # mean loss per step (of the best starts)
    frames: list = field(default_factory=list)  # G's images of the best latents as the optimisation went
    extra: dict = field(default_factory=dict)  # what `run_projection` adds: seconds per image, the baseline


def schedule(t):
    """(learning-rate factor, noise factor) at fraction `t` of the steps: StyleGAN2-ADA's projector."""
    ramp = min(1.0, (1.0 - t) / LR_RAMPDOWN)
    ramp = (0.5 - 0.5 * math.cos(ramp * math.pi)) * min(1.0, t / LR_RAMPUP)
    return ramp, max(0.0, 1.0 - t / NOISE_RAMP) ** 2


def _starts(generator, n, space, starts, classes, label, seed):
    """Start latents (n * S, ...) and labels (or None): the average w for a style-based generator; S
    random z per image (per class, when a conditional one searches the classes)."""
    from gan_keras.tools import latent
    from gan_keras.training.noise import Stream, latent_noise

    if space != "z":
        if classes:
            centres = [latent.mean_w(generator, labels=c) for c in (range(classes) if label is None else [label])]
        else:
            centres = [latent.mean_w(generator)]
        w = np.repeat(np.stack(centres), n, axis=0)  # class-major: (C * n, w_dim)
        labels = None if not classes else np.repeat(np.arange(classes) if label is None else [label], n)
        return (latent.broadcast(w, latent.num_ws(generator)) if space == "w+" else w), labels
    size = latent.latent_size(generator, "z")
    per_class = 1 if not classes else (classes if label is None else 1)
    z = to_numpy(latent_noise(seed, 0, n * starts * per_class, size, stream=Stream.PROJECTION_STARTS))
    labels = None
    if classes:
        labels = np.repeat(np.arange(classes) if label is None else [label], n * starts).astype(np.int32)
    return z, labels


def _w_std(generator, labels):
    """The spread of w around its mean (StyleGAN2-ADA's w_std), scaling the noise added to w."""
    from gan_keras.tools import latent
    from gan_keras.training.noise import Stream, latent_noise

    z = to_numpy(latent_noise(0, 0, 2000, latent.latent_size(generator, "z"), stream=Stream.MEAN_W))
    w = latent.to_w(generator, z, None if labels is None else np.resize(np.unique(labels), 2000))
    return float(np.sqrt(np.sum((w - w.mean(0)) ** 2) / len(w)))


def project(generator, targets, steps=300, space=None, distance="auto", discriminator=None, label=None,
            starts=4, seed=0, frames=0, verbose=1, init=None):
    """Project `targets` ((N, H, W, C) in [-1, 1], as `load_targets` reads them) into `generator`'s
    latent space; returns a `Projection`.

    Args:
        space: "z" (DCGAN, MLP; the default there), "w" (style-based default) or "w+".
        distance: a registered distance (`registry.names("distance")`), "auto" by default (see the
            module docstring).
        discriminator: the run's D, for the "discriminator" distance.
        label: a conditional generator's class for every image; None searches all classes.
        starts: random starts per image (and per class) in z; the best is kept.
        frames: how many snapshots of the progress to keep (for the progress video).
        init: latents to start from, one per target (an encoder's, `tools.encoder.encode`), in z
            or w (broadcast for w+); in z one of the starts, the others random. With `steps=0`
            the projection is `init` itself.
    """
    import keras
    from keras import ops

    from gan_keras.networks.build import NOT_CONDITIONAL, num_classes
    from gan_keras.tools import latent
    from gan_keras.training.engine import compiled, value_and_input_gradient
    from gan_keras.training.noise import stateless_normal

    space = space or latent.default_space(generator)
    latent.check_space(generator, space)
    classes = num_classes(generator)
    if label is not None and not classes:
        raise UsageError(f"--class: {NOT_CONDITIONAL}")
    if label is not None and not 0 <= label < classes:
        raise UsageError(f"class {label} is outside this run's classes 0-{classes - 1}")
    targets = np.asarray(targets, np.float32)
    if targets.shape[1:] != tuple(generator.outputs[0].shape[1:]):
        raise UsageError(f"targets of shape {targets.shape[1:]} do not match the generator's "
                         f"{tuple(generator.outputs[0].shape[1:])}: read them with load_targets")
    used, distance_fn = make_distance(distance, generator, discriminator)
    n = len(targets)
    start, labels = _starts(generator, n, space, starts, classes, label, seed)
    noise_std = _w_std(generator, labels) if space != "z" else 1.0
    if init is not None:
        init = np.asarray(init, np.float32)
        if init.shape != (n, latent.latent_size(generator, space if space == "z" else "w")):
            raise UsageError(f"init of shape {init.shape} is not one {space} latent per target")
        if space == "z":
            start[:n] = init  # the first of the copies (copy-major)
        else:  # w holds the class, so one start: the encoder's
            start, labels = (latent.broadcast(init, latent.num_ws(generator)) if space == "w+" else init), None
    copies = len(start) // n  # candidates per image, ordered copy-major: candidate j of image i at j * n + i
    target_batch = ops.convert_to_tensor(np.tile(targets, (copies, 1, 1, 1)))
    size = latent.latent_size(generator, "z")
    images_of = drawer(generator, space, labels)

    def losses_of(latents):
        per = distance_fn(images_of(latents), target_batch)
        if space == "z":  # keep |z| on the shell where N(0, I) noise lives
            radius = ops.sqrt(ops.sum(ops.square(latents), axis=-1)) / math.sqrt(size)
            per += Z_PRIOR_WEIGHT * ops.square(radius - 1.0)
        return per

    lr_scale = np.ones((len(start),) + (1,) * (start.ndim - 1), np.float32)
    if init is not None:  # a smaller first step from the encoder's latent (copy 0), which starts near
        lr_scale[:n] = REFINE_LR_SCALE
    lr_scale = ops.convert_to_tensor(lr_scale)
    beta_1, beta_2 = 0.9, 0.999

    @compiled
    def step(x, m, v, i, lr, noise_scale):  # one Adam step of the latents, a pure function
        noise = stateless_normal(ops.shape(x), seed, 7000 + i) * noise_scale
        per, grad = value_and_input_gradient(lambda x: losses_of(x + noise), x, differentiable=False)
        m = beta_1 * m + (1 - beta_1) * grad
        v = beta_2 * v + (1 - beta_2) * ops.square(grad)
        t = ops.cast(i + 1, "float32")
        m_hat, v_hat = m / (1 - beta_1 ** t), v / (1 - beta_2 ** t)
        return x - lr * lr_scale * m_hat / (ops.sqrt(v_hat) + 1e-8), m, v, per

    def best(per):
        per = to_numpy(per).reshape(copies, n)
        return per.argmin(0) * n + np.arange(n)

    def render(chosen):
        chosen_labels = None if labels is None or space != "z" else labels[chosen]
        return latent.render(generator, to_numpy(x)[chosen], space, chosen_labels)

    x = ops.convert_to_tensor(start)
    m, v = ops.zeros_like(x), ops.zeros_like(x)
    if init is not None:  # the start stays a candidate: the encoder's latent may be the best there is
        start_latents, start_losses = np.array(start[:n]), to_numpy(losses_of(x)).reshape(copies, n)[0]
    history, snapshots = [], []
    snapshot_at = set(np.linspace(0, steps, frames).astype(int)) if frames else set()
    bar = keras.utils.Progbar(steps, unit_name="step", stateful_metrics=["loss"]) if verbose else None
    for i in range(steps + 1):
        if i in snapshot_at:
            snapshots.append(render(best(to_numpy(losses_of(x)))))
        if i == steps:
            break
        lr_factor, noise_factor = schedule(i / steps)
        x, m, v, per = step(x, m, v, ops.convert_to_tensor(i, "int32"),
                            ops.convert_to_tensor(INITIAL_LR * lr_factor, "float32"),
                            ops.convert_to_tensor(noise_std * NOISE_FACTOR * noise_factor, "float32"))
        per = to_numpy(per).reshape(copies, n)
        history.append(float(per.min(0).mean()))
        if bar:
            bar.update(i + 1, [("loss", history[-1])])
    final = to_numpy(losses_of(x)).reshape(copies, n)
    chosen = best(final)
    latents = np.array(to_numpy(x)[chosen])
    if init is not None:
        kept = start_losses < final.min(0)
        latents[kept], chosen[kept] = start_latents[kept], np.arange(n)[kept]  # the start is copy 0
    images = latent.render(generator, latents, space, None if labels is None or space != "z" else labels[chosen])
    psnr, ssim = psnr_ssim(images, targets)
    return Projection(latents, space, images, targets, None if labels is None else labels[chosen], psnr, ssim,
                      used, history, snapshots)


TUNE_LR = 3e-4  # PTI's learning rate
IDENTITY_DIRECTIONS = 3  # the SeFa directions `project --tune` measures its edits along
# The locality term's default weight, chosen by how edits keep the face (20 held-out faces, 2026-12-04):
# 0 / 1 / 10 kept SSIM to the face under edits at 0.51 / 0.39 / 0.31, edits moved it 1.13 / 1.30 /
# 1.18x as much as a random face (they still work at 0), random latents drifted 0.19 / 0.12 / 0.05
LOCALITY = 0.0
LOCALITY_RADIUS = 0.5  # PTI's locality samples: this many times a random latent's typical norm from the pivot


def tune(generator, result, steps=200, locality=LOCALITY, distance="ssim", seed=0, verbose=0):
    """Pivotal Tuning Inversion (Roich et al. 2022): a copy of `generator` whose weights are fine-tuned so that it
    draws `result.targets` from the pivots `result.latents` (a `Projection`), while on latents at `LOCALITY_RADIUS`
    from the pivots it keeps drawing what the original drew (`locality` weighs that term), so that edits around
    the pivot still mean what they meant. Returns (tuned copy, Projection of the pivots through it, with
    `extra["drift"]` and `extra["drift_near"]`: the mean |difference| from the original on random latents,
    and on latents at the locality radius from the pivots)."""
    import keras
    from keras import ops

    from gan_keras.tools import latent
    from gan_keras.training.engine import compiled, value_and_grad
    from gan_keras.training.noise import stateless_normal

    if steps < 1 or locality < 0:
        raise UsageError("--tune-steps must be positive and --locality at least 0")
    tuned = keras.models.clone_model(generator)
    tuned.set_weights(generator.get_weights())
    _, distance_fn = make_distance(distance, generator)
    pivots, space, labels = ops.convert_to_tensor(result.latents), result.space, result.labels
    targets = ops.convert_to_tensor(np.asarray(result.targets, np.float32))
    draw_tuned, draw_original = drawer(tuned, space, labels), drawer(generator, space, labels)
    if space == "z":  # a random z's typical norm
        scale = float(np.sqrt(np.prod(result.latents.shape[1:])))
    else:  # a w's typical distance from another
        scale = float(np.linalg.norm(latent.random_latents(generator, 64, seed=seed + 1, space=space)
                                     - latent.random_latents(generator, 64, seed=seed + 2, space=space),
                                     axis=-1).mean())
    optimizer = keras.optimizers.Adam(TUNE_LR)
    weights = tuned.trainable_weights
    optimizer.build(weights)

    def around(i):  # latents at LOCALITY_RADIUS * scale from each pivot, in random directions
        away = stateless_normal(ops.shape(pivots), seed, 9000 + i)
        norms = ops.sqrt(ops.sum(ops.square(ops.reshape(away, [len(result.latents), -1])), axis=-1))
        away = away / ops.reshape(norms, [-1] + [1] * (len(result.latents.shape) - 1))  # Python 3.10 has no [:, *x]
        return pivots + LOCALITY_RADIUS * scale * away

    def loss(nearby):
        value = ops.mean(distance_fn(draw_tuned(pivots), targets))
        if locality:
            value += locality * ops.mean(ops.square(draw_tuned(nearby) - draw_original(nearby)))
        return value, None

    @partial(compiled, trains_weights=True)
    def step(i):
        nearby = around(i)
        value, _, grads = value_and_grad(lambda: loss(nearby), weights)
        optimizer.apply_gradients(zip(grads, weights))
        return value

    bar = keras.utils.Progbar(steps, unit_name="step", stateful_metrics=["loss"]) if verbose else None
    for i in range(steps):
        value = float(to_numpy(step(ops.convert_to_tensor(i, "int32"))))
        if bar:
            bar.update(i + 1, [("loss", value)])
    images = to_numpy(draw_tuned(pivots))
    psnr, ssim = psnr_ssim(images, result.targets)
    z = latent.random_latents(generator, 64, seed=seed + 3, space=space,
                              labels=None if labels is None else np.resize(labels, 64))
    random_labels = None if labels is None or space != "z" else np.resize(labels, 64)
    drift = float(np.mean(np.abs(latent.render(tuned, z, space, random_labels)
                                 - latent.render(generator, z, space, random_labels))))
    nearby = around(ops.convert_to_tensor(-1, "int32"))
    drift_near = float(np.mean(np.abs(to_numpy(draw_tuned(nearby)) - to_numpy(draw_original(nearby)))))
    return tuned, Projection(result.latents, space, images, result.targets, labels, psnr, ssim,
                             f"{result.distance}, tuned", extra={"drift": drift, "drift_near": drift_near})


def _tuned_run_folder(run, out, generator):
    """Make `out` a run folder of the tuned `generator`: its generator.keras and the run's config.json
    (with where it was tuned from). Returns `out` as the run its latents belong to."""
    import json

    from gan_keras.files import atomic_write_text
    from gan_keras.runs.checkpoints import save_generator
    from gan_keras.runs.config import load_config

    saved = load_config(run)[1]
    save_generator(generator, out / "generator.keras")
    atomic_write_text(out / "config.json", json.dumps({**saved, "tuned_from": str(run)}, indent=2))
    return str(out)


def _write_edits(path, original, tuned, pivots, found, amounts=(-2, 0, 2), rows=8):
    """`edits.png`: per image (up to `rows`), the target, then its latent moved along the first
    direction of `found` by `amounts` standard deviations, drawn by the original G and by the tuned one."""
    from gan_keras.files import save_png
    from gan_keras.images import image_grid
    from gan_keras.tools.edit import edit

    shown = min(rows, len(pivots.targets))
    labels = None if pivots.labels is None else pivots.labels[:shown]
    cells = [pivots.targets[:shown, None]]
    for generator in (original, tuned):
        drawn = edit(generator, pivots.latents[:shown], found, 0, amounts, space=pivots.space, labels=labels)
        cells.append(drawn.reshape(shown, len(amounts), *drawn.shape[1:]))
    grid = np.concatenate(cells, axis=1)
    save_png(image_grid(grid.reshape(-1, *grid.shape[2:]), cols=grid.shape[1]), path)


def nearest_samples(generator, targets, n=10000, seed=0, batch_size=500):
    """The baseline projection must beat: per target, the best PSNR and the best SSIM over `n` random
    samples of the generator (a conditional one draws the classes in turn)."""
    from gan_keras.tools.sample import generate

    best_psnr, best_ssim = np.full(len(targets), -np.inf), np.full(len(targets), -np.inf)
    for start in range(0, n, batch_size):
        samples = generate(generator, min(batch_size, n - start), seed=seed + 1 + start)
        for i, target in enumerate(targets):
            psnr, ssim = psnr_ssim(samples, np.broadcast_to(target, samples.shape))
            best_psnr[i], best_ssim[i] = max(best_psnr[i], psnr.max()), max(best_ssim[i], ssim.max())
    return best_psnr, best_ssim


# ---------------------------------------------------------------------------------------------
# The `project` command: a folder of results


def run_projection(run, images, out, steps=300, space=None, distance="auto", label=None, starts=4, batch=8,
                   baseline=None, seed=0, verbose=1, tune_steps=200, locality=LOCALITY, encoder="auto"):
    """Project the image files or folders `images` into the generator of `run` (a run folder or
    "pretrained:NAME") and write `out/latents.npz`, `target_vs_projection.png` and `progress.gif`
    (the first batch's optimisation). Prints a line per batch and a summary; returns the `Projection`
    of all the images joined, with `seconds_per_image` (and `baseline`: PSNR and SSIM of the nearest
    of `baseline` random samples) in `.extra`. `verbose=0`: no progress bar.

    `tune_steps` (200; 0: none): then pivotal tuning (`tune`) of one copy of G for all the images; `out` becomes a run
    folder of its own (the tuned `generator.keras` and the run's `config.json`), whose latents.npz belongs
    to the tuned G: `edit OUT --latents OUT/latents.npz`, `video OUT ...`, `export OUT ...` use it. The
    returned Projection is the tuned one, with the untuned one in `.extra["pivots"]`.

    `encoder`: "auto" starts from the run's encoder when it has one (`train-encoder`), a folder holding
    one starts from that, "none" from random latents as before; with an encoder, `steps=0` is the
    encoder alone.

    Example:
        >>> result = run_projection("pretrained:anime64", ["me.png"], "outputs/me", steps=10, distance="pixel",
        ...                         tune_steps=0)
        images 1-1 of 1
        ...
        projected 1 images into z (pixel distance): PSNR ... dB, SSIM ..., ... s per image; wrote ...
    """
    from gan_keras.files import save_png
    from gan_keras.images import image_grid
    from gan_keras.runs.loading import load_discriminator, load_generator
    from gan_keras.tools.directions import sefa
    from gan_keras.tools.edit import edits_keep_identity
    from gan_keras.tools.encoder import encode, encoder_for
    from gan_keras.tools.latent import check_space, default_space, save_latents
    from gan_keras.tools.sample import check_class
    from gan_keras.tools.video import write_video

    if steps < 0 or batch < 1 or starts < 1:
        raise UsageError("--steps must be at least 0, --batch and --starts positive")
    if tune_steps < 0 or locality < 0:
        raise UsageError("--tune-steps must be positive and --locality at least 0")
    out = Path(out)
    generator = load_generator(run)
    check_space(generator, space or default_space(generator))  # before reading any image
    check_class(generator, label)
    chosen_encoder = encoder_for(run, generator, encoder)
    if steps == 0 and chosen_encoder is None:
        raise UsageError("--steps 0 projects with the encoder alone, and this run has none (train-encoder RUN)")
    targets = load_targets(images, generator)
    needs_d = registry.info("distance", distance).get("needs_discriminator", False)
    discriminator = load_discriminator(run) if needs_d else None
    out.mkdir(parents=True, exist_ok=True)
    parts, started = [], time.perf_counter()
    for i in range(0, len(targets), batch):
        print(f"images {i + 1}-{min(i + batch, len(targets))} of {len(targets)}", flush=True)
        init = None if chosen_encoder is None else encode(chosen_encoder, targets[i:i + batch])
        parts.append(project(generator, targets[i:i + batch], steps=steps, space=space, distance=distance,
                             discriminator=discriminator, label=label, starts=starts, seed=seed,
                             frames=min(steps + 1, 40), verbose=verbose and steps > 0, init=init))
    first = parts[0]
    joined = Projection(np.concatenate([r.latents for r in parts]), first.space,
                        np.concatenate([r.images for r in parts]), targets,
                        None if first.labels is None else np.concatenate([r.labels for r in parts]),
                        np.concatenate([r.psnr for r in parts]), np.concatenate([r.ssim for r in parts]),
                        first.distance, first.losses, first.frames)
    shown, original = [targets, joined.images], generator
    projected_in = time.perf_counter() - started
    if tune_steps:
        pivots = joined
        generator, joined = tune(generator, pivots, steps=tune_steps, locality=locality, seed=seed, verbose=verbose)
        joined.extra["pivots"], shown, run = pivots, [*shown, joined.images], _tuned_run_folder(run, out, generator)
        print(f"tuned G on the pivots: PSNR {pivots.psnr.mean():.2f} -> {joined.psnr.mean():.2f} dB, SSIM "
              f"{pivots.ssim.mean():.3f} -> {joined.ssim.mean():.3f} (projection {projected_in / len(targets):.1f} s, "
              f"tuning {(time.perf_counter() - started - projected_in) / len(targets):.1f} s per image); on random "
              f"latents it moved by {joined.extra['drift']:.4f} (mean |difference|, images in [-1, 1])")
        found = sefa(original, k=IDENTITY_DIRECTIONS)
        kept = joined.extra["identity"] = edits_keep_identity(original, generator, pivots.latents, targets, found,
                                                              labels=pivots.labels, space=pivots.space)
        _write_edits(out / "edits.png", original, generator, pivots, found)
        print(f"edits along the top {IDENTITY_DIRECTIONS} SeFa directions (2 sd either way): SSIM to your images "
              f"{kept['ssim_untuned'].mean():.3f} untuned -> {kept['ssim_tuned'].mean():.3f} tuned; each edit moves "
              f"the tuned face {kept['strength'].mean():.2f}x as much as it moves a random face")
    save_latents(out / "latents.npz", joined.latents, joined.space, run, generator, labels=joined.labels,
                 psnr=joined.psnr, ssim=joined.ssim, distance=joined.distance)
    pairs = np.stack(shown, axis=1).reshape(-1, *targets.shape[1:])
    save_png(image_grid(pairs, cols=len(shown) * min(4, len(targets))), out / "target_vs_projection.png")
    frames = [image_grid(np.stack([first.targets, snap], 1).reshape(-1, *first.targets.shape[1:]),
                         cols=2 * min(4, len(first.targets))) for snap in first.frames]
    write_video(np.stack(frames), out / "progress.gif", fps=10)
    joined.extra["seconds_per_image"] = (time.perf_counter() - started) / len(targets)
    classes = "" if joined.labels is None else f", classes {' '.join(map(str, joined.labels))}"
    print(f"projected {len(targets)} images into {joined.space} ({joined.distance} distance{classes}): "
          f"PSNR {joined.psnr.mean():.2f} dB, SSIM {joined.ssim.mean():.3f}, "
          f"{joined.extra['seconds_per_image']:.1f} s per image; "
          f"wrote {out}/latents.npz, target_vs_projection.png, progress.gif"
          f"{', edits.png and the tuned generator.keras' if tune_steps else ''}")
    if baseline:
        psnr, ssim = nearest_samples(original, targets, baseline, seed=seed)
        joined.extra["baseline"] = (psnr, ssim)
        print(f"nearest of {baseline:,} random samples: PSNR {psnr.mean():.2f} dB, SSIM {ssim.mean():.3f}; "
              f"projection better on {np.mean(joined.psnr > psnr):.0%} of the images (PSNR)")
    return joined

