"""Rendering: the guided filter on chroma, mirror averaging, chroma gain, and how an export
keeps the post-processing it was made with (config.RenderConfig)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from absl import flags

from colorgan import color, config, config_flags
from colorgan.errors import UserError
from colorgan.models import networks
from colorgan.serve import chroma, graph, opener, savedmodel

ROOT = Path(__file__).resolve().parents[1]
OFF = config.RenderConfig(flip=False, chroma_smooth=0.0, chroma_gain=1.0)


def box_reference(x, r):
    """Brute force: the mean over each (2r+1)^2 window clipped to the image."""
    _, h, w, _ = x.shape
    out = np.empty_like(x)
    for i in range(h):
        for j in range(w):
            win = x[:, max(0, i - r):i + r + 1, max(0, j - r):j + r + 1]
            out[:, i, j] = win.mean(axis=(1, 2))
    return out


def guided_reference(I, p, r, eps):
    """He et al.'s Algorithm 1 in numpy, over box_reference."""
    mI, mp = box_reference(I, r), box_reference(p, r)
    a = (box_reference(I * p, r) - mI * mp) / (box_reference(I * I, r) - mI * mI + eps)
    b = mp - a * mI
    return box_reference(a, r) * I + box_reference(b, r)


@pytest.mark.parametrize("r", [0, 1, 3, 40])  # 40: wider than the image
def test_box_mean_equals_brute_force(r):
    x = np.random.default_rng(r).normal(size=(2, 13, 17, 3)).astype(np.float32)
    got = chroma.box_mean(tf.constant(x), tf.constant(r)).numpy()
    np.testing.assert_allclose(got, box_reference(x, r), atol=1e-5)


def test_guided_filter_equals_reference():
    rng = np.random.default_rng(1)
    I = rng.uniform(-1, 1, (1, 20, 24, 1)).astype(np.float32)
    p = rng.normal(size=(1, 20, 24, 2)).astype(np.float32)
    got = chroma.guided_filter(tf.constant(I), tf.constant(p), tf.constant(3), 0.01).numpy()
    np.testing.assert_allclose(got, guided_reference(I, p, 3, 0.01), atol=1e-4)


def test_guided_filter_evens_out_blotches_and_keeps_edges():
    """An evenly lit wall with pink and blue blotches smaller than the radius beside a dark
    object whose colour follows its edge: on the wall the filter is a box blur (the
    blotches fade to their surroundings), across the edge it keeps the contrast."""
    h, w = 64, 64
    L = np.full((1, h, w, 1), 0.6, np.float32)
    L[:, :, 40:] = -0.6  # the object
    ab = np.zeros((1, h, w, 2), np.float32)
    ab[:, 10:18, 5:13] = [0.3, -0.1]  # pink blotch on the wall
    ab[:, 30:38, 20:28] = [-0.1, -0.3]  # blue blotch
    ab[:, :, 40:] = [0.2, 0.4]  # the object's own colour
    out = chroma.guided_filter(tf.constant(L), tf.constant(ab), tf.constant(8)).numpy()
    wall_before, wall_after = ab[0, :, :32].std(axis=(0, 1)), out[0, :, :32].std(axis=(0, 1))
    assert np.all(wall_after < 0.4 * wall_before), (wall_before, wall_after)
    # Across the edge: the object keeps its colour, within 0.05 of 0.2/0.4 a pixel inside.
    np.testing.assert_allclose(out[0, :, 41:].mean(axis=(0, 1)), [0.2, 0.4], atol=0.05)


@pytest.fixture(scope="module")
def generator():
    cfg = config.get_preset("tiny")
    tf.keras.utils.set_random_seed(3)
    return networks.build_generator(cfg.model, 32), networks.input_multiple(cfg.model, 32)


def colorizer(generator, render):
    g, multiple = generator
    return graph.Colorizer(g, 32, graph.DEFAULT_MAX_PIXELS, multiple, "lab", render=render)


def colorize(generator, render, images):
    # The module must outlive the call: tf.function holds its method's `self` weakly.
    module = colorizer(generator, render)
    return module.colorize(images)["colorized"].numpy()


def photos():
    rng = np.random.default_rng(0)
    return tf.constant(rng.uniform(0, 1, (2, 40, 56, 3)).astype(np.float32))


def predicted_ab(rgb):
    return color.rgb_to_lab(rgb)[..., 1:].numpy()


def test_flip_averages_the_mirror_images_prediction(generator):
    g, _ = generator
    images = photos()
    L = tf.image.resize(color.get_space("lab").model_input(images), [32, 32], antialias=True)
    ab = (g(L, training=False) + g(L[:, :, ::-1], training=False)[:, :, ::-1]) / 2
    expected = color.model_to_rgb(color.get_space("lab").model_input(images),
                                  tf.image.resize(ab, [40, 56]))
    got = colorize(generator, config.RenderConfig(flip=True, chroma_smooth=0, chroma_gain=1), images)
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)
    # ... and it is not what the plain render gives (the tiny G is not mirror-symmetric).
    plain = colorize(generator, OFF, images)
    assert np.abs(plain - expected.numpy()).max() > 1e-3


