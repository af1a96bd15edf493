"""Adds a trained part to a saved restorer: what train_gate.py (the gate) and train_finder.py
(a defect finder) share. The restorer's own weights are kept; its card gets the part's entry."""

from __future__ import annotations

from typing import Callable

from colorgan.data import input_pipeline, sources
from colorgan.models import restorer as restorer_lib
from colorgan.serve import opener

Fit = Callable[[restorer_lib.Restorer, sources.ImageSource],
               tuple[restorer_lib.Restorer, dict]]


def onto_restorer(fit: Fit, key: str, *, restorer: str, data: str, out: str,
                  ship: bool) -> tuple[restorer_lib.Restorer, dict]:
    """Loads the restorer at `restorer` (a train_restorer.py workdir or its restorer/ folder;
    '' = the shipped one), trains a part onto it with `fit(base, photos of data's train
    split)` -> (the restorer with the part, its card entry), saves that to `out` with the
    entry under `key` (restorer.save_onto) and, with `ship`, copies it into the package.
    -> (the restorer with the part, the entry)."""
    folder = opener.restorer_folder(restorer) if restorer else restorer_lib.SHIPPED
    base = restorer_lib.load(folder)
    source = input_pipeline.open_source(input_pipeline.train_spec(data), min_chroma=0.0)
    trained, entry = fit(base, source)
    entry = {**entry, "data": data}
    restorer_lib.save_onto(trained, folder, out, key, entry)
    if ship:
        restorer_lib.ship(out)
    return trained, entry
