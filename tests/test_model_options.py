"""YUV colour space, the z noise input and the ResNet50V2 encoder (issue 5, items 9-10)."""

import socket
import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorgan import color, config, net
from colorgan.data import decode, folders, input_pipeline
from colorgan.models import networks
from colorgan.models.layers import NoiseChannels
from colorgan.serve import opener, savedmodel
from colorgan.train import fit

import workdirs  # tests/workdirs.py

skcolor = pytest.importorskip("skimage.color")


def rgb_batch(seed=0):
    rgb = np.random.default_rng(seed).random((2, 16, 16, 3)).astype(np.float32)
    rgb[0, 0, :4] = [[0, 0, 0], [1, 1, 1], [1, 0, 0], [0, 0, 1]]  # gamut corners
    first = folders.list_image_files(folders.SAMPLES_DIR / "val")[0]
    photo = input_pipeline.eval_crop(decode.load_file(first), 16)
    return np.concatenate([rgb, photo.numpy()[None]])


def test_yuv_matches_skimage_and_round_trips():
    rgb = rgb_batch()
    yuv = color.rgb_to_yuv(rgb).numpy()
    np.testing.assert_allclose(yuv, skcolor.rgb2yuv(rgb.astype(np.float64)), atol=1e-5)
    np.testing.assert_allclose(yuv, tf.image.rgb_to_yuv(rgb).numpy(), atol=1e-5)
    np.testing.assert_allclose(color.yuv_to_rgb(yuv).numpy(), rgb, atol=1e-5)
    # Model range: Y -> [-1, 1], UV well inside tanh's range, and back again.
    Y, uv = color.rgb_to_yuv_model(rgb)
    assert Y.shape == (3, 16, 16, 1) and uv.shape == (3, 16, 16, 2)
    assert Y.numpy().min() >= -1 and Y.numpy().max() <= 1 and np.abs(uv.numpy()).max() < 0.9
    np.testing.assert_allclose(color.yuv_model_to_rgb(Y, uv).numpy(), rgb, atol=1e-5)
    # Out-of-gamut UV is clipped to valid RGB, not NaN; UV = 0 is gray (R = G = B = Y).
    wild = color.yuv_model_to_rgb(Y, tf.ones_like(uv) * 3.0).numpy()
    assert np.isfinite(wild).all() and wild.min() >= 0 and wild.max() <= 1
    gray = color.SPACES["yuv"].gray_rgb(Y).numpy()
    np.testing.assert_allclose(gray, np.repeat((Y.numpy() + 1) / 2, 3, axis=-1), atol=1e-6)


@pytest.mark.parametrize("name", ["lab", "yuv"])
def test_model_input_is_the_first_channel_of_to_model(name):
    space = color.SPACES[name]
    rgb = rgb_batch()
    x, _ = space.to_model(rgb)
    np.testing.assert_allclose(space.model_input(rgb).numpy(), x.numpy(), atol=1e-5)
    ds = input_pipeline.eval_dataset(input_pipeline.open_source("samples:val", min_chroma=0), image_size=32,
                                     batch_size=2, limit=2, color_space=name)
    L, ab = next(iter(ds))
    first = folders.list_image_files(folders.SAMPLES_DIR / "val")[0]
    truth = input_pipeline.eval_crop(decode.load_file(first, 32), 32)  # as eval_dataset loads it
    np.testing.assert_allclose(space.to_rgb(L, ab)[0].numpy(), truth.numpy(), atol=1e-3)


def test_noise_channels_are_standard_normal_per_example_and_reproducible():
    layer = NoiseChannels(2, seed=3)
    x = tf.random.uniform([4, 32, 32, 1], -1, 1, seed=1)
    y = layer(x).numpy()
    assert y.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(y[..., :1], x.numpy())
    z = y[..., 1:]
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    # Each example's z depends on that example alone: same on a replica holding half the batch.
    np.testing.assert_array_equal(layer(x[2:]).numpy(), y[2:])
    assert np.abs(z[0] - z[1]).mean() > 0.5  # different photos, different z
    flipped = layer(tf.image.flip_left_right(x[:1])).numpy()[..., 1:]
    assert np.abs(flipped - z[:1]).mean() > 0.5  # a flipped crop is a new input
    assert np.abs(NoiseChannels(2, seed=4)(x).numpy()[..., 1:] - z).mean() > 0.5
    g = networks.build_generator(config.ModelConfig(base_filters=8, noise_channels=2), 32)
    assert g.get_layer("down0_conv").kernel.shape == (4, 4, 3, 8)  # L + 2 z channels


