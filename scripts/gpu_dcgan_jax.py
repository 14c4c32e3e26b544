"""Train the package's `dcgan` G (and its D or `dcgan_mbstd`'s) on a GPU machine that has no TensorFlow.

The GPU machines lent to this project carry JAX but no TensorFlow (its 600 MB wheel cannot travel
there), so this script rebuilds the `dcgan` family's layers in plain Keras 3 and runs the fused
trainer's recipe on the JAX backend: non-saturating loss, DiffAugment (colour, translation 1/8,
cutout 1/2) on real and generated images, Adam(2e-4, beta_1 0.5) for both, an EMA of G (0.999,
StyleGAN's ramp-up) whose BatchNorm statistics are copied, passes over the data in a new order each
(`--random-batches`: each batch drawn with replacement, as before 2026-12-04 evening); optionally G's
step on the fakes D's step trained on (`--share-fakes`, `train`'s CPU default) and a learning rate
that decays over the last part of the run's time (`--decay-start`, `--decay-shape`, `--lr-end`). The layers and
their order are the package's, so the weights load into `Build_Gen("dcgan", 100, (64, 64, 3), width)`
and `Build_Disc` (tests/test_gpu_script.py checks it).

    KERAS_BACKEND=jax python scripts/gpu_dcgan_jax.py faces.npz OUT --width 32 --seconds 420

`faces.npz` holds `jpeg` (the JPEG bytes of all images, concatenated) and `offsets` (where each
starts, one more than the images), as `write_faces` writes it: 7,000 faces travel in 25 MB.
Writes one `OUT/NAME.npz`: the EMA G at the end (`generator_ema/i`, float32), D (`discriminator/i`),
the EMA G at the `--snapshots` fractions of the time (`sSTEPS/generator_ema/i`) and `log` (JSON).
"""

import argparse
import io
import json
import os
import time

if __name__ == "__main__":  # only when run: an importer (the test) keeps its backend, and so do its subprocesses
    os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

LATENT_DIM, MAX_FILTERS = 100, 512


def filters(width, level):
    return min(width * 2**level, MAX_FILTERS)


