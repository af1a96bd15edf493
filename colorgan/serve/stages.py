"""A model cut into the three stages a batch runner overlaps (archive/stream.py): the
lightness of one photo (any size, in a worker thread), the colour of a batch of them (one
generator call at the render size), and the finish of one photo (its full-size L joined
with the colour, in a worker thread).

Every kind of model open_model returns gives its stages here: an in-memory Colorizer and an
export from this version through graph.Colorizer's lightness_at / chroma_at / finish_at,
a LiteRT model through its interpreter. Where a model cannot be cut (an export from before
the stages existed, or photos with hints or a reference), `whole` colorizes one photo in one call and the
runner still overlaps decoding and encoding with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from colorgan.serve import litert
from colorgan.serve.opener import LoadedModel

Images = np.ndarray  # float32 [B, H, W, C] in [0, 1]


@dataclass
class Stages:
    """prepare(images [1, H, W, C]) -> (L_full [1, s H, s W, 1], L_small [1, r, r, 1]);
    chroma(L_small [B, r, r, 1]) -> ab [B, r, r, 2];
    finish(L_full [1, ...], ab [1, r, r, 2]) -> RGB [1, s H, s W, 3] in [0, 1], numpy;
    whole(images [1, H, W, C]) -> RGB [1, s H, s W, 3]: the one-call fallback. Without
    prepare (None) the runner calls `whole` per photo."""

    whole: Callable[[Images], np.ndarray]
    prepare: Callable | None = None
    chroma: Callable | None = None
    finish: Callable | None = None

    @property
    def split(self) -> bool:
        return self.prepare is not None


def of(model, render_size: int = 0, points: list | None = None,
       references: Sequence[np.ndarray] = ()) -> Stages:
    """The stages of `model` (opener.open_model's) rendering at `render_size` (0 = the
    model's), with `points` (hints.read_points) as hints for every photo, and `references`
    (RGB [h, w, 3] in [0, 1]) as colour reference photos: each photo takes the one its
    content matches best (LoadedModel.best_reference)."""
    if references:
        def whole(x):
            best, _ = model.best_reference(x, render_size, references)
            return model.with_reference(x, render_size, references[best], points)

        return Stages(whole=whole)
    if points:
        return Stages(whole=lambda x: model.with_points(x, render_size, points))
    whole = Stages(whole=lambda x: model(x, render_size))
    if isinstance(model, LoadedModel) and hasattr(model.module, "lightness_at"):
        module, size = model.module, tf.constant(render_size, tf.int32)

        def prepare(images):
            model.check_size(images)  # an upscale's output pixels, as model() checks
            return module.lightness_at(tf.constant(images, tf.float32), size)

        return Stages(whole=whole.whole, prepare=prepare,
                      chroma=lambda L: module.chroma_at(tf.convert_to_tensor(L)),
                      finish=lambda L, ab: module.finish_at(L, tf.convert_to_tensor(ab)).numpy())
    if isinstance(model, litert.LiteColorizer):
        return Stages(whole=whole.whole, prepare=model.lightness,
                      chroma=lambda L: model.chroma(np.asarray(L)),
                      finish=lambda L, ab: model.finish(L, ab).numpy())
    return whole  # an export from before the stages: colorize_at in one call
