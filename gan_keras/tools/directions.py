"""Controls of a trained generator: directions in its latent space that change one thing, found
without labels (SeFa, GANSpace) or with a classifier's labels (InterFaceGAN), and edits along them.

- `sefa` (Shen and Zhou 2021): closed form. The top eigenvectors of A^T A, A the weights of the
  layer that reads the latent (y = A z): for a DCGAN or MLP its first Dense layer on z; for the
  style-based generator the affine (style) layers of the synthesis network on w, stacked.
- `ganspace` (Haerkoenen et al. 2020): PCA of w for the style-based generator; for the others, PCA
  of the first layer's activations, mapped back to z by linear regression.
- `interfacegan` (Shen et al. 2020): the normal of a linear boundary (logistic regression) between
  latents whose images score high and low on an attribute; `orthogonal_to` moves along one
  attribute with others projected out (conditional manipulation).

Every direction is a unit vector with `std`, the spread of random latents along it, so amounts are
in standard deviations: z + a * std * d. Saved as `directions.npz` with the space and run.

Edits along them, and the commands that write both, are in `gan_keras.tools.edit`.

Example:
    >>> from gan_keras.runs.loading import load_generator
    >>> G = load_generator("pretrained:anime64")
    >>> found = sefa(G, k=10)
    >>> found.save("outputs/directions.npz")
"""

from dataclasses import dataclass, field

import numpy as np

from gan_keras import registry
from gan_keras.errors import UsageError


@dataclass
class Directions:
    """Unit directions (k, dim) in a latent `space`, with the spread of latents along each."""

    vectors: np.ndarray
    space: str  # "z" or "w"
    method: str
    std: np.ndarray  # (k,) standard deviation of random latents along each direction
    values: np.ndarray  # (k,) eigenvalues / variances that ranked them
    run: str = ""
    names: list = field(default_factory=list)
    generator: str = ""  # fingerprint of the generator they were found in (`latent.fingerprint`)

    def __len__(self):
        return len(self.vectors)

    def save(self, path):
        from gan_keras.files import atomic_write

        with atomic_write(path) as tmp:
            np.savez(tmp, vectors=self.vectors.astype(np.float32), space=np.array(self.space),
                 method=np.array(self.method), std=self.std.astype(np.float32),
                     values=np.asarray(self.values, np.float32), run=np.array(self.run),
                     generator=np.array(self.generator),
                     names=np.array(self.names or [f"{self.method} {i}" for i in range(len(self))]))


def load_directions(spec, generator=None, one=False):
    """(Directions, index or None) from "directions.npz" or "directions.npz:K" (`one`: K is required);
    checked against `generator` when given. One UsageError line for a missing file or a bad index."""
    from pathlib import Path

    from gan_keras.tools import latent

    path, index = str(spec), None
    head, _, tail = path.rpartition(":")
    if head and tail.lstrip("-").isdigit():
        path, index = head, int(tail)
    if not Path(path).is_file():
        raise UsageError(f"{path} does not exist")
    from gan_keras.files import load_npz

    f = load_npz(path, "the directions")
    try:
        found = Directions(f["vectors"], str(f["space"]), str(f["method"]), f["std"], f["values"], str(f["run"]),
                           [str(n) for n in f["names"]], str(f.get("generator", "")))
    except KeyError as e:
        raise UsageError(f"{path} is not a directions file (from `directions`): no {e}") from None
    if index is not None and not 0 <= index < len(found):
        raise UsageError(f"direction {index} is out of range: {path} holds {len(found)} (0-{len(found) - 1})")
    if one and index is None:
        raise UsageError(f"--direction names one direction: {path}:K, K in 0-{len(found) - 1}")
    if generator is not None:
        latent.check_space(generator, found.space, (1, found.vectors.shape[1]))
        if found.generator and found.generator != latent.fingerprint(generator):  # e.g. a fine-tuned G: may still work
            import warnings

            warnings.warn(f"the directions in {path} were found in another generator (run {found.run})", stacklevel=2)
    return found, index


# ---------------------------------------------------------------------------------------------
# Without labels


