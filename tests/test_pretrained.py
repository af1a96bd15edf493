"""The shipped colorizer and --init_from: loading offline, round trips, fine-tuning, errors."""

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from colorgan import color, config
from colorgan.data import folders, imagefiles, input_pipeline
from colorgan.errors import UserError
from colorgan.models import networks, pretrained, vgg_unet
from colorgan.archive import files
from colorgan.serve import opener, savedmodel
from colorgan.train import fit, losses, train_state, train_step

import isa  # tests/isa.py

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).parent / "saved_model_cli"
QUIET = {"log_every": 1000, "summary_every": 1000, "image_every": 1000}


def vgg_cfg(**overrides):
    return config.with_overrides(config.get_preset("tiny"),
                                 {"encoder": "vgg16", **QUIET, **overrides})


@pytest.fixture(scope="module")
def vgg_run(tmp_path_factory):
    """A tiny vgg16 workdir trained 8 steps with a GAN loss (so it has a D)."""
    path = tmp_path_factory.mktemp("vgg_run")
    fit.fit(vgg_cfg(steps=8), path)
    return path


@pytest.fixture(scope="module")
def shipped_copy(vgg_run, tmp_path_factory):
    generator, cfg = opener.load_generator(vgg_run)
    out = tmp_path_factory.mktemp("ship") / "model"
    return pretrained.save_shipped(generator, cfg, out)


