"""The registry: every declared name builds, the command line reads its choices from it, and no list
of choices is written down again anywhere else in the package."""

import ast
import subprocess
import sys

import numpy as np
import pytest

from gan_keras import registry
from tests.conftest import ROOT

PACKAGE = ROOT / "gan_keras"


# One harness per kind of variant, as keras-hub's `run_backbone_test`: every declared name is its own test,
# so one broken variant fails alone and names itself.
ALL_NAMES = [(kind, name) for kind in registry.KINDS for name in registry.names(kind)]


@pytest.mark.parametrize("kind", registry.KINDS)
def test_every_kind_has_declared_names(kind):
    assert registry.names(kind), kind


@pytest.mark.parametrize("kind, name", ALL_NAMES)
def test_each_declaration_read_from_source_is_the_object_its_module_registers(kind, name):
    registry.get(kind, name)  # imports the declaring module
    assert (kind, name) in registry._objects, (kind, name)


def test_every_object_registered_at_import_was_read_from_source():
    for kind, name in ALL_NAMES:
        registry.get(kind, name)
    declared_at_import = {key for key in registry._objects}
    assert declared_at_import == set(ALL_NAMES)  # a declaration the static reader missed would show here


def run_loss_test(name):
    import tensorflow as tf

    from gan_keras.training.losses import get_loss

    real, fake = tf.constant([[2.0], [0.5]]), tf.constant([[-1.0], [0.3]])
    loss = get_loss(name)
    d, g = float(loss.d_loss(real, fake)), float(loss.g_loss(fake, real))
    assert np.isfinite(d) and np.isfinite(g), name
    assert loss.uses_targets == registry.info("loss", name)["uses_targets"]


def run_augment_test(name):
    import tensorflow as tf

    from gan_keras.training.augment import get_augment

    images = tf.random.uniform((2, 16, 16, 3), -1, 1, seed=1)
    out = get_augment(name)(images, step=3, stream=10, seed=0)
    assert out.shape == images.shape, name


def run_network_test(name):
    from gan_keras.networks.build import Build_Disc, Build_Gen
    from gan_keras.networks.layers import get

    def builds(shape):
        try:
            get(name).check_shape(shape)
            return True
        except ValueError:
            return False

    shape = next(s for s in [(32, 32, 3), (64, 64, 3), (28, 28, 1)] if builds(s))  # the first size it takes
    G = Build_Gen(name, 8, shape, 8)
    D = Build_Disc(name, shape, 8)
    assert tuple(G.outputs[0].shape[1:]) == shape and tuple(D.outputs[0].shape[1:]) == (1,), name


def run_metric_test(name):
    from gan_keras.metrics.evaluate import score
    from gan_keras.runs.history import metric_key, metric_of_key

    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    fake = rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    meta = registry.info("metric", name)
    train = rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)  # for the metrics that compare with it
    scores = score(real, fake, "mnist", name, train=train)
    assert metric_key(name, "mnist") in scores, name
    assert set(k.removeprefix("domain_") for k in scores) == set(meta["keys"]), name
    assert metric_of_key("eval_" + metric_key(name, "mnist")) == (name, meta["lower_is_better"])


@pytest.mark.parametrize("name", registry.names("loss"))
def test_each_loss_builds_and_computes(name):
    run_loss_test(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names("augment"))
def test_each_augmentation_builds_and_computes(name):
    run_augment_test(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names("network"))
def test_each_network_family_builds_a_generator_and_discriminator(name):
    run_network_test(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names("metric"))
def test_each_metric_declares_its_keys_and_returns_them(name, tmp_path, monkeypatch):
    if registry.info("metric", name).get("download"):  # offline: a stand-in for the network it downloads
        from gan_keras.metrics import features
        from tests.test_metrics import _stand_in_ttur_graph

        monkeypatch.setattr(features, "_EXTRACTORS", {})  # the stand-in stays out of later tests' cache
        (tmp_path / ".keras" / "models").mkdir(parents=True)
        _stand_in_ttur_graph(tmp_path / ".keras" / "models" / "classify_image_graph_def.pb")
        monkeypatch.setenv("HOME", str(tmp_path))
    run_metric_test(name)


