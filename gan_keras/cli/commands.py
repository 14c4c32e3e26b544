"""The commands: each one's options as a dataclass (flag, help, choices and default in one place,
`gan_keras.options`) and a thin function that calls the tool that does the work.

`train`'s options are the fields of `RunConfig` itself; the tools write their folders and files
themselves (`run_projection`, `run_edit`, ...), so the notebooks call the same functions.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gan_keras.bench.training_step import BenchOptions
from gan_keras.errors import UsageError
from gan_keras.options import option
from gan_keras.tools.pack import PackOptions
from gan_keras.training.config import RunConfig

RUN = "run folder, or pretrained:NAME (a generator shipped with the package)"
CLASS_HELP = "conditional runs: the class to draw"


@dataclass
class TrainRun:
    out: str | None = option(None, "run folder", default_help="outputs/<dataset>-<model>-<time>")
    resume: bool = option(False, "continue the run in --out from its last checkpoint")
    quiet: bool = option(False, "no progress bar")


def train(args):
    from gan_keras.runs.train import train

    settings = {k: v for k, v in vars(args).items() if k not in ("command", "out", "resume", "quiet", "dataset")}
    result = train(args.dataset, out=args.out, resume=args.resume, verbose=0 if args.quiet else None, **settings)
    return 130 if result.stop_reason == "signal" else 0


@dataclass
class SampleOptions:
    run: str = option(help=RUN, positional=True)
    n: int = option(64, "number of images")
    out: str = option(help=".png for a grid, .npz for an array 'images' (uint8) and, for a conditional run, "
                      "'labels'", required=True)
    label: int | None = option(None, "conditional runs: draw only this class", flag="--class",
                               default_help="the classes in turn")
    truncation: float | None = option(None, "style-based runs: pull each w towards the mean by this psi, e.g. 0.7 "
                                      "(1: off)")
    seed: int = option(0, "seed of the noise")
    beside_real: bool = option(False, "a .png of the samples beside as many real images drawn at random from "
                               "those evaluate compares with (the run's held-out ones, else its training ones)")


def sample(args):
    from gan_keras.tools.sample import run_sampling

    out = run_sampling(args.run, args.out, args.n, args.label, args.truncation, args.seed, args.beside_real)
    print(f"wrote {args.n} images{' beside real ones' if args.beside_real else ''} to {out}")
    return 0


@dataclass
class EvaluateOptions:
    run: str = option(help=RUN, positional=True)
    metric: str | None = option(None, "what to compute", choices="metric",
                                default_help="domain FID for digits, SWD for other images")
    n: int = option(10000, "generated and real images compared")
    seed: int = option(0, "seed of the samples")
    repeats: int = option(1, "score that many draws of samples (and of real images, when there are more than --n): "
                          "the mean, with each number's standard deviation (KEY_sd) and values (KEY_runs)")
    figure: str | None = option(None, "--metric copies: a PNG of the samples closest to a training image, "
                                "above their nearest training image")
    against_train: bool = option(False, "compare with the images the run trained on, not the held-out ones of a "
                                 "run trained with --limit (how close G came to what it saw; --metric copies "
                                 "checks that it did not copy them)")
    compare_with: str | None = option(None, "compare with the held-out images of this dataset instead (and read "
                                      "its floor from its training images): a run of anime8k against anime's",
                                      choices="dataset")
    excluding: str | None = option(None, "leave out the real images that are also in this dataset, pixel for "
                                   "pixel: pretrained:anime64 (trained on anime8k) and a run of anime scored on the "
                                   "held-out faces neither saw", choices="dataset")
    data_dir: str | None = option(None, "where named datasets live", default_help="$GAN_KERAS_DATA_DIR, else data/")
    json: bool = option(False, "print one JSON line")


def evaluate(args):
    import json

    from gan_keras.metrics.evaluate import evaluate_run

    if args.n < 2:
        raise UsageError(f"--n must be at least 2, got {args.n}")
    if args.repeats < 1:
        raise UsageError(f"--repeats must be at least 1, got {args.repeats}")
    if args.figure and not Path(args.figure).resolve().parent.is_dir():
        raise UsageError(f"folder {Path(args.figure).parent} does not exist")
    record = evaluate_run(args.run, args.metric, n=args.n, seed=args.seed, data_dir=args.data_dir,
                          verbose=0 if args.json else 1, repeats=args.repeats, figure=args.figure,
                          against_train=args.against_train, compare_with=args.compare_with,
                          excluding=args.excluding)
    if args.json:
        print(json.dumps(record))
    else:
        for key, value in record.items():
            if isinstance(value, list):
                value = " ".join(f"{v:.2f}" for v in value)
            print(f"{key:>16}: {value:.4f}" if isinstance(value, float) else f"{key:>16}: {value}")
    return 0


@dataclass
class ProjectOptions:
    run: str = option(help=RUN, positional=True)
    images: list = option(help="image files or folders (center-cropped and resized to the run's size)",
                          positional=True, nargs="+")
    out: str = option(help="folder for latents.npz, target_vs_projection.png and progress.gif", required=True)
    steps: int = option(300, "optimisation steps")
    space: str | None = option(None, "the latent space to search", choices="space",
                               default_help="w for a style-based run, else z")
    distance: str = option("auto", "pixels plus: vgg (VGG16 features, downloaded once), discriminator (the run's "
                           "own D), ssim, or pixel alone; auto: vgg where its weights can be had, else the measured "
                           "offline choice", choices="distance")
    label: int | None = option(None, "conditional runs: project as this class", flag="--class",
                               default_help="search every class")
    starts: int = option(4, "random starts per image in z; the best is kept")
    batch: int = option(8, "images projected at once")
    baseline: int | None = option(None, "also report the nearest of N random samples to each image (PSNR, SSIM): "
                                  "what projection has to beat", metavar="N")
    seed: int = option(0, "seed of the starts")
    tune: bool = option(True, "then Pivotal Tuning Inversion: fine-tune a copy of G so that it draws your images "
                        "from their latents, kept in OUT (a run folder for edit, video, sample, export); "
                        "--no-tune: the latents alone, for the run's own G", negatable=True)
    tune_steps: int = option(200, "--tune: fine-tuning steps")
    locality: float = option(0.0, "--tune: weight of keeping G's images unchanged around the latents (PTI's "
                             "locality term): more keeps random faces as they were, less keeps your face under edits")
    encoder: str = option("auto", "start from an encoder (train-encoder): auto, the run's own when it has one; "
                          "a folder holding one; none. With an encoder, --steps 0 is the encoder alone")


def project(args):
    from gan_keras.tools.projection import run_projection

    tune = args.tune is not False  # on unless --no-tune
    if tune and args.tune_steps < 1:
        raise UsageError(f"--tune-steps must be positive, got {args.tune_steps}")
    run_projection(args.run, args.images, args.out, args.steps, args.space, args.distance, args.label, args.starts,
                   args.batch, args.baseline, args.seed, tune_steps=args.tune_steps if tune else 0,
                   locality=args.locality, encoder=args.encoder)
    return 0


@dataclass
class TrainEncoderOptions:
    run: str = option(help=RUN, positional=True)
    out: str | None = option(None, "folder for encoder.npz and encoder.json", default_help="the run folder")
    minutes: float = option(10.0, "minutes of training (wall clock)")
    steps: int | None = option(None, "train this many steps instead of --minutes")
    batch_size: int = option(32, "G's samples per step")
    width: int = option(32, "filters of the encoder's first convolution, doubling inwards up to 128")
    real: bool = option(True, "also train on the images the run trained on (pixels and SSIM of G(E(x)) against "
                        "them), when its dataset can be read", negatable=True)
    seed: int = option(0, "seed of the samples")
    quiet: bool = option(False, "no progress bar")


def train_encoder(args):
    from gan_keras.tools.encoder import run_train_encoder

    run_train_encoder(args.run, args.out, args.steps, args.minutes, args.batch_size, args.width, args.seed,
                      verbose=0 if args.quiet else 1, real=args.real is not False)
    return 0


@dataclass
class DirectionsOptions:
    run: str = option(help=RUN, positional=True)
    method: str = option("sefa", "without labels (sefa, ganspace), or along a scored attribute (interfacegan)",
                         choices="direction")
    attribute: str | None = option(None, "interfacegan: brightness (top third of the image), or class:K for digits "
                                   "(the domain classifier's probability of K)")
    k: int = option(10, "directions to keep")
    out: str = option(help="folder for directions.npz and one grid per direction", required=True)
    rows: int = option(4, "latents per grid")
    seed: int = option(0, "seed of the grids' latents")


def directions(args):
    from gan_keras.tools.edit import run_directions

    run_directions(args.run, args.out, args.method, args.attribute, args.k, args.rows, args.seed)
    return 0


def amounts(text):
    """"-3,-1,0,1,3" -> [-3.0, -1.0, 0.0, 1.0, 3.0]; one UsageError line otherwise."""
    try:
        return [float(a) for a in text.split(",") if a.strip()]
    except ValueError:
        raise UsageError(f"--amounts is a comma-separated list of numbers, e.g. -3,-1,0,1,3, got {text!r}") from None


@dataclass
class EditOptions:
    run: str = option(help=RUN, positional=True)
    direction: str = option(help="directions.npz:K (the K-th direction of the file)", required=True)
    latents: str | None = option(None, "latents.npz from project", default_help="--n random latents")
    n: int = option(4, "random latents when no --latents")
    amounts: str = option("-3,-1,0,1,3", "steps in standard deviations")
    layers: str | None = option(None, "style-based runs: move only these layers' styles", choices="layers")
    label: int | None = option(None, CLASS_HELP, flag="--class")
    out: str = option(help=".png grid (rows: latents, columns: amounts) or .npz (uint8 images)", required=True)
    seed: int = option(0, "seed of the random latents")


def edit(args):
    from gan_keras.tools.edit import run_edit

    run_edit(args.run, args.direction, args.out, args.latents, args.n, amounts(args.amounts), args.layers, args.label,
             args.seed)
    return 0


@dataclass
class VideoOptions:
    run: str = option(help=RUN, positional=True)
    out: str = option(help=".mp4 (H.264 through imageio-ffmpeg) or .gif", required=True)
    grid: str = option("1x1", "ROWSxCOLS walks at once")
    seconds: float = option(10.0, "length")
    fps: int = option(30, "frames per second")
    keyframes: int = option(5, "random keyframes per walk")
    latents: str | None = option(None, "latents.npz from project: walk through those images")
    direction: str | None = option(None, "directions.npz:K: sweep that control (-3 to +3 sd and back)")
    label: int | None = option(None, "conditional runs: the class to walk in", flag="--class")
    seed: int = option(0, "seed of the keyframes")


def video(args):
    from gan_keras.tools.video import run_video

    run_video(args.run, args.out, args.grid, args.seconds, args.fps, args.keyframes, args.latents, args.direction,
              args.label, args.seed)
    return 0


@dataclass
class ExportOptions:
    run: str = option(help=RUN, positional=True)
    format: str = option(help="savedmodel (a folder), litert (.tflite), onnx (.onnx; needs pip install "
                         "\"gan_keras[export]\") or web (a folder with a page: needs npm install too)",
                         choices="export", required=True)
    out: str = option(help="where to write it (the format's suffix is added when missing)", required=True)
    directions: str | None = option(None, "--format web: the sliders' directions.npz (from `directions`)",
                                    default_help="the top 6 SeFa directions")


def export(args):
    from gan_keras.tools.export import run_export

    run_export(args.run, args.out, args.format, args.directions)
    return 0


@dataclass
class DownloadOptions:
    dataset: str = option(help="a named dataset", positional=True, choices="dataset")
    data_dir: str | None = option(None, "where named datasets live", default_help="$GAN_KERAS_DATA_DIR, else data/")
    force: bool = option(False, "download again even if the files are there")


def download(args):
    from gan_keras.data.download import download
    from gan_keras.data.folders import data_dir

    print(f"{args.dataset}: {download(args.dataset, data_dir(args.data_dir), force=args.force)}")
    return 0


def pack(args):
    from gan_keras.tools.pack import card_markdown, pack

    print(card_markdown(pack(args.run, args.name, args.train_command, args.licence, args.summary, args.n,
                             best=args.best)))
    return 0


@dataclass
class ClassifierOptions:
    out: str | None = option(None, "the folder to write them to", default_help="the package's pretrained/")


def train_classifiers(args):
    from gan_keras.data.sources import DIGIT_SETS
    from gan_keras.metrics.features import train_digit_classifier
    from gan_keras.pretrained import classifier_files

    for name in DIGIT_SETS:
        model_path, card_path = classifier_files(name, args.out)
        _, info = train_digit_classifier(name, model_path, card_path)
        print(f"{model_path.name}: test accuracy {info['test_accuracy']:.4f}")
    return 0


def bench(args):
    from gan_keras.bench.training_step import main

    return main(args)


@dataclass(frozen=True)
class Command:
    """A command: its help line, the dataclasses its options come from, and the function it runs."""

    help: str
    options: tuple
    run: Callable
    unset: bool = False  # options not given parse as None (a resumed run keeps its settings)
    only: tuple | None = None  # of the last options class, these fields only


COMMANDS = {
    "train": Command("train a GAN into a run folder", (RunConfig, TrainRun), train, unset=True),
    "sample": Command("generate images from a run's generator", (SampleOptions,), sample),
    "evaluate": Command("score a run's generator against the real data of its dataset (the held-out part when the "
                        "run used --limit)", (EvaluateOptions,), evaluate),
    "project": Command("find the latents that make a run's generator draw your images", (ProjectOptions,), project),
    "train-encoder": Command("train an encoder of a run's generator (image -> latent in one pass), where project "
                             "starts from it", (TrainEncoderOptions,), train_encoder),
    "directions": Command("find a run's controls: without labels (SeFa, GANSpace), or along a scored attribute "
                          "(InterFaceGAN)", (DirectionsOptions,), directions),
    "edit": Command("move latents (projected or random) along a direction", (EditOptions,), edit),
    "video": Command("a looping latent walk (or a sweep along a direction) as .mp4 or .gif", (VideoOptions,), video),
    "export": Command("write a run's generator as a SavedModel, LiteRT (.tflite) or ONNX file, or a web page "
                      "with sliders, checked in that format's runtime", (ExportOptions,), export),
    "bench": Command("images/s of the fused trainer (the step train runs), the classic loop and a plain loop; "
                     "GFLOP/s and share of peak", (BenchOptions, RunConfig), bench,
                     only=("mixed_precision", "jit_compile")),
    "download": Command("fetch a named dataset into the data folder (with a progress bar)", (DownloadOptions,),
                        download),
    "pack": Command("ship a trained run inside the package (pretrained:NAME): its networks in float16 and a model "
                    "card measured on them", (PackOptions,), pack),
    "train-classifiers": Command("train the digit classifiers of domain FID again (deterministic on one machine)",
                                 (ClassifierOptions,), train_classifiers),
}
