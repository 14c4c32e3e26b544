"""The generators shipped in the package: one name, `pretrained:NAME`, wherever a run folder is read
(sample, evaluate, load_generator, --init-from, the editing tools), each with a model card."""

import json

import numpy as np
import pytest

from gan_keras.pretrained import FOLDER
from gan_keras.runs.folder import WEIGHTS_FILE, generator_names, run_folder
from tests.conftest import assert_one_line_error, run_cli_here

SHIPPED = generator_names()


def test_the_package_ships_the_generators_the_notebooks_start_from_within_20_mb():
    assert {"mnist", "mnist_conditional", "fashion_mnist", "anime64"} <= set(SHIPPED)
    size = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert size < 20e6, f"gan_keras/pretrained is {size / 1e6:.1f} MB"


@pytest.mark.slow
@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_generator_has_a_card_and_draws_images_of_its_shape(name):
    import gan_keras as gk

    card = json.loads((FOLDER / name / "card.json").read_text())
    for key in ("command", "steps", "minutes", "machine", "licence", "metrics"):
        assert card[key], key
    assert (FOLDER / name / "CARD.md").read_text().startswith(f"# pretrained:{name}")
    G = gk.load_generator(f"pretrained:{name}")
    shape = tuple(int(s) for s in card["image_shape"].split("x"))
    images = gk.generate(G, 4, seed=1)
    assert images.shape == (4, *shape) and images.std() > 0.1


def test_an_unknown_name_is_one_line_listing_the_shipped_ones(tmp_path):
    result = run_cli_here("sample", "pretrained:cats", "--out", tmp_path / "x.png")
    assert_one_line_error(result, "no shipped generator 'cats'; choose one of pretrained:")
    assert_one_line_error(run_cli_here("train", "mnist", "--init-from", "pretrained:cats", "--out", tmp_path / "r"),
                          "no shipped generator 'cats'")


@pytest.mark.slow
def test_evaluate_reads_a_shipped_conditional_generator():
    result = run_cli_here("evaluate", "pretrained:mnist_conditional", "--n", "500", "--json")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout.strip().splitlines()[-1])
    assert record["run"] == "pretrained:mnist_conditional" and record["conditional_accuracy"] > 0.9


@pytest.mark.slow
def test_init_from_a_shipped_generator_starts_g_d_and_the_moving_average_from_it():
    import gan_keras as gk
    from gan_keras.networks.build import Build_Disc, Build_Gen
    from gan_keras.runs.checkpoints import restore_networks
    from gan_keras.runs.config import load_config
    from gan_keras.runs.train import build_trainer
    from gan_keras.runs.transfer import initialize_from
    from gan_keras.training.config import RunConfig
    from gan_keras.training.distribute import make_strategy

    config, saved = load_config("pretrained:mnist")
    shape = tuple(saved["image_shape"])
    G, D = Build_Gen(config.model, config.latent_dim, shape, config.width), Build_Disc(config.model, shape)
    restore_networks(run_folder("pretrained:mnist"), generator=G, discriminator=D)
    settings = RunConfig(dataset="mnist", model=config.model, width=config.width, augment="none", ema=0.99,
                         jit_compile=False,
                         steps_per_execution=1)
    trainer = build_trainer(settings, shape, make_strategy("default", verbose=False))
    initialize_from(trainer, "pretrained:mnist")
    for restored, shipped in ((trainer.generator, G), (trainer.discriminator, D), (trainer.ema.average, G)):
        for a, b in zip(restored.weights, shipped.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with np.load(run_folder("pretrained:mnist") / WEIGHTS_FILE) as saved:  # packed with an EMA:
        assert "generator_ema/0" in saved.files and "generator/0" not in saved.files  # the average stands for G
    for a, b in zip(gk.load_generator("pretrained:mnist").weights, G.weights):  # sampling draws with that same G
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_init_from_a_run_with_its_own_average_starts_the_average_from_that_average(tmp_path):
    import dataclasses

    import tensorflow as tf

    from gan_keras.runs.train import build_trainer
    from gan_keras.runs.transfer import initialize_from
    from gan_keras.training.config import RunConfig
    from gan_keras.training.distribute import make_strategy

    settings = RunConfig(dataset="mnist", model="dcgan", width=8, augment="none", ema=0.999, jit_compile=False,
                         steps_per_execution=1, mixed_precision="off")
    source = build_trainer(settings, (28, 28, 1), make_strategy("default", verbose=False))
    for weight in source.ema.average.weights:  # an average unlike its G, as after any real run
        weight.assign(weight + 0.01)
    tf.train.Checkpoint(generator=source.generator, discriminator=source.discriminator,
                        generator_ema=source.ema.average).save(str(tmp_path / "checkpoints" / "ckpt"))
    target = build_trainer(dataclasses.replace(settings, seed=1), (28, 28, 1), make_strategy("default", verbose=False))
    initialize_from(target, tmp_path)
    for mine, theirs in ((target.generator, source.generator), (target.ema.average, source.ema.average)):
        for a, b in zip(mine.weights, theirs.weights):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_packed_run_counts_the_training_of_the_runs_it_continued(tmp_path):
    from gan_keras.tools.pack import card_markdown, trained_for

    def run(name, rows, init_from=None, card=None):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"init_from": init_from}))
        (folder / "history.csv").write_text("epoch,seconds,steps\n" + "".join(f"{i},{s},{n}\n" for i, (s, n) in
                                                                              enumerate(rows)))
        if card:
            (folder / "card.json").write_text(json.dumps(card))
        return str(folder)

    shipped = run("shipped", [(999, 999)], card={"steps": 300, "minutes": 60.0})  # the card's totals win
    middle = run("middle", [(60, 10), (120, 20)], init_from=shipped)
    last = run("last", [(30, 5)], init_from=middle)
    assert trained_for(shipped) == (300, 60.0)
    assert trained_for(middle) == (330, 63.0)
    assert trained_for(last) == (335, 63.5)
    assert trained_for(run("alone", [(90, 7)])) == (7, 1.5)
    card = {"name": "x", "dataset": "d", "model": "m", "image_shape": "8x8x1", "steps": 335, "minutes": 63.5,
            "continued_from": "RUN (330 steps, 63.0 min)", "machine": "cpu", "versions": "v", "licence": "l",
            "command": "c", "metrics": {"against": "held-out", "n": 10, "swd": 1.0}}
    assert "| continued from | RUN (330 steps, 63.0 min) |" in card_markdown(card)
    assert "continued from" not in card_markdown({k: v for k, v in card.items() if k != "continued_from"})


