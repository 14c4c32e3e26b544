"""Command line: `python -m gan_keras train|sample|evaluate|project|directions|edit|video|export|bench|download`.

Bad input prints one line, `error: ...`, on stderr and exits with code 2. Every list of choices
comes from `gan_keras.registry`, read without importing TensorFlow.
"""

import argparse
import os
import sys
import warnings

from gan_keras import registry
from gan_keras.errors import UsageError
from gan_keras.registry import having, names


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see: {self.prog} --help)")


def _add_train(sub):
    p = sub.add_parser("train", help="train a GAN into a run folder")
    p.add_argument("dataset", help="mnist, fashion_mnist, anime, a folder of images or an .npz (key 'images')")
    p.add_argument("--model", choices=["auto", *names("network")],
                   help="network kind; auto (default): mlp for grayscale images up to 32x32, else dcgan; "
                        "stylegan: a style-based generator (mapping network, modulated convolutions)")
    p.add_argument("--conditional", action="store_true", default=None,
                   help="class-conditional: G draws the class asked for, D is a projection discriminator; "
                        "needs labels (mnist, fashion_mnist, a folder of class sub-folders, an .npz with 'labels')")
    p.add_argument("--trainer", choices=names("trainer"), help="fused train_step (default) or the classic loop")
    p.add_argument("--epochs", type=int, help="total epochs, counting those of a resumed run "
                                              "(default 10; with --max-minutes, until the time is spent)")
    p.add_argument("--steps-per-epoch", type=int, help="default: one pass over the data")
    p.add_argument("--batch-size", type=int, help="per device (default 64)")
    p.add_argument("--latent-dim", type=int, help="noise size (default 100)")
    p.add_argument("--width", type=int, help="DCGAN filters of the outer layers, doubling inwards "
                                             "(default: 16 for 64x64 and larger on a CPU, else 64)")
    p.add_argument("--lr", type=float, help="Adam learning rate of D and G (default 2e-4, beta_1 0.5)")
    p.add_argument("--beta-1", type=float, help="Adam beta_1 (default 0.5)")
    p.add_argument("--image-size", type=int, help="train at this size (default: the data's own)")
    p.add_argument("--loss", choices=names("loss"),
                   help="GAN loss on D's logits (default nonsaturating)")
    p.add_argument("--n-critic", type=int, help="D steps per G step (default 1; WGAN-GP uses 5)")
    p.add_argument("--r1", type=float, help="R1 penalty gamma on real images, lazily every 16 steps (default 0: off)")
    p.add_argument("--augment", choices=names("augment"),
                   help="augment what D sees: DiffAugment, or ADA with an adaptive probability (default: diffaug "
                        "for DCGAN at 64x64 and larger, else none)")
    p.add_argument("--ada-target", type=float, help="ADA: target of E[sign(D(real))] (default 0.6)")
    p.add_argument("--ema", type=float, help="decay of the generator's moving average, e.g. 0.999; the average "
                                             "draws the grids, samples and metrics (default: 0.999 for DCGAN "
                                             "at 64x64 and larger, else 0: off)")
    p.add_argument("--share-fakes", action=argparse.BooleanOptionalAction,
                   help="G's step scores the batch D's step just trained on (by the updated D), as PyTorch's "
                        "DCGAN example does: one pass of G fewer a step (default: on with the fused trainer)")
    p.add_argument("--real-label", type=float, help="target for real images; 0.9 = one-sided label smoothing")
    p.add_argument("--label-noise", type=float, help="fraction of D labels flipped at random (default 0)")
    p.add_argument("--walk-data", action="store_true", default=None,
                   help="classic trainer: walk the data by a moving start index instead of shuffling")
    p.add_argument("--limit", type=int, help="train on the first N images only")
    p.add_argument("--init-from", help="start from the networks of another run folder, or of pretrained:NAME "
                                       "(transfer learning)")
    p.add_argument("--freeze-d", type=int, help="FreezeD: keep D's lowest N convolution blocks fixed")
    p.add_argument("--sample-every", type=int, help="save a sample grid every N epochs (default 1)")
    p.add_argument("--eval-every", type=int, help="add the cheap quality metric to history every N epochs")
    p.add_argument("--tensorboard", action="store_true", default=None,
                   help="also write losses, metrics, learning rates and grids to RUN/tensorboard/")
    p.add_argument("--checkpoint-every-steps", type=int, help="also checkpoint every N steps inside an epoch")
    p.add_argument("--max-minutes", type=float, help="stop cleanly (checkpoint, grid, generator) after M minutes")
    p.add_argument("--out", help="run folder (default outputs/<dataset>-<model>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--seed", type=int, help="seed of weights, noise and shuffling (default 0)")
    p.add_argument("--data-dir", help="where named datasets live (default $GAN_KERAS_DATA_DIR, else data/)")
    p.add_argument("--strategy", choices=names("strategy"),
                   help="tf.distribute strategy (default auto)")
    _add_speed_options(p, "8 on one GPU, else 1")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _quiet_tensorflow():
    import logging

    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def _train(args):
    from gan_keras.run import train

    _quiet_tensorflow()
    settings = {k: v for k, v in vars(args).items() if k not in ("command", "out", "resume", "quiet", "dataset")}
    result = train(args.dataset, out=args.out, resume=args.resume, verbose=0 if args.quiet else None, **settings)
    return 130 if result.stop_reason == "signal" else 0


