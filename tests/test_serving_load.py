"""One export under load from 8 threads: good answers equal the single-threaded ones,
bad inputs (bombs included) are InvalidArgument, the process lives, memory stays bounded."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from colorgan.serve import opener, savedmodel

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def export(tiny_run, tmp_path_factory):
    # The default max_pixels (50 M), as export.py writes it.
    return savedmodel.export(opener.make_colorizer(tiny_run), tmp_path_factory.mktemp("export"))


def test_serving_under_load_from_eight_threads(export):
    proc = subprocess.run([sys.executable, str(HERE / "serving_load.py"), str(export), "240", "8"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]  # the process never died
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    print(report)  # the figures for the closing note: pytest -s shows them
    assert report["good_refused"] == [] and report["bad_answered"] == []
    assert report["mismatches"] == []
    assert report["good"] >= 100 and report["bad"] >= 100
    assert report["webp_bomb"] == "InvalidArgument"
    # A 10 KB WebP declaring 16383 x 16383 took 4.7 GB before the header check.
    assert report["rss_mb_after_webp_bomb"] - report["rss_mb_loaded"] < 100
    assert report["rss_mb_after_webp_bomb"] < 1024
    assert report["rss_mb_peak"] < 1536
