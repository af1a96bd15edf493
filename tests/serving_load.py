"""Load check of one export, run as its own process so its memory is its own:

  python tests/serving_load.py EXPORT_DIR [REQUESTS=240] [THREADS=8]

Sends every good and bad input the tests know, first one by one (the reference
answers), then REQUESTS of them from THREADS threads at once, and prints one JSON
line: counts, mismatches, seconds, peak RSS before / after the bombs / at the end.
"""

from __future__ import annotations

import io
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import imagefiles as F  # noqa: E402


def peak_mb() -> float:
    """This process's peak RSS (VmHWM). Not getrusage's ru_maxrss: that survives exec, so a
    process started from a 4 GB pytest would report the parent's 4 GB."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def inputs() -> tuple[dict[str, bytes], dict[str, bytes]]:
    """(good inputs, bad inputs) by name."""
    rng = np.random.default_rng(0)
    photo = lambda h, w: rng.integers(0, 256, (h, w, 3), np.uint8)  # noqa: E731
    exif = Image.Exif()
    exif[0x0112] = 6
    cmyk = io.BytesIO()
    Image.fromarray(photo(24, 40)).convert("CMYK").save(cmyk, format="JPEG")
    good = {
        "jpeg_64x48": F.encode(photo(64, 48), "JPEG"),
        "png_200x300": F.encode(photo(200, 300), "PNG"),
        "png_17x33": F.encode(photo(17, 33), "PNG"),
        "png_1x1": F.encode(photo(1, 1), "PNG"),
        "png16_gray": F.png16(rng.integers(0, 65536, (30, 20)).astype(np.uint16)),
        "png16_rgb": F.png16(rng.integers(0, 65536, (30, 20, 3)).astype(np.uint16)),
        "jpeg_cmyk": cmyk.getvalue(),
        "png_palette": F.encode(np.asarray(Image.fromarray(photo(20, 30)).convert("P")), "PNG"),
        "png_rgba": F.encode(np.dstack([photo(20, 30), photo(20, 30)[..., :1]]), "PNG"),
        "gif_animated": F.gif([photo(20, 30) for _ in range(3)]),
        "jpeg_exif_rotated": F.encode(photo(20, 40), "JPEG", exif=exif.tobytes()),
        "bmp": F.encode(photo(20, 30), "BMP"),
        "webp": F.encode(photo(20, 30), "WEBP"),
    }
    jpeg = good["jpeg_64x48"]
    bad = {
        "empty": b"",
        "text": b"this is not an image\n" * 5,
        "truncated_jpeg": jpeg[: len(jpeg) // 2],
        "truncated_png": good["png_200x300"][:300],
        "webp_animated": F.animated_webp([photo(20, 30), photo(20, 30)]),
        "bomb_png": F.png_bomb(), "bomb_jpeg": F.jpeg_bomb(), "bomb_bmp": F.bmp_bomb(),
        "bomb_gif_frames": F.gif_bomb(), "bomb_webp_lossless": F.webp_lossless_bomb(),
        "bomb_webp_lossy": F.webp_lossy_bomb(), "bomb_webp_canvas": F.webp_canvas_bomb(),
    }
    return good, bad


def main(export: str, requests: int = 240, threads: int = 8) -> dict:
    serve = tf.saved_model.load(export).signatures["serving_default"]

    def ask(encoded: bytes):
        try:
            return serve(image_bytes=tf.constant([encoded]))["colorized_png_bytes"][0].numpy()
        except tf.errors.InvalidArgumentError:
            return "InvalidArgument"

    good, bad = inputs()
    ask(good["png_17x33"])  # warm-up: tracing and thread pools are not the requests' memory
    rss_loaded = peak_mb()
    webp_bomb = ask(bad["bomb_webp_lossless"])
    rss_after_webp_bomb = peak_mb()
    everything = {**good, **bad}
    reference = {name: ask(data) for name, data in everything.items()}
    rss_after_reference = peak_mb()
    names = [list(everything)[i % len(everything)] for i in range(requests)]
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(lambda n: ask(everything[n]), names))
    seconds = time.perf_counter() - start
    return {
        "good_refused": sorted(n for n in good if reference[n] == "InvalidArgument"),
        "bad_answered": sorted(n for n in bad if reference[n] != "InvalidArgument"),
        "webp_bomb": webp_bomb if isinstance(webp_bomb, str) else "answered",
        "requests": requests, "threads": threads,
        "good": sum(n in good for n in names), "bad": sum(n in bad for n in names),
        "mismatches": sorted({n for n, a in zip(names, answers) if a != reference[n]}),
        "seconds": round(seconds, 2),
        "rss_mb_loaded": round(rss_loaded), "rss_mb_after_webp_bomb": round(rss_after_webp_bomb),
        "rss_mb_after_reference": round(rss_after_reference), "rss_mb_peak": round(peak_mb()),
    }


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(args[0], *map(int, args[1:]))), flush=True)
