"""Pack a trained run into `gan_keras/pretrained/NAME/`: its config and its networks in float16
(what sampling, the editing tools and fine-tuning need; no optimizer state), and a model card
measured on the packed weights.

    python -m gan_keras pack outputs/anime64 anime64 --command "python -m gan_keras train ..." \
        --licence "Anime Face Dataset (Kaggle): for educational use only"

`PackOptions` are the command's options, `pack` its method.
"""

import csv
import json
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

from gan_keras.errors import UsageError
from gan_keras.files import atomic_write_text, read_json
from gan_keras.options import option
from gan_keras.pretrained import FOLDER
from gan_keras.runs.folder import WEIGHTS_FILE


@dataclass
class PackOptions:
    run: str = option(help="the run folder to ship", positional=True)
    name: str = option(help="its name: pretrained:NAME", positional=True)
    train_command: str = option(help="the exact command that trained it", flag="--command", metavar="COMMAND",
                                required=True)
    licence: str = option(help="the training data's licence", required=True)
    summary: str = option("", "one sentence for the card")
    n: int = option(10000, "images compared for the card's metrics")
    best: bool = option(False, "ship the generator kept in RUN/best/ (train --eval-every)")


def _history(run):
    path = Path(run) / "history.csv"
    if not path.is_file():
        return []
    with path.open() as f:
        return list(csv.DictReader(f))


def trained_for(run, until_epoch=None):
    """(steps, minutes) a run's networks were trained for in all (up to its epoch `until_epoch`): its own
    history.csv plus, for a run started with `--init-from`, what its source was trained for (a shipped
    card's totals, or that run's history, followed back). Read before packing over the source.

    >>> trained_for("pretrained:anime64")[0] > 0
    True
    """
    from gan_keras.runs.folder import run_folder

    folder = run_folder(run)
    card = folder / "card.json"
    if card.is_file():
        card = read_json(card, "the shipped generator's card")
        return int(card["steps"]), float(card["minutes"])
    history = [row for row in _history(folder) if until_epoch is None or int(row["epoch"]) <= until_epoch]
    steps = sum(int(row.get("steps") or 0) for row in history)
    minutes = sum(float(row.get("seconds") or 0) for row in history) / 60
    config = folder / "config.json"
    source = read_json(config, "the settings of this run").get("init_from") if config.is_file() else None
    if source:
        more_steps, more_minutes = trained_for(source)
        steps, minutes = steps + more_steps, minutes + more_minutes
    return steps, minutes


def _copy_networks(run, config, saved, out, generator_file=None):
    """D and G (what `--init-from` restores) of the run's newest checkpoint, in float16
    (`checkpoints.save_networks`); with an EMA, its average alone stands for G: it is what sampling draws
    with and what fine-tuning starts from, and the raw G would double the size. `generator_file` (a
    `generator.keras`, such as `best/`'s) replaces that G."""
    import keras

    from gan_keras.networks.build import Build_Disc, Build_Gen
    from gan_keras.runs.checkpoints import restore_networks, save_networks

    shape, classes = tuple(saved["image_shape"]), len(saved.get("class_names") or [])
    networks = {"generator": Build_Gen(config.model, config.latent_dim, shape, config.width, num_classes=classes),
                "discriminator": Build_Disc(config.model, shape, config.width, num_classes=classes)}
    if config.ema:
        networks["generator_ema"] = Build_Gen(config.model, config.latent_dim, shape, config.width,
                                              num_classes=classes)
    restore_networks(run, **networks)
    if config.ema:
        del networks["generator"]
    if generator_file is not None:
        kept = keras.saving.load_model(generator_file, compile=False)
        networks["generator_ema" if config.ema else "generator"].set_weights(kept.get_weights())
    save_networks(out, **networks)


def card_markdown(card):
    """The model card as Markdown, from the fields `pack` measured."""
    lines = [f"# pretrained:{card['name']}", "", card.get("summary", ""), "",
             "| | |", "|---|---|"]
    for key in ("dataset", "model", "image_shape", "steps", "minutes", "continued_from", "networks", "machine",
                "versions", "licence"):
        if key not in card:
            continue
        lines.append(f"| {key.replace('_', ' ')} | {card[key]} |")
    lines += ["", "Trained with:", "", "```", card["command"], "```", "",
              f"Measured by `python -m gan_keras evaluate pretrained:{card['name']}` ({card['metrics']['against']}, "
              f"n={card['metrics']['n']}):", ""]
    for key, value in card["metrics"].items():
        if key not in ("run", "dataset", "against", "n", "seconds") and not isinstance(value, list):
            lines.append(f"- {key}: {value:.4g}" if isinstance(value, float) else f"- {key}: {value}")
    return "\n".join(lines) + "\n"


def pack(run, name, command, licence, summary="", n=10000, folder=None, best=False):
    """Copy run folder `run` into `folder/name` (default: the package's), evaluate it and write its card.
    `best`: ship the generator the run kept in `best/` (`train --eval-every`), counting the training up
    to its epoch, with D from the run's last checkpoint."""
    import keras
    import tensorflow as tf

    from gan_keras.metrics.evaluate import evaluate_run
    from gan_keras.runs.config import load_config
    from gan_keras.training.recipe import cpu_info

    config, saved = load_config(run)
    if not (Path(run) / "generator.keras").is_file():
        raise UsageError(f"{run} has no generator.keras: let the run finish first")
    generator_file, until_epoch, networks = None, None, None
    if best:
        from gan_keras.runs.best import read_best

        record = read_best(run)
        if record is None or not (Path(run) / "best" / "generator.keras").is_file():
            raise UsageError(f"{run} kept no best/ generator: train it with --eval-every, or pack it without --best")
        generator_file, until_epoch = Path(run) / "best" / "generator.keras", int(record["epoch"])
        last = max(int(row["epoch"]) for row in _history(run))
        networks = (f"G: best/, epoch {until_epoch} of {last} ({record['column'].removeprefix('eval_')} "
                    f"{record['value']:.2f} in the run); D: the last checkpoint, epoch {last}")
    steps, minutes = trained_for(run, until_epoch)  # before `out` is replaced: it may be the run's own source
    source = saved.get("init_from")
    continued = source and "{} ({:,} steps, {:.1f} min)".format(source, *trained_for(source))
    out = Path(folder or FOLDER) / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    saved = {**saved, "data_dir": None, "packed_from": str(run)}  # data comes from the user's machine
    atomic_write_text(out / "config.json", json.dumps(saved, indent=2) + "\n")
    _copy_networks(run, config, saved, out / WEIGHTS_FILE, generator_file)
    metrics = evaluate_run(out, n=n, data_dir=config.data_dir)
    metrics["run"] = f"pretrained:{name}"
    card = {"name": name, "summary": summary, "dataset": config.dataset, "model": config.model,
            "image_shape": "x".join(map(str, saved["image_shape"])), "steps": steps, "minutes": round(minutes, 1),
            **({"continued_from": continued} if continued else {}),
            **({"networks": networks} if networks else {}),
            "machine": f"{cpu_info().get('model name', platform.processor() or 'unknown CPU')}, "
                       f"{saved.get('replicas', 1)} replica(s), no GPU",
            "versions": f"TensorFlow {tf.__version__}, Keras {keras.__version__}",
            "licence": licence, "command": command, "metrics": metrics}
    atomic_write_text(out / "card.json", json.dumps(card, indent=2) + "\n")
    atomic_write_text(out / "CARD.md", card_markdown(card))
    return card