@pytest.mark.slow
def test_pack_best_ships_the_generator_kept_in_best_with_the_last_d_and_its_epochs_steps(tmp_path):
    import shutil

    import keras

    import gan_keras as gk
    from gan_keras.errors import UsageError
    from gan_keras.networks.build import Build_Disc
    from gan_keras.runs.checkpoints import restore_networks, save_generator
    from gan_keras.tools.pack import pack

    run = tmp_path / "run"
    gk.train("mnist", out=run, model="mlp", epochs=3, steps_per_epoch=2, eval_every=1, limit=59_700, ema=0.9,
             verbose=0)
    kept = keras.saving.load_model(run / "best" / "generator.keras", compile=False)  # a best/ unlike the last G,
    kept.set_weights([w + 0.25 for w in kept.get_weights()])                         # and from epoch 1
    save_generator(kept, run / "best" / "generator.keras")
    (run / "best" / "best.json").write_text(json.dumps({"epoch": 1, "column": "eval_domain_fid", "value": 9.0,
                                                        "lower_is_better": True}))
    card = pack(run, "tiny", "python -m gan_keras train mnist ...", "MNIST: CC BY-SA 3.0", n=300,
                folder=tmp_path / "shipped", best=True)
    shipped = gk.load_generator(tmp_path / "shipped" / "tiny")
    for a, b in zip(shipped.get_weights(), kept.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-3 * (1 + np.abs(b).max()))  # float16 in the package
    D, last_D = Build_Disc("mlp", (28, 28, 1)), Build_Disc("mlp", (28, 28, 1))
    restore_networks(tmp_path / "shipped" / "tiny", discriminator=D)
    restore_networks(run, discriminator=last_D)
    for a, b in zip(D.get_weights(), last_D.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-3 * (1 + np.abs(b).max()))
    assert card["steps"] == 2 and card["networks"].startswith("G: best/, epoch 1 of 3")
    assert "| networks | G: best/, epoch 1 of 3" in (tmp_path / "shipped" / "tiny" / "CARD.md").read_text()
    shutil.rmtree(run / "best")
    with pytest.raises(UsageError, match="kept no best/ generator"):
        pack(run, "tiny", "c", "l", folder=tmp_path / "shipped", best=True)
