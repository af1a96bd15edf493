"""Photos through a model as a stream: decoding and encoding in threads, overlapped with the
model, with memory bounded whatever the number of photos.

    reader threads:  read + decode (data/imagefiles) + the lightness stage (serve/stages)
    this thread:     the colour stage, one call per batch of up to `batch` photos
    writer threads:  the finish stage + encode + publish (fileio: whole or not at all)

At most `window` photos are between reading and written at any time (a bounded queue), so
memory is a few photos' worth however large the tree. A photo that fails (unreadable, no
image, a bomb, too large) is reported with its reason and the stream goes on; a full disk
stops it (DiskFull), after the photos in flight are finished or dropped, never half-written.
"""

from __future__ import annotations

import collections
import errno
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from colorgan import fileio
from colorgan.data.imagefiles import encode_image, read_image
from colorgan.errors import first_line
from colorgan.serve.stages import Stages

FULL = (errno.ENOSPC, errno.EDQUOT)


class DiskFull(Exception):
    """Writing an output failed for lack of space: the run stops (its message names the file)."""


@dataclass(frozen=True)
class Photo:
    """One input photo and where its output goes."""
    path: Path
    target: Path


@dataclass
class Outcome:
    """What became of one photo: its output's bytes, or the reason it failed."""
    photo: Photo
    seconds: float
    bytes: int = 0
    size: tuple[int, int] | None = None  # the input's (width, height)
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


def _reason(photo: Photo, e: Exception) -> str:
    return first_line(e).removeprefix(f"{photo.path}: ")


def run(stages: Stages, photos: Iterable[Photo], fmt: str, *, threads: int = 2,
        batch: int = 1, window: int = 0,
        on_outcome: Callable[[Outcome], None] = lambda o: None) -> None:
    """Colorizes `photos` into their targets as `fmt`, calling on_outcome for each as it
    finishes (in this thread; in the order they finish). Raises DiskFull on a full disk, and
    lets KeyboardInterrupt through, both after the photos in flight are settled: written
    whole and reported, or dropped unwritten. window 0 = 2 x threads + batch."""
    window = window or 2 * threads + batch
    pool = futures.ThreadPoolExecutor(threads, thread_name_prefix="colorgan-io")
    reads: collections.deque = collections.deque()  # (photo, future), in input order
    writes: set = set()
    group: list = []  # (photo, start, size, prepared) waiting for the colour stage
    source = iter(photos)
    exhausted = False

    def read(photo: Photo):
        start = time.perf_counter()
        image = read_image(photo.path)
        size = (image.shape[1], image.shape[0])
        return start, size, stages.prepare(image[None]) if stages.split else image[None]

    def write(photo: Photo, start: float, size, rgb_or_parts) -> Outcome:
        rgb = (stages.finish(*rgb_or_parts) if stages.split else rgb_or_parts)[0]
        data = encode_image(rgb, fmt)
        try:
            fileio.write_bytes_atomic(photo.target, data)
        except OSError as e:
            if e.errno in FULL:
                raise DiskFull(f"{photo.target}: {e.strerror}") from e
            raise
        return Outcome(photo, time.perf_counter() - start, len(data), size)

    def settle(done) -> None:
        for f in done:
            if f not in writes:  # settled already (reported at most once)
                continue
            writes.discard(f)
            photo, start = f.photo  # set on submit
            try:
                outcome = f.result()
            except DiskFull:
                raise
            except Exception as e:  # noqa: BLE001  one bad photo never stops the run
                outcome = Outcome(photo, time.perf_counter() - start, reason=_reason(photo, e))
            on_outcome(outcome)

    def submit_write(photo, start, size, payload) -> None:
        f = pool.submit(write, photo, start, size, payload)
        f.photo = (photo, start)
        writes.add(f)

    def colour(group) -> None:
        """The colour stage for `group`, each photo then handed to a writer."""
        try:
            if stages.split:
                ab = stages.chroma(np.concatenate([np.asarray(p[3][1]) for p in group]))
                outs = [(L_full, ab[i:i + 1]) for i, (*_, (L_full, _)) in enumerate(group)]
            else:
                outs = [stages.whole(p[3]) for p in group]
        except Exception as e:  # noqa: BLE001  a batch that fails fails its photos only
            if len(group) > 1:  # find which: one by one
                for one in group:
                    colour([one])
                return
            photo, start = group[0][:2]
            on_outcome(Outcome(photo, time.perf_counter() - start, reason=_reason(photo, e)))
            return
        for (photo, start, size, _), out in zip(group, outs):
            submit_write(photo, start, size, out)

    try:
        while True:
            while not exhausted and len(reads) + len(group) + len(writes) < window:
                photo = next(source, None)
                if photo is None:
                    exhausted = True
                else:
                    reads.append((photo, pool.submit(read, photo)))
            if not reads and not group:
                break
            if reads:
                photo, f = reads.popleft()
                try:
                    start, size, prepared = f.result()
                    group.append((photo, start, size, prepared))
                except Exception as e:  # noqa: BLE001  unreadable, no image, a bomb...
                    on_outcome(Outcome(photo, 0.0, reason=_reason(photo, e)))
            if group and (len(group) >= batch or not reads):
                colour(group)
                group = []
            # Keep writes from piling up (each holds a photo), and report finished ones.
            done, _ = futures.wait(writes, timeout=0 if len(writes) < window else None,
                                   return_when=futures.FIRST_COMPLETED)
            settle(done)
        settle(futures.wait(writes).done)
    except BaseException:  # DiskFull, KeyboardInterrupt: settle what is in flight, then stop
        for _, f in reads:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        for f in list(writes):
            if f.done() and not f.cancelled():
                try:  # each finished write is reported, whatever the others do
                    settle([f])
                except BaseException:  # noqa: BLE001  the first error is the one raised
                    pass
        raise
    finally:
        pool.shutdown(wait=True)
