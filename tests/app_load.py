"""Load check of the running web app through its API (gradio_client), from its own process:

  python tests/app_load.py URL [REQUESTS=40] [CLIENTS=8] [SERVER_PID]

Asks /colorize for each good photo one by one first (the reference answers), then sends
REQUESTS uploads mixing good photos and bad ones (truncated, text, empty, a WebP bomb)
from CLIENTS clients at once, then one good photo more. Prints one JSON line: counts,
good answers that differ from their reference, bad uploads that were not refused (or were
refused in more than one line), seconds, and the server's peak RSS (VmHWM of SERVER_PID).
"""

from __future__ import annotations

import io
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
import imagefiles as F  # noqa: E402


def peak_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def uploads(folder: Path) -> tuple[dict[str, Path], dict[str, tuple[Path, str]]]:
    """(good photos by name, bad uploads by name with a word their error must hold)."""
    from colorgan.video import clips

    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "photo.png": F.encode(clips.sample_photo(0)[:64, :96], "PNG"),
        "photo.jpg": F.encode(clips.sample_photo(3)[:80, :48], "JPEG", quality=90),
        "gray.png": F.encode(np.asarray(Image.fromarray(clips.sample_photo(5)[:48, :48])
                                        .convert("L")), "PNG"),
    }
    good = {}
    for name, data in files.items():
        good[name] = folder / name
        good[name].write_bytes(data)
    bad_bytes = {
        "truncated.jpg": (files["photo.jpg"][:300], "not a readable image"),
        "text.png": (b"this is not an image\n" * 20, "not a readable image"),
        "empty.png": (b"", "not a readable image"),
        "bomb.webp": (F.webp_lossless_bomb(), "pixels"),
    }
    bad = {}
    for name, (data, words) in bad_bytes.items():
        (folder / name).write_bytes(data)
        bad[name] = (folder / name, words)
    return good, bad


def decode(path: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(Path(path).read_bytes())).convert("RGB"))


def main(url: str, requests: int = 40, clients: int = 8, pid: int = 0) -> dict:
    import tempfile

    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)

    def ask(path: Path):
        try:
            return "ok", client.predict(handle_file(str(path)), api_name="/colorize")
        except Exception as e:  # the app's gr.Error reaches the client as AppError
            return "error", str(e)

    with tempfile.TemporaryDirectory() as tmp:
        good, bad = uploads(Path(tmp))
        reference = {}
        for name, path in good.items():
            kind, out = ask(path)
            if kind != "ok":
                raise SystemExit(f"{name}: {out}")
            reference[name] = decode(out)
        names = [list(good)[i % len(good)] if i % 2 == 0 else list(bad)[(i // 2) % len(bad)]
                 for i in range(requests)]
        paths = {**good, **{n: p for n, (p, _) in bad.items()}}
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            answers = list(pool.map(lambda n: (n, ask(paths[n])), names))
        seconds = time.perf_counter() - start
        wrong, unrefused = [], []
        for name, (kind, out) in answers:
            if name in good:
                if kind != "ok" or not np.array_equal(decode(out), reference[name]):
                    wrong.append(f"{name}: {kind} {out if kind != 'ok' else 'differs'}")
            elif kind != "error" or bad[name][1] not in out or "\n" in out.strip():
                unrefused.append(f"{name}: {kind} {out!r}")
        last_kind, last = ask(good["photo.png"])
        still_serving = last_kind == "ok" and np.array_equal(decode(last), reference["photo.png"])
        errors = sorted({out for name, (kind, out) in answers if name in bad})
    return {"requests": requests, "clients": clients,
            "good": sum(n in good for n in names), "bad": sum(n in bad for n in names),
            "answered": sum(kind == "ok" for _, (kind, _) in answers),
            "refused": sum(kind == "error" for _, (kind, _) in answers),
            "wrong": wrong, "unrefused": unrefused, "errors": errors,
            "still_serving": still_serving, "seconds": round(seconds, 2),
            "server_peak_mb": round(peak_mb(pid), 1) if pid else None}


if __name__ == "__main__":
    args = sys.argv[1:]
    print(json.dumps(main(args[0], *(int(a) for a in args[1:]))))