def _check_class(generator, label):
    """One line for --class on a run without classes."""
    from gan_keras.models import num_classes
    from gan_keras.sampling import NOT_CONDITIONAL

    if label is not None and not num_classes(generator):
        raise UsageError(f"--class: {NOT_CONDITIONAL}")
    return num_classes(generator)


def _save_images_npz(out, images, **extra):
    """uint8 images as `sample` writes them (grayscale without its channel axis), beside `extra` arrays."""
    import numpy as np

    from gan_keras.images import to_uint8

    array = to_uint8(images)
    np.savez_compressed(out, images=array[..., 0] if array.shape[-1] == 1 else array, **extra)


def _add_sample(sub):
    p = sub.add_parser("sample", help="generate images from a run's generator")
    p.add_argument("run", help="run folder, or pretrained:NAME (a generator shipped with the package)")
    p.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    p.add_argument("--out", required=True, help=".png for a grid, .npz for an array 'images' (uint8) "
                                                "and, for a conditional run, 'labels'")
    p.add_argument("--class", dest="label", type=int,
                   help="conditional runs: draw only this class (default: the classes in turn)")
    p.add_argument("--truncation", type=float,
                   help="style-based runs: pull each w towards the mean by this psi, e.g. 0.7 (1: off)")
    p.add_argument("--seed", type=int, default=0)


def _sample(args):
    from pathlib import Path

    from gan_keras.images import image_grid, save_png
    from gan_keras.sampling import class_labels, generate, load_generator

    out = Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise UsageError(f"--out must end in .png or .npz, got {out.name}")
    if args.n < 1:
        raise UsageError(f"--n must be positive, got {args.n}")
    if not out.parent.is_dir():
        raise UsageError(f"folder {out.parent} does not exist")
    generator = load_generator(args.run)
    classes = _check_class(generator, args.label)
    labels = class_labels(generator, args.n, args.label) if classes else None
    images = generate(generator, args.n, seed=args.seed, labels=labels, truncation=args.truncation)
    if out.suffix == ".npz":
        _save_images_npz(out, images, **({} if labels is None else {"labels": labels}))
    else:  # the classes in turn: one column per class
        save_png(image_grid(images, cols=classes if classes and args.label is None and classes <= 16 else None), out)
    print(f"wrote {args.n} images to {out}")
    return 0


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="score a run's generator against the real data of its dataset "
                                        "(the held-out part when the run used --limit)")
    p.add_argument("run", help="run folder, or pretrained:NAME")
    p.add_argument("--metric", choices=names("metric"),
                   help="default: domain FID for digits, SWD for other images")
    p.add_argument("--n", type=int, default=10000, help="generated and real images compared (default 10000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-dir", help="where named datasets live")
    p.add_argument("--json", action="store_true", help="print one JSON line")


def _evaluate(args):
    import json

    from gan_keras.metrics import evaluate_run

    if args.n < 2:
        raise UsageError(f"--n must be at least 2, got {args.n}")
    record = evaluate_run(args.run, args.metric, n=args.n, seed=args.seed, data_dir=args.data_dir,
                          verbose=0 if args.json else 1)
    if args.json:
        print(json.dumps(record))
    else:
        for key, value in record.items():
            if isinstance(value, list):
                value = " ".join(f"{v:.2f}" for v in value)
            print(f"{key:>12}: {value:.4f}" if isinstance(value, float) else f"{key:>12}: {value}")
    return 0