def latent_weights(generator, layers=None):
    """The weight matrix A (latent_dim, units) of what reads the latent, so that y = z A (Keras's layout).

    DCGAN / MLP: the kernel of the first Dense layer, its rows for z (a conditional G also feeds it
    the class code). Style-based: the affine layers of the synthesis network (`layers`: style input
    indices or a group name of `latent.style_groups`; default all), each times its runtime gain.
    """
    import keras

    from gan_keras.tools import latent

    if latent.is_style_based(generator):
        reads = style_inputs(generator)  # (layer, index of the style input it reads)
        if isinstance(layers, str):
            layers = latent.style_groups(latent.num_ws(generator))[layers]
        chosen = [layer for layer, index in reads if layers is None or index in layers]
        return np.concatenate([np.asarray(c.affine.kernel) * c.affine.scale for c in chosen], axis=1)
    size = latent.latent_size(generator, "z")
    for layer in generator.layers:
        if isinstance(layer, keras.layers.Dense):
            return np.asarray(layer.kernel)[:size]
    raise UsageError(f"{generator.name} has no Dense layer reading the latent")


def style_inputs(generator):
    """The synthesis network's modulated convolutions with the index of the style input each reads: the
    convolutions take one each in turn, and each toRGB shares the index of the convolution after it."""
    from gan_keras.networks.stylegan import SYNTHESIS

    synthesis = generator.get_layer(SYNTHESIS)
    reads, index = [], 0
    for layer in synthesis.layers:
        if hasattr(layer, "affine"):
            reads.append((layer, index))
            index += 1 if layer.demodulate else 0
    return reads


def _spread(generator, space, vectors, n=5000):
    """The standard deviation of random latents along each unit vector: 1 in z, measured in w."""
    if space == "z":
        return np.ones(len(vectors), np.float32)
    from gan_keras.tools import latent

    w = latent.random_latents(generator, n, seed=1, space="w")
    return ((w - w.mean(0)) @ np.asarray(vectors).T).std(0).astype(np.float32)


@registry.register("direction", "sefa", labels=False, help="closed form: the top eigenvectors of AᵀA")
def sefa(generator, k=10, layers=None, run=""):
    """SeFa: the top `k` eigenvectors of A A^T (A = `latent_weights`, rows on the latent)."""
    from gan_keras.tools import latent

    weights = latent_weights(generator, layers).astype(np.float64)
    values, vectors = np.linalg.eigh(weights @ weights.T)
    order = np.argsort(values)[::-1][:k]
    vectors = vectors[:, order].T
    space = latent.default_space(generator)
    return Directions(vectors.astype(np.float32), space, "sefa", _spread(generator, space, vectors),
                      values[order], run)


def first_layer_activations(generator, z):
    """The output of the first Dense layer on `z` (before any normalisation), for GANSpace's PCA."""
    import keras

    for layer in generator.layers:
        if isinstance(layer, keras.layers.Dense):
            weights = latent_weights(generator)
            bias = np.asarray(layer.bias) if layer.use_bias else 0.0
            return np.asarray(z, np.float64) @ weights + bias
    raise UsageError(f"{generator.name} has no Dense layer reading the latent")


