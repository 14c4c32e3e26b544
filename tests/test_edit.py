"""The tools that use a trained generator: projection, directions (SeFa, GANSpace, InterFaceGAN),
edits and videos, through the Python API and the command line (on the shipped MNIST generator)."""

import numpy as np
import pytest

from gan_keras.errors import UsageError
from tests.conftest import assert_one_line_error, run_cli_here

RUN = "pretrained:mnist"


@pytest.fixture(scope="module")
def G():
    from gan_keras.runs.loading import load_generator

    return load_generator(RUN)


@pytest.fixture(scope="module")
def style_G():
    """A small style-based generator (untrained: projection and directions work in its w all the same)."""
    import keras

    from gan_keras.networks.build import Build_Gen

    keras.utils.set_random_seed(3)
    return Build_Gen("stylegan", 16, (16, 16, 3), width=8)


def _linear_first_layer(kernel):
    """An MLP generator whose first Dense layer has `kernel` (latent_dim, 256) and no bias."""
    import keras

    from gan_keras.networks.build import Build_Gen

    keras.utils.set_random_seed(0)
    G = Build_Gen("mlp", kernel.shape[0], (28, 28, 1))
    first = next(layer for layer in G.layers if isinstance(layer, keras.layers.Dense))
    first.kernel.assign(kernel.astype(np.float32))
    first.bias.assign(np.zeros(first.bias.shape, np.float32))
    return G


def _known_kernel(latent_dim=8, units=256, scales=(10.0, 6.0, 3.0, 1.0, 0.8, 0.6, 0.4, 0.2)):
    """U diag(scales) V^T with random orthonormal U (latent_dim) and V (units): left singular vectors U."""
    rng = np.random.default_rng(0)
    u, _ = np.linalg.qr(rng.standard_normal((latent_dim, latent_dim)))
    v, _ = np.linalg.qr(rng.standard_normal((units, latent_dim)))
    return u @ np.diag(scales) @ v.T, u


def test_sefa_returns_the_top_singular_vectors_of_the_first_layer():
    from gan_keras.tools.directions import sefa

    kernel, u = _known_kernel()
    found = sefa(_linear_first_layer(kernel), k=3)
    # Keras computes z @ kernel: the paper's A is kernel^T, whose right-singular vectors are U's columns
    cosines = np.abs(np.sum(found.vectors * u[:, :3].T, axis=1))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-5)
    np.testing.assert_allclose(found.values, np.array([10.0, 6.0, 3.0]) ** 2, rtol=1e-4)
    assert found.space == "z" and np.all(found.std == 1)


@pytest.mark.slow
def test_ganspace_on_a_linear_first_layer_recovers_its_top_component():
    from gan_keras.tools.directions import ganspace

    kernel, u = _known_kernel()
    found = ganspace(_linear_first_layer(kernel), k=2, n=20000)
    assert abs(found.vectors[0] @ u[:, 0]) > 0.99
    assert abs(found.vectors[1] @ u[:, 1]) > 0.97
    np.testing.assert_allclose(found.values[0], 100.0, rtol=0.05)  # the variance along the top component


@pytest.mark.slow
def test_style_based_directions_live_in_w_and_sefa_reads_each_style_layer(style_G):
    from gan_keras.tools import latent
    from gan_keras.tools.directions import ganspace, latent_weights, sefa, style_inputs

    reads = style_inputs(style_G)
    assert sorted({index for _, index in reads}) == list(range(latent.num_ws(style_G)))
    coarse = latent_weights(style_G, "coarse")
    assert coarse.shape[0] == latent.latent_size(style_G, "w") and coarse.shape[1] < latent_weights(style_G).shape[1]
    for found in (sefa(style_G, k=4), ganspace(style_G, k=4, n=2000)):
        assert found.space == "w" and found.vectors.shape == (4, latent.latent_size(style_G, "w"))
        np.testing.assert_allclose(np.linalg.norm(found.vectors, axis=1), 1.0, atol=1e-5)
        assert np.all(found.std > 0)


def test_interfacegan_finds_a_planted_boundary_and_conditional_manipulation_is_orthogonal():
    from gan_keras.tools.directions import interfacegan, orthogonal_to

    rng = np.random.default_rng(1)
    latents = rng.standard_normal((4000, 16))
    truth = rng.standard_normal(16)
    truth /= np.linalg.norm(truth)
    found = interfacegan(latents, latents @ truth + 0.1 * rng.standard_normal(4000))
    assert found.vectors[0] @ truth > 0.95  # pointing towards high scores
    other = rng.standard_normal(16)
    kept = orthogonal_to(found.vectors[0], other)
    assert abs(kept @ other) < 1e-5 and abs(np.linalg.norm(kept) - 1) < 1e-6


