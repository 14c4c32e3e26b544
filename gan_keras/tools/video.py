"""Latent videos: a looping walk through keyframes (spherical in z, linear in w, as StyleGAN3's
`gen_video.py` walks), through projected images, or a sweep along one direction; a grid of walks
at once. `.mp4` through imageio's ffmpeg (the binary that the imageio-ffmpeg package ships), `.gif`
through Pillow.

Example:
    >>> from gan_keras.runs.loading import load_generator
    >>> G = load_generator("pretrained:anime64")
    >>> frames = walk_frames(G, grid=(3, 3), frames=30, keyframes=6, seed=0, verbose=0)   # uint8 (30, H, W, 3)
    >>> write_video(frames, "outputs/walk.mp4", fps=30)
    PosixPath('outputs/walk.mp4')
"""

from pathlib import Path

import numpy as np

from gan_keras.errors import UsageError

VIDEO_SUFFIXES = (".mp4", ".gif")


def loop_position(keyframes, t, space):
    """The latent at fraction `t` of a loop through `keyframes` (K, ...): keyframe k at t = k / K, back to
    keyframe 0 at t = 1; spherical between z keyframes, linear between w keyframes."""
    from gan_keras.tools.latent import lerp, slerp

    keyframes = np.asarray(keyframes, np.float32)
    count = len(keyframes)
    position = (t % 1.0) * count
    k = int(np.floor(position)) % count
    fraction = position - np.floor(position)
    a, b = keyframes[k], keyframes[(k + 1) % count]
    if space == "z":
        return slerp(a, b, [fraction])[0]
    return lerp(a.reshape(-1), b.reshape(-1), [fraction])[0].reshape(a.shape)


def render_frames(generator, latents_at, frames, space, labels=None, grid=(1, 1), verbose=1):
    """uint8 frames: `latents_at(i)` gives the (rows * cols, ...) latents of frame i; a progress bar."""
    import keras

    from gan_keras.images import image_grid
    from gan_keras.tools import latent

    rows, cols = grid
    bar = keras.utils.Progbar(frames, unit_name="frame") if verbose else None
    out = []
    for i in range(frames):
        images = latent.render(generator, latents_at(i), space, labels)
        out.append(image_grid(images, cols=cols, pad=0 if rows * cols == 1 else 2))
        if bar:
            bar.update(i + 1)
    return np.stack(out)


def walk_frames(generator, grid=(1, 1), frames=60, keyframes=4, seed=0, keys=None, space=None, labels=None,
                verbose=1):
    """A looping walk: each grid cell through its own `keyframes` random latents (or through `keys`,
    (K, ...) latents such as projected images, shifted by one keyframe per cell)."""
    from gan_keras.tools import latent

    rows, cols = grid
    cells = rows * cols
    if keys is None:
        space = space or latent.default_space(generator)
        flat = latent.random_latents(generator, cells * keyframes, seed=seed, space=space,
                                     labels=None if labels is None else np.resize(labels, cells * keyframes))
        keys_per_cell = flat.reshape(cells, keyframes, *flat.shape[1:])
    else:
        keys = np.asarray(keys, np.float32)
        keys_per_cell = np.stack([np.roll(keys, -c, axis=0) for c in range(cells)])
    cell_labels = None if labels is None or space != "z" else np.resize(labels, cells)

    def latents_at(i):
        return np.stack([loop_position(keys_per_cell[c], i / frames, space) for c in range(cells)])

    return render_frames(generator, latents_at, frames, space, cell_labels, grid, verbose)


def sweep_frames(generator, found, index, grid=(1, 1), frames=60, amount=3.0, seed=0, latents=None, labels=None,
                 verbose=1):
    """A looping sweep along direction `index`: amount(t) = `amount` * sin(2 pi t) standard deviations,
    from each cell's own latent (random, or `latents`)."""
    from gan_keras.tools import latent

    rows, cols = grid
    cells = rows * cols
    base = latents if latents is not None else latent.random_latents(generator, cells, seed=seed, space=found.space,
                                                                      labels=labels)
    base = np.resize(np.asarray(base, np.float32), (cells, *np.shape(base)[1:]))
    step = found.vectors[index] * found.std[index]
    if base.ndim == 3:  # w+
        step = step[None]

    def latents_at(i):
        return base + amount * np.sin(2 * np.pi * i / frames) * step

    space = "w+" if base.ndim == 3 else found.space
    cell_labels = None if labels is None or space != "z" else np.resize(labels, cells)
    return render_frames(generator, latents_at, frames, space, cell_labels, grid, verbose)


