"""gan_keras: GANs on Keras 3 / TensorFlow, from the classic MNIST GAN to DCGANs on anime faces.

Flow of data: `config` (settings) -> `data` (datasets, `download`) -> `networks` / `models`
(Build_Gen, Build_Disc) -> `losses`, `augment`, `ema` -> trainers (`fused.GAN`, `classic.ClassicGAN`)
-> `sampling` (the images of a trained generator) -> `callbacks` (grids, history, checkpoints)
-> `metrics` -> `run` (run folders) -> tools that use a trained G: `latent`, `projection`,
`directions`, `video`, `explorer`, `export`, and the shipped generators (`pretrained`) -> `cli`.

Example:
    >>> import gan_keras as gk
    >>> result = gk.train("mnist", epochs=5, out="outputs/mnist-dcgan")
    >>> G = gk.Build_Gen("dcgan", latent_dim=100, image_shape=(64, 64, 3))
    >>> G = gk.load_generator("pretrained:anime64")                 # shipped with the package
    >>> mine = gk.project(G, gk.load_targets(["me.png"], G))         # your image's latent

Names are imported on first use, so `python -m gan_keras` answers bad input before TensorFlow loads.
"""

import importlib
import importlib.util

__version__ = "0.1.0"

_EXPORTS = {
    "Build_Gen": "gan_keras.models", "Build_Disc": "gan_keras.models",
    "build_combined": "gan_keras.classic", "ClassicGAN": "gan_keras.classic",
    "GAN": "gan_keras.fused", "load_dataset": "gan_keras.data", "load_images": "gan_keras.data",
    "load_labeled_images": "gan_keras.data",
    "train": "gan_keras.run", "load_generator": "gan_keras.sampling", "generate": "gan_keras.sampling",
    "make_strategy": "gan_keras.distribute", "UsageError": "gan_keras.errors",
    "load_discriminator": "gan_keras.sampling",
    "project": "gan_keras.projection", "load_targets": "gan_keras.projection",
    "sefa": "gan_keras.directions", "ganspace": "gan_keras.directions", "interfacegan": "gan_keras.directions",
    "save_latents": "gan_keras.latent", "load_latents": "gan_keras.latent",
    "Explorer": "gan_keras.explorer", "export_generator": "gan_keras.export",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if importlib.util.find_spec(f"gan_keras.{name}") is not None:  # gk.pretrained, gk.metrics, ...: submodules too
        return importlib.import_module(f"gan_keras.{name}")
    raise AttributeError(f"module 'gan_keras' has no attribute {name!r}")
