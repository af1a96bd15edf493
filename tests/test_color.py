import warnings

import numpy as np
import pytest
import tensorflow as tf

from colorgan import color
from colorgan.data import decode, folders

skcolor = pytest.importorskip("skimage.color")


def random_rgb(shape=(4, 16, 16, 3), seed=0):
    rng = np.random.default_rng(seed)
    rgb = rng.random(shape).astype(np.float32)
    rgb[0, 0, :4] = [[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 0, 1]]  # gamut corners
    return rgb


def sample_photo():
    paths = folders.list_image_files(folders.SAMPLES_DIR / "val")
    return decode.load_file(paths[0]).numpy()


def lab_modes():
    """The same conversion eagerly, under tf.function and inside Dataset.map."""
    graph = tf.function(color.rgb_to_lab)

    def in_dataset(rgb):
        ds = tf.data.Dataset.from_tensor_slices(rgb[None]).map(color.rgb_to_lab)
        return next(iter(ds))

    return {"eager": color.rgb_to_lab, "tf.function": graph, "Dataset.map": in_dataset}


@pytest.mark.parametrize("mode", ["eager", "tf.function", "Dataset.map"])
@pytest.mark.parametrize("image", ["random", "photo"])
def test_rgb_to_lab_matches_skimage(mode, image):
    rgb = random_rgb() if image == "random" else sample_photo()
    ours = np.asarray(lab_modes()[mode](tf.constant(rgb)))
    ref = skcolor.rgb2lab(rgb.astype(np.float64))
    np.testing.assert_allclose(ours, ref, atol=1e-3)


@pytest.mark.parametrize("mode", ["eager", "tf.function", "Dataset.map"])
def test_lab_to_rgb_matches_skimage_including_out_of_gamut(mode):
    rng = np.random.default_rng(1)
    lab = rng.uniform([0, -128, -128], [100, 127, 127], (8, 32, 3)).astype(np.float32)
    fn = {"eager": color.lab_to_rgb, "tf.function": tf.function(color.lab_to_rgb),
          "Dataset.map": lambda x: next(iter(tf.data.Dataset.from_tensors(x).map(color.lab_to_rgb)))}
    ours = np.asarray(fn[mode](tf.constant(lab)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skimage warns about the negative z it clips
        ref = skcolor.lab2rgb(lab.astype(np.float64))
    assert not np.isnan(ours).any()
    assert ours.min() >= 0 and ours.max() <= 1
    np.testing.assert_allclose(ours, ref, atol=1e-3)


def test_extreme_lab_is_clipped_not_nan():
    lab = tf.constant([[1e4, 1e4, -1e4], [-50, -1e4, 1e4], [0, 0, 0]], tf.float32)
    rgb = color.lab_to_rgb(lab).numpy()
    assert np.isfinite(rgb).all() and rgb.min() >= 0 and rgb.max() <= 1


def test_tensorflow_io_agrees_as_second_oracle():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tfio = pytest.importorskip("tensorflow_io")
    rgb = random_rgb()
    np.testing.assert_allclose(color.rgb_to_lab(rgb).numpy(),
                               tfio.experimental.color.rgb_to_lab(rgb).numpy(), atol=1e-3)
    lab = color.rgb_to_lab(rgb)
    np.testing.assert_allclose(color.lab_to_rgb(lab).numpy(),
                               tfio.experimental.color.lab_to_rgb(lab).numpy(), atol=1e-3)


def test_model_range_round_trip_and_bounds():
    rgb = random_rgb()
    L, ab = color.rgb_to_model(rgb)
    assert L.shape == (4, 16, 16, 1) and ab.shape == (4, 16, 16, 2)
    assert -1 <= L.numpy().min() and L.numpy().max() <= 1
    assert np.abs(ab.numpy()).max() < 1  # tanh can reach every sRGB colour
    np.testing.assert_allclose(color.model_to_rgb(L, ab).numpy(), rgb, atol=1e-4)


def test_gray_rgb_has_zero_chroma_and_same_lightness():
    L, _ = color.rgb_to_model(random_rgb())
    lab = color.rgb_to_lab(color.gray_rgb(L))
    np.testing.assert_allclose(lab[..., 0].numpy(), (L[..., 0].numpy() + 1) * 50, atol=1e-2)
    assert np.abs(lab[..., 1:].numpy()).max() < 1e-2


def test_gradients_are_finite_at_zero_and_one():
    rgb = tf.Variable(random_rgb())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(color.lab_to_rgb(color.rgb_to_lab(rgb)))
    assert np.isfinite(tape.gradient(loss, rgb).numpy()).all()


def test_lightness_is_the_L_of_rgb_to_lab():
    rgb = random_rgb()
    np.testing.assert_allclose(color.lightness(rgb).numpy()[..., 0],
                               color.rgb_to_lab(rgb).numpy()[..., 0], atol=1e-4)