@registry.register("direction", "ganspace", labels=False, help="PCA of w, or of the first layer's activations")
def ganspace(generator, k=10, n=10000, seed=0, run=""):
    """GANSpace: PCA of w (style-based) or of the first layer's activations mapped back to z by regression."""
    from gan_keras.tools import latent

    space = latent.default_space(generator)
    if space == "w":
        w = latent.random_latents(generator, n, seed=seed, space="w").astype(np.float64)
        centred = w - w.mean(0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        variances = s[:k] ** 2 / (n - 1)
        return Directions(vt[:k].astype(np.float32), "w", "ganspace", np.sqrt(variances), variances, run)
    z = latent.random_latents(generator, n, seed=seed, space="z").astype(np.float64)
    y = first_layer_activations(generator, z)
    centred = y - y.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ vt[:k].T  # (n, k)
    coordinates /= coordinates.std(0)  # one unit: one standard deviation of the component
    mapping, *_ = np.linalg.lstsq(coordinates, z, rcond=None)  # z ~ coordinates @ mapping: (k, latent_dim)
    vectors = mapping / np.linalg.norm(mapping, axis=1, keepdims=True)
    return Directions(vectors.astype(np.float32), "z", "ganspace", np.ones(k, np.float32), s[:k] ** 2 / (n - 1), run)


registry.declare("direction", "interfacegan", labels=True, help="a linear boundary between latents a score "
                 "ranks high and low (needs --attribute)")


def discover(generator, method="sefa", k=10, run=""):
    """Directions by a registered `method` that needs no labels (sefa, ganspace)."""
    if registry.info("direction", method).get("labels"):
        raise UsageError(f"--method {method} needs labels: give --attribute")
    if k < 1:
        raise UsageError(f"--k must be positive, got {k}")
    return registry.get("direction", method)(generator, k=k, run=run)


# ---------------------------------------------------------------------------------------------
# With labels


def interfacegan(latents, scores, fraction=0.3, l2=1e-3, space="z", run="", name="attribute"):
    """InterFaceGAN: the unit normal of a logistic-regression boundary between the latents whose
    `scores` are in the top and bottom `fraction`, pointing towards high scores."""
    from scipy.optimize import minimize

    latents, scores = np.asarray(latents, np.float64), np.asarray(scores, np.float64)
    order = np.argsort(scores)
    k = max(2, int(len(scores) * fraction))
    x = np.concatenate([latents[order[:k]], latents[order[-k:]]])
    y = np.concatenate([np.zeros(k), np.ones(k)])
    mean = x.mean(0)
    x = x - mean

    def loss(params):
        w, b = params[:-1], params[-1]
        logits = x @ w + b
        p = 1 / (1 + np.exp(-logits))
        value = np.mean(np.logaddexp(0, logits) - y * logits) + l2 * w @ w
        grad = np.concatenate([x.T @ (p - y) / len(y) + 2 * l2 * w, [np.mean(p - y)]])
        return value, grad

    params = minimize(loss, np.zeros(x.shape[1] + 1), jac=True, method="L-BFGS-B").x
    normal = params[:-1] / np.linalg.norm(params[:-1])
    spread = (latents - latents.mean(0)) @ normal
    accuracy = float(np.mean(((x @ params[:-1] + params[-1]) > 0) == (y > 0.5)))
    return Directions(normal[None].astype(np.float32), space, "interfacegan", np.array([spread.std()], np.float32),
                      np.array([accuracy], np.float32), run, [name])


def attribute_scorer(name, dataset=None, data_dir=None):
    """A function images in [-1, 1] -> one score each, for an attribute by name: "brightness" (the mean
    of the top third of the image: hair, on faces), or "class:K" for digits (the domain classifier's
    probability of class K)."""
    if name == "brightness":
        return lambda images: np.asarray(images)[:, : np.shape(images)[1] // 3].mean(axis=(1, 2, 3))
    if name.startswith("class:") and name[6:].isdigit():
        from gan_keras.data.sources import DIGIT_SETS
        from gan_keras.metrics.features import class_probabilities

        if dataset not in DIGIT_SETS:
            raise UsageError(f"--attribute {name} needs a classifier: there is one for {', '.join(DIGIT_SETS)}, "
                             f"not {dataset}; use brightness")
        k = int(name[6:])
        if not 0 <= k < 10:
            raise UsageError(f"--attribute {name}: classes are 0-9")
        from gan_keras.images import to_uint8

        return lambda images: class_probabilities(to_uint8(images), dataset, data_dir)[:, k]
    raise UsageError(f"unknown attribute {name!r}; use brightness, or class:K for digits")


def labelled_direction(generator, attribute, dataset=None, n=2000, seed=0, run=""):
    """InterFaceGAN on `n` random latents of `generator`, scored by `attribute_scorer(attribute)`."""
    from gan_keras.tools import latent

    score = attribute_scorer(attribute, dataset)
    latents = latent.random_latents(generator, n, seed=seed)
    space = latent.default_space(generator)
    labels = None
    if space == "z":
        from gan_keras.networks.build import num_classes

        if num_classes(generator):
            from gan_keras.networks.build import class_labels

            labels = class_labels(generator, n)
    scores = score(latent.render(generator, latents, space, labels))
    return interfacegan(latents, scores, space=space, run=run, name=attribute), score


def orthogonal_to(direction, *others):
    """Conditional manipulation: `direction` with its components along `others` removed, unit length
    (Gram-Schmidt over the others first), so moving along it leaves those attributes as they were."""
    basis = []
    for other in others:
        v = np.asarray(other, np.float64).copy()
        for b in basis:
            v -= (v @ b) * b
        basis.append(v / np.linalg.norm(v))
    d = np.asarray(direction, np.float64).copy()
    for b in basis:
        d -= (d @ b) * b
    return (d / np.linalg.norm(d)).astype(np.float32)