def _amounts(text):
    try:
        return [float(a) for a in text.split(",") if a.strip()]
    except ValueError:
        raise UsageError(f"--amounts is a comma-separated list of numbers, e.g. -3,-1,0,1,3, got {text!r}") from None


def _add_project(sub):
    p = sub.add_parser("project", help="find the latents that make a run's generator draw your images")
    p.add_argument("run", help="run folder, or pretrained:NAME")
    p.add_argument("images", nargs="+", help="image files or folders (center-cropped and resized to the run's size)")
    p.add_argument("--out", required=True, help="folder for latents.npz, target_vs_projection.png and progress.gif")
    p.add_argument("--steps", type=int, default=300, help="optimisation steps (default 300)")
    p.add_argument("--space", choices=names("space"), help="default: w for a style-based run, else z")
    p.add_argument("--distance", default="auto", choices=names("distance"),
                   help="pixels plus: vgg (VGG16 features, downloaded once), discriminator (the run's own D), "
                        "ssim, or pixel alone; auto: vgg where its weights can be had, else the measured offline "
                        "choice")
    p.add_argument("--class", dest="label", type=int, help="conditional runs: project as this class (default: "
                                                          "search every class)")
    p.add_argument("--starts", type=int, default=4, help="random starts per image in z; the best is kept (default 4)")
    p.add_argument("--batch", type=int, default=8, help="images projected at once (default 8)")
    p.add_argument("--baseline", type=int, metavar="N",
                   help="also report the nearest of N random samples to each image (PSNR, SSIM): what "
                        "projection has to beat")
    p.add_argument("--seed", type=int, default=0)


def _project(args):
    import time
    from pathlib import Path

    import numpy as np

    from gan_keras.images import image_grid, save_png
    from gan_keras.latent import check_space, default_space, save_latents
    from gan_keras.projection import load_targets, project
    from gan_keras.sampling import load_discriminator, load_generator

    if args.steps < 1 or args.batch < 1 or args.starts < 1:
        raise UsageError("--steps, --batch and --starts must be positive")
    out = Path(args.out)
    generator = load_generator(args.run)
    check_space(generator, args.space or default_space(generator))  # before reading any image
    _check_class(generator, args.label)
    targets = load_targets(args.images, generator)
    needs_d = registry.info("distance", args.distance).get("needs_discriminator", False)
    discriminator = load_discriminator(args.run) if needs_d else None
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    started = time.perf_counter()
    for i in range(0, len(targets), args.batch):
        print(f"images {i + 1}-{min(i + args.batch, len(targets))} of {len(targets)}", flush=True)
        parts.append(project(generator, targets[i:i + args.batch], steps=args.steps, space=args.space,
                             distance=args.distance, discriminator=discriminator, label=args.label,
                             starts=args.starts, seed=args.seed, frames=min(args.steps + 1, 40)))
    first = parts[0]
    joined = {k: np.concatenate([getattr(r, k) for r in parts]) for k in ("latents", "images", "psnr", "ssim")}
    labels = None if first.labels is None else np.concatenate([r.labels for r in parts])
    save_latents(out / "latents.npz", joined["latents"], first.space, args.run, generator, labels=labels,
                 psnr=joined["psnr"], ssim=joined["ssim"], distance=first.distance)
    pairs = np.stack([targets, joined["images"]], axis=1).reshape(-1, *targets.shape[1:])
    save_png(image_grid(pairs, cols=2 * min(4, len(targets))), out / "target_vs_projection.png")
    from gan_keras.video import write_video

    frames = [image_grid(np.stack([t, f], 1).reshape(-1, *t.shape[1:]), cols=2 * min(4, len(t)))
              for t, f in ((r.targets, snap) for r in parts[:1] for snap in r.frames)]
    write_video(np.stack(frames), out / "progress.gif", fps=10)
    seconds = (time.perf_counter() - started) / len(targets)
    classes = "" if labels is None else f", classes {' '.join(map(str, labels))}"
    print(f"projected {len(targets)} images into {first.space} ({first.distance} distance{classes}): "
          f"PSNR {joined['psnr'].mean():.2f} dB, SSIM {joined['ssim'].mean():.3f}, {seconds:.1f} s per image; "
          f"wrote {out}/latents.npz, target_vs_projection.png, progress.gif")
    if args.baseline:
        from gan_keras.projection import nearest_samples

        psnr, ssim = nearest_samples(generator, targets, args.baseline, seed=args.seed)
        print(f"nearest of {args.baseline:,} random samples: PSNR {psnr.mean():.2f} dB, SSIM {ssim.mean():.3f}; "
              f"projection better on {np.mean(joined['psnr'] > psnr):.0%} of the images (PSNR)")
    return 0


