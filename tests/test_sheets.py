"""Comparison sheets: the PNG's layout, and no side effects on a notebook's matplotlib."""

import numpy as np
from PIL import Image

from colorgan.evaluate import sheets


def test_sheet_is_a_png_grid_and_leaves_the_backend_alone(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    plt.switch_backend("svg")  # stands in for a notebook's inline backend
    rng = np.random.default_rng(0)
    cols = {name: rng.uniform(0, 1, (2, 16, 16, 3)) for name in ("gray", "colorized", "truth")}
    path = tmp_path / "sheet.png"
    sheets.save_sheet(cols, path, title="t")
    assert matplotlib.get_backend() == "svg"  # matplotlib.use("Agg") here once broke that
    image = Image.open(path)
    # figsize (2.2 x columns, 2.2 x rows + 0.4) inches at 100 dpi
    assert image.size == (660, 480) and image.format == "PNG"
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.png"]  # the temporary name is gone
    plt.switch_backend("agg")
