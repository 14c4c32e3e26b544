"""DCGAN (Radford et al. 2016) sized from the image shape: a Dense projection to a small map,
Conv2DTranspose stride-2 upsampling with BatchNormalization and ReLU, N(0, 0.02) weights; a
mirrored strided-convolution discriminator with LeakyReLU 0.2, no pooling and no batch norm on
its input layer. `width` is the filters of the outer layers, doubling inwards up to 512.

"dcgan_mbstd" keeps that generator and gives D no batch norm and a minibatch standard deviation
(Karras et al. 2018) before its score: batch norm, over a batch that is all real or all generated,
subtracts whatever the generated batch shares (a colour cast, too little variety), so DCGAN's D
cannot see it; this D can."""

from keras import layers

from gan_keras.networks import subpixel
from gan_keras.networks.layers import MinibatchStdDev, Network, batch_norm, dcgan_init
from gan_keras.registry import declare

MAX_FILTERS = 512


def upsampling_plan(image_shape):
    """Start size and number of stride-2 upsamplings for a DCGAN of this image shape.

    28 -> (7, 2), 32 -> (4, 3), 64 -> (4, 4), 128 -> (4, 5).
    """
    height, width, _ = image_shape
    if height != width:
        raise ValueError(f"dcgan needs square images, got {height}x{width}")
    size, steps = height, 0
    while size % 2 == 0 and size > 4:
        size //= 2
        steps += 1
    if steps < 2 or size > 7:
        raise ValueError(f"dcgan supports sizes like 28, 32, 64, 128 (a power of two times 4 to 7), got {height}")
    return size, steps


def filters(width, level):
    return min(width * 2**level, MAX_FILTERS)


def generator(z, image_shape, width):
    start, steps = upsampling_plan(image_shape)
    x = layers.Dense(start * start * filters(width, steps - 1), use_bias=False, kernel_initializer=dcgan_init())(z)
    x = layers.ReLU()(batch_norm()(x))
    x = layers.Reshape((start, start, filters(width, steps - 1)))(x)
    for level in range(steps - 2, -1, -1):
        x = subpixel.Conv2DTranspose(filters(width, level), 4, strides=2, padding="same", use_bias=False,
                                     kernel_initializer=dcgan_init())(x)
        x = layers.ReLU()(batch_norm()(x))
    # Keras's layers, on faster paths at the image side and the 4x4 maps (networks.subpixel)
    x = subpixel.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same", kernel_initializer=dcgan_init())(x)
    return layers.Activation("tanh")(x)


def discriminator(images, image_shape, width):
    _, steps = upsampling_plan(image_shape)
    x = images
    for level in range(steps):
        x = subpixel.Conv2D(filters(width, level), 4, strides=2, padding="same", use_bias=level == 0,
                            kernel_initializer=dcgan_init())(x)
        if level > 0:  # DCGAN: no batch norm on the discriminator's input layer
            x = batch_norm()(x)
        x = layers.LeakyReLU(0.2)(x)
    return layers.Flatten()(x)


def discriminator_minibatch_std(images, image_shape, width):
    _, steps = upsampling_plan(image_shape)
    x = images
    for level in range(steps):
        x = subpixel.Conv2D(filters(width, level), 4, strides=2, padding="same", kernel_initializer=dcgan_init())(x)
        x = layers.LeakyReLU(0.2)(x)
    x = MinibatchStdDev()(x)
    x = layers.Conv2D(filters(width, steps - 1), 3, padding="same", kernel_initializer=dcgan_init())(x)
    return layers.Flatten()(layers.LeakyReLU(0.2)(x))


declare("network", "dcgan", Network(generator, discriminator, upsampling_plan, head_initializer=dcgan_init),
        convolutional=True, share_fakes_on_cpu=True, large_batch_on_cpu=True,
        cpu_bfloat16="1.34x the DCGAN steps, better faces in the same 5 minutes")
declare("network", "dcgan_mbstd",
        Network(generator, discriminator_minibatch_std, upsampling_plan, head_initializer=dcgan_init),
        convolutional=True, augment="diffaug", share_fakes_on_cpu=True)