def test_metric_keys_of_digits_and_faces():
    from gan_keras.runs.history import metric_key, metric_of_key

    assert metric_key("fid", "anime") == "fid" and metric_key("fid", "mnist") == "domain_fid"
    assert metric_of_key("eval_d_acc_train") is None


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names("dataset"))
def test_each_dataset_source_reads_what_it_declares(name):
    """A source's files in the shared data folder read as uint8 images (and labels where it declares classes)."""
    from gan_keras.data.folders import data_dir

    source, folder = registry.get("dataset", name)(), data_dir()
    if not source.present(folder):
        pytest.skip(f"{name} is not in {folder}")
    images, labels = source.read(folder)
    assert images.dtype == np.uint8 and images.ndim in (3, 4) and len(images) > 0
    classes = registry.info("dataset", name).get("classes")
    assert (labels is None) == (classes is None)
    if classes:
        assert len(labels) == len(images) and set(np.unique(labels)) == set(range(len(classes)))
    assert str(folder) in source.manual(folder)


@pytest.mark.slow
@pytest.mark.parametrize("name", registry.names("trainer"))
def test_each_trainer_satisfies_the_trainer_protocol(name):
    from gan_keras.runs.train import build_trainer
    from gan_keras.training.config import RunConfig
    from gan_keras.training.distribute import make_strategy
    from gan_keras.training.trainer import Trainer

    config = RunConfig(model="mlp", trainer=name, width=8, ema=0.0, augment="none", share_fakes=False,
                       mixed_precision="off", jit_compile=False, steps_per_execution=1)
    trainer = build_trainer(config, (28, 28, 1), make_strategy("default", verbose=False))
    assert isinstance(trainer, Trainer)
    assert {"generator", "discriminator"} <= set(trainer.checkpoint_items())


def test_an_object_without_the_trainer_methods_is_not_a_trainer():
    from gan_keras.training.trainer import Trainer

    class Half:
        generator = discriminator = None
        fit_options = {}

    assert not isinstance(Half(), Trainer)


def test_an_unknown_name_is_one_line_with_the_choices():
    with pytest.raises(registry.UnknownChoice, match=r"^unknown loss 'bogus'; choose one of nonsaturating, hinge"):
        registry.check("loss", "bogus")
    with pytest.raises(ValueError, match="unknown model kind 'nope'"):  # model builders catch ValueError
        registry.get("network", "nope")


def test_info_of_an_undeclared_name_is_the_default_when_one_is_given():
    assert registry.info("dataset", "my_faces/", default=None) is None
    assert registry.info("dataset", "mnist", default=None)["domain_classifier"]
    with pytest.raises(registry.UnknownChoice, match="unknown dataset 'my_faces/'"):
        registry.info("dataset", "my_faces/")
    assert registry.having("dataset", "classes") == ("mnist", "fashion_mnist")


def test_a_declaration_with_a_non_literal_argument_is_refused_by_the_reader(tmp_path):
    source = tmp_path / "variant.py"
    source.write_text('from gan_keras.registry import register\n\n'
                      '@register("loss", "mine", uses_targets=bool(1))\nclass Mine:\n    pass\n')
    with pytest.raises(ValueError, match=r"variant\.py:3: register\('loss', 'mine', \.\.\.\) takes literal"):
        registry._declarations(source)


def _string_sequence(node):
    """The strings of a list/tuple/set literal made only of string constants, else None."""
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)) and node.elts and all(
            isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
        return {e.value for e in node.elts}
    return None


def test_no_list_of_choices_is_written_down_outside_the_registry():
    """The guard: a `choices=[...]` literal, or a literal list of two or more names of one kind
    (a constant, an `in (...)` test) anywhere in the package, fails here: the registry is the one list."""
    registered = {kind: set(registry.names(kind)) for kind in registry.KINDS}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        exports = {id(n.value) for n in tree.body if isinstance(n, ast.Assign)
                   and any(getattr(t, "id", None) == "__all__" for t in n.targets)}
        for node in ast.walk(tree):
            if id(node) in exports:
                continue
            if isinstance(node, ast.keyword) and node.arg == "choices" and _string_sequence(node.value):
                found.append(f"{path.name}:{node.value.lineno}: choices={sorted(_string_sequence(node.value))}")
            strings = _string_sequence(node) if isinstance(node, (ast.List, ast.Tuple, ast.Set)) else None
            if strings and len(strings) >= 2:
                for kind, names in registered.items():
                    if strings <= names:
                        found.append(f"{path.name}:{node.lineno}: {sorted(strings)} lists {kind} names")
    assert found == []


def test_the_command_lines_choices_are_the_registrys_without_tensorflow():
    program = ("import sys\nfrom gan_keras.cli import main\n"
               "try:\n    main(['train', 'mnist', '--loss', 'nope'])\nexcept SystemExit:\n    pass\n"
               "print('tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "False"
    assert ("invalid choice: 'nope' (choose from " + ", ".join(f"'{n}'" for n in registry.names("loss")) + ")"
            in result.stderr)