def init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def build_generator(width, size=64, channels=3):
    """The `dcgan` generator of `gan_keras.networks` for a power-of-two `size`, in stock layers."""
    steps = int(np.log2(size // 4))
    z = keras.Input((LATENT_DIM,), name="z")
    x = layers.Dense(16 * filters(width, steps - 1), use_bias=False, kernel_initializer=init())(z)
    x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Reshape((4, 4, filters(width, steps - 1)))(x)
    for level in range(steps - 2, -1, -1):
        x = layers.Conv2DTranspose(filters(width, level), 4, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=init())(x)
        x = layers.ReLU()(layers.BatchNormalization()(x))
    x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", kernel_initializer=init())(x)
    x = layers.Activation("tanh")(x)
    return keras.Model(z, layers.Activation("linear", dtype="float32", name="images")(x))


class MinibatchStdDev(layers.Layer):
    """The package's `MinibatchStdDev` (groups of 4, strided over the batch) in backend-neutral ops."""

    def call(self, x):
        batch, h, w, c = x.shape
        group = min(4, batch) if batch % min(4, batch) == 0 else 1
        y = keras.ops.reshape(keras.ops.cast(x, "float32"), (group, -1, h, w, c))
        std = keras.ops.sqrt(keras.ops.mean(keras.ops.square(y - keras.ops.mean(y, axis=0)), axis=0) + 1e-8)
        std = keras.ops.tile(keras.ops.mean(std, axis=(1, 2, 3)), (group,))[:, None, None, None]
        return keras.ops.concatenate([x, keras.ops.cast(std * keras.ops.ones((1, h, w, 1)), x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)


def build_discriminator(width, size=64, channels=3, kind="dcgan"):
    """The `dcgan` (or `dcgan_mbstd`) discriminator up to its logits (the sigmoid after them has no weights)."""
    steps = int(np.log2(size // 4))
    images = keras.Input((size, size, channels), name="images")
    x = images
    for level in range(steps):
        x = layers.Conv2D(filters(width, level), 4, strides=2, padding="same",
                          use_bias=level == 0 or kind == "dcgan_mbstd", kernel_initializer=init())(x)
        if level > 0 and kind == "dcgan":
            x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
    if kind == "dcgan_mbstd":
        x = MinibatchStdDev()(x)
        x = layers.Conv2D(filters(width, steps - 1), 3, padding="same", kernel_initializer=init())(x)
        x = layers.LeakyReLU(0.2)(x)
    score = layers.Dense(1, kernel_initializer=init(), name="score")(layers.Flatten()(x))
    return keras.Model(images, layers.Activation("linear", dtype="float32", name="logits")(score))


def write_faces(images, path, quality=95):
    """Save uint8 images (n, h, w, 3) as `read_faces` reads them: JPEG bytes and their offsets."""
    from PIL import Image

    blobs = []
    for image in images:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
        blobs.append(buffer.getvalue())
    np.savez(path, jpeg=np.frombuffer(b"".join(blobs), np.uint8), offsets=np.cumsum([0] + [len(b) for b in blobs]))


def read_faces(path):
    from concurrent.futures import ThreadPoolExecutor

    from PIL import Image

    data = np.load(path)
    blob, offsets = data["jpeg"].tobytes(), data["offsets"]

    def decode(i):
        return np.asarray(Image.open(io.BytesIO(blob[offsets[i]:offsets[i + 1]])).convert("RGB"))

    with ThreadPoolExecutor(8) as pool:
        return np.stack(list(pool.map(decode, range(len(offsets) - 1))))


def diffaugment(x, key, translation=0.125, cutout=0.5):
    """DiffAugment (Zhao et al. 2020) colour, translation, cutout on images in [-1, 1], as the package's."""
    import jax
    import jax.numpy as jnp

    n, h, w, _ = x.shape
    u = jax.random.uniform(key, (n, 7))
    x = x + (u[:, 0] - 0.5)[:, None, None, None]
    grey = x.mean(axis=3, keepdims=True)
    x = (x - grey) * (2.0 * u[:, 1])[:, None, None, None] + grey
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    x = (x - mean) * (u[:, 2] + 0.5)[:, None, None, None] + mean
    max_dy, max_dx = int(h * translation + 0.5), int(w * translation + 0.5)
    dy = jnp.floor(u[:, 3] * (2 * max_dy + 1)).astype(jnp.int32) - max_dy
    dx = jnp.floor(u[:, 4] * (2 * max_dx + 1)).astype(jnp.int32) - max_dx
    rows, cols = jnp.arange(h)[None, :] - dy[:, None], jnp.arange(w)[None, :] - dx[:, None]
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]
    x = jax.vmap(lambda img, r, c: img[jnp.clip(r, 0, h - 1)][:, jnp.clip(c, 0, w - 1)])(x, rows, cols)
    cut_h, cut_w = int(h * cutout + 0.5), int(w * cutout + 0.5)
    top = jnp.floor(u[:, 5] * (h + 1 - cut_h % 2)).astype(jnp.int32) - cut_h // 2
    left = jnp.floor(u[:, 6] * (w + 1 - cut_w % 2)).astype(jnp.int32) - cut_w // 2
    r, c = jnp.arange(h)[None, :], jnp.arange(w)[None, :]
    cut = (((r >= top[:, None]) & (r < top[:, None] + cut_h))[:, :, None]
           & ((c >= left[:, None]) & (c < left[:, None] + cut_w))[:, None, :])
    return x * (inside & ~cut)[..., None]


def learning_rate(lr, fraction, decay_start=1.0, shape="linear", end=0.0):
    """The rate at `fraction` of the run's time: `lr` until `decay_start`, then linearly down to
    `end * lr` at the end ("linear"), or `end * lr` at once ("step").

        >>> [round(learning_rate(2e-4, f, 0.5, "linear", 0.0), 6) for f in (0.25, 0.75, 1.0)]
        [0.0002, 0.0001, 0.0]
        >>> learning_rate(2e-4, 0.6, 0.5, "step", 0.25)
        5e-05
    """
    if fraction < decay_start:
        return lr
    if shape == "step":
        return lr * end
    progress = min(1.0, (fraction - decay_start) / max(1e-9, 1.0 - decay_start))
    return lr * (1.0 - progress * (1.0 - end))


class BatchOrder:
    """Which images each step trains on, drawn on the host `chunk` steps at a time: passes over the
    data in a new random order each (`epochs=True`, as `train`'s shuffled pipeline), or each batch
    drawn at random with replacement.

        >>> order = BatchOrder(5, seed=0, epochs=True)
        >>> sorted(order.take(5)) == sorted(order.take(5)) == [0, 1, 2, 3, 4]
        True
    """

    def __init__(self, n, seed=0, epochs=True):
        self.n, self.epochs = n, epochs
        self.rng = np.random.default_rng(seed)
        self.left = np.zeros(0, np.int32)

    def take(self, count):
        if not self.epochs:
            return self.rng.integers(0, self.n, count).astype(np.int32)
        while len(self.left) < count:
            self.left = np.concatenate([self.left, self.rng.permutation(self.n).astype(np.int32)])
        taken, self.left = self.left[:count], self.left[count:]
        return taken


def make_trainer(G, D, batch_size, ema_decay, chunk, share_fakes=False):
    """A jitted function running `chunk` training steps on (state, learning rate, the images' order:
    `chunk * batch_size` indices); the state as a tuple of lists. `share_fakes`: G's step scores the
    batch D's step trained on (the same noise, by the updated D), as `train --share-fakes` does."""
    import jax
    import jax.numpy as jnp
    import optax

    adam = optax.scale_by_adam(b1=0.5, b2=0.999, eps=1e-7)  # Keras Adam's defaults but beta_1; the rate per call

    def d_loss(d_tv, d_ntv, real, fake, key):
        ka, kb = jax.random.split(key)
        real_logits, d_ntv = D.stateless_call(d_tv, d_ntv, diffaugment(real, ka), training=True)
        fake_logits, d_ntv = D.stateless_call(d_tv, d_ntv, diffaugment(fake, kb), training=True)
        loss = jax.nn.softplus(-real_logits).mean() + jax.nn.softplus(fake_logits).mean()
        return loss, (d_ntv, (real_logits > 0).mean() / 2 + (fake_logits < 0).mean() / 2)

    def g_loss(g_tv, g_ntv, d_tv, d_ntv, z, key):
        fake, g_ntv = G.stateless_call(g_tv, g_ntv, z, training=True)
        logits, d_ntv = D.stateless_call(d_tv, d_ntv, diffaugment(fake, key), training=True)
        return jax.nn.softplus(-logits).mean(), (g_ntv, d_ntv)

    def step(i, carry, order):
        (g_tv, g_ntv, d_tv, d_ntv, g_opt, d_opt, e_tv, e_ntv, images, key, count, stats, lr) = carry
        key, k_z1, k_z2, k_d, k_g = jax.random.split(key, 5)
        real = images[jax.lax.dynamic_slice(order, (i * batch_size,), (batch_size,))]
        real = real.astype(jnp.float32) / 127.5 - 1.0
        fake, g_ntv = G.stateless_call(g_tv, g_ntv, jax.random.normal(k_z1, (batch_size, LATENT_DIM)), training=True)
        (dl, (d_ntv, acc)), grads = jax.value_and_grad(d_loss, has_aux=True)(d_tv, d_ntv, real,
                                                                              jax.lax.stop_gradient(fake), k_d)
        updates, d_opt = adam.update(grads, d_opt, d_tv)
        d_tv = optax.apply_updates(d_tv, jax.tree_util.tree_map(lambda u: -lr * u, updates))
        (gl, (g_ntv, d_ntv)), grads = jax.value_and_grad(g_loss, has_aux=True)(
            g_tv, g_ntv, d_tv, d_ntv, jax.random.normal(k_z1 if share_fakes else k_z2, (batch_size, LATENT_DIM)), k_g)
        updates, g_opt = adam.update(grads, g_opt, g_tv)
        g_tv = optax.apply_updates(g_tv, jax.tree_util.tree_map(lambda u: -lr * u, updates))
        count = count + 1
        beta = jnp.minimum(ema_decay, 0.5 ** (1.0 / (0.05 * count.astype(jnp.float32))))
        e_tv = [beta * e + (1.0 - beta) * w for e, w in zip(e_tv, g_tv)]
        stats = stats + jnp.stack([dl, gl, acc])
        return (g_tv, g_ntv, d_tv, d_ntv, g_opt, d_opt, e_tv, list(g_ntv), images, key, count, stats, lr)

    @jax.jit
    def run(state, lr, order):
        state = (*state[:-1], jnp.zeros(3), jnp.asarray(lr, jnp.float32))
        return jax.lax.fori_loop(0, chunk, lambda i, carry: step(i, carry, order), state)[:-1]

    def initial(images, seed):
        g_tv = [v.value for v in G.trainable_variables]
        d_tv = [v.value for v in D.trainable_variables]
        g_ntv = [v.value for v in G.non_trainable_variables]
        return (g_tv, g_ntv, d_tv, [v.value for v in D.non_trainable_variables], adam.init(g_tv), adam.init(d_tv),
                list(g_tv), list(g_ntv), jnp.asarray(images), jax.random.PRNGKey(seed), jnp.zeros((), jnp.int32),
                jnp.zeros(3))

    return run, initial


def weights(model, trainable, non_trainable):
    """`model.weights` in order, taking the values of the (non-)trainable lists of the state."""
    values = {id(v): x for v, x in zip(model.trainable_variables, trainable)}
    values.update({id(v): x for v, x in zip(model.non_trainable_variables, non_trainable)})
    return [np.asarray(values[id(v)], np.float32) for v in model.weights]


def export_run_folders(npz_path, out_dir, template):
    """Write one package run folder per G in a run's .npz (the end as `NAME`, each snapshot as
    `NAME_sSTEPS`): `config.json` (the run folder `template`'s, with this run's width and
    discriminator) and `weights.npz` (`generator_ema/i`, `discriminator/i`, float16, as `pack`
    ships them), so `python -m gan_keras evaluate|sample FOLDER` reads them. Returns the folders."""
    saved = np.load(npz_path)
    log = json.loads(str(saved["log"]))
    with open(os.path.join(template, "config.json")) as f:
        config = json.load(f)
    config.update(model=log["discriminator"], width=log["width"], lr=log["lr"], ema=log["ema"],
                  batch_size=log["batch_size"], limit=log["images"], precision=log["policy"])
    d_arrays = {k: saved[k].astype("float16") for k in saved.files if k.startswith("discriminator/")}
    name = os.path.splitext(os.path.basename(npz_path))[0]
    tags = sorted({k.split("/")[0] for k in saved.files if k.startswith("s") and "/generator_ema/" in k},
                  key=lambda t: int(t[1:]))
    folders = []
    for tag in [*tags, None]:
        prefix = f"{tag}/generator_ema/" if tag else "generator_ema/"
        g_arrays = {f"generator_ema/{k[len(prefix):]}": saved[k].astype("float16")
                    for k in saved.files if k.startswith(prefix)}
        folder = os.path.join(out_dir, f"{name}_{tag}" if tag else name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump({**config, "steps": int(tag[1:]) if tag else log["steps"]}, f, indent=1)
        np.savez_compressed(os.path.join(folder, "weights.npz"), **g_arrays, **d_arrays)
        folders.append(folder)
    return folders


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("faces")
    parser.add_argument("out")
    parser.add_argument("--name", help="the run's file name in OUT (default wWIDTH)")
    parser.add_argument("--discriminator", default="dcgan", choices=["dcgan", "dcgan_mbstd"])
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--decay-start", type=float, default=1.0, help="fraction of --seconds where the rate decays")
    parser.add_argument("--decay-shape", default="linear", choices=["linear", "step"])
    parser.add_argument("--lr-end", type=float, default=0.0, help="the rate at the end (linear) or after the "
                        "step, as a fraction of --lr")
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--share-fakes", action="store_true", help="G's step scores the fakes D's step trained on")
    parser.add_argument("--random-batches", action="store_true", help="each batch drawn at random with replacement "
                        "(the script's old way), not passes over the data in a new order each")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--chunk", type=int, default=200, help="steps per compiled call")
    parser.add_argument("--snapshots", default="0.5", help="fractions of --seconds at which the EMA G is also kept")
    parser.add_argument("--dtype", default="float16", help="dtype of D and the snapshots in the .npz "
                        "(the final EMA G is float32)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--init", help="start from this .npz's generator/i (else generator_ema/i), discriminator/i, "
                        "generator_ema/i (the EMA then at its full decay at once)")
    parser.add_argument("--policy", default="float32", help='Keras dtype policy, e.g. "mixed_bfloat16"')
    args = parser.parse_args(argv)
    import jax

    start = time.time()
    name = args.name or f"w{args.width}"
    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(args.policy)
    images = read_faces(args.faces)
    G = build_generator(args.width, images.shape[1])
    D = build_discriminator(args.width, images.shape[1], kind=args.discriminator)
    run, initial = make_trainer(G, D, args.batch_size, args.ema, args.chunk, args.share_fakes)
    order = BatchOrder(len(images), args.seed, epochs=not args.random_batches)
    state = initial(images, args.seed)
    if args.init:
        saved = np.load(args.init)
        g_key = "generator" if "generator/0" in saved.files else "generator_ema"  # G from the average if alone
        G.set_weights([saved[f"{g_key}/{i}"].astype("float32") for i in range(len(G.weights))])
        D.set_weights([saved[f"discriminator/{i}"].astype("float32") for i in range(len(D.weights))])
        average = build_generator(args.width, images.shape[1])
        average.set_weights([saved[f"generator_ema/{i}"].astype("float32") for i in range(len(G.weights))])
        fresh = initial(images, args.seed)
        state = (*fresh[:6], [v.value for v in average.trainable_variables], *fresh[7:10],
                 fresh[10] + 10**6, fresh[11])
    compiled = run.lower(state, args.lr, order.take(args.chunk * args.batch_size)).compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    flops = float((cost or {}).get("flops", 0.0))  # XLA counts a loop body once: one step
    log = {**vars(args), "images": len(images), "device": str(jax.devices()[0]), "jax": jax.__version__,
           "keras": keras.__version__, "flops_per_step": flops, "compile_seconds": round(time.time() - start, 1),
           "rows": []}
    fractions = sorted(float(f) for f in args.snapshots.split(",") if f)
    arrays, steps, train_seconds, begin = {}, 0, 0.0, time.time()
    while time.time() - begin < args.seconds:
        t0 = time.time()
        lr = learning_rate(args.lr, (t0 - begin) / args.seconds, args.decay_start, args.decay_shape, args.lr_end)
        state = compiled(state, lr, order.take(args.chunk * args.batch_size))
        stats = np.asarray(state[-1]) / args.chunk
        train_seconds += time.time() - t0
        steps += args.chunk
        elapsed = time.time() - begin
        log["rows"].append({"steps": steps, "seconds": round(elapsed, 2), "lr": lr, "d_loss": float(stats[0]),
                            "g_loss": float(stats[1]), "d_accuracy": float(stats[2])})
        if len(log["rows"]) % 25 == 1:
            print(json.dumps({"name": name, **log["rows"][-1], "steps_per_s": round(steps / train_seconds, 1)}),
                  flush=True)
        while fractions and elapsed >= fractions[0] * args.seconds:
            for i, w in enumerate(weights(G, state[6], state[7])):
                arrays[f"s{steps}/generator_ema/{i}"] = w.astype(args.dtype)
            fractions.pop(0)
    for i, w in enumerate(weights(D, state[2], state[3])):
        arrays[f"discriminator/{i}"] = w.astype(args.dtype)
    for i, w in enumerate(weights(G, state[6], state[7])):
        arrays[f"generator_ema/{i}"] = w.astype("float32")
    log.update(steps=steps, train_seconds=round(train_seconds, 1), wall_seconds=round(time.time() - start, 1),
               steps_per_second=round(steps / train_seconds, 1),
               achieved_tflops=round(flops * steps / train_seconds / 1e12, 2))
    os.makedirs(args.out, exist_ok=True)
    np.savez(os.path.join(args.out, f"{name}.npz"), log=np.array(json.dumps(log)), **arrays)  # one file a run
    print(json.dumps({k: v for k, v in log.items() if k != "rows"}), flush=True)


if __name__ == "__main__":
    main()
