import keras
import numpy as np
import pytest

from gan_keras import GAN, Build_Disc, Build_Gen
from gan_keras.networks.build import discriminator_logits
from gan_keras.networks.dcgan import upsampling_plan

SHAPES = [("mlp", (28, 28, 1)), ("dcgan", (28, 28, 1)), ("dcgan", (64, 64, 3)), ("dcgan", (32, 32, 3)),
          ("tutorial", (28, 28, 1)), ("dcgan_mbstd", (64, 64, 3))]


@pytest.mark.slow
@pytest.mark.parametrize("kind,shape", SHAPES)
def test_shapes_and_ranges(kind, shape):
    G, D = Build_Gen(kind, latent_dim=16, image_shape=shape), Build_Disc(kind, image_shape=shape)
    images = G(np.random.default_rng(0).normal(size=(3, 16)).astype("float32"), training=False)
    assert tuple(images.shape) == (3, *shape)
    assert float(np.min(images)) >= -1.0 and float(np.max(images)) <= 1.0
    p = np.asarray(D(images, training=False))
    logits = np.asarray(discriminator_logits(D)(images, training=False))
    assert p.shape == logits.shape == (3, 1)
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-logits)), rtol=1e-5)  # P(real) is the sigmoid of the logits


def test_the_minibatch_std_dcgan_d_sees_its_batch_and_has_no_batch_norm():
    from gan_keras.networks.layers import MinibatchStdDev

    keras.utils.set_random_seed(0)
    D = Build_Disc("dcgan_mbstd", image_shape=(64, 64, 3), width=8)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in D.layers)
    assert sum(isinstance(layer, MinibatchStdDev) for layer in D.layers) == 1
    std_layer = next(layer for layer in D.layers if isinstance(layer, MinibatchStdDev))
    seen = keras.Model(D.inputs, std_layer.output)  # the variety channel D's score reads
    images = np.random.default_rng(0).uniform(-1, 1, (4, 64, 64, 3)).astype("float32")
    same = np.repeat(images[:1], 4, axis=0)  # a batch without variety: image 0 four times
    alike, varied = np.asarray(seen(same))[..., -1], np.asarray(seen(images))[..., -1]
    assert alike.max() <= 1.01e-4 and varied.min() > 2 * alike.max()  # 1e-4: the layer's epsilon, sqrt(1e-8)
    G_layers = [type(layer) for layer in Build_Gen("dcgan_mbstd", image_shape=(64, 64, 3)).layers]
    assert G_layers == [type(layer) for layer in Build_Gen("dcgan", image_shape=(64, 64, 3)).layers]


def test_classic_mlp_architecture():
    G = Build_Gen("mlp")
    dense = [layer.units for layer in G.layers if isinstance(layer, keras.layers.Dense)]
    assert dense == [256, 512, 1024, 784]
    assert all(layer.momentum == 0.8 for layer in G.layers if isinstance(layer, keras.layers.BatchNormalization))
    D = Build_Disc("mlp")
    assert [layer.units for layer in D.layers if isinstance(layer, keras.layers.Dense)] == [512, 256, 1]


def test_dcgan_follows_paper_rules():
    G, D = Build_Gen("dcgan", image_shape=(64, 64, 3)), Build_Disc("dcgan", image_shape=(64, 64, 3))
    assert not any(isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.UpSampling2D))
                   for layer in G.layers + D.layers)
    assert sum(isinstance(layer, keras.layers.Conv2DTranspose) for layer in G.layers) == 4
    kernel = next(layer for layer in D.layers if isinstance(layer, keras.layers.Conv2D)).kernel
    assert abs(float(np.std(kernel)) - 0.02) < 0.005
    first_conv = [layer for layer in D.layers if isinstance(layer, keras.layers.Conv2D)][0]
    following = D.layers[D.layers.index(first_conv) + 1]
    assert not isinstance(following, keras.layers.BatchNormalization)  # none on D's input layer


@pytest.mark.parametrize("size,plan", [(28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (128, (4, 5))])
def test_upsampling_plan(size, plan):
    assert upsampling_plan((size, size, 3)) == plan


@pytest.mark.parametrize("shape,why", [((30, 30, 1), "supports sizes like 28, 32, 64, 128 .* got 30"),
                                       ((64, 32, 3), "needs square images, got 64x32"),
                                       ((8, 8, 1), "supports sizes like .* got 8")])
def test_dcgan_rejects_unsupported_shapes(shape, why):
    with pytest.raises(ValueError, match=why):
        Build_Gen("dcgan", image_shape=shape)


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown model kind"):
        Build_Disc("resnet")


@pytest.mark.slow
@pytest.mark.parametrize("kind,shape", SHAPES[:3])
def test_keras_round_trip(tmp_path, kind, shape):
    G, D = Build_Gen(kind, 8, shape), Build_Disc(kind, shape)
    z = np.random.default_rng(1).normal(size=(4, 8)).astype("float32")
    for model in (G, D):
        model.save(tmp_path / f"{model.name}.keras")
        loaded = keras.saving.load_model(tmp_path / f"{model.name}.keras")
        x = z if model is G else np.asarray(G(z))
        np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), atol=1e-6)


@pytest.mark.slow
def test_gan_model_round_trip(tmp_path):
    gan = GAN(Build_Gen("mlp", 8), Build_Disc("mlp"), real_label=0.9, label_noise=0.05, seed=3)
    gan.save(tmp_path / "gan.keras")
    loaded = keras.saving.load_model(tmp_path / "gan.keras", compile=False)
    assert isinstance(loaded, GAN)
    assert (loaded.real_label, loaded.label_noise, loaded.seed, loaded.latent_dim) == (0.9, 0.05, 3, 8)
    z = np.ones((2, 8), "float32")
    np.testing.assert_allclose(loaded.generator(z, training=False), gan.generator(z, training=False), atol=1e-6)
