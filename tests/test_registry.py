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


def test_the_declarations_read_from_source_are_the_objects_the_modules_register():
    for kind in registry.KINDS:
        assert registry.names(kind), kind
        for name in registry.names(kind):
            registry.get(kind, name)  # imports the declaring module
            assert (kind, name) in registry._objects, (kind, name)
    declared_at_import = {key for key in registry._objects}
    read_from_source = {(kind, name) for kind in registry.KINDS for name in registry.names(kind)}
    assert declared_at_import == read_from_source  # a declaration the static reader missed would show here


def test_every_loss_and_augmentation_builds_and_computes():
    import tensorflow as tf

    from gan_keras.augment import get_augment
    from gan_keras.losses import get_loss

    real, fake = tf.constant([[2.0], [0.5]]), tf.constant([[-1.0], [0.3]])
    for name in registry.names("loss"):
        loss = get_loss(name)
        d, g = float(loss.d_loss(real, fake)), float(loss.g_loss(fake, real))
        assert np.isfinite(d) and np.isfinite(g), name
        assert loss.uses_targets == registry.info("loss", name)["uses_targets"]
    images = tf.random.uniform((2, 16, 16, 3), -1, 1, seed=1)
    for name in registry.names("augment"):
        out = get_augment(name)(images, step=3, stream=10, seed=0)
        assert out.shape == images.shape, name


def test_every_network_family_builds_a_generator_and_discriminator():
    from gan_keras.models import Build_Disc, Build_Gen

    for name in registry.names("network"):
        shape = (28, 28, 1) if name == "tutorial" else (32, 32, 3)  # the tutorial model is 28x28 only
        G = Build_Gen(name, 8, shape, 8)
        D = Build_Disc(name, shape, 8)
        assert tuple(G.outputs[0].shape[1:]) == shape and tuple(D.outputs[0].shape[1:]) == (1,), name


def test_every_metric_declares_its_keys_and_returns_them():
    from gan_keras.metrics import metric_key, metric_of_key, score

    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    fake = rng.integers(0, 256, (64, 28, 28, 1), dtype=np.uint8)
    for name in registry.names("metric"):
        meta = registry.info("metric", name)
        scores = score(real, fake, "mnist", name)
        assert metric_key(name, "mnist") in scores, name
        assert set(k.removeprefix("domain_") for k in scores) == set(meta["keys"]), name
        assert metric_of_key("eval_" + metric_key(name, "mnist")) == (name, meta["lower_is_better"])
    assert metric_key("fid", "anime") == "fid" and metric_key("fid", "mnist") == "domain_fid"
    assert metric_of_key("eval_d_acc_train") is None


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