def test_chroma_gain_scales_a_and_b():
    # A stand-in G with clear colour (the untrained tiny G is near gray): ab = w L + b.
    conv = tf.keras.layers.Conv2D(2, 1)
    linear = tf.keras.Sequential([tf.keras.Input((None, None, 1)), conv])
    conv.set_weights([np.array([[[[0.05, -0.04]]]], np.float32), np.array([0.1, 0.08], np.float32)])
    images = photos() * 0.5 + 0.25  # mid-tones: the colours stay inside sRGB
    one = predicted_ab(colorize((linear, 1), OFF, images))
    gain = config.RenderConfig(flip=False, chroma_smooth=0, chroma_gain=1.4)
    more = predicted_ab(colorize((linear, 1), gain, images))
    assert np.abs(one).mean() > 5  # clearly coloured, or the test would prove nothing
    np.testing.assert_allclose(more, 1.4 * one, atol=0.2)  # Lab -> sRGB -> Lab is ~exact


def test_export_keeps_its_post_processing(generator, tmp_path):
    render = config.RenderConfig(flip=True, chroma_smooth=0.125, chroma_gain=1.2)
    path = savedmodel.export(colorizer(generator, render), tmp_path / "export")
    assert json.loads(Path(path, savedmodel.RENDER_FILE).read_text()) == render.post_processing()
    images = photos()
    model = opener.open_model(path)  # no flags: as exported
    np.testing.assert_allclose(model(images.numpy(), 0), colorize(generator, render, images),
                               atol=1e-5)
    # The same value asked for explicitly: fine, and it is compared alone, not with the
    # defaults of the flags that were not given (flip here, gain 1.11).
    same = opener.open_model(path, {"chroma_gain": 1.2})
    np.testing.assert_allclose(same(images.numpy(), 0), model(images.numpy(), 0), atol=1e-6)
    with pytest.raises(UserError, match=r"exported with --flip --chroma_smooth=0.125 "
                                        r"--chroma_gain=1.2; leave out --noflip"):
        opener.open_model(path, {"flip": False})
    # An export made before the file existed rendered without post-processing (and spread
    # hints by `region`): --noflip matches it, --flip does not.
    os.remove(Path(path, savedmodel.RENDER_FILE))
    assert savedmodel.exported_post_processing(path) == {**OFF.post_processing(),
                                                         "hint_spread": "region"}
    assert opener.open_model(path, {"flip": False})
    with pytest.raises(UserError, match="leave out --flip"):
        opener.open_model(path, {"flip": True})


def test_in_memory_models_take_the_given_flags_over_the_defaults(generator, tmp_path):
    """A workdir (built in memory) renders with the defaults plus what was given."""
    from colorgan.train import fit
    cfg = config.with_overrides(config.get_preset("tiny"), {"steps": 1, "log_every": 100,
                                                            "image_every": 100})
    fit.fit(cfg, tmp_path / "run")
    images = photos().numpy()
    plain = opener.open_model(tmp_path / "run", {"flip": False, "chroma_smooth": 0.0,
                                                 "chroma_gain": 1.0})(images, 0)
    default = opener.open_model(tmp_path / "run")(images, 0)
    reference = opener.make_colorizer(tmp_path / "run", OFF)
    np.testing.assert_allclose(plain, reference.colorize_at(images, 0).numpy(), atol=1e-6)
    assert np.abs(plain - default).max() > 1e-4  # the defaults do post-process


def parse(*args):
    fv = flags.FlagValues()
    config_flags.define_flat(config.RenderConfig, fv)
    fv(["prog", *args])
    return fv


def test_post_processing_flags_are_only_those_given():
    assert config_flags.post_processing_flags(parse()) == {}
    assert config_flags.post_processing_flags(parse("--render_size=64")) == {}  # call-time input
    assert config_flags.post_processing_flags(parse("--noflip")) == {"flip": False}
    assert config_flags.post_processing_flags(parse("--chroma_gain=1.3", "--flip")) == \
        {"flip": True, "chroma_gain": 1.3}
    assert config_flags.flat_values(config.RenderConfig, parse("--chroma_gain=1.3")) == \
        config.RenderConfig(chroma_gain=1.3)
    assert config_flags.as_flags({"flip": False, "chroma_gain": 1.3}) == "--noflip --chroma_gain=1.3"


@pytest.mark.parametrize("flag, expected", [
    ("--chroma_gain=0", "--chroma_gain=0.0 must be > 0"),
    ("--defects=keep", "--defects=keep is for --restore: without it nothing is removed"),
    ("--save_mask", "--save_mask is for --restore: without it nothing is found or filled")])
def test_bad_render_flag_is_one_line(flag, expected):
    proc = subprocess.run([sys.executable, "colorize.py", flag, "x.jpg"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2
    assert [line for line in proc.stderr.splitlines() if ": error" in line] == [
        f"colorize.py: error: {expected}"]
