"""The research options of the one train step: each does what it says, resumes and exports."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorgan import config
from colorgan.config import ModelConfig
from colorgan.data import input_pipeline
from colorgan.models import networks
from colorgan.models.layers import SelfAttention, SpectralConv2D, SpectralConv2DTranspose
from colorgan.serve import opener, savedmodel
from colorgan.train import fit, losses, train_state, train_step

import workdirs  # tests/workdirs.py


def softplus(x):
    return np.log1p(np.exp(x))


@pytest.mark.parametrize("kind,g_ref,d_ref", [
    ("vanilla", lambda f: softplus(-f), lambda r, f: 0.5 * (softplus(-r) + softplus(f))),
    ("lsgan", lambda f: (f - 1) ** 2, lambda r, f: 0.5 * ((r - 1) ** 2 + f ** 2)),
    ("hinge", lambda f: -f, lambda r, f: 0.5 * (np.maximum(0, 1 - r) + np.maximum(0, 1 + f))),
])
def test_gan_losses_on_known_logits(kind, g_ref, d_ref):
    real = np.array([[[[2.0], [-0.5]]], [[[0.3], [1.5]]]], np.float32)  # [2, 1, 2, 1]
    fake = np.array([[[[-1.0], [0.7]]], [[[-3.0], [0.0]]]], np.float32)
    g = losses.generator_gan_loss(fake, kind).numpy()
    d = losses.discriminator_gan_loss(real, fake, kind).numpy()
    np.testing.assert_allclose(g, [g_ref(fake[i]).mean() for i in range(2)], rtol=1e-6)
    np.testing.assert_allclose(d, [d_ref(real[i], fake[i]).mean() for i in range(2)], rtol=1e-6)


def test_spectral_norm_brings_the_largest_singular_value_to_one():
    layer = SpectralConv2D(8, 4, power_iterations=1,
                           kernel_initializer=keras.initializers.RandomNormal(0, 0.5, seed=1))
    x = tf.random.normal([1, 8, 8, 3])
    layer(x)
    sigma = np.linalg.svd(layer.kernel.numpy().reshape(-1, 8), compute_uv=False)[0]
    assert sigma > 2  # far from normalized to begin with
    for _ in range(30):  # one power iteration per training call, u carried over
        layer(x, training=True)
    normalized = layer.normalized_kernel().numpy().reshape(-1, 8)
    assert np.linalg.svd(normalized, compute_uv=False)[0] == pytest.approx(1.0, abs=1e-3)
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(layer(x, training=True))
    assert np.isfinite(tape.gradient(y, layer.kernel).numpy()).all()


def test_spectral_norm_of_a_transposed_conv():
    """G's transposed convs: kernel [kh, kw, cout, cin] read as (kh*kw*cout, cin), the
    adjoint conv's matrix; the layer computes Conv2DTranspose with the normalized kernel."""
    keras.utils.set_random_seed(0)  # the power iteration's start: not whatever ran before
    layer = SpectralConv2DTranspose(6, 4, strides=2, padding="same", power_iterations=1,
                                    kernel_initializer=keras.initializers.RandomNormal(0, 0.5, seed=2))
    x = tf.random.normal([2, 8, 8, 3])
    assert layer(x).shape == (2, 16, 16, 6)
    assert np.linalg.svd(layer.kernel.numpy().reshape(-1, 3), compute_uv=False)[0] > 2
    for _ in range(30):
        layer(x, training=True)
    normalized = layer.normalized_kernel().numpy()
    assert np.linalg.svd(normalized.reshape(-1, 3), compute_uv=False)[0] == pytest.approx(1.0, abs=1e-3)
    plain = keras.layers.Conv2DTranspose(6, 4, strides=2, padding="same")
    plain.build(x.shape)
    plain.kernel.assign(normalized)
    plain.bias.assign(layer.bias)
    np.testing.assert_allclose(layer(x).numpy(), plain(x).numpy(), atol=1e-5)