def _add_directions(sub):
    p = sub.add_parser("directions", help="find a run's controls: without labels (SeFa, GANSpace), or along a "
                                          "scored attribute (InterFaceGAN)")
    p.add_argument("run", help="run folder, or pretrained:NAME")
    p.add_argument("--method", default="sefa", choices=names("direction"))
    p.add_argument("--attribute", help="interfacegan: brightness (top third of the image), or class:K for "
                                       "digits (the domain classifier's probability of K)")
    p.add_argument("--k", type=int, default=10, help="directions to keep (default 10)")
    p.add_argument("--out", required=True, help="folder for directions.npz and one grid per direction")
    p.add_argument("--rows", type=int, default=4, help="latents per grid (default 4)")
    p.add_argument("--seed", type=int, default=0)


def _directions(args):
    from pathlib import Path

    from gan_keras.config import load_config
    from gan_keras.directions import attribute_scorer, discover, edit, effect_sizes, labelled_direction, monotonicity
    from gan_keras.images import image_grid, save_png
    from gan_keras.latent import fingerprint, random_latents
    from gan_keras.sampling import class_labels, load_generator
    from gan_keras.models import num_classes

    out = Path(args.out)
    if (args.method == "interfacegan") != bool(args.attribute):
        raise UsageError("--attribute goes with --method interfacegan (and it needs one)")
    if args.attribute:
        attribute_scorer(args.attribute, load_config(args.run)[0].dataset)  # a bad name: one line before loading
    generator = load_generator(args.run)
    if args.attribute:
        found, score = labelled_direction(generator, args.attribute, load_config(args.run)[0].dataset,
                                          run=str(args.run))
        means, rho = monotonicity(score, generator, found, 0)
        print(f"{args.attribute}: boundary accuracy {found.values[0]:.3f}; mean score from -3 to +3 sd: "
              f"{' '.join(f'{m:.3f}' for m in means)} (Spearman {rho:+.2f})")
    else:
        found = discover(generator, args.method, args.k, run=str(args.run))
    found.generator = fingerprint(generator)
    out.mkdir(parents=True, exist_ok=True)
    found.save(out / "directions.npz")
    labels = class_labels(generator, args.rows) if num_classes(generator) else None
    latents = random_latents(generator, args.rows, seed=args.seed, labels=labels)
    amounts = [-3, -2, -1, 0, 1, 2, 3]
    for i in range(len(found)):
        images = edit(generator, latents, found, i, amounts, labels=labels)
        save_png(image_grid(images, cols=len(amounts)), out / f"direction_{i:02d}.png")
    changes, ratios = effect_sizes(generator, found, labels=None if labels is None else class_labels(generator, 64))
    for i, (change, ratio) in enumerate(zip(changes, ratios)):
        print(f"direction {i}: a 1-sd step changes pixels by {change:.4f}, {ratio:.2f}x a random direction")
    print(f"wrote {out}/directions.npz ({len(found)} {args.method} direction{'s' * (len(found) > 1)} in "
          f"{found.space}) and "
          f"direction_00.png ... (rows: latents, columns: -3 ... +3 sd)")
    return 0


def _add_edit(sub):
    p = sub.add_parser("edit", help="move latents (projected or random) along a direction")
    p.add_argument("run", help="run folder, or pretrained:NAME")
    p.add_argument("--direction", required=True, help="directions.npz:K (the K-th direction of the file)")
    p.add_argument("--latents", help="latents.npz from project (default: --n random latents)")
    p.add_argument("--n", type=int, default=4, help="random latents when no --latents (default 4)")
    p.add_argument("--amounts", default="-3,-1,0,1,3", help="steps in standard deviations (default -3,-1,0,1,3)")
    p.add_argument("--layers", choices=names("layers"),
                   help="style-based runs: move only these layers' styles")
    p.add_argument("--class", dest="label", type=int, help="conditional runs: the class of the random latents")
    p.add_argument("--out", required=True, help=".png grid (rows: latents, columns: amounts) or .npz (uint8 images)")
    p.add_argument("--seed", type=int, default=0)