def test_an_edit_of_amount_zero_draws_the_latent_exactly_and_other_amounts_change_it(G):
    from gan_keras.tools import latent
    from gan_keras.tools.directions import sefa
    from gan_keras.tools.edit import edit, edit_latents

    found = sefa(G, k=3)
    z = latent.random_latents(G, 3, seed=2)
    moved, _ = edit_latents(z, "z", found.vectors[0], found.std[0], [0.0, 2.0])
    np.testing.assert_array_equal(moved[0::2], z)  # amount 0 is the latent itself, bit for bit
    images = edit(G, z, found, 0, [0.0, 2.0])
    # ... and draws its image: drawn in a batch of 6 instead of 3, equal up to float32 summation order, which
    # oneDNN varies with the batch size on an AVX2-only CPU (2.4e-6 there; bit for bit with AVX-512)
    np.testing.assert_allclose(images[0::2], latent.render(G, z, "z"), rtol=0, atol=1e-5)
    assert np.mean(np.abs(images[1::2] - images[0::2])) > 0.05


def test_style_layer_edits_touch_only_the_chosen_layers(style_G):
    from gan_keras.tools import latent
    from gan_keras.tools.directions import sefa
    from gan_keras.tools.edit import edit_latents

    found = sefa(style_G, k=2)
    w = latent.random_latents(style_G, 2, seed=0)
    moved, space = edit_latents(w, "w", found.vectors[0], found.std[0], [3.0], layers="fine",
                                num_ws=latent.num_ws(style_G))
    fine = list(latent.style_groups(latent.num_ws(style_G))["fine"])
    changed = np.any(moved != latent.broadcast(w, latent.num_ws(style_G)), axis=(0, 2))
    assert space == "w+" and list(np.flatnonzero(changed)) == fine


def test_sefa_directions_of_the_trained_generator_change_more_than_random_ones(G):
    from gan_keras.tools.directions import sefa
    from gan_keras.tools.edit import effect_sizes

    changes, ratios = effect_sizes(G, sefa(G, k=3), n=32)
    assert np.all(ratios > 1.5), ratios  # measured 5.7, 5.4, 3.4 on the shipped MNIST generator


@pytest.mark.slow
def test_projection_recovers_images_the_generator_drew_and_its_loss_falls(G):
    from gan_keras.tools import latent
    from gan_keras.tools.projection import project

    targets = latent.render(G, latent.random_latents(G, 4, seed=9), "z")
    result = project(G, targets, steps=150, distance="pixel", verbose=0)
    assert result.losses[-1] < 0.2 * result.losses[0]
    assert result.psnr.min() > 25, result.psnr  # measured: 34 dB mean after 200 steps
    assert result.latents.shape == (4, 100) and result.space == "z"


@pytest.mark.slow
def test_a_projected_held_out_digit_is_closer_than_the_nearest_of_many_random_samples(G):
    from gan_keras.data.load import load_digits
    from gan_keras.images import psnr_ssim
    from gan_keras.tools import latent
    from gan_keras.tools.projection import project

    digits, _ = load_digits("mnist", "test")
    targets = digits[:4, ..., None].astype(np.float32) / 127.5 - 1
    result = project(G, targets, steps=150, distance="pixel", verbose=0)
    samples = latent.render(G, latent.random_latents(G, 1000, seed=4), "z")
    nearest = [psnr_ssim(samples, np.repeat(t[None], len(samples), 0))[0].max() for t in targets]
    assert np.all(result.psnr > np.array(nearest)), (result.psnr, nearest)


@pytest.mark.slow
def test_projection_in_w_and_w_plus_of_a_style_based_generator(style_G):
    from gan_keras.tools import latent
    from gan_keras.tools.projection import project

    targets = latent.render(style_G, latent.random_latents(style_G, 2, seed=5), "w")
    for space in ("w", "w+"):
        result = project(style_G, targets, steps=60, space=space, distance="pixel", verbose=0, frames=3)
        assert result.losses[-1] < result.losses[0]
        assert result.latents.shape[1:] == ((latent.num_ws(style_G), 128) if space == "w+" else (128,))
        assert len(result.frames) == 3
        np.testing.assert_allclose(latent.render(style_G, result.latents, space), result.images, atol=1e-6)


