"""Flicker of restored old film: python scripts/old_film_flicker.py [--out=FILE.json]

An "old film" is made from the synthetic two-shot clip over shipped val photos
(video/clips.py, 256x192, 24 frames a shot): each frame's lightness gets the same print
(a fixed blur and fade, as one reel has) and its own grain (new grain every frame, which
is what flickers in a film). It is then coloured frame by frame without and with
--restore, each with and without the temporal filter, and scored with Lai et al.'s
warping error (evaluate.py's video measure) along the clean clip's motion, next to the
clean clip, the degraded one and the restored lightness alone (docs/notes/restoration.md).
"""

from colorgan import cli  # first: quiets TensorFlow's start-up

import json

import numpy as np
import tensorflow as tf
from absl import flags

from colorgan import config
from colorgan.data import degrade
from colorgan.serve import opener
from colorgan.video import clips
from colorgan.video.film import lab_join, lab_split
from colorgan.video.temporal import TemporalFilter, WarpingError

FLAGS = flags.FLAGS
flags.DEFINE_string("out", None, "Also write the figures to this JSON file.")
flags.DEFINE_float("grain", 0.05, "Grain sigma (new every frame), on lightness in [0, 1].")


def old_film(L: np.ndarray, grain_sigma: float) -> np.ndarray:
    """Clean lightness [T, H, W] in [0, 100] -> the same reel printed old: one blur and fade
    for all frames, fresh grain per frame."""
    kernel = degrade.gaussian_kernel(7, 1.2, 1.2, 0.0)
    out = []
    for t, frame in enumerate(L):
        gray = tf.constant(frame[..., None] / 100.0, tf.float32)
        gray = degrade.fade(degrade.blur(gray, kernel), 0.12, 0.88, 1.1)
        gray = degrade.grain(gray, grain_sigma, tf.constant([7, t]))
        out.append(np.clip(gray.numpy()[..., 0], 0.0, 1.0) * 100.0)
    return np.stack(out).astype(np.float32)


def psnr_L(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(100.0 ** 2 / np.mean((a - b) ** 2)))


def main(argv):
    if len(argv) > 1:
        raise flags.Error(f"unexpected arguments: {argv[1:]}")
    frames_u8, _ = clips.two_shots((256, 192), 24)
    truth = frames_u8.astype(np.float32) / 255.0
    L_truth, _ = lab_split(truth, truth)
    L_old = old_film(L_truth, FLAGS.grain)
    old_rgb = lab_join(L_old, np.zeros(L_old.shape + (2,), np.float32))
    plain = opener.open_model("pretrained")
    restoring = opener.open_model("pretrained", {"restore": True})
    videos: dict[str, list[np.ndarray]] = {}
    filters = {k: TemporalFilter(config.TemporalConfig()) for k in ("colorize", "restore")}
    for i in range(len(truth)):
        x = old_rgb[i:i + 1]
        for name, model in (("colorize", plain), ("restore", restoring)):
            rgb = np.asarray(model(x, 0), np.float32)
            L, ab = lab_split(rgb, rgb)  # a restoring model's own (restored) lightness
            videos.setdefault(f"{name}_none", []).append(rgb[0])
            flowed = filters[name](L[0], ab[0])
            videos.setdefault(f"{name}_flow", []).append(lab_join(L, flowed[None])[0])
            if name == "restore":
                videos.setdefault("restored_L", []).append(
                    lab_join(L, np.zeros_like(ab))[0])
                videos.setdefault("L_restored_values", []).append(L[0])
    L_restored = np.stack(videos.pop("L_restored_values"))
    videos = {"truth": list(truth), "degraded": list(old_rgb),
              "truth_gray": list(lab_join(L_truth, np.zeros(L_truth.shape + (2,), np.float32))),
              **videos}
    warping = WarpingError()
    for i in range(len(truth)):
        warping.add(L_truth[i], {k: v[i] for k, v in videos.items()})
    errors = warping.result()
    result = {"frames": len(truth), "size": [256, 192], "grain": FLAGS.grain,
              "pairs_scored": warping.pairs, "pairs_skipped_at_cuts": warping.cuts,
              "warping_error_x1e3": {k: round(v * 1e3, 4) for k, v in errors.items()},
              "L_psnr": {"degraded": round(psnr_L(L_old, L_truth), 2),
                         "restored": round(psnr_L(L_restored, L_truth), 2)}}
    print(json.dumps(result, indent=2))
    if FLAGS.out:
        with open(FLAGS.out, "w") as f:
            json.dump(result, f, indent=2)
    return 0


if __name__ == "__main__":
    cli.run(main)