def _edit(args):
    from pathlib import Path

    import numpy as np

    from gan_keras.directions import edit, load_directions
    from gan_keras.images import image_grid, save_png
    from gan_keras.latent import load_latents, random_latents
    from gan_keras.sampling import class_labels, load_generator

    out = Path(args.out)
    if out.suffix not in (".png", ".npz"):
        raise UsageError(f"--out must end in .png or .npz, got {out.name}")
    amounts = _amounts(args.amounts)
    if not amounts:
        raise UsageError("--amounts needs at least one number")
    generator = load_generator(args.run)
    found, index = load_directions(args.direction, generator, one=True)
    classes = _check_class(generator, args.label)
    if args.latents:
        latents, space, labels = load_latents(args.latents, generator)
    else:
        labels = class_labels(generator, args.n, args.label) if classes else None
        latents, space = random_latents(generator, args.n, seed=args.seed, space=found.space, labels=labels), found.space
    images = edit(generator, latents, found, index, amounts, space=space, labels=labels, layers=args.layers)
    if out.suffix == ".npz":
        _save_images_npz(out, images, amounts=np.tile(amounts, len(latents)))
    else:
        save_png(image_grid(images, cols=len(amounts)), out)
    print(f"wrote {len(images)} images to {out} ({len(latents)} latents x amounts {args.amounts} along "
          f"{found.names[index] if found.names else index})")
    return 0


def _add_video(sub):
    p = sub.add_parser("video", help="a looping latent walk (or a sweep along a direction) as .mp4 or .gif")
    p.add_argument("run", help="run folder, or pretrained:NAME")
    p.add_argument("--out", required=True, help=".mp4 (H.264 through imageio-ffmpeg) or .gif")
    p.add_argument("--grid", default="1x1", help="ROWSxCOLS walks at once (default 1x1)")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--keyframes", type=int, default=5, help="random keyframes per walk (default 5)")
    p.add_argument("--latents", help="latents.npz from project: walk through those images")
    p.add_argument("--direction", help="directions.npz:K: sweep that control (-3 to +3 sd and back)")
    p.add_argument("--class", dest="label", type=int, help="conditional runs: the class to walk in")
    p.add_argument("--seed", type=int, default=0)


def _video(args):
    from pathlib import Path

    from gan_keras.latent import load_latents
    from gan_keras.sampling import class_labels, load_generator
    from gan_keras.video import VIDEO_SUFFIXES, parse_grid, sweep_frames, walk_frames, write_video

    out = Path(args.out)
    if out.suffix not in VIDEO_SUFFIXES:
        raise UsageError(f"--out must end in {' or '.join(VIDEO_SUFFIXES)}, got {out.name}")
    grid = parse_grid(args.grid)
    frames = round(args.seconds * args.fps)
    if frames < 2 or args.keyframes < 2:
        raise UsageError("a video needs at least 2 frames (--seconds x --fps) and 2 keyframes")
    generator = load_generator(args.run)
    classes = _check_class(generator, args.label)
    cells = grid[0] * grid[1]
    labels = class_labels(generator, cells * args.keyframes, args.label) if classes else None
    latents = space = None
    if args.latents:
        latents, space, saved_labels = load_latents(args.latents, generator)
        labels = saved_labels if saved_labels is not None else labels
    if args.direction:
        from gan_keras.directions import load_directions

        found, index = load_directions(args.direction, generator, one=True)
        video = sweep_frames(generator, found, index, grid, frames, seed=args.seed, latents=latents,
                             labels=None if labels is None else labels[:cells])
    else:
        video = walk_frames(generator, grid, frames, args.keyframes, seed=args.seed, keys=latents, space=space,
                            labels=labels)
    write_video(video, out, fps=args.fps)
    print(f"wrote {out}: {len(video)} frames at {args.fps} fps, a {args.grid} grid")
    return 0


def _add_export(sub):
    p = sub.add_parser("export", help="write a run's generator as a SavedModel, LiteRT (.tflite) or ONNX file, "
                                      "checked in that format's runtime")
    p.add_argument("run", help="run folder, or pretrained:NAME")
    p.add_argument("--format", required=True, choices=names("export"),
                   help="savedmodel (a folder), litert (.tflite) or onnx (.onnx; needs pip install "
                        "\"gan_keras[export]\")")
    p.add_argument("--out", required=True, help="where to write it (the format's suffix is added when missing)")


def _export(args):
    from gan_keras.export import check_format, export_generator
    from gan_keras.sampling import load_generator

    check_format(args.format)  # a missing package: one line before anything loads
    report = export_generator(load_generator(args.run), args.out, args.format)
    print(f"wrote {report['path']} ({args.format}, inputs: {', '.join(report['inputs'])}); checked in its runtime: "
          f"largest difference from the Keras generator {report['max_abs_diff']:.1e}")
    return 0