@pytest.mark.parametrize("encoder", ["unet", "resnet50v2"])
def test_spectral_norm_g_normalizes_every_trained_generator_conv(encoder):
    cfg = ModelConfig(base_filters=8, spectral_norm_g=True, encoder=encoder)
    g = networks.build_generator(cfg, 32)
    convs = [l for l in g.layers if isinstance(l, keras.layers.Conv2D)]  # encoder: nested model
    deconvs = [l for l in g.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert convs or encoder == "resnet50v2"
    assert deconvs and all(isinstance(l, SpectralConv2DTranspose) for l in deconvs)
    assert all(isinstance(l, SpectralConv2D) for l in convs)
    assert g(tf.random.normal([2, 32, 32, 1]), training=True).shape == (2, 32, 32, 2)


@pytest.mark.parametrize("side", [4, 8, 16])
def test_self_attention_is_identity_at_gamma_zero(side):
    block = SelfAttention()
    x = tf.random.normal([2, side, side, 16])
    np.testing.assert_array_equal(block(x).numpy(), x.numpy())
    block.gamma.assign(1.0)
    y = block(x).numpy()
    assert y.shape == x.shape and not np.allclose(y, x.numpy())


@pytest.mark.parametrize("size", [32, 64])
def test_attention_in_g_and_d_keeps_shapes(size):
    cfg = ModelConfig(base_filters=8, disc_filters=8, attention_g=size // 4, attention_d=size // 8,
                      spectral_norm_d=True)
    g = networks.build_generator(cfg, size)
    d = networks.build_discriminator(cfg, size)
    assert any(isinstance(l, SelfAttention) for l in g.layers)
    assert sum(isinstance(l, SelfAttention) for l in d.layers) == 1
    assert sum(isinstance(l, SpectralConv2D) for l in d.layers) == 5
    L = tf.random.normal([2, size, size, 1])
    ab = g(L, training=True)
    assert ab.shape == (2, size, size, 2)
    assert d([L, ab], training=True).shape == (2, size // 8 - 2, size // 8 - 2, 1)


def with_section(cfg, section, **kw):
    return dataclasses.replace(cfg, **{section: dataclasses.replace(getattr(cfg, section), **kw)})


def test_d_steps_updates_d_that_many_times_per_g_step(tiny_cfg):
    cfg = with_section(tiny_cfg, "train", d_steps=3)
    strategy = tf.distribute.get_strategy()
    state = train_state.create_state(cfg, strategy)
    step = train_step.make_train_step(state, cfg, strategy)
    batch = next(iter(input_pipeline.train_dataset(input_pipeline.open_source("samples"), image_size=32,
                                                   batch_size=4, seed=0)))
    for _ in range(2):
        step(batch)
    assert int(state.g_optimizer.iterations.numpy()) == 2
    assert int(state.d_optimizer.iterations.numpy()) == 6


def test_input_noise_perturbs_only_L_in_training_batches():
    src = input_pipeline.open_source("samples")
    kw = dict(image_size=32, batch_size=4, seed=0)
    (L0, ab0), = input_pipeline.train_dataset(src, **kw).take(1)
    (L1, ab1), = input_pipeline.train_dataset(src, input_noise=0.1, **kw).take(1)
    np.testing.assert_array_equal(ab0.numpy(), ab1.numpy())
    diff = (L1 - L0).numpy()
    inside = (np.abs(L1.numpy()) < 1)  # clipping at +-1 shortens the noise there
    assert abs(diff[inside].std() - 0.1) < 0.01 and abs(diff[inside].mean()) < 0.01


def test_all_options_train_resume_and_export(tiny_cfg, tmp_path):
    cfg = config.with_overrides(tiny_cfg, {
        "gan_loss": "hinge", "d_steps": 2, "spectral_norm_d": True, "spectral_norm_g": True,
        "attention_g": 8,
        "attention_d": 8, "input_noise": 0.05, "steps": 3, "checkpoint_every": 2})
    straight = fit.fit(cfg, tmp_path / "straight")
    # A run stopped at step 2, resumed (a copy of the straight run's workdir, wound back).
    result = fit.fit(cfg, workdirs.rewound(tmp_path / "straight", 2, tmp_path / "resumed"))
    assert result.step == 3 and all(np.isfinite(list(result.metrics.values())))
    for k, v in straight.metrics.items():
        assert v == pytest.approx(result.metrics[k], rel=1e-5), k
    colorizer = opener.make_colorizer(tmp_path / "resumed")
    loaded = tf.saved_model.load(str(savedmodel.export(colorizer, tmp_path / "export")))
    x = tf.random.uniform([1, 32, 48, 3])
    np.testing.assert_allclose(loaded.signatures["colorize"](images=x)["colorized"].numpy(),
                               colorizer.colorize(x)["colorized"].numpy(), atol=1e-5)


def test_schedule_parsing_and_phases():
    schedule = config.parse_schedule("g:3,d:2,gan:rest", 10)
    assert schedule == [("g", 3), ("d", 5), ("gan", 10)]
    assert [config.phase_at(schedule, s) for s in range(1, 11)] == \
        ["g"] * 3 + ["d"] * 2 + ["gan"] * 5
    assert config.parse_schedule("", 7) == [("gan", 7)]
    assert config.parse_schedule("g:2,gan:2,d:1,gan:1", 10)[-1] == ("gan", 10)  # repeatable
    for bad in ("x:3", "g:0", "g:rest,gan:3", "g"):
        with pytest.raises(config.UserError, match="schedule"):
            config.parse_schedule(bad, 10)


def snapshot(model):
    return [v.numpy().copy() for v in model.variables]


def test_nogan_phases_train_only_their_network(tiny_cfg):
    cfg = config.with_overrides(tiny_cfg, {"lambda_perceptual": 0.1})
    strategy = tf.distribute.get_strategy()
    state = train_state.create_state(cfg, strategy)
    batch = next(iter(input_pipeline.train_dataset(input_pipeline.open_source("samples"), image_size=32,
                                                   batch_size=4, seed=0)))
    g0, d0 = snapshot(state.generator), snapshot(state.discriminator)
    g_step = train_step.make_train_step(state, cfg, strategy, "g")
    out = [g_step(batch) for _ in range(3)][-1]
    assert float(out["g_perceptual"]) > 0 and float(out["g_gan"]) == 0
    assert all(np.array_equal(a, b) for a, b in zip(d0, snapshot(state.discriminator)))
    assert int(state.d_optimizer.iterations.numpy()) == 0
    g1 = snapshot(state.generator)
    assert not all(np.array_equal(a, b) for a, b in zip(g0, g1))
    d_step = train_step.make_train_step(state, cfg, strategy, "d")
    for _ in range(3):
        d_step(batch)
    # G frozen: weights, batch-norm statistics and dropout counters all unchanged.
    assert all(np.array_equal(a, b) for a, b in zip(g1, snapshot(state.generator)))
    assert int(state.g_optimizer.iterations.numpy()) == 3
    assert not all(np.array_equal(a, b) for a, b in zip(d0, snapshot(state.discriminator)))


def test_perceptual_loss_is_zero_for_identical_and_grows_with_difference():
    from colorgan.models import vgg
    # The weights ship in the package: a missing file is a broken package, a failure.
    trunk = vgg.build_trunk(vgg.load_weights(), ("relu1_2", "relu2_2"))
    rgb = tf.random.uniform([2, 32, 32, 3], seed=0)
    small = tf.clip_by_value(rgb + 0.02, 0, 1)
    large = tf.clip_by_value(rgb + 0.2, 0, 1)
    same = losses.perceptual_loss(trunk, rgb, rgb).numpy()
    assert same.shape == (2,) and np.allclose(same, 0)
    assert np.all(losses.perceptual_loss(trunk, rgb, small).numpy() <
                  losses.perceptual_loss(trunk, rgb, large).numpy())


def test_train_py_schedule_and_perceptual_flags(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "train.py", "--preset=tiny", "--steps=4", "--schedule=g:2,d:1,gan:rest",
         "--lambda_perceptual=0.1", "--perceptual_layers=relu1_2,relu2_2", "--log_every=1",
         "--spectral_norm_g", f"--workdir={tmp_path}"], cwd=root, capture_output=True, text=True, timeout=300,
        stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for phase, step in (("g", 1), ("d", 3), ("gan", 4)):
        assert f"phase {phase} from step {step}" in proc.stderr
    written = (tmp_path / "config.json").read_text()
    assert '"perceptual_layers": [\n      "relu1_2",' in written
    assert '"spectral_norm_g": true' in written


def test_progressive_resizing_switches_size_keeps_weights_and_resumes(tiny_cfg, tmp_path, caplog,
                                                                      request):
    cfg = config.with_overrides(tiny_cfg, {"image_size": 64, "size_schedule": "32:2,64:rest",
                                           "steps": 4, "checkpoint_every": 2})
    assert config.generator_size(cfg) == 32
    # Earlier tests (TFDS, Keras imports) may have lowered absl's verbosity; the phase
    # lines are INFO.
    from absl import logging as absl_logging
    before = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.INFO)
    request.addfinalizer(lambda: absl_logging.set_verbosity(before))
    with caplog.at_level("INFO"):
        straight = fit.fit(cfg, tmp_path / "straight")
    assert "size 32 from step 1" in caplog.text and "size 64 from step 3" in caplog.text
    # A run stopped after step 2, before the switch: the straight run's copy at ckpt-2
    # (a run ended at steps=k and then extended: test_pretrained's fine-tune resume).
    workdirs.rewound(tmp_path / "straight", 2, tmp_path / "resumed")
    caplog.clear()
    with caplog.at_level("INFO"):
        resumed = fit.fit(cfg, tmp_path / "resumed")
    assert "resuming at step 2" in caplog.text and "size 64 from step 3" in caplog.text
    for k, v in straight.metrics.items():
        assert v == pytest.approx(resumed.metrics[k], rel=1e-5), k
    generator, _ = opener.load_generator(tmp_path / "resumed")
    assert len([l for l in generator.layers if l.name.startswith("down") and
                l.name.endswith("_conv")]) == 5  # depth from the smallest size, 32
    colorizer = opener.make_colorizer(tmp_path / "resumed")  # render 64 = image_size
    assert colorizer.colorize(tf.zeros([1, 64, 96, 1]))["colorized"].shape == (1, 64, 96, 3)


@pytest.mark.parametrize("encoder", ["unet", "vgg16"])
def test_attention_g_with_a_size_schedule_is_built_where_it_was_validated(encoder):
    """attention_g names a side at image_size; the generator is built at the schedule's
    smallest size, where the same block has a proportionally smaller side."""
    cfg = config.with_overrides(config.get_preset("tiny"), {
        "image_size": 64, "size_schedule": "32:2,64:rest", "attention_g": 16, "encoder": encoder})
    config.validate(cfg)
    built = config.generator_model(cfg)
    assert config.generator_size(cfg) == 32 and built.attention_g == 8
    g = networks.build_generator(built, config.generator_size(cfg))
    (attention,) = [l for l in g.layers if isinstance(l, SelfAttention)]
    # At 64 px input the block sees a 16 x 16 map, as validated (not 32 x 32, nor missing).
    probe = keras.Model(g.input, attention.input)
    assert probe(tf.zeros([1, 64, 64, 1])).shape[1:3] == (16, 16)
    with pytest.raises(config.UserError, match="attention_g=128"):
        config.validate(config.with_overrides(cfg, {"attention_g": 128}))
