"""`python -m gan_keras bench --backends tensorflow,jax,torch`: the fused trainer's step on each
installed Keras backend, side by side, each in a process of its own (a process runs one backend).

The same networks, batch, loss and float32 precision on every backend, fed NumPy batches (the input
pipeline left out, so the table compares the steps); images/s is the median of a few timed rounds
after a warm-up that compiles, GFLOP/s counts the step's multiply-adds (`model_flops`), and the share
of peak divides by the CPU's float32 FMA peak (`cpu_peak_gflops`) or --peak-gflops.

Example:
    python -m gan_keras bench --backends tensorflow,jax,torch --models mlp,dcgan64
"""

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

BACKENDS = ("tensorflow", "jax", "torch")


def time_backend(model, batch_size=64, steps=20, rounds=3, width=None):
    """images/s and GFLOP/s of the fused trainer on this process's backend (float32, no augmentation)."""
    import keras
    import numpy as np

    from gan_keras import GAN, Build_Disc, Build_Gen, backend
    from gan_keras.bench.flops import MODELS, model_flops

    kind, shape = MODELS[model]
    width = width or (16 if shape[0] >= 64 else 64)
    G, D = Build_Gen(kind, 100, shape, width), Build_Disc(kind, shape, width)
    gan = GAN(G, D)
    gan.compile(jit_compile=backend.name() == "jax")
    images = np.random.default_rng(0).uniform(-1, 1, (batch_size, *shape)).astype("float32")

    def batches():
        while True:
            yield (images,)

    gan.fit(batches(), epochs=1, steps_per_epoch=3, verbose=0, shuffle=False)  # compiles
    seconds = []
    for _ in range(rounds):
        start = time.perf_counter()
        gan.fit(batches(), epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
        keras.ops.convert_to_numpy(G.weights[0])  # the last step has finished (JAX dispatches ahead)
        seconds.append(time.perf_counter() - start)
    per_second = batch_size * steps / statistics.median(seconds)
    flops = model_flops(G, D)
    return {"backend": backend.name(), "model": model, "width": width, "batch_size": batch_size,
            "images_per_s": round(per_second, 1), "gflop_per_s": round(per_second * flops / 1e9, 2),
            **backend.versions()}


def run_backends(names, models, batch_size=64, steps=20, rounds=3, width=None, peak=None, threads=None):
    """Each installed backend of `names` timed in its own process; prints the table, returns the rows."""
    rows = []
    for name in names:
        if importlib.util.find_spec(name) is None:
            print(f"{name}: not installed, skipped", flush=True)
            continue
        env = {**os.environ, "KERAS_BACKEND": name}
        command = [sys.executable, "-m", "gan_keras.bench.backends", "--one", ",".join(models), str(batch_size),
                   str(steps), str(rounds), str(width or 0)]
        if threads:
            command = ["taskset", "-c", ",".join(map(str, sorted(os.sched_getaffinity(0))[:threads]))] + command
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
            print(f"{name}: failed: {lines[-1][:300]}", flush=True)
            continue
        rows += [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    print(f"\n{'model':<8} {'backend':<11} {'images/s':>9} {'GFLOP/s':>8} {'of peak':>8}")
    for model in models:
        for row in (r for r in rows if r["model"] == model):
            share = f"{row['gflop_per_s'] / peak:.1%}" if peak else "-"
            print(f"{model:<8} {row['backend']:<11} {row['images_per_s']:>9,.0f} {row['gflop_per_s']:>8.1f} {share:>8}")
    return rows


if __name__ == "__main__":  # the child process: --one MODELS BATCH STEPS ROUNDS WIDTH
    _, flag, models, batch, steps, rounds, width = sys.argv
    for model in models.split(","):
        print(json.dumps(time_backend(model, int(batch), int(steps), int(rounds), int(width) or None)), flush=True)
