"""The Colab notebook: stored without outputs, and runs top to bottom in a real kernel."""

import json
from pathlib import Path

import pytest

from colorgan.app import notebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "colorgan_colab.ipynb"


def test_notebook_is_stored_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 8
    for cell in code:
        assert cell["outputs"] == [] and cell["execution_count"] is None, cell["source"][:2]
    params = [c for c in code if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1 and "COLORGAN_NOTEBOOK_CI" in "".join(params[0]["source"])


def test_choose_data_passes_specs_through_and_falls_back_offline(monkeypatch):
    assert notebook.choose_data("samples") == "samples"
    assert notebook.choose_data("tfds:imagenette") == "tfds:imagenette"
    monkeypatch.setattr(notebook, "online", lambda: False)
    assert notebook.choose_data("auto") == "samples"
    monkeypatch.setattr(notebook, "online", lambda: True)
    assert notebook.choose_data("auto", "tfds:coco/2017") == "tfds:coco/2017"
    with pytest.raises(RuntimeError, match="Colab only"):
        notebook.choose_data("drive:photos")


def test_side_by_side_shows_gray_input_and_colour_output(tmp_path):
    from PIL import Image
    src, out = tmp_path / "in.jpg", tmp_path / "out.png"
    Image.new("RGB", (40, 30), (200, 30, 30)).save(src)
    Image.new("RGB", (40, 30), (10, 200, 10)).save(out)
    fig = notebook.side_by_side([(src, out)] * 2)
    axes = fig.axes
    assert len(axes) == 4
    gray, colour = axes[0].images[0].get_array(), axes[1].images[0].get_array()
    assert gray.ndim == 2 and colour.shape == (30, 40, 3)
    assert tuple(colour[0, 0]) == (10, 200, 10)


@pytest.mark.slow
def test_notebook_runs_top_to_bottom(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("COLORGAN_NOTEBOOK_CI", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    nb = nbformat.read(str(NOTEBOOK), as_version=4)
    # A failing cell raises CellExecutionError, naming the cell.
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    work = tmp_path / "runs" / "colab"
    assert (work / "checkpoints" / "ckpt-3.index").exists()
    assert (work / "sample_sheet.png").exists()
    assert list((work / "export").glob("*/saved_model.pb"))
    assert len(list((work / "colorized").glob("*.png"))) == 2
    metrics = json.loads((work / "eval" / "metrics.json").read_text())
    assert set(metrics) >= {"colorgan", "grayscale_baseline", "fid_protocol"}
    for row in ("colorgan", "grayscale_baseline"):  # FID/KID computed (4 photos in CI)
        assert metrics[row]["fid"] > 0 and isinstance(metrics[row]["kid"], float)
    outputs = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                      for o in c.outputs)
    assert "training on samples" in outputs and "2 colorized, 0 failed" in outputs
    assert "colorgan app: http://127.0.0.1:" in outputs  # the web app's cell started it
    # The side-by-side figure and the sample sheet were displayed as images.
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert len(images) >= 3