@pytest.mark.slow
def test_the_offline_perceptual_distance_warns_once_and_still_projects(G, monkeypatch):
    import warnings

    from gan_keras.runs.loading import load_discriminator
    from gan_keras.tools import perceptual, projection

    monkeypatch.setattr(perceptual, "vgg_features", lambda: None)  # as offline, whatever this machine has
    targets = np.zeros((2, 28, 28, 1), np.float32) - 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = projection.project(G, targets, steps=5, discriminator=load_discriminator(RUN), verbose=0)
    assert [str(w.message) for w in caught if "VGG16" in str(w.message)] == [
        f"VGG16's ImageNet weights could not be downloaded (offline?): projecting with the "
        f"{perceptual.OFFLINE_DISTANCE} distance instead"]
    assert result.distance == perceptual.OFFLINE_DISTANCE and result.images.shape == targets.shape


def test_a_video_has_the_frames_asked_for_and_loops(G):
    from gan_keras.tools import latent
    from gan_keras.tools.video import loop_position, walk_frames

    keys = latent.random_latents(G, 4, seed=1)
    np.testing.assert_allclose(loop_position(keys, 1.0, "z"), loop_position(keys, 0.0, "z"), atol=1e-6)
    np.testing.assert_allclose(loop_position(keys, 0.5, "z"), keys[2], atol=1e-5)  # keyframe 2 at t = 2/4
    frames = walk_frames(G, grid=(2, 2), frames=12, keyframes=3, verbose=0)
    assert frames.shape[0] == 12 and frames.dtype == np.uint8
    assert not np.array_equal(frames[0], frames[6])


@pytest.mark.slow
def test_project_edit_and_video_through_the_command_line(tmp_path):
    from PIL import Image

    from gan_keras.data.load import load_digits

    digits, _ = load_digits("mnist", "test")
    folder = tmp_path / "mine"
    folder.mkdir()
    for i in range(3):  # any size and mode: read as the data loader reads
        Image.fromarray(digits[i]).convert("RGB").resize((60, 60)).save(folder / f"{i}.png")
    out = tmp_path / "proj"
    result = run_cli_here("project", RUN, folder, "--out", out, "--steps", "20", "--distance", "pixel", "--no-tune")
    assert result.returncode == 0, result.stderr
    with np.load(out / "latents.npz") as f:
        assert f["latents"].shape == (3, 100) and str(f["space"]) == "z" and f["psnr"].shape == (3,)
    assert (out / "target_vs_projection.png").is_file() and (out / "progress.gif").is_file()

    result = run_cli_here("directions", RUN, "--method", "ganspace", "--k", "2", "--out", tmp_path / "dirs")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "dirs" / "direction_01.png").is_file()
    edited = tmp_path / "edit.npz"
    result = run_cli_here("edit", RUN, "--latents", out / "latents.npz", "--direction",
                          f"{tmp_path / 'dirs' / 'directions.npz'}:1", "--amounts", "-2,0,2", "--out", edited)
    assert result.returncode == 0, result.stderr
    with np.load(edited) as f:
        assert f["images"].shape == (9, 28, 28) and list(f["amounts"][:3]) == [-2, 0, 2]
    video = tmp_path / "walk.gif"
    result = run_cli_here("video", RUN, "--out", video, "--latents", out / "latents.npz", "--seconds", "1",
                          "--fps", "8")
    assert result.returncode == 0, result.stderr
    from PIL import Image as PILImage

    with PILImage.open(video) as gif:
        assert gif.n_frames == 8
    mp4 = tmp_path / "sweep.mp4"
    result = run_cli_here("video", RUN, "--out", mp4, "--direction", f"{tmp_path / 'dirs' / 'directions.npz'}:0",
                          "--grid", "2x2", "--seconds", "1", "--fps", "6")
    assert result.returncode == 0, result.stderr
    import imageio_ffmpeg

    assert imageio_ffmpeg.count_frames_and_secs(str(mp4))[0] == 6


