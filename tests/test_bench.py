"""bench.py's library: one figure dict per measurement, and the table."""

import pytest

from colorgan import bench


@pytest.mark.slow  # ~30 s on 2 cores: four train-step traces and an export
def test_figures_and_table_for_each_precision():
    figures = []
    for precision in ("fp32", "bf16"):
        figures.append(bench.train_speed(bench.bench_cfg("tiny", precision=precision), "tiny", 2, 2))
    l1 = [bench.short_run_l1(bench.bench_cfg("tiny", precision=p), "tiny", 3) for p in ("fp32", "bf16")]
    cfg = bench.bench_cfg("tiny")
    figures += l1 + [bench.pipeline_speed(cfg, "tiny", 8, 2)] + bench.serving_latency(cfg, "tiny", 2)
    assert [(f["figure"], f["precision"]) for f in figures] == [
        ("train", "fp32"), ("train", "bf16"), ("l1_short_run", "fp32"), ("l1_short_run", "bf16"),
        ("input_pipeline", "fp32"), ("serving_256x256", "fp32"), ("serving_1MP", "fp32")]
    for f in figures:
        assert f["median"] > 0 and f["size"] == 32 and f["preset"] == "tiny"
        assert len(f["runs"]) == 1 if f["figure"] == "l1_short_run" else len(f["runs"]) >= 2
    assert [f["unit"] for f in figures] == ["img/s"] * 2 + ["L1"] * 2 + ["img/s"] + ["ms"] * 2
    assert abs(l1[0]["median"] - l1[1]["median"]) < 0.05 * l1[0]["median"], l1  # bf16 follows fp32
    table = bench.table(figures).splitlines()
    assert len(table) == 2 + len(figures)
    assert table[3].startswith("| train | tiny | bf16 | 32 | 4 |")
