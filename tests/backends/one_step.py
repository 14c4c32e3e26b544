"""One D and one G step of the fused trainer from fixed weights, images and noise, on the backend of
KERAS_BACKEND; writes the losses and the updated weights to the .npz named by argv[1]
(`tests/test_backends.py` compares the three backends). argv: OUT LOSS AUGMENT [data-parallel]."""

import sys

import keras
import numpy as np

if len(sys.argv) > 4 and sys.argv[4] == "data-parallel":  # JAX: Keras's DataParallel over every device
    from gan_keras.training.distribute import JaxDataParallel

    assert JaxDataParallel().num_replicas_in_sync == 2, "run with JAX_NUM_CPU_DEVICES=2"

from gan_keras.training import noise


def fixed_noise(seed, step, batch_size, latent_dim, stream=0):
    """The same numbers on every backend: NumPy's, from (seed, stream) (one step: the step is 0)."""
    z = np.random.default_rng([seed, stream]).standard_normal((int(batch_size), latent_dim))
    return keras.ops.convert_to_tensor(z.astype("float32"))


noise.latent_noise = fixed_noise

from gan_keras import GAN, Build_Disc, Build_Gen  # noqa: E402

G, D = Build_Gen("dcgan", 32, (16, 16, 3), 8), Build_Disc("dcgan", (16, 16, 3), 8)
rng = np.random.default_rng(0)
for model in (G, D):
    for w in model.weights:
        positive = any(key in w.path for key in ("moving_variance", "gamma"))
        value = 1.0 + 0.1 * rng.random(w.shape) if positive else 0.1 * rng.standard_normal(w.shape)
        w.assign(value.astype("float32"))
gan = GAN(G, D, loss=sys.argv[2], augment=sys.argv[3], r1=1.0, ema=0.9)
gan.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1),
            run_eagerly=keras.backend.backend() == "tensorflow")  # eager: fixed_noise reads the batch size
images = np.random.default_rng(1).uniform(-1, 1, (8, 16, 16, 3)).astype("float32")
logs = gan.train_on_batch(images, return_dict=True)
arrays = {f"{name}/{i}": keras.ops.convert_to_numpy(w) for name, model in
          (("G", G), ("D", D), ("EMA", gan.ema.average)) for i, w in enumerate(model.weights)}
arrays.update({f"log/{k}": np.asarray(float(v)) for k, v in logs.items()})
np.savez(sys.argv[1], **arrays)