@pytest.mark.slow
def test_bad_input_to_the_editing_commands_is_one_line(tmp_path, style_G):
    from gan_keras.tools import latent
    from gan_keras.tools.directions import sefa

    not_image = tmp_path / "notes.png"
    not_image.write_text("not an image")
    assert_one_line_error(run_cli_here("project", RUN, not_image, "--out", tmp_path / "p"), "is not an image")
    assert_one_line_error(run_cli_here("project", RUN, tmp_path / "missing.png", "--out", tmp_path / "p"),
                          "does not exist")
    assert_one_line_error(run_cli_here("project", RUN, not_image, "--space", "w+", "--out", tmp_path / "p"),
                          "--space w+ needs a style-based generator")
    assert_one_line_error(run_cli_here("project", RUN, not_image, "--class", "3", "--out", tmp_path / "p"),
                          "this run is not class-conditional")
    assert_one_line_error(run_cli_here("edit", RUN, "--class", "3", "--direction", "x.npz:0", "--out",
                                       tmp_path / "e.png"), "x.npz does not exist")
    directions = tmp_path / "d.npz"
    from gan_keras.runs.loading import load_generator

    found = sefa(load_generator(RUN), k=2)
    found.save(directions)
    assert_one_line_error(run_cli_here("edit", RUN, "--direction", f"{directions}:5", "--out", tmp_path / "e.png"),
                          "direction 5 is out of range: ")
    assert_one_line_error(run_cli_here("edit", RUN, "--direction", f"{directions}:0", "--class", "3", "--out",
                                       tmp_path / "e.png"), "this run is not class-conditional")
    w_file = tmp_path / "w.npz"  # latents of a style-based run
    latent.save_latents(w_file, latent.random_latents(style_G, 2), "w", "style-run", style_G)
    assert_one_line_error(run_cli_here("edit", RUN, "--latents", w_file, "--direction", f"{directions}:0", "--out",
                                       tmp_path / "e.png"), "these are 128-d w of a style-based run")
    z_other = tmp_path / "z.npz"  # right shape, another generator
    latent.save_latents(z_other, np.zeros((2, 100), np.float32), "z", "other-run", _linear_first_layer(
        np.ones((100, 256))))
    assert_one_line_error(run_cli_here("video", RUN, "--latents", z_other, "--out", tmp_path / "v.gif"),
                          "belong to another generator (run other-run)")
    assert_one_line_error(run_cli_here("video", RUN, "--grid", "3by3", "--out", tmp_path / "v.gif"),
                          "--grid is ROWSxCOLS")
    with pytest.raises(UsageError, match="unknown distance 'lpips'"):
        from gan_keras.tools.perceptual import make_distance

        make_distance("lpips", style_G)


def test_the_explorer_redraws_the_face_as_each_slider_says(G):
    from gan_keras.tools import latent
    from gan_keras.tools.directions import sefa
    from gan_keras.tools.edit import edit
    from gan_keras.tools.explorer import Explorer

    found = sefa(G, k=4)
    mine = latent.random_latents(G, 1, seed=7)
    explorer = Explorer(G, found, latent=mine[0])
    explorer.widget()
    before = explorer.picture.value
    np.testing.assert_array_equal(explorer.image(), latent.render(G, mine, "z")[0])  # your image, untouched
    explorer.controls["direction 1"].value = 2.0  # as a person drags the slider
    np.testing.assert_allclose(explorer.image(), edit(G, mine, found, 1, [2.0])[0], atol=1e-6)
    assert explorer.picture.value != before
    explorer.controls["truncation"].value = 0.5
    expected = latent.render(G, mine * 0.5 + 2.0 * found.std[1] * found.vectors[1], "z")[0]
    np.testing.assert_allclose(explorer.image(), expected, atol=1e-5)
    explorer.controls["seed"].value = 3  # a random face instead of yours
    assert not np.allclose(explorer.image(), expected)


@pytest.mark.slow
def test_an_interfacegan_direction_for_a_digit_raises_the_classifier_score_step_by_step(G):
    from gan_keras.tools.directions import labelled_direction
    from gan_keras.tools.edit import monotonicity

    found, score = labelled_direction(G, "class:1", "mnist", n=1000)
    means, rho = monotonicity(score, G, found, 0, n=32)
    assert rho > 0.9 and means[-1] - means[0] > 0.3, means  # measured: 0.000 -> 0.800, Spearman 0.96
    assert_one_line_error(run_cli_here("directions", RUN, "--method", "interfacegan", "--attribute", "smile",
                                       "--out", "unused"), "unknown attribute 'smile'")
