"""bench.py's library: one figure dict per measurement, and the table."""

import pytest

from colorgan.bench import measure

import isa  # tests/isa.py


@isa.needs_bf16_kernels
@pytest.mark.slow  # ~30 s on 2 cores: four train-step traces and an export
def test_figures_and_table_for_each_precision():
    figures = []
    for precision in ("fp32", "bf16"):
        figures.append(measure.train_speed(measure.bench_cfg("tiny", precision=precision), "tiny", 2, 2))
    l1 = [measure.short_run_l1(measure.bench_cfg("tiny", precision=p), "tiny", 3) for p in ("fp32", "bf16")]
    cfg = measure.bench_cfg("tiny")
    figures += l1 + measure.pipeline_speed(cfg, "tiny", 8, 2) + measure.serving_latency(cfg, "tiny", 2)
    assert [(f["figure"], f["precision"]) for f in figures] == [
        ("train", "fp32"), ("train", "bf16"), ("l1_short_run", "fp32"), ("l1_short_run", "bf16"),
        ("input_pipeline", "fp32"), ("input_pipeline_cached", "fp32"), ("generator_bare", "fp32"),
        ("serving_default_256x256", "fp32"), ("serving_jpeg_256x256", "fp32"),
        ("serving_default_1MP", "fp32"), ("serving_jpeg_1MP", "fp32")]
    for f in figures:
        assert f["median"] > 0 and f["size"] == 32 and f["preset"] == "tiny"
        assert len(f["runs"]) == 1 if f["figure"] == "l1_short_run" else len(f["runs"]) >= 2
    assert [f["unit"] for f in figures] == ["img/s"] * 2 + ["L1"] * 2 + ["img/s"] * 2 + ["ms"] * 5
    assert abs(l1[0]["median"] - l1[1]["median"]) < 0.05 * l1[0]["median"], l1  # bf16 follows fp32
    table = measure.table(figures).splitlines()
    assert len(table) == 2 + len(figures)
    assert table[3].startswith("| train | tiny | bf16 | 32 | 4 |")


@pytest.mark.slow  # an export and a LiteRT conversion (bench.py's default adds one more)
def test_tflite_figures_name_each_model_at_each_photo_size():
    figures = measure.tflite_latency(measure.bench_cfg("tiny"), "tiny", 2, quantize=("fp16",))
    assert [f["figure"] for f in figures] == [
        f"colorize_{size}_{model}" for size in ("256x256", "1MP")
        for model in ("savedmodel", "tflite_fp16")]
    assert all(f["median"] > 0 and f["unit"] == "ms" and len(f["runs"]) == 2 for f in figures)


def test_video_figures_time_both_methods_and_the_filter():
    figures = measure.video_speed(measure.bench_cfg("tiny"), "tiny", 4, 2, size=(64, 48))
    assert [(f["figure"], f["unit"]) for f in figures] == [
        ("video_48p_none", "frames/s"), ("video_48p_flow", "frames/s"),
        ("temporal_filter_48p", "ms")]
    assert all(len(f["runs"]) == 2 for f in figures)


def test_train_flops_follow_the_layer_shapes():
    """The tiny preset's FLOPs from TF's profiler against a count from the formula for its
    first conv (2 x k^2 x C_in x C_out x H_out x W_out), and the 3 x (G + 3 D) rule."""
    from colorgan import config
    from colorgan.models import networks
    cfg = measure.bench_cfg("tiny")
    conv = networks.build_generator(cfg.model, 32).layers[1]  # the first strided 4x4 conv
    size = 32
    gflop = measure._gflop(lambda x: conv(x), [1, size, size, 1])
    filters, stride = conv.filters, conv.strides[0]
    want = 2 * 4 * 4 * 1 * filters * (size // stride) ** 2 / 1e9
    assert abs(gflop - want) <= 0.05 * want + 2 * filters * (size // stride) ** 2 / 1e9  # + bias
    l1_only = config.with_overrides(cfg, {"lambda_gan": 0.0})
    g = measure.train_gflop_per_image(l1_only) / 3
    assert measure.train_gflop_per_image(cfg) > 3 * g  # D adds work
    fig = measure.with_roof({"median": 10.0}, 2.0, {"median": 40.0})
    assert fig["gflops"] == 20.0 and fig["roof_fraction"] == 0.5


@pytest.mark.slow  # two validations of the tiny preset on samples:val (~20 s)
def test_time_to_quality_reports_each_threshold_or_none():
    """A threshold far below gray is reached at the first validation, one far above never:
    the run then stops at the training budget, with the PSNR curve it saw."""
    fig = measure.time_to_quality(measure.bench_cfg("tiny"), "tiny", budget_s=1e-3, eval_every=2,
                                  thresholds=(-50.0, 50.0))
    assert fig["figure"] == "time_to_quality" and fig["unit"] == "s"
    (steps, seconds, psnr), = fig["curve"]  # the budget is spent after the first 2 steps
    assert steps == 2 and 5 < psnr < 50
    assert fig["s_to_plus_-50.0dB"] == seconds and fig["s_to_plus_50.0dB"] is None
    assert fig["median"] is None and 15 < fig["grayscale_psnr"] < 40
    row = measure.table([fig]).splitlines()[2]
    assert f"| +-50.0 dB: {seconds:.0f}, +50.0 dB: — (budget 0) | s |" in row


def test_archive_tree_is_mixed_photos_of_0_3_to_4_mp_made_once(tmp_path):
    from PIL import Image

    from colorgan.bench import archive
    tree = archive.make_tree(tmp_path / "tree", 4, seed=3)
    photos = sorted(tree.rglob("*.jpg"))
    assert len(photos) == 4
    sizes = [Image.open(p).size for p in photos]
    # Rounding each side moves the area by < 1 pixel row and column.
    assert all(0.3e6 - w - h <= w * h <= 4e6 + w + h for w, h in sizes), sizes
    stamp = photos[0].stat().st_mtime_ns
    assert archive.make_tree(tmp_path / "tree", 4, seed=3) == tree  # kept, not made again
    assert photos[0].stat().st_mtime_ns == stamp