def test_the_shipped_model_loads_and_colorizes_offline(monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network use in a test")
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert pretrained.is_shipped_format("pretrained")
    files = list(pretrained.SHIPPED.iterdir())
    # 17.7 MB today (the hint branch ships at zero, so not at all); room for a trained
    # hint branch (5.1 MB)
    assert sum(p.stat().st_size for p in files) <= 25_000_000
    source = input_pipeline.open_source("samples:val", min_chroma=0.0)
    images = [imagefiles.read_image(Path(p)) for p in source.paths[:4]]
    model = opener.open_model("pretrained")
    for rgb in images:
        out = model(rgb[None], 0)[0]
        assert out.shape == rgb.shape and 0 <= out.min() and out.max() <= 1
        # Lightness is the photo's own, the colour the model's (but where L + ab falls
        # outside sRGB, near white or black, clipping moves L a little).
        dL = np.abs(color.lightness(tf.constant(out)).numpy()
                    - color.lightness(tf.constant(rgb)).numpy())
        assert np.mean(dL < 1.0) > 0.99 and dL.mean() < 0.2
        assert float(color.mean_chroma(color.rgb_to_lab(tf.constant(out[None])))[0]) > 5
    # Over the 46 validation crops (128 px): closer to the truth than leaving them gray.
    L, ab = next(iter(input_pipeline.eval_dataset(source, image_size=128, batch_size=64)))
    truth = color.model_to_rgb(L, ab)
    out = model(truth.numpy(), 0)
    gray = color.gray_rgb(L)
    assert float(tf.reduce_mean(tf.image.psnr(out, truth, 1.0))) > \
        float(tf.reduce_mean(tf.image.psnr(gray, truth, 1.0))) + 0.5


def test_shipped_format_round_trip_keeps_outputs_and_leaves_out_vgg(vgg_run, shipped_copy):
    generator, cfg = opener.load_generator(vgg_run)
    again, cfg2 = pretrained.load_shipped(shipped_copy)
    assert cfg2 == cfg
    L = tf.random.uniform([2, 48, 32, 1], -1, 1, seed=3)
    np.testing.assert_array_equal(generator(L, training=False).numpy(),
                                  again(L, training=False).numpy())
    with np.load(shipped_copy / pretrained.GENERATOR_FILE) as npz:
        assert set(npz.files) == set(vgg_unet.decoder_weights(generator))
        assert not any("encoder" in k or k.startswith("conv") for k in npz.files)


def test_damaged_shipped_file_is_one_clear_error(shipped_copy, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    for p in shipped_copy.iterdir():
        (broken / p.name).write_bytes(p.read_bytes())
    npz = broken / pretrained.GENERATOR_FILE
    npz.write_bytes(npz.read_bytes()[: npz.stat().st_size // 2])
    with pytest.raises(UserError, match="generator.npz cannot be read"):
        pretrained.load_shipped(broken)


def _first_step_l1(cfg, spec):
    """(g_l1 of the first fine-tuning step, L1 of the source model on that batch)."""
    strategy = tf.distribute.get_strategy()
    state = train_state.create_state(cfg, strategy)
    pretrained.init_from(spec, cfg, state.generator, state.discriminator)
    source = input_pipeline.open_source("samples")
    batch = next(iter(input_pipeline.train_dataset(source, image_size=cfg.data.image_size,
                                                   batch_size=cfg.train.batch_size, seed=0)))
    if pretrained.is_shipped_format(spec):
        reference, _ = pretrained.load_shipped(spec)
    else:
        reference, _ = opener.load_generator(spec)
    L, ab = batch
    expected = float(tf.reduce_mean(losses.l1_loss(ab, networks.colorize(reference, L,
                                                                         training=True))))
    got = float(train_step.make_train_step(state, cfg, strategy)(batch)["g_l1"])
    return got, expected


@pytest.mark.parametrize("which", ["shipped", "workdir"])
def test_init_from_starts_at_the_source_models_loss(vgg_run, shipped_copy, which):
    spec = str(shipped_copy if which == "shipped" else vgg_run)
    cfg = pretrained.with_architecture_of(spec, config.with_overrides(
        config.get_preset("tiny"), QUIET))
    got, expected = _first_step_l1(cfg, spec)
    assert abs(got - expected) < 1e-5
    # ... and not where a fresh model starts (ab = 0): the weights really came over.
    L, ab = next(iter(input_pipeline.train_dataset(input_pipeline.open_source("samples"), image_size=32,
                                                   batch_size=cfg.train.batch_size, seed=0)))
    assert abs(float(tf.reduce_mean(tf.abs(ab))) - expected) > 1e-4  # 10x the tolerance above


def test_init_from_the_real_shipped_model_starts_at_its_loss():
    # Without its hint branch (--nohints): simulated hints would change the first loss.
    cfg = config.with_overrides(pretrained.with_architecture_of("pretrained", config.with_overrides(
        config.get_preset("tiny"), {**QUIET, "batch_size": 2})), {"hints": False})
    assert cfg.model.encoder == "vgg16" and cfg.train.batch_size == 2
    got, expected = _first_step_l1(cfg, "pretrained")
    assert abs(got - expected) < 1e-5


def test_init_from_an_export_copies_the_generator(vgg_run, tmp_path):
    colorizer = opener.make_colorizer(vgg_run)
    export = savedmodel.export(colorizer, tmp_path / "export")
    assert (Path(export) / pretrained.EXPORT_CONFIG).is_file()
    cfg = pretrained.with_architecture_of(str(tmp_path / "export"), vgg_cfg())
    state = train_state.create_state(cfg, tf.distribute.get_strategy())
    pretrained.init_from(str(tmp_path / "export"), cfg, state.generator, state.discriminator)
    for a, b in zip(state.generator.variables, colorizer.generator.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_fine_tune_resumes_from_its_own_workdir_not_the_init(vgg_run, tmp_path):
    cfg = pretrained.with_architecture_of(str(vgg_run), config.with_overrides(
        config.get_preset("tiny"), {**QUIET, "steps": 3, "init_from": str(vgg_run)}))
    straight = fit.fit(cfg, tmp_path / "a")
    fit.fit(config.with_overrides(cfg, {"steps": 2}), tmp_path / "b")
    resumed = fit.fit(cfg, tmp_path / "b")
    assert resumed.step == 3
    for a, b in zip(straight.state.generator.variables, resumed.state.generator.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)


def test_init_from_errors_name_the_problem(vgg_run, tmp_path):
    with pytest.raises(UserError, match="missing does not exist"):
        pretrained.read_config(tmp_path / "missing")
    unet_cfg = config.with_overrides(config.get_preset("tiny"), QUIET)
    state = train_state.create_state(unet_cfg, tf.distribute.get_strategy())
    with pytest.raises(UserError, match="encoder=vgg16; this run has encoder=unet"):
        pretrained.init_from(str(vgg_run), unet_cfg, state.generator, state.discriminator)
    lab = vgg_cfg(color_space="yuv")
    with pytest.raises(UserError, match="color_space=lab"):
        pretrained.check_compatible(vgg_cfg(), lab, "x")


def run(*args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, stdin=subprocess.DEVNULL)


def test_train_py_refuses_bad_init_and_freeze_with_one_line(tmp_path):
    for args, words in ((["--init_from=" + str(tmp_path / "nope")], "nope does not exist"),
                        (["--freeze=encoder"], "no pretrained encoder to freeze")):
        proc = run("train.py", "--preset=tiny", f"--workdir={tmp_path / 'w'}", *args)
        assert proc.returncode == 2, proc.stderr[-2000:]
        errors = [line for line in proc.stderr.splitlines() if " error: " in line]
        assert len(errors) == 1 and words in errors[0], proc.stderr[-2000:]


@pytest.mark.slow
def test_colorize_py_uses_the_shipped_model_and_writes_beside_the_input(tmp_path):
    from PIL import Image
    photo = tmp_path / "old photo.jpg"
    Image.open(sorted(folders.list_image_files(folders.SAMPLES_DIR / "val"))[0]).convert("L") \
        .resize((96, 72)).save(photo)
    proc = run("colorize.py", str(photo))
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = tmp_path / "old photo_colorized.png"
    with Image.open(out) as im:
        assert im.size == (96, 72) and im.mode == "RGB"
        assert np.asarray(im, np.float32).std(axis=-1).mean() > 1  # not gray any more
    assert photo.is_file()


@pytest.mark.slow
def test_export_py_writes_a_servable_model_from_the_shipped_one(tmp_path):
    """export.py --model=pretrained writes a whole export, and its serving_reference runs in
    saved_model_cli (TF Serving's loader) as with_reference does in memory."""
    proc = run("export.py", "--model=pretrained", f"--export_dir={tmp_path / 'm'}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    version = tmp_path / "m" / "1"
    assert (version / "saved_model.pb").is_file() and (version / pretrained.EXPORT_CONFIG).is_file()
    shipped = opener.open_model("pretrained")
    # serving_reference in TF Serving's own loader equals with_reference in memory, and the
    # reference changes the colour: a photo and a mirrored crop of it (another size). The
    # automatic colour stays where the match is weak, so this compares the VGG16 generator's
    # export too (the colorize signature against memory: test_model_options, test_recipes).
    from PIL import Image
    with Image.open(sorted(folders.list_image_files(folders.SAMPLES_DIR / "val"))[0]) as im:
        photo = np.asarray(im.convert("RGB").resize((56, 40)))
    reference = np.ascontiguousarray(photo[4:36, 8:56][:, ::-1])
    encoded = [tf.io.encode_png(a).numpy() for a in (photo, reference)]
    for name, data in zip(("image_bytes", "reference_bytes"), encoded):
        np.save(tmp_path / f"{name}.npy", np.array([data], dtype=object), allow_pickle=True)
    proc = subprocess.run(
        [str(CLI), "run", "--dir", str(version), "--tag_set", "serve", "--signature_def",
         "serving_reference", "--inputs",
         f"image_bytes={tmp_path / 'image_bytes.npy'};"
         f"reference_bytes={tmp_path / 'reference_bytes.npy'}", "--outdir",
         str(tmp_path / "ref")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    png = np.load(tmp_path / "ref" / "colorized_png_bytes.npy", allow_pickle=True)[0]
    want = shipped.with_reference(photo[None] / 255.0, 0, reference / 255.0)
    assert np.abs(tf.io.decode_png(png).numpy() / 255.0 - want[0]).max() <= 1.5 / 255
    auto = shipped(photo[None] / 255.0, 0)
    assert np.abs(want - auto).mean() > 1 / 255  # the reference counts


def test_beside_input_outputs_never_collide_nor_pile_up(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "a.png", "b.jpg"):
        Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8)).save(tmp_path / name)
    tint = lambda images, render: np.clip(images[..., :3] * [1.0, 0.9, 0.8], 0, 1)  # noqa: E731
    first = files.colorize_files(tint, [str(tmp_path)], None)
    names = sorted(p.name for p in first.written)
    assert names == ["a_colorized.png", "a_png_colorized.png", "b_colorized.png"]
    again = files.colorize_files(tint, [str(tmp_path)], None)  # a rerun: same files again
    assert sorted(p.name for p in again.written) == names
    assert len(list(tmp_path.iterdir())) == 6


def test_hints_only_trains_the_hint_branch_alone(vgg_run, shipped_copy, tmp_path):
    """--preset=hints: every weight outside the hint branch (batch-norm statistics too)
    stays the source model's, so without hints the result colours as the source does."""
    spec = str(shipped_copy)
    cfg = config.with_overrides(
        pretrained.with_architecture_of(spec, config.get_preset("hints")),
        {**QUIET, "steps": 3, "batch_size": 2, "init_from": spec, "hints": True,
         "checkpoint_every": 1000})
    assert cfg.train.hints_only and cfg.model.hints
    source, _ = pretrained.load_shipped(spec)
    run = fit.fit(cfg, tmp_path / "run")
    G = run.state.generator
    branch = {id(v) for v in vgg_unet.hint_variables(G)}
    before = {v.path: v.numpy() for v in source.variables}
    for v in G.variables:
        if id(v) not in branch:
            np.testing.assert_array_equal(v.numpy(), before[v.path], err_msg=v.path)
    moved = [v.path for v in vgg_unet.hint_variables(G)
             if "proj" in v.path and np.abs(v.numpy()).max() > 0]
    assert moved  # the zero projections learned something in 3 steps
    L = tf.random.stateless_uniform([2, 32, 32, 1], [4, 4], -1, 1)
    np.testing.assert_array_equal(networks.colorize(G, L), source(L, training=False))
    for bad in ({"hints": False}, {"train_encoder": "always"}):
        with pytest.raises(UserError, match="hints_only: needs --hints"):
            config.with_overrides(cfg, bad)
    with pytest.raises(UserError, match="hints_only=True; use a new workdir"):
        fit.fit(config.with_overrides(cfg, {"hints_only": False, "steps": 4}),
                tmp_path / "run")


@isa.needs_bf16_kernels
def test_bf16_computes_in_bfloat16_near_fp32_and_an_export_refuses_it(vgg_run, plain_export):
    import keras
    photo = imagefiles.read_image(Path(input_pipeline.open_source(
        "samples:val", min_chroma=0.0).paths[0]))[None, :64, :64]
    fp32 = opener.open_model(vgg_run)
    bf16 = opener.open_model(vgg_run, precision="bf16")
    dtypes = lambda m: {layer.compute_dtype for layer in m.module.generator.layers  # noqa: E731
                        if layer.weights}
    assert "bfloat16" in dtypes(bf16) and dtypes(fp32) == {"float32"}
    assert keras.mixed_precision.global_policy().name == "float32"  # restored after loading
    a, b = fp32(photo, 0), bf16(photo, 0)
    assert a.shape == b.shape == photo.shape
    assert 0 < np.abs(a - b).max() and np.abs(a - b).mean() < 0.01
    with pytest.raises(UserError, match="is an export, which runs in the precision"):
        opener.open_model(plain_export, precision="bf16")
