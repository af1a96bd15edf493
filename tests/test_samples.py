"""Checks on the shipped sample photos in colorgan/samples (no TensorFlow).

The folder is built by ``python scripts/build_samples.py``.
"""

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SAMPLES = Path(__file__).resolve().parent.parent / "colorgan" / "samples"
SPLITS = ("train", "val")
ALLOWED_LICENCES = {
    "CC0-1.0",
    "public-domain",
    "CC-BY-1.0", "CC-BY-2.0", "CC-BY-2.5", "CC-BY-3.0", "CC-BY-4.0",
    "CC-BY-SA-1.0", "CC-BY-SA-2.0", "CC-BY-SA-2.5", "CC-BY-SA-3.0", "CC-BY-SA-4.0",
}
HEADER = ["file", "split", "source_package", "original_path", "author", "licence"]
MAX_SHORT_SIDE = 320
MAX_TOTAL_BYTES = 15 * 1024 * 1024
# build_samples.py groups images with dHash distance <= 10 into one split; the
# test uses a slightly smaller threshold to leave a margin.
CROSS_SPLIT_MIN_DISTANCE = 8
MIN_CHROMA = 4.5  # the build script drops images below 5.0


def _jpgs(split):
    return sorted((SAMPLES / split).glob("*.jpg"))


def _all_jpgs():
    return [p for split in SPLITS for p in _jpgs(split)]


def _dhash(img):
    # must match scripts/build_samples.py:dhash
    small = np.asarray(img.convert("L").resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int("".join("1" if b else "0" for b in bits), 2)


@pytest.fixture(scope="module")
def licence_rows():
    with open(SAMPLES / "LICENSES.tsv", newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        rows = [r for r in reader if r]
    assert header == HEADER
    return rows


def test_split_folders_exist_and_counts():
    for split in SPLITS:
        assert (SAMPLES / split).is_dir(), split
    assert len(_all_jpgs()) >= 200
    assert len(_jpgs("val")) >= 30
    assert len(_jpgs("train")) > len(_jpgs("val"))


def test_every_jpg_listed_exactly_once(licence_rows):
    for row in licence_rows:
        assert len(row) == len(HEADER), row
        assert all(cell.strip() for cell in row), row
    listed = [(r[1], r[0]) for r in licence_rows]
    assert len(listed) == len(set(listed)), "duplicate rows in LICENSES.tsv"
    names = [r[0] for r in licence_rows]
    assert len(names) == len(set(names)), "file listed twice"
    on_disk = {(p.parent.name, p.name) for p in _all_jpgs()}
    assert set(listed) == on_disk
    assert names == sorted(names)


def test_licences_allowed(licence_rows):
    bad = {(r[0], r[5]) for r in licence_rows if r[5] not in ALLOWED_LICENCES}
    assert not bad


def test_images_rgb_small_and_total_size():
    total = 0
    for path in _all_jpgs():
        total += path.stat().st_size
        with Image.open(path) as img:
            assert img.format == "JPEG", path
            assert img.mode == "RGB", path
            assert min(img.size) <= MAX_SHORT_SIDE, (path, img.size)
            img.load()
    assert total <= MAX_TOTAL_BYTES


def test_no_near_duplicates_across_splits():
    hashes = {}
    for split in SPLITS:
        hashes[split] = []
        for path in _jpgs(split):
            with Image.open(path) as img:
                hashes[split].append((path.name, _dhash(img)))
    close = [
        (a, b, bin(ha ^ hb).count("1"))
        for a, ha in hashes["train"]
        for b, hb in hashes["val"]
        if bin(ha ^ hb).count("1") <= CROSS_SPLIT_MIN_DISTANCE
    ]
    assert not close


def test_images_are_colour():
    color = pytest.importorskip("skimage.color")
    grey = []
    for path in _all_jpgs():
        with Image.open(path) as img:
            arr = np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0
        lab = color.rgb2lab(arr)
        chroma = float(np.hypot(lab[..., 1], lab[..., 2]).mean())
        if chroma < MIN_CHROMA:
            grey.append((path.name, round(chroma, 2)))
    assert not grey