@pytest.mark.parametrize("size", [32, 64])
def test_resnet_generator_shapes(size):
    cfg = config.ModelConfig(base_filters=8, encoder="resnet50v2", attention_g=size // 4)
    g = networks.build_generator(cfg, size)
    assert g.output_shape == (None, None, None, 2)
    out = g(tf.zeros([2, size, size, 1]))
    assert out.shape == (2, size, size, 2)
    assert networks.input_multiple(cfg, size) == 32
    # Twice the training size works too (fully convolutional), like serving at a larger render.
    assert g(tf.zeros([1, 2 * size, size + 32, 1])).shape == (1, 2 * size, size + 32, 2)
    # The encoder is the whole of ResNet50V2 without its top (23.56 M parameters).
    assert g.get_layer("encoder").count_params() == 23_564_800


def test_encoder_weights_from_file_none_and_offline_imagenet(tmp_path, monkeypatch):
    cfg = config.ModelConfig(base_filters=8, encoder="resnet50v2")
    keras.utils.set_random_seed(5)
    source = keras.applications.ResNet50V2(include_top=False, weights=None,
                                           input_shape=(None, None, 3))
    path = tmp_path / "resnet50v2_notop.weights.h5"
    source.save_weights(path)
    g = networks.build_generator(cfg, 32)
    name = "conv3_block1_1_conv"
    before = g.get_layer("encoder").get_layer(name).kernel.numpy()
    networks.load_encoder_weights(g, "none")
    np.testing.assert_array_equal(g.get_layer("encoder").get_layer(name).kernel.numpy(), before)
    networks.load_encoder_weights(g, str(path))
    np.testing.assert_array_equal(g.get_layer("encoder").get_layer(name).kernel.numpy(),
                                  source.get_layer(name).kernel.numpy())
    with pytest.raises(config.UserError, match="no such file"):
        networks.load_encoder_weights(g, str(tmp_path / "missing.h5"))
    # Offline, "imagenet" stops at the probe: Keras' download (which retries) never starts.
    monkeypatch.setattr(net, "host_reachable", lambda host, timeout=3.0: False)

    def no_download(*args, **kwargs):
        raise AssertionError("ResNet50V2 weights were requested although the host is unreachable")

    monkeypatch.setattr(keras.applications, "ResNet50V2", no_download)
    with pytest.raises(config.UserError, match="cannot be reached.*encoder_weights=none"):
        networks.load_encoder_weights(g, "imagenet")


def test_offline_probe_says_no_for_an_unroutable_host():
    assert not net.host_reachable(("192.0.2.1", 443), timeout=1.0)  # TEST-NET-1: never routed


def test_probe_says_yes_for_a_local_listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert net.host_reachable(("127.0.0.1", port), timeout=1.0)


def test_offline_probe_gives_up_on_a_lookup_that_never_returns(monkeypatch):
    """Offline DNS can block past any socket timeout; the probe returns False regardless
    (a probe that waited for it would hang this test)."""
    seen = {}
    release = threading.Event()

    def hang(host, timeout):
        seen["timeout"] = timeout
        release.wait()
        raise OSError("no network")

    monkeypatch.setattr(socket, "create_connection", hang)
    try:
        assert not net.host_reachable(("download.invalid", 443), timeout=0.05)
    finally:
        release.set()
    assert seen["timeout"] == 0.05


@pytest.mark.slow
@pytest.mark.parametrize("options", [
    {"color_space": "yuv", "noise_channels": 1},
    {"encoder": "resnet50v2", "encoder_weights": "none", "attention_g": 8},
], ids=["yuv_z", "resnet"])
def test_options_train_resume_and_export(tiny_cfg, tmp_path, options):
    # ResNet50's 25 M weights cost ~30 s a run: it trains one run of 2 steps and exports
    # (resume exactness is the other encoders').
    resnet = options.get("encoder") == "resnet50v2"
    cfg = config.with_overrides(tiny_cfg, {**options, "steps": 2 if resnet else 3,
                                           "checkpoint_every": 2})
    result = fit.fit(cfg, tmp_path / "straight")
    if not resnet:  # the run stopped at step 2 (its workdir wound back) ends as it did
        straight = result
        result = fit.fit(cfg, workdirs.rewound(tmp_path / "straight", 2, tmp_path / "resumed"))
        for k, v in straight.metrics.items():
            assert v == pytest.approx(result.metrics[k], rel=1e-4), k
    assert result.step == (2 if resnet else 3)
    assert all(np.isfinite(v) for v in result.metrics.values())
    colorizer = opener.make_colorizer(tmp_path / ("straight" if resnet else "resumed"))
    loaded = tf.saved_model.load(str(savedmodel.export(colorizer, tmp_path / "export")))
    x = tf.random.uniform([1, 32, 48, 3])
    got = loaded.signatures["colorize"](images=x)["colorized"].numpy()
    np.testing.assert_allclose(got, colorizer.colorize(x)["colorized"].numpy(), atol=1e-5)
    # The output keeps the input's own luma/lightness at full resolution.
    space = color.SPACES[cfg.model.color_space]
    np.testing.assert_allclose(space.model_input(got).numpy(), space.model_input(x).numpy(),
                               atol=0.02)
