"""Feature spaces the metrics compare in.

    "domain":    the penultimate layer (128-d) of a small CNN trained once on MNIST or Fashion-MNIST
                 and cached; no download (the usual way papers score digit GANs).
    "inception": InceptionV3 pool features (2048-d) at 299x299, ImageNet weights (one download).
    "ttur":      the pool_3 features (2048-d) of the original TensorFlow Inception graph of 2015 that
                 TTUR's fid.py and clean-fid's legacy mode use, so that FID and KID compare with papers
                 (one download of inception-2015-12-05.tgz; the graph resizes to 299x299 itself).

Example:
    >>> from gan_keras.data.load import load_images
    >>> extractor = feature_extractor("mnist")
    >>> extractor(load_images("mnist")[:100]).shape
    (100, 128)
"""

import json
from pathlib import Path

import numpy as np

from gan_keras import registry
from gan_keras.errors import UsageError
from gan_keras.files import atomic_write, atomic_write_text

DIGIT_SETS = registry.where("dataset", domain_classifier=True)  # the datasets with a domain classifier

FEATURES = "features"  # the digit classifier's penultimate layer: the domain feature space

SHIPPED_CLASSIFIERS = None  # None: gan_keras/pretrained/; tests point it at an empty folder to train afresh


def digit_classifier(name="mnist", data_dir=None, epochs=2, verbose=1):
    """The small CNN whose penultimate layer is the domain-FID feature space; returns (model, info),
    info holding its test accuracy.

    The one shipped in the package (`gan_keras.pretrained`) when it is there, else one trained once
    and cached in `data.cache_dir`.
    """
    import keras

    from gan_keras import pretrained
    from gan_keras.data.folders import cache_dir

    if name not in DIGIT_SETS:
        raise UsageError(f"domain features exist for {', '.join(DIGIT_SETS)}, not {name!r}")
    cached = pretrained.classifier_files(name, cache_dir(data_dir))
    for path, info_path in (pretrained.classifier_files(name, SHIPPED_CLASSIFIERS), cached):
        if path.is_file() and info_path.is_file():
            return keras.saving.load_model(path), json.loads(info_path.read_text())
    if verbose:
        print(f"training the {name} feature classifier once (cached in {cached[0].parent})", flush=True)
    return train_digit_classifier(name, *cached, data_dir, epochs, verbose)


def train_digit_classifier(name, path, info_path, data_dir=None, epochs=2, verbose=0):
    """Train the domain-FID classifier of `name` (seed 0) and save it to `path` with its card at
    `info_path`; returns (the model as saved, uncompiled; the card)."""
    import keras

    from gan_keras.data.load import load_digits

    (x, y), (xt, yt) = load_digits(name, "train", data_dir), load_digits(name, "test", data_dir)
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(128, activation="relu", name=FEATURES),
        layers.Dropout(0.3), layers.Dense(10, activation="softmax"),
    ], name=f"classifier_{name}")
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])

    def scale(digits):  # to the GAN's [-1, 1]
        return digits[..., None].astype("float32") / 127.5 - 1.0

    model.fit(scale(x), y, batch_size=128, epochs=epochs, verbose=verbose and 2)
    accuracy = float(model.evaluate(scale(xt), yt, batch_size=512, verbose=0)[1])
    from gan_keras import backend

    info = {"dataset": name, "test_accuracy": accuracy, "epochs": epochs,
            "trained_with": "gan_keras.metrics.features.train_digit_classifier: Adam 1e-3, batch 128, seed 0, "
                            f"{len(x):,} training images; accuracy on the {len(xt):,} test images",
            **backend.versions()}
    if verbose:
        print(f"{name} feature classifier: test accuracy {accuracy:.4f}", flush=True)
    # Two processes (pytest workers, two runs) may train it at once; a reader must never load half a
    # file, and the model is complete before the info file that marks the cache as usable.
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    weights_only = keras.Sequential.from_config(model.get_config())  # uncompiled: no optimizer state (2/3 of the file)
    weights_only.set_weights(model.get_weights())
    with atomic_write(path) as tmp:
        weights_only.save(tmp)
    atomic_write_text(info_path, json.dumps(info, indent=2) + "\n")
    return weights_only, info


