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
docs/notes/hints.md.
"""

import argparse
import runpy
import sys

import tensorflow as tf


def laplacian_apply(d, wx, wy):
    """sum_q w_pq (d_p - d_q) over 4-neighbours: d [B, H, W, C], wx [B, H, W-1, 1] between
    horizontal neighbours, wy [B, H-1, W, 1] between vertical ones."""
    fx = wx * (d[:, :, 1:] - d[:, :, :-1])  # flow right
    fy = wy * (d[:, 1:] - d[:, :-1])
    pad_x = tf.zeros_like(d[:, :, :1])
    pad_y = tf.zeros_like(d[:, :1])
    out = tf.concat([pad_x, fx], 2) - tf.concat([fx, pad_x], 2)
    out += tf.concat([pad_y, fy], 1) - tf.concat([fy, pad_y], 1)
    return out


def solve(L, mask, d_hint, tau, decay, mu, iterations):
    """The screened edge-aware system above, by conjugate gradients from d = 0."""
    L = L[..., :1]
    wx = tf.exp(-tf.square(L[:, :, 1:] - L[:, :, :-1]) / (2 * tau ** 2))
    wy = tf.exp(-tf.square(L[:, 1:] - L[:, :-1]) / (2 * tau ** 2))
    diag = 1.0 / decay ** 2 + mu * mask

    def A(x):
        return diag * x + laplacian_apply(x, wx, wy)

    b = mu * mask * d_hint
    x = tf.zeros_like(b)
    r = b
    p = r
    rs = tf.reduce_sum(r * r, [1, 2, 3], keepdims=True)

    floor = 1e-12 * rs + 1e-30  # converged below this (per image): updates stop

    def body(i, x, r, p, rs):
        active = rs > floor
        Ap = A(p)
        pAp = tf.reduce_sum(p * Ap, [1, 2, 3], keepdims=True)
        alpha = tf.where(active, rs / tf.where(active, pAp, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * Ap
        rs_new = tf.reduce_sum(r * r, [1, 2, 3], keepdims=True)
        p = r + tf.where(active, rs_new / tf.where(active, rs, 1.0), 0.0) * p
        return i + 1, x, r, p, tf.where(active, rs_new, rs)

    _, x, *_ = tf.while_loop(lambda i, *_: i < iterations, body,
                             (tf.constant(0), x, r, p, rs))
    return x


def main():
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser()
    parser.add_argument("--tau", type=float, default=0.07)
    parser.add_argument("--decay", type=float, default=64.0)
    parser.add_argument("--mu", type=float, default=10.0)
    parser.add_argument("--iterations", type=int, default=600)
    args = parser.parse_args(argv[:cut])

    from colorgan.models import vgg_unet

    def call(self, inputs):
        L, hints, ab = (tf.cast(t, tf.float32) for t in inputs)
        mask = hints[..., 2:]
        d_hint = (hints[..., :2] - ab) * mask
        return ab + solve(L, mask, d_hint, args.tau, args.decay, args.mu, args.iterations)

    vgg_unet.HintPropagation.call = call
    sys.argv = ["evaluate.py", *argv[cut + 1:]]
    runpy.run_path("evaluate.py", run_name="__main__")


if __name__ == "__main__":
    main()
