"""Colorize an archive with Apache Beam: the same photos in, the same bytes out as
colorize.py, on as many machines as the runner gives (DirectRunner here; Dataflow, Flink,
Spark: docs/archives.md).

    plan (at launch: patterns -> [(input, output)])  |  Reshuffle
    | Read (bytes; local or gs://, Beam's FileSystems)  | Decode (colorgan's decoder)
    | RunInference(ColorizerHandler: the model's three stages, serve/stages.py)
    | Write (encode, publish whole)  | results table (JSON lines)

The plan is made once, at launch, so output names are decided with every input in view (two
inputs never take one name) and a retried bundle writes the same names again. Each output is
published whole (a temporary name, then a rename), so a retry replaces it with the same
bytes and never leaves a half-written one or a second copy. Photos that fail (unreadable, no
image, a bomb) become rows with status "failed" and their reason; the pipeline goes on.
"""

from __future__ import annotations

import json
import posixpath
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import apache_beam as beam
import numpy as np
import tensorflow as tf
from apache_beam.io.filesystems import FileSystems
from apache_beam.ml.inference.base import ModelHandler, RunInference

from colorgan import fileio
from colorgan.archive import files
from colorgan.data.folders import IMAGE_EXTENSIONS
from colorgan.data.imagefiles import decode_bytes, encode_image, max_file_bytes
from colorgan.errors import UserError, first_line
from colorgan.serve import opener, stages

RESULTS = "colorgan_results.jsonl"


@dataclass(frozen=True)
class Job:
    """What the pipeline does: model and rendering as colorize.py takes them."""
    model: str = "pretrained"
    render_size: int = 0
    post_processing: tuple = ()  # RenderConfig's (name, value) pairs, as given
    restorer: str = ""
    fmt: str = "png"
    batch: int = 1  # photos per generator call (1: bytes independent of batching)
    threads: int = 0  # TensorFlow's threads per worker (0: its default, all cores)
    precision: str = "fp32"  # opener.open_model's


def plan(patterns: Sequence[str], output_dir: str, fmt: str) -> list[tuple[str, str]]:
    """File patterns, folders or files -> [(input, output)], made once at launch. Local
    ones are listed and named exactly as colorize.py lists and names them (archive/files.py:
    a folder's tree mirrored under output_dir, a.jpg beside a.png -> a.png, a_png.png);
    gs:// ones through Beam's FileSystems, each output at its input's path relative to the
    folder before the pattern's first wildcard."""
    local = [p for p in patterns if not fileio.is_remote(p)]
    remote = [p for p in patterns if fileio.is_remote(p)]
    if local and fileio.is_remote(output_dir):
        raise UserError(f"output_dir={output_dir}: local inputs go to a local folder")
    pairs = files.plan_photos(local, output_dir, fmt) if local else []
    taken = {t for _, t in pairs}
    for pattern in remote:
        cut = min([pattern.find(c) for c in "*?[" if c in pattern], default=-1)
        base = fileio.dirname(pattern[:cut] + "x") if cut >= 0 else pattern.rstrip("/")
        spec = pattern if cut >= 0 else fileio.join(pattern, "**")
        found = sorted(m.path for m in FileSystems.match([spec])[0].metadata_list
                       if posixpath.splitext(m.path)[1].lower() in IMAGE_EXTENSIONS)
        for path in found:
            stem, ext = posixpath.splitext(posixpath.relpath(path, base))
            target = fileio.join(output_dir, f"{stem}.{fmt}")
            if target in taken:
                target = fileio.join(output_dir, f"{stem}_{ext[1:].lower()}.{fmt}")
            n = 2
            while target in taken:
                target = fileio.join(output_dir, f"{stem}_{n}.{fmt}")
                n += 1
            taken.add(target)
            pairs.append((path, target))
    if not pairs:
        raise UserError(f"no photos in {' '.join(patterns)}")
    return pairs


