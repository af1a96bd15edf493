"""Trial for issue 32: evaluate.py's hint sweep with the shipped model's bilateral
HintPropagation replaced by an edge-aware solve (docs/notes/hints.md, "Edge-aware propagation: first trial").

    python scripts/hint_propagation_trial.py --tau=0.07 --decay=64 --iterations=600 -- \
        --model=pretrained --data=samples:val --hints=0,10,50 --nofid --output_dir=runs/trial

Everything after "--" goes to evaluate.py unchanged. The solve: the corrections d (hint ab
minus the decoder's ab where a hint is) spread over the 4-neighbour graph of the render's
lightness, weights w = exp(-(L_p - L_q)^2 / 2 tau^2), as the screened system
    (lambda I + mu M + Laplacian_w) d = mu M d_hint,   lambda = 1 / decay^2,
solved by conjugate gradients (a fixed number of iterations, in the graph): a correction
stops where lightness changes (Levin et al. 2004's affinity) and fades over `decay` pixels
in flat regions, so far-off regions keep the automatic colour. No hints: b = 0, so d = 0
exactly and the output is the model's own. A trial, not the shipped path; its figures are in
docs/notes/hints.md. The shipped `region` spread is
    --tau=0.07 --span=3 --decay=128 --feature=relu4_3 --tau_f=0.3 --fill=0.2,0.5
(--feature_span and --fill: the fill band's trials, 2026-12-05).
"""

import argparse
import runpy
import sys

import tensorflow as tf


def main():
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser()
    parser.add_argument("--tau", type=float, default=0.07)
    parser.add_argument("--decay", type=float, default=128.0, help="px at the render size")
    parser.add_argument("--mu", type=float, default=10.0)
    parser.add_argument("--tau_ab", type=float, default=0.0, help="0: lightness only")
    parser.add_argument("--fine", type=int, default=30, help="CG iterations, finest level")
    parser.add_argument("--coarse", type=int, default=60, help="... each coarser level")
    parser.add_argument("--levels", type=int, default=4)
    parser.add_argument("--gray", action="store_true",
                        help="start from no colour instead of the model's (a "
                        "proxy, on photos the model has learnt, for one it gets wrong)")
    parser.add_argument("--feature", default="", help="a VGG16 layer (relu3_3, relu4_3, "
                        "relu5_3) whose unit-length features join the guide")
    parser.add_argument("--tau_f", type=float, default=0.3)
    parser.add_argument("--span", type=int, default=1, help="lightness edges over this many "
                        "pixels each side of a link")
    parser.add_argument("--feature_span", type=int, default=1, help="the same for the features")
    parser.add_argument("--fill", default="", help="low,high: the fill band on the hint "
                        "influence phi (models/propagation.py); empty: the plain solve")
    args = parser.parse_args(argv[:cut])

    from colorgan import color
    from colorgan.models import propagation, vgg
    if args.feature:
        trunk = vgg.build_trunk(vgg.load_weights(), (args.feature,))

    fill = tuple(float(v) for v in args.fill.split(",")) if args.fill else None

    def propagate(L, hint_maps, ab, features=None, spread="region", dense=False):
        L, hint_maps, ab = (tf.cast(t, tf.float32) for t in (L, hint_maps, ab))
        mask = hint_maps[..., 2:]
        d_hint = (hint_maps[..., :2] - ab) * mask
        if args.gray:
            ab = tf.zeros_like(ab)
            d_hint = hint_maps[..., :2] * mask
        guides = [(L[..., :1] / args.tau, args.span)]
        if args.tau_ab:
            guides.append((ab / args.tau_ab, 1))
        if args.feature:
            f = trunk(color.get_space("lab").gray_rgb(L[..., :1]))
            f = f / (tf.norm(f, axis=-1, keepdims=True) + 1e-6)
            guides.append((tf.image.resize(f, tf.shape(L)[1:3]) / args.tau_f,
                           args.feature_span))
        iterations = (args.fine, args.coarse)
        if fill is None or dense:
            return ab + propagation.solve(guides, mask, d_hint, args.decay, args.mu,
                                          iterations, args.levels)
        x = propagation.solve(guides, mask, tf.concat([d_hint, mask], -1), args.decay,
                              args.mu, iterations, args.levels)
        return ab + propagation.banded(x, fill)

    propagation.propagate = propagate
    sys.argv = ["evaluate.py", *argv[cut + 1:]]
    runpy.run_path("evaluate.py", run_name="__main__")


if __name__ == "__main__":
    main()
