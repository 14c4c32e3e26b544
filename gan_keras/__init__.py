"""gan_keras: GANs on Keras 3 / TensorFlow, from the classic MNIST GAN to DCGANs on anime faces.

The folders follow the data, and each imports only from those before it (tests/test_layout.py):
`data/` (datasets, folders, the tf.data pipeline) -> `networks/` (Build_Gen, Build_Disc and the
network families) -> `training/` (settings, losses, augmentation, the two trainers) -> `runs/` (the
run folder: config, checkpoints, loading, `best/`, the callbacks that write it, and `train`) ->
`metrics/` -> `tools/` (what uses a trained generator: sampling, latents, the encoder, projection,
directions, video, export, the explorer, pack) and `bench/` (the training step timed) -> `cli/`.
Below them all: the small shared modules (`registry`, `errors`, `files`, `images`, `options`,
`quiet_tensorflow`, `notebook`) and `pretrained/`, the shipped generators as package data.

Example:
    >>> import gan_keras as gk
    >>> result = gk.train("mnist", epochs=1, steps_per_epoch=20, out="outputs/mnist-mlp", verbose=0)
    >>> G = gk.Build_Gen("dcgan", latent_dim=100, image_shape=(64, 64, 3))
    >>> G = gk.load_generator("pretrained:anime64")                 # shipped with the package
    >>> mine = gk.project(G, gk.load_targets(["me.png"], G), steps=10, distance="pixel", verbose=0)
    >>> mine.latents.shape                                           # your image's latent
    (1, 100)

Names are imported on first use, so `python -m gan_keras` answers bad input before TensorFlow loads.
"""

import importlib
import importlib.util

__version__ = "0.1.0"

_EXPORTS = {
    "Build_Gen": "gan_keras.networks.build", "Build_Disc": "gan_keras.networks.build",
    "build_combined": "gan_keras.training.classic", "ClassicGAN": "gan_keras.training.classic",
    "GAN": "gan_keras.training.fused", "load_dataset": "gan_keras.data.pipeline", "load_images": "gan_keras.data.load",
    "load_labeled_images": "gan_keras.data.load",
    "train": "gan_keras.runs.train", "load_generator": "gan_keras.runs.loading", "generate": "gan_keras.tools.sample",
    "make_strategy": "gan_keras.training.distribute", "UsageError": "gan_keras.errors",
    "load_discriminator": "gan_keras.runs.loading",
    "project": "gan_keras.tools.projection", "load_targets": "gan_keras.data.folders",
    "tune": "gan_keras.tools.projection", "train_encoder": "gan_keras.tools.encoder",
    "encode": "gan_keras.tools.encoder",
    "load_encoder": "gan_keras.tools.encoder",
    "sefa": "gan_keras.tools.directions", "ganspace": "gan_keras.tools.directions",
    "interfacegan": "gan_keras.tools.directions",
    "save_latents": "gan_keras.tools.latent", "load_latents": "gan_keras.tools.latent",
    "Explorer": "gan_keras.tools.explorer", "export_generator": "gan_keras.tools.export",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if importlib.util.find_spec(f"gan_keras.{name}") is not None:  # gk.pretrained, gk.metrics, ...: submodules too
        return importlib.import_module(f"gan_keras.{name}")
    raise AttributeError(f"module 'gan_keras' has no attribute {name!r}")