def inception_model():
    """InceptionV3 pool features; offline without the weights file, one line says where to put it."""
    import keras

    try:
        return keras.applications.InceptionV3(include_top=False, pooling="avg", weights="imagenet",
                                              input_shape=(299, 299, 3))
    except Exception as e:
        raise UsageError("InceptionV3 weights could not be downloaded (" + type(e).__name__ + "): put "
                         "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5 in ~/.keras/models/, "
                         "or use --metric swd, which needs no network") from None


TTUR_URL = "http://download.tensorflow.org/models/image/imagenet/inception-2015-12-05.tgz"
TTUR_GRAPH = "classify_image_graph_def.pb"
_TTUR_UNAVAILABLE = []  # the reason, once it has been said


def ttur_graph(path=None):
    """The path of TTUR's Inception graph: `path`, else ~/.keras/models/classify_image_graph_def.pb,
    downloaded and unpacked there once. One UsageError line when it cannot be had (offline)."""
    import tarfile

    import keras

    if path is not None:
        return Path(path)
    cached = Path.home() / ".keras" / "models" / TTUR_GRAPH
    if cached.is_file():
        return cached
    if _TTUR_UNAVAILABLE:
        raise UsageError(_TTUR_UNAVAILABLE[0])
    try:
        archive = keras.utils.get_file("inception-2015-12-05.tgz", TTUR_URL)
        with tarfile.open(archive) as f:
            member = f.extractfile(TTUR_GRAPH)
            with atomic_write(cached) as tmp:
                tmp.write_bytes(member.read())
        return cached
    except Exception as e:
        _TTUR_UNAVAILABLE.append(f"the TTUR Inception graph could not be downloaded ({type(e).__name__}; offline?): "
                                 f"put {TTUR_GRAPH} from {TTUR_URL} in {cached.parent}/")
        raise UsageError(_TTUR_UNAVAILABLE[0]) from None


class TTURFeatures:
    """pool_3 features of uint8 RGB images (N, H, W, 3) through TTUR's graph, fed as TTUR feeds it: the
    images as floats in [0, 255] into `ExpandDims:0`, resized to 299x299 by the graph's own bilinear op."""

    def __init__(self, path=None, batch_size=50):
        from gan_keras import backend

        backend.require_tensorflow("the TTUR Inception graph (--features ttur)")
        import tensorflow as tf

        graph_def = tf.compat.v1.GraphDef.FromString(Path(ttur_graph(path)).read_bytes())

        def pool3(images):
            (features,) = tf.compat.v1.import_graph_def(graph_def, input_map={"ExpandDims:0": images},
                                                        return_elements=["pool_3:0"], name="FID_Inception_Net")
            return features

        self.forward = tf.compat.v1.wrap_function(pool3, [tf.TensorSpec([None, None, None, 3], tf.float32)])
        self.batch_size = batch_size

    def __call__(self, images):
        import tensorflow as tf

        if images.shape[-1] == 1:
            images = np.repeat(images, 3, axis=-1)
        parts = [self.forward(tf.constant(images[i:i + self.batch_size], tf.float32)).numpy().reshape(
            len(images[i:i + self.batch_size]), -1) for i in range(0, len(images), self.batch_size)]
        return np.concatenate(parts).astype(np.float64)


class FeatureExtractor:
    """Batched, streaming features of uint8 images (N, H, W, C): `extractor(images) -> (N, D)`."""

    def __init__(self, model, size, channels, batch_size=500, preprocess=None, verbose=0):
        import keras

        self.model = keras.Model(model.inputs, model.get_layer(FEATURES).output) if any(
            layer.name == FEATURES for layer in model.layers) else model
        self.size, self.channels, self.batch_size = size, channels, batch_size
        self.preprocess = preprocess
        self.verbose = verbose
        self._forward = None

    def _prepare(self, batch):
        from gan_keras.data.pipeline import to_model_range

        x = to_model_range(batch, (self.size, self.size, self.channels))
        return self.preprocess(x) if self.preprocess else x

    def __call__(self, images):
        import keras

        if self._forward is None:
            self._forward = compiled(lambda x: self.model(self._prepare(x), training=False))
        bar = keras.utils.Progbar(len(images), unit_name="image") if self.verbose else None
        parts = []
        for i in range(0, len(images), self.batch_size):
            parts.append(keras.ops.convert_to_numpy(self._forward(images[i:i + self.batch_size])))
            if bar:
                bar.update(min(i + self.batch_size, len(images)))
        return np.concatenate(parts).astype(np.float64)