class ColorizerHandler(ModelHandler):
    """RunInference's model: opener.open_model's colorizer cut into its stages. Examples are
    (input, output, image [H, W, C] float32 in [0, 1]); predictions (input, output, RGB
    [H', W', 3] float32 or None, seconds, the reason it failed or None). Keras 3 cannot load a SavedModel, so Beam's own
    TFModelHandlerTensor (keras.models.load_model) does not open colorgan's exports."""

    def __init__(self, job: Job):
        super().__init__(min_batch_size=1, max_batch_size=job.batch)
        self.job = job

    def load_model(self):
        if self.job.threads:
            try:  # only before the runtime starts; a worker that ran TF already keeps its own
                tf.config.threading.set_intra_op_parallelism_threads(self.job.threads)
                tf.config.threading.set_inter_op_parallelism_threads(self.job.threads)
            except RuntimeError:
                pass
        model = opener.open_model(self.job.model, dict(self.job.post_processing),
                                  self.job.render_size, restorer=self.job.restorer,
                                  precision=self.job.precision)
        return stages.of(model, self.job.render_size)

    def run_inference(self, batch: Sequence[tuple], model, inference_args=None) -> Iterable:
        """Yields (input, output, RGB or None, seconds, reason or None) per example: a photo
        that fails here (too large to upscale, ...) becomes a failed row, as in colorize.py."""
        start = time.perf_counter()
        ready = []
        for path, target, image in batch:
            try:
                ready.append((path, target, model.prepare(image[None]) if model.split
                              else model.whole(image[None])[0]))
            except Exception as e:  # noqa: BLE001  one bad photo never stops the pipeline
                yield path, target, None, time.perf_counter() - start, _reason(path, e)
        if not model.split or not ready:
            yield from ((p, t, rgb, time.perf_counter() - start, None) for p, t, rgb in ready)
            return
        try:
            ab = model.chroma(np.concatenate([np.asarray(prepared[1])
                                              for *_, prepared in ready]))
            per_photo = [ab[i:i + 1] for i in range(len(ready))]
        except Exception:  # noqa: BLE001  which photo it was: one by one
            per_photo = [_or_error(model.chroma, np.asarray(L)) for *_, (_, L) in ready]
        for (path, target, (L_full, _)), ab in zip(ready, per_photo):
            try:
                if isinstance(ab, Exception):  # a failed row, the rest go on
                    raise ab
                rgb = model.finish(L_full, ab)[0]
                yield path, target, rgb, time.perf_counter() - start, None
            except Exception as e:  # noqa: BLE001
                yield path, target, None, time.perf_counter() - start, _reason(path, e)

    def get_num_bytes(self, batch: Sequence[tuple]) -> int:
        return sum(image.nbytes for _, _, image in batch)

    def get_metrics_namespace(self) -> str:
        return "colorgan"


def _or_error(fn, *args):
    """fn(*args), or the exception it raised."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001
        return e


def _reason(path: str, e: Exception) -> str:
    return first_line(e).removeprefix(f"{path}: ")


def _row(path: str, target: str | None, status: str, seconds: float, **extra) -> dict:
    return {"input": path, "output": target, "status": status, "seconds": round(seconds, 3),
            **extra}


class Decode(beam.DoFn):
    """(input, output) -> (input, output, image) for RunInference, or a failed row on the
    'failed' output (unreadable, no image, a bomb: colorgan's decoder and header checks)."""

    def process(self, pair):
        path, target = pair
        start = time.perf_counter()
        try:
            limit = max_file_bytes()  # a huge non-image never lands in memory whole
            with FileSystems.open(path) as f:
                data = f.read(limit + 1)
            yield path, target, decode_bytes(data)  # refuses data over the limit
        except Exception as e:  # noqa: BLE001  one bad photo never stops the pipeline
            yield beam.pvalue.TaggedOutput("failed", _row(path, None, "failed",
                                                          time.perf_counter() - start,
                                                          reason=_reason(path, e)))


class Write(beam.DoFn):
    """(input, output, RGB, seconds, reason) -> the output published whole, and its row (a
    failed row where reason is not None)."""

    def __init__(self, fmt: str):
        self.fmt = fmt

    def process(self, prediction):
        path, target, rgb, seconds, reason = prediction
        if reason is not None:
            yield _row(path, None, "failed", seconds, reason=reason)
            return
        start = time.perf_counter()
        data = encode_image(rgb, self.fmt)
        fileio.write_bytes_atomic(target, data)  # a retry replaces it whole, same bytes
        yield _row(path, target, "done", seconds + time.perf_counter() - start,
                   bytes=len(data), size=[int(rgb.shape[1]), int(rgb.shape[0])])


def build(p: beam.Pipeline, pairs: list[tuple[str, str]], output_dir: str, job: Job) -> Any:
    """Adds the colorizing of `pairs` (plan's) to pipeline p; returns the rows' PCollection."""
    decoded = (p | "Plan" >> beam.Create(pairs)
               | "Spread" >> beam.Reshuffle()
               | "Decode" >> beam.ParDo(Decode()).with_outputs("failed", main="images"))
    written = (decoded.images
               | "Colorize" >> RunInference(ColorizerHandler(job))
               | "Write" >> beam.ParDo(Write(job.fmt)))
    rows = (written, decoded.failed) | "Rows" >> beam.Flatten()
    (rows | "AsJSON" >> beam.Map(lambda r: json.dumps(r, sort_keys=True))
          | "Results" >> beam.io.WriteToText(results_path(output_dir),
                                             shard_name_template=""))
    return rows


def results_path(output_dir: str) -> str:
    return fileio.join(output_dir, RESULTS)


def read_results(output_dir: str) -> list[dict]:
    """The results table's rows (one per photo)."""
    text = fileio.read_text(results_path(output_dir))
    return [json.loads(line) for line in text.splitlines() if line.strip()]