def write_video(frames, path, fps=30, min_size=256):
    """Write uint8 frames (T, H, W, C) to `.mp4` (H.264 through imageio-ffmpeg) or `.gif` (Pillow),
    looping; small frames are enlarged (nearest neighbour) to at least `min_size` pixels high."""
    from gan_keras.files import atomic_write

    path = Path(path)
    if path.suffix not in VIDEO_SUFFIXES:
        raise UsageError(f"--out must end in {' or '.join(VIDEO_SUFFIXES)}, got {path.name}")
    frames = np.asarray(frames, np.uint8)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    factor = max(1, -(-min_size // frames.shape[1]))
    frames = frames.repeat(factor, axis=1).repeat(factor, axis=2)
    # H.264 in yuv420p wants even sizes
    frames = np.pad(frames, ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0)), mode="edge")
    with atomic_write(path) as tmp:
        if path.suffix == ".gif":
            from PIL import Image

            images = [Image.fromarray(f) for f in frames]
            images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps),
                           loop=0)
        else:
            try:
                import imageio.v2 as imageio
            except ImportError:
                raise UsageError("an .mp4 needs imageio and imageio-ffmpeg: pip install imageio imageio-ffmpeg "
                                 "(or write a .gif)") from None
            with imageio.get_writer(tmp, format="FFMPEG", fps=fps, codec="libx264", quality=8, pixelformat="yuv420p",
                                    macro_block_size=1) as writer:
                for frame in frames:
                    writer.append_data(frame)
    return path


def parse_grid(text):
    """"3x3" -> (3, 3); one UsageError line otherwise."""
    try:
        rows, cols = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise UsageError(f"--grid is ROWSxCOLS, e.g. 3x3, got {text!r}") from None
    if rows < 1 or cols < 1:
        raise UsageError(f"--grid needs positive sizes, got {text!r}")
    return rows, cols


def run_video(run, out, grid="1x1", seconds=10.0, fps=30, keyframes=5, latents=None, direction=None, label=None,
              seed=0, verbose=1):
    """Write a looping video of a run's generator to `out` (.mp4 or .gif): a walk through random
    keyframes (or through `latents`, a latents.npz from projection), or with `direction`
    ("directions.npz:K") a sweep along that control; `verbose=0`: no progress bar. Returns the frames.

    Example:
        >>> frames = run_video("pretrained:mnist", "outputs/walk.gif", grid="2x2", seconds=1, fps=10)
        <BLANKLINE>
        ...
        wrote outputs/walk.gif: 10 frames at 10 fps, a 2x2 grid
    """
    from gan_keras.networks.build import class_labels
    from gan_keras.runs.loading import load_generator
    from gan_keras.tools.latent import load_latents
    from gan_keras.tools.sample import check_class

    out = Path(out)
    if out.suffix not in VIDEO_SUFFIXES:
        raise UsageError(f"--out must end in {' or '.join(VIDEO_SUFFIXES)}, got {out.name}")
    grid = parse_grid(grid)
    frames = round(seconds * fps)
    if frames < 2 or keyframes < 2:
        raise UsageError("a video needs at least 2 frames (--seconds x --fps) and 2 keyframes")
    generator = load_generator(run)
    classes = check_class(generator, label)
    cells = grid[0] * grid[1]
    labels = class_labels(generator, cells * keyframes, label) if classes else None
    keys = space = None
    if latents is not None:
        keys, space, saved_labels = load_latents(latents, generator)
        labels = saved_labels if saved_labels is not None else labels
    if direction:
        from gan_keras.tools.directions import load_directions

        found, index = load_directions(direction, generator, one=True)
        video = sweep_frames(generator, found, index, grid, frames, seed=seed, latents=keys,
                             labels=None if labels is None else labels[:cells], verbose=verbose)
    else:
        video = walk_frames(generator, grid, frames, keyframes, seed=seed, keys=keys, space=space, labels=labels,
                            verbose=verbose)
    write_video(video, out, fps=fps)
    print(f"wrote {out}: {len(video)} frames at {fps} fps, a {grid[0]}x{grid[1]} grid")
    return video
