"""One model, many renderings: the web app's toggles (restore, upscale, mirror averaging,
chroma smoothing and gain) without loading the model again for each.

A training workdir or the shipped model is read once (generator, and the restorer when a
rendering first needs it); each rendering is a serve.graph.Colorizer around those same
weights, traced on its first call and kept (the `keep` most recently used). An export
(SavedModel or LiteRT) bakes its rendering in: it has exactly one, and asking it for another
is one line, as colorize.py says it.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict

from colorgan import config, modelpath
from colorgan.config_flags import as_flags
from colorgan.errors import UserError
from colorgan.models import networks
from colorgan.serve import opener, savedmodel


class Renderings:
    """renderings.get(config.RenderConfig(...)) -> a model as opener.open_model returns:
    model(images [1, H, W, C] in [0, 1], render_size) -> RGB [1, s H, s W, 3] in [0, 1]
    (s = the rendering's upscale); a hint model also has .with_points, a model with the VGG16
    encoder .with_reference. `get` is thread-safe;
    call the model inside `with renderings.calls:` (a lock for a LiteRT model, whose one
    interpreter must not run two calls at once; nothing for the others)."""

    def __init__(self, path: str, restorer: str = "", keep: int = 4):
        found = modelpath.identify(path)
        self.path, self.restorer_path, self.keep = path, restorer, keep
        self._lock = threading.Lock()
        self._made: OrderedDict[tuple, object] = OrderedDict()
        self._restorer = None
        self.calls = threading.Lock() if found.kind == "tflite" else contextlib.nullcontext()
        if found.kind in ("tflite", "saved_model"):
            self.export = opener.open_model(path)
            # What it was exported with; the call-time render size is not baked.
            self.fixed = (self.export.post_processing if found.kind == "tflite"
                          else savedmodel.exported_post_processing(found.path))
            self.takes_hints = bool(getattr(self.export, "takes_hints", False))
            self.takes_reference = bool(getattr(self.export, "takes_reference", False))
        else:
            self.export, self.fixed = None, None
            self.generator, self.cfg = opener.load_generator(found.path)
            self.takes_hints = networks.takes_hints(self.generator)
            self.takes_reference = networks.encoder_features(self.generator, None) is not None

    def get(self, render: config.RenderConfig):
        """The model rendering as `render` says (its render_size is the call's to pass)."""
        wanted = render.post_processing()
        if self.export is not None:
            differ = {k: v for k, v in wanted.items() if self.fixed.get(k) != v}
            if differ:
                raise UserError(f"{self.path} is an export: its rendering is fixed "
                                f"({as_flags(self.fixed)}); {as_flags(differ)} needs the "
                                "workdir or the shipped model")
            return self.export
        key = tuple(sorted(wanted.items()))
        with self._lock:  # one build per rendering, even when two requests ask at once
            if key in self._made:
                self._made.move_to_end(key)
                return self._made[key]
            restoring = None
            if render.restores:
                if self._restorer is None:
                    self._restorer = opener.load_restorer(self.restorer_path)
                restoring = self._restorer
            colorizer = opener.build_colorizer(self.generator, self.cfg,
                                               config.RenderConfig(**wanted),
                                               restoring=restoring)
            model = opener.LoadedModel(colorizer, modelpath.resolve(self.path))
            self._made[key] = model
            while len(self._made) > self.keep:  # its traced graphs go with it
                self._made.popitem(last=False)
            return model
