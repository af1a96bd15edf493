"""Trial for issue 32 part 2: the reference photo's confidence gate and temperature, on
evaluate.py --reference's views (docs/notes/reference.md, "Choosing the gate").

    python scripts/reference_gate_trial.py --low=0.25 --high=0.55 --spread=wide

Prints the mean PSNR on samples:val (256 px centre crops) of the automatic colour, of the
colour from a view of the same photo (same_scene) and from a view of another (other), and
the mask's mean over both kinds of reference. A trial: the shipped values are
correspondence.LOW / HIGH / TEMPERATURE.
"""

import argparse

import numpy as np
import tensorflow as tf


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--low", type=float, default=0.25)
    parser.add_argument("--high", type=float, default=0.55)
    parser.add_argument("--temperature", type=float, default=0.01)
    parser.add_argument("--spread", default="wide")
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args()

    from colorgan import color
    from colorgan.data import input_pipeline
    from colorgan.evaluate import metrics, references
    from colorgan.models import correspondence
    from colorgan.serve import opener

    # Defaults are bound when a function is defined: set them, not the module constants.
    correspondence.gate.__defaults__ = (args.low, args.high)
    correspondence.match.__defaults__ = (args.temperature,)
    model = opener.open_model("pretrained", {"hint_spread": args.spread})
    source = input_pipeline.open_source("samples:val")
    scores: dict[str, list] = {"automatic": [], "same_scene": [], "other": []}
    generator = model.module.generator
    masks = []
    for kind in ("same_scene", "other"):
        for crops, views in references.pairs(source, kind, size=256, batch_size=8,
                                             limit=args.limit):
            truth = color.model_to_rgb(*input_pipeline.to_model(crops))
            if kind == "same_scene":
                scores["automatic"] += list(metrics.psnr(model(truth.numpy(), 0) * 255,
                                                         truth * 255).numpy())
            got = model.with_reference(truth.numpy(), 0, views.numpy())
            scores[kind] += list(metrics.psnr(got * 255, truth * 255).numpy())
            masks.append(_mean_mask(generator, truth, views, correspondence))
    for kind, values in scores.items():
        print(f"{kind}: PSNR {np.mean(values):.2f} (n={len(values)})")
    print(f"mean mask {np.mean(masks):.2f}; {vars(args)}")


def _mean_mask(generator, truth, views, correspondence) -> float:
    """The gate's mean over a batch, at the shipped 128 px render (as the graph computes it)."""
    from colorgan import color
    from colorgan.models import networks
    L = tf.image.resize(color.rgb_to_model(truth)[0], [128, 128], antialias=True)
    hw = views.shape[1:3]
    scale = 128 / np.sqrt(hw[0] * hw[1])
    sides = [max(16, int(round(s * scale / 16)) * 16) for s in hw]
    L_ref = color.rgb_to_model(tf.image.resize(views, sides, antialias=True))[0]
    t = correspondence.describe(networks.encoder_features(generator, L))
    r = correspondence.describe(networks.encoder_features(generator, L_ref))
    _, confidence = correspondence.match(t, r, tf.zeros(r.shape[:3] + (2,)))
    return float(tf.reduce_mean(correspondence.gate(confidence)))


if __name__ == "__main__":
    main()