def _add_download(sub):
    p = sub.add_parser("download", help="fetch a named dataset into the data folder (with a progress bar)")
    p.add_argument("dataset", choices=names("dataset"))
    p.add_argument("--data-dir", help="where named datasets live (default $GAN_KERAS_DATA_DIR, else data/)")
    p.add_argument("--force", action="store_true", help="download again even if the files are there")


def _download(args):
    from gan_keras.data import data_dir
    from gan_keras.download import download

    path = download(args.dataset, data_dir(args.data_dir), force=args.force)
    print(f"{args.dataset}: {path}")
    return 0


def _add_speed_options(p, per_call_default):
    p.add_argument("--mixed-precision", nargs="?", const="auto", choices=names("precision"),
                   help="compute in 16 bits, weights in 32; alone: float16 on GPU (loss scaling per "
                        "optimizer), bfloat16 elsewhere (default: bfloat16 on a CPU with bfloat16 instructions "
                        f"for {', '.join(having('network', 'cpu_bfloat16'))} with the fused trainer, where it was "
                        "measured to pay off; else off)")
    p.add_argument("--jit-compile", action=argparse.BooleanOptionalAction,
                   help="XLA-compile the training step (default: on with a GPU, off on CPU, where it is slower)")
    p.add_argument("--steps-per-execution", type=int,
                   help=f"train steps per call into TensorFlow (default {per_call_default})")


def _add_bench(sub):
    p = sub.add_parser("bench", help="images/s of the fused trainer (the step train runs), the classic loop and a "
                                     "plain loop; GFLOP/s and share of peak")
    p.add_argument("--json", action="store_true", help="one JSON line per model")
    p.add_argument("--models", default="mlp,dcgan,dcgan64", help="comma-separated: mlp, dcgan, dcgan64")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, help="timed steps per loop and round (default: about 2 s of steps)")
    p.add_argument("--rounds", type=int, default=3, help="the loops take turns this often; median reported")
    p.add_argument("--peak-gflops", type=float, help="the device's peak GFLOP/s for the share reached (default on "
                                                     "a CPU: its float32 FMA peak from /proc/cpuinfo)")
    p.add_argument("--threads", type=int, help="TensorFlow threads (intra- and inter-op; default: every core)")
    p.add_argument("--width", type=int, help="DCGAN width (default: what train chooses)")
    p.add_argument("--augment", choices=names("augment"), help="the fused trainer's augmentation (default: what train chooses)")
    p.add_argument("--ema", type=float, help="the fused trainer's EMA decay, 0: off (default: what train chooses)")
    p.add_argument("--share-fakes", action=argparse.BooleanOptionalAction,
                   help="the fused trainer's G step on D's generated batch (default: what train chooses)")
    p.add_argument("--profile", metavar="DIR", help="also trace the fused step into DIR and print its time per "
                                                    "op class")
    _add_speed_options(p, "1")


def _bench(args):
    from gan_keras.bench import main

    args.steps_per_execution = args.steps_per_execution or 1
    return main(args)


def _join_negative_lists(argv):
    """`--amounts -3,-1,0,1,3` as `--amounts=-3,...`: argparse would take "-3,-1,..." for an option."""
    joined, i = [], 0
    while i < len(argv):
        if argv[i] == "--amounts" and i + 1 < len(argv):
            joined.append(f"--amounts={argv[i + 1]}")
            i += 2
        else:
            joined.append(argv[i])
            i += 1
    return joined


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=file or sys.stderr, flush=True)


def main(argv=None):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    warnings.showwarning = _one_line_warning  # a damaged file, skipped images: one line each, no source echo
    parser = _Parser(prog="python -m gan_keras", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    _add_sample(sub)
    _add_evaluate(sub)
    for add in (_add_project, _add_directions, _add_edit, _add_video, _add_export, _add_bench, _add_download):
        add(sub)
    commands = {"train": _train, "sample": _sample, "evaluate": _evaluate, "project": _project,
                "directions": _directions, "edit": _edit, "video": _video, "export": _export, "bench": _bench,
                "download": _download}
    argv = _join_negative_lists(sys.argv[1:] if argv is None else list(argv))
    try:
        args = parser.parse_args(argv)
        return commands[args.command](args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as e:  # a full disk, a read-only folder
        print(f"error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
