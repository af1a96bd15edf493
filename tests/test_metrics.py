import pickle

import numpy as np
import pytest
import tensorflow as tf

from colorgan.data import decode, folders, input_pipeline
from colorgan.evaluate import metrics
from colorgan.models import vgg

skm = pytest.importorskip("skimage.metrics")
skcolor = pytest.importorskip("skimage.color")


def real_pairs(size=96, n=3):
    """Crops of sample photos and a noisy / shifted version of each, 0..255 float32."""
    paths = folders.list_image_files(folders.SAMPLES_DIR / "val")[:n]
    a = np.stack([input_pipeline.eval_crop(decode.load_file(p), size).numpy() * 255 for p in paths])
    rng = np.random.default_rng(0)
    b = np.clip(a + rng.normal(0, 12, a.shape) + [10, -5, 0], 0, 255)
    return a.astype(np.float32), b.astype(np.float32)


def random_pairs():
    rng = np.random.default_rng(1)
    a = rng.random((2, 40, 56, 3)) * 255
    return a.astype(np.float32), np.clip(a + rng.normal(0, 30, a.shape), 0, 255).astype(np.float32)


@pytest.mark.parametrize("pairs", [real_pairs, random_pairs])
def test_psnr_and_ssim_match_skimage(pairs):
    a, b = pairs()
    ref_psnr = [skm.peak_signal_noise_ratio(x, y, data_range=255) for x, y in zip(a, b)]
    ref_ssim = [skm.structural_similarity(x, y, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False, data_range=255,
                                          channel_axis=-1) for x, y in zip(a, b)]
    np.testing.assert_allclose(metrics.psnr(a, b).numpy(), ref_psnr, atol=1e-3)
    np.testing.assert_allclose(metrics.ssim(a, b).numpy(), ref_ssim, atol=1e-3)


def colourfulness_numpy(img):
    r, g, b = (img[..., i].astype(np.float64) for i in range(3))
    rg, yb = np.abs(r - g), np.abs(0.5 * (r + g) - b)
    return np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)


def test_colourfulness_chroma_and_set_measures():
    a, _ = real_pairs()
    np.testing.assert_allclose(metrics.colourfulness(a).numpy(),
                               [colourfulness_numpy(x) for x in a], rtol=1e-4)
    gray = np.repeat(a.mean(-1, keepdims=True), 3, -1)
    assert np.allclose(metrics.colourfulness(gray).numpy(), 0, atol=1e-3)
    ref_chroma = [np.hypot(*skcolor.rgb2lab(x / 255.0)[..., 1:].transpose(2, 0, 1)).mean() for x in a]
    np.testing.assert_allclose(metrics.mean_chroma(a).numpy(), ref_chroma, rtol=1e-3)
    assert metrics.delta_colourfulness([10.0, 20.0], [30.0, 40.0]) == pytest.approx(20.0)
    assert metrics.chroma_ratio([5.0, 5.0], [10.0, 10.0]) == pytest.approx(0.5)


@pytest.fixture(scope="module")
def lpips():
    # The weights ship in the package: a missing file is a broken package, a failure.
    return metrics.LPIPS.shipped()


def test_lpips_zero_symmetric_and_ordered(lpips):
    a, _ = real_pairs(size=128, n=2)
    im, other = a[0], a[1]
    rng = np.random.default_rng(0)
    noise = np.clip(im + rng.normal(0, 8, im.shape), 0, 255)
    blur = tf.image.resize(tf.image.resize(im[None], [32, 32], antialias=True), [128, 128])[0]
    x = np.stack([im, im, im, im]).astype(np.float32)
    y = np.stack([im, noise, blur.numpy(), other]).astype(np.float32)
    d = lpips(x, y).numpy()
    assert d[0] == pytest.approx(0.0, abs=1e-6)
    assert 0 < d[1] < d[2] < d[3], d
    np.testing.assert_allclose(lpips(y, x).numpy(), d, rtol=1e-5, atol=1e-7)


def test_lpips_weights_are_read_as_numpy_only(tmp_path):
    tree = vgg.load_numpy_pickle(pickle.dumps({"a": {"k": np.ones((2, 2), np.float32)}}))
    assert tree["a"]["k"].shape == (2, 2)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        vgg.load_numpy_pickle(pickle.dumps({"a": Evil()}))
    with pytest.raises(pickle.UnpicklingError, match="not an array"):
        vgg.load_numpy_pickle(pickle.dumps({"a": [1, 2]}))