_EXTRACTORS = {}  # built once per process: --eval-every calls this every few epochs


def feature_extractor(space, data_dir=None, verbose=0):
    """A `FeatureExtractor`: "mnist" / "fashion_mnist" (domain features), "inception" or "ttur"."""
    key = (space, str(data_dir))
    if key not in _EXTRACTORS:
        from gan_keras.training.distribute import precision_scope

        with precision_scope(None):  # metric networks compute in float32, also during a mixed-precision run
            if space in DIGIT_SETS:
                model, _ = digit_classifier(space, data_dir, verbose=verbose)
                _EXTRACTORS[key] = FeatureExtractor(model, 28, 1)
            elif space == "ttur":
                _EXTRACTORS[key] = TTURFeatures()
            elif space == "inception":
                _EXTRACTORS[key] = FeatureExtractor(inception_model(), 299, 3, batch_size=100,
                                                    preprocess=lambda x: x)
            else:
                raise UsageError(f"unknown feature space {space!r}")
    extractor = _EXTRACTORS[key]
    extractor.verbose = verbose
    return extractor

_CLASSIFIERS = {}


def class_probabilities(images, dataset, data_dir=None):
    """The digit classifier's class probabilities (N, 10) for uint8 images (N, 28, 28, 1) of `dataset`'s domain."""
    import keras

    from gan_keras.data.pipeline import to_model_range
    from gan_keras.training.distribute import precision_scope

    key = (dataset, str(data_dir))
    if key not in _CLASSIFIERS:
        with precision_scope(None):
            model, _ = digit_classifier(dataset, data_dir, verbose=0)
            _CLASSIFIERS[key] = compiled(lambda x: model(to_model_range(x, (28, 28, 1)), training=False))
    classify = _CLASSIFIERS[key]
    return np.concatenate([keras.ops.convert_to_numpy(classify(images[i:i + 1000]))
                           for i in range(0, len(images), 1000)])


def compiled(function):
    """`function` of one uint8 batch, traced once per shape: `tf.function` on TensorFlow, `jax.jit` on
    JAX, as it is on PyTorch."""
    from gan_keras import backend

    if backend.name() == "tensorflow":
        import tensorflow as tf

        traced = tf.function(function)
        return lambda x: traced(tf.constant(x))
    if backend.name() == "jax":
        import jax

        return jax.jit(function)
    return function


def predict_classes(images, dataset, data_dir=None):
    """The digit classifier's class for each uint8 image (N, 28, 28, 1) of `dataset`'s domain."""
    return class_probabilities(images, dataset, data_dir).argmax(-1)


def shrink_to(images, size):
    """uint8 images (N, H, W, C) area-averaged down to `size` (height, width); unchanged if already so."""
    size = tuple(size)
    if tuple(images.shape[1:3]) == size:
        return images
    from gan_keras import backend

    if not backend.is_tensorflow():
        return _area_numpy(images, size)
    import tensorflow as tf

    return np.clip(np.round(tf.image.resize(images, size, method="area").numpy()), 0, 255).astype(np.uint8)


def _area_numpy(images, size):
    """Area averaging without TensorFlow: block means for whole factors (what TensorFlow's "area"
    computes then), Pillow's box filter otherwise."""
    height, width = images.shape[1:3]
    if height % size[0] == 0 and width % size[1] == 0:
        fy, fx = height // size[0], width // size[1]
        blocks = images.reshape(len(images), size[0], fy, size[1], fx, images.shape[3]).astype(np.float64)
        return np.clip(np.round(blocks.mean(axis=(2, 4))), 0, 255).astype(np.uint8)
    from PIL import Image

    out = [np.asarray(Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).resize(
        (size[1], size[0]), Image.BOX)).reshape(*size, images.shape[3]) for image in images]
    return np.stack(out)


def at_common_size(real, fake):
    """Both uint8 sets at the smaller of their two sizes (`shrink_to`), channels kept.

    A 32x32 run is judged at 32x32: blown up to 64x64, its samples would lack the fine detail of
    real 64x64 faces whatever their quality (SWD of real faces so blurred: 177, real vs real: 14).
    """
    size = tuple(min(a, b) for a, b in zip(real.shape[1:3], fake.shape[1:3]))
    return shrink_to(real, size), shrink_to(fake, size)

