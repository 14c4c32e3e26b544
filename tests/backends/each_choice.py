"""One step of the fused trainer for every registered network, loss and augmentation that runs on
KERAS_BACKEND (those declared `tensorflow_only` must say so in one line); prints one line per choice
and exits 1 if any failed (`tests/test_backends.py`)."""

import sys
import time

import keras
import numpy as np

from gan_keras import GAN, Build_Disc, Build_Gen, registry
from gan_keras.errors import UsageError

SHAPES = {"mlp": (28, 28, 1), "tutorial": (28, 28, 1), "fastgan": (64, 64, 3)}  # fastgan is 64x64 only


def one_step(model="mlp", loss="nonsaturating", augment="none"):  # losses and augmentations on the MLP: quick
    shape = SHAPES.get(model, (16, 16, 3))  # the smallest each family builds: the quickest to compile
    G, D = Build_Gen(model, 16, shape, 8), Build_Disc(model, shape, 8)
    gan = GAN(G, D, loss=loss, augment=augment)
    gan.compile()
    before = [keras.ops.convert_to_numpy(w).copy() for w in G.trainable_weights]
    images = np.random.default_rng(0).uniform(-1, 1, (8, *shape)).astype("float32")
    logs = gan.train_on_batch(images, return_dict=True)
    moved = any(not np.array_equal(b, keras.ops.convert_to_numpy(w)) for b, w in zip(before, G.trainable_weights))
    assert moved and all(np.isfinite(float(v)) for v in logs.values()), logs


failed = []
choices = ([("network", name, {"model": name}) for name in registry.names("network")]
           + [("loss", name, {"loss": name}) for name in registry.names("loss")]
           + [("augment", name, {"augment": name}) for name in registry.names("augment")])
for kind, name, settings in choices:
    try:
        started = time.perf_counter()
        one_step(**settings)
        print(f"{kind} {name}: ok ({time.perf_counter() - started:.1f} s)", flush=True)
    except UsageError as e:
        only = registry.info(kind, name).get("tensorflow_only")
        print(f"{kind} {name}: {'tensorflow only' if only else 'FAILED'}: {e}", flush=True)
        if not only:
            failed.append(name)
    except Exception as e:  # noqa: BLE001 - report every choice, then fail
        print(f"{kind} {name}: FAILED: {type(e).__name__}: {str(e).splitlines()[0][:300]}", flush=True)
        failed.append(name)
sys.exit(1 if failed else 0)
