"""Edge-aware propagation of sparse colour corrections (user hints, reference colours).

A correction d (a hint's ab minus the decoder's ab where the hint is) spreads over the
4-neighbour graph of a guide image as the solution of the screened system

    (lambda I + mu M + Laplacian_w) x = mu M d,      lambda = 1 / decay^2,

M the hint mask (a share in [0, 1] per pixel), w_pq = exp(-|g_p - g_q|^2 / 2) on the guide
g (already divided by its per-channel scale tau). Neighbours alike in the guide get alike
corrections, a correction stops where the guide changes (Levin, Lischinski and Weiss 2004,
whose affinity on lightness this is), and in a flat region it fades over ~`decay` pixels,
so regions far from every hint keep the automatic colour. No hints: the right-hand side is
zero, so x = 0 exactly.

With a `fill` band (user hints on the `region` spread) the same system also spreads the mask
itself: phi = the solution for d = 1, each pixel's share of hint influence in [0, 1]. The
correction becomes (x / phi) * smoothstep(phi over the band): x / phi is the hints' weighted
mean (a single hint's own colour, not a faded one), and the band turns the influence into a
near-binary region: full strength where phi is above the band, none below it. In 2-D a
point's influence falls off like log(1/r) even inside a flat region, so the plain solve leaves
a seat half-coloured and a wall faintly tinted; the band fills the one and clears the other
(the chair test, docs/notes/hints.md).

The `wide` spread adds a shade pass on top: each hint's correction, weighed down to nothing
as it grows past `shade_size` (exp(-(|d| / size)^8 / 2)) and as fewer hints elsewhere agree
with it (`consensus`), also spreads plainly over wider links (lightness edges over one pixel,
not three), and is added where the band leaves room (times 1 - its weight). Hints in
different parts of the photo asking for the same tint say the model's palette is off, which
holds beyond one region; a lone click, or a hint far from the automatic colour (red on a
white seat), recolours what it lands on and stays in the band's region.

The solve is cascadic: the system is rediscretised on a pyramid (the guide, mask and
corrections average-pooled 2 x 2 per level, lambda and mu scaled by the cell's area),
solved on the coarsest level and each solution upsampled as the next level's start, with
a fixed number of Jacobi-preconditioned conjugate-gradient iterations per level. The
cost is linear in the pixel count (the finest level dominates, a few dozen sweeps of
elementwise ops); everything is TensorFlow ops in a tf.while_loop, so it runs in a
SavedModel and converts to LiteRT.
"""

from __future__ import annotations

import dataclasses
import functools

import tensorflow as tf

@dataclasses.dataclass(frozen=True)
class Spread:
    """How far a hint reaches. tau: the lightness difference (model range [-1, 1]) that
    weakens a link to exp(-1/2); span: lightness differences taken over this many pixels
    each side of a link (_link_distance: a soft edge counts in full); tau_features: the same
    for unit-length VGG16 relu4_3 features (a chord: 0.3 ~ 17 degrees), which tell a white
    seat from a wall of its lightness (L 66 against 65 in the chair photo's 128 px render);
    decay: how far a correction reaches in a flat region, as a share of the side; fill: the
    band of hint influence phi (low, high) over which a sparse hint's correction goes from
    none to full (None: the plain solve, the correction fading with phi); shade: the links a
    hint's correction also spreads over, weighed by its size against shade_size (ab, model
    range; None: no shade pass); agree: how close (ab, model range) another hint's
    correction must be to count as agreeing, and reach: how far away (a share of the side)
    it must be (`consensus`)."""

    tau: float
    span: int
    tau_features: float
    decay: float = 1.0
    fill: tuple[float, float] | None = None
    shade: Spread | None = None
    shade_size: float = 0.0
    agree: float = 0.2
    reach: float = 0.25

    def __post_init__(self):
        # low > 0 keeps the division x / max(phi, low) finite and a hint-free image exact.
        if self.fill is not None and not 0 < self.fill[0] < self.fill[1] <= 1:
            raise ValueError(f"fill band {self.fill}: need 0 < low < high <= 1")
        if self.shade is not None and (self.fill is None or self.shade_size <= 0
                                       or self.agree <= 0 or self.reach < 0):
            raise ValueError("a shade pass needs a fill band, shade_size > 0, agree > 0 and "
                             "reach >= 0")


# Chosen by measurement (docs/notes/hints.md): "region" keeps every hint inside what it lands
# on (the chair test). "wide" (the default) is "region" plus the shade pass: a correction up
# to ~50 Lab units (a tint) that a hint at least a quarter of the side away agrees with (to
# ~22 Lab units) also reaches through soft edges; a lone click, or a larger correction (red
# on a white seat: ~86), stays in its region. It scores higher on randomly revealed true
# colours (10 hints: 25.83 dB against 24.94).
_REGION = Spread(tau=0.07, span=3, tau_features=0.3, fill=(0.2, 0.5))
SPREADS = {"region": _REGION,
           "wide": dataclasses.replace(_REGION, shade=Spread(tau=0.07, span=1, tau_features=0.2),
                                       shade_size=65 / 110)}
SHADE_POWER = 8  # how sharply the shade and agreement weights fall past their sizes
MU = 10.0  # how firmly a hinted pixel holds its hint
ITERATIONS = (30, 60)  # CG iterations on the finest level, on each coarser one
LEVELS = 4  # coarser levels: 128 px -> 8 px
CELLS = 32  # consensus's grid side


def propagate(L: tf.Tensor, hint_maps: tf.Tensor, ab: tf.Tensor,
              features: tf.Tensor | None = None, spread: str = "wide",
              dense: bool = False) -> tf.Tensor:
    """L [B, H, W, 1] in [-1, 1], hint maps [B, H, W, 3] (ab, mask), the automatic ab
    [B, H, W, 2], and optionally image features [B, h, w, C] (any side: resized to H x W;
    VGG16 relu4_3 where the model has that encoder) -> ab with each hint's difference from
    it spread edge-aware (float32), as SPREADS[spread] says. dense: the mask is a reference
    match's confidence over the whole image, not a user's few clicks, so the spread's fill
    band is not applied (the colour stays blended by confidence, as measured in
    docs/notes/reference.md). The band expects binary masks (a user's painted patches): a
    lone pixel of mask ~0.1 would not reach the band and be dropped.

    An image without hints gets `ab` back bit for bit (its x stays 0)."""
    args = [tf.cast(t, tf.float32) for t in (L, hint_maps, ab)]
    if features is not None:
        args.append(tf.cast(features, tf.float32))
    dense = dense or SPREADS[spread].fill is None  # one graph where the two are the same
    return _traced(spread, features is not None, dense)(*args)


@functools.lru_cache(maxsize=None)
def _traced(spread: str, with_features: bool, dense: bool = False):
    """propagate's graph as one tf.function per (spread, features or not, dense or not),
    traced once per process: the solve's graph takes ~2 s to build, and an export would
    otherwise build it once for each signature that takes hints or a reference, twice over
    (its save traces every function again)."""
    how = SPREADS[spread]
    # Dense masks (a reference's confidence) take the plain solve on the widest links the
    # spread has (for `wide`, its shade's: as the reference figures were measured).
    plain = (how.shade or how) if dense else None

    def run(L, hint_maps, ab, features=None):
        mask = hint_maps[..., 2:]
        size = tf.shape(ab)[1:3]
        side = tf.sqrt(tf.cast(size[0] * size[1], tf.float32))
        if features is not None:
            features = tf.image.resize(
                features / (tf.norm(features, axis=-1, keepdims=True) + 1e-6), size)

        def guides(links):
            g = [(L[..., :1] / links.tau, links.span)]
            if features is not None:
                g.append((features / links.tau_features, 1))
            return g

        d = hint_maps[..., :2] - ab
        if plain is not None:
            # solve() weighs d by the mask again: a fractional (reference) mask enters as
            # M^2, as the reference figures were measured (binary masks: the same).
            return ab + solve(guides(plain), mask, d * mask, plain.decay * side, MU,
                              ITERATIONS, LEVELS)
        # phi (d = 1) rides along as a third channel: the same system, so it costs one
        # channel of the CG's elementwise work, not a second solve.
        x = solve(guides(how), mask, tf.concat([d, tf.ones_like(mask)], -1), how.decay * side,
                  MU, ITERATIONS, LEVELS)
        corrected = ab + banded(x, how.fill)
        if how.shade is None:
            return corrected
        size_d = tf.norm(d, axis=-1, keepdims=True) / how.shade_size
        tint = d * tf.exp(-0.5 * size_d ** SHADE_POWER) * consensus(d, mask, how.agree,
                                                                     how.reach)
        # No agreeing tint (one click, or none; below 1e-4 ab, a hundredth of a Lab unit):
        # no second solve (~2 s at 1 MP).
        shade = tf.cond(tf.reduce_any(tf.abs(tint) * mask > 1e-4),
                        lambda: solve(guides(how.shade), mask, tint, how.shade.decay * side, MU,
                                      ITERATIONS, LEVELS),
                        lambda: tf.zeros_like(tint))
        return corrected + (1 - band_weight(x[..., -1:], how.fill)) * shade

    specs = [tf.TensorSpec([None, None, None, c], tf.float32) for c in (None, 3, 2)]
    if with_features:
        specs.append(tf.TensorSpec([None, None, None, None], tf.float32))
    return tf.function(run, input_signature=specs, autograph=False)


def consensus(d: tf.Tensor, mask: tf.Tensor, agree: float, reach: float,
              cells: int = CELLS) -> tf.Tensor:
    """How far hints elsewhere agree with each hint's correction: corrections d [B, H, W, 2]
    and the hint mask [B, H, W, 1] -> [B, H, W, 1] in [0, 1].

    On a cells x cells grid (each cell's mean correction over its hinted pixels), a cell
    scores the largest exp(-(|d_p - d_q| / agree)^8 / 2) over the hinted cells q more than
    `reach` (a share of the side) away from it (the best agreeing hint elsewhere, however
    large it is); pixels take their cell's score. A cell counts as hinted where hints cover
    more than 2 % of it (so that a sliver of a patch does not speak for a whole cell). A
    lone hint scores 0: a click belongs to what it lands on; a patch wider than `reach`
    would agree with itself (a click is 3/128 of the side). The pairs cost cells^4 (a
    million) per image whatever its size."""
    # Pixels to cells and back by one-hot matrices rows [H, cells], cols [W, cells]: 2-D
    # matmuls (LiteRT builtins, unlike ResizeArea or a 3-operand einsum).
    size = tf.shape(d)[1:3]
    rows, cols = (tf.one_hot(tf.range(n) * cells // n, cells) for n in (size[0], size[1]))

    def pooled(x):  # [B, H, W, K] -> the sum over each cell's pixels [B, cells, cells, K]
        return _along(tf.transpose(cols), _along(tf.transpose(rows), x, 1), 2)

    m, md = pooled(mask), pooled(d * mask)  # hinted pixels and their corrections, summed
    area = pooled(tf.ones_like(mask[:1]))
    b = tf.shape(d)[0]
    mean_d = tf.reshape(md / tf.maximum(m, 1e-6), [b, cells * cells, 2])
    hinted = tf.cast(tf.reshape(m > 0.02 * area, [b, 1, cells * cells]), tf.float32)
    yx = tf.stack(tf.meshgrid(tf.range(cells), tf.range(cells), indexing="ij"), -1)
    yx = tf.reshape(tf.cast(yx, tf.float32), [cells * cells, 2]) / cells
    far = tf.reduce_sum(tf.square(yx[:, None] - yx[None]), -1) > reach ** 2  # [N, N]
    apart = tf.reduce_sum(tf.square(mean_d[:, :, None] - mean_d[:, None]), -1)  # [B, N, N]
    alike = (tf.exp(-0.5 * (apart / agree ** 2) ** (SHADE_POWER / 2))
             * tf.cast(far, tf.float32)[None] * hinted)
    score = tf.reshape(tf.reduce_max(alike, -1), [b, cells, cells, 1])
    return _along(cols, _along(rows, score, 1), 2)


def _along(matrix: tf.Tensor, x: tf.Tensor, axis: int) -> tf.Tensor:
    """matrix [P, Q] applied along `axis` (1 or 2) of x [B, ., ., K] of size Q there -> P."""
    perm = [axis] + [i for i in range(4) if i != axis]
    moved = tf.transpose(x, perm)
    shape = tf.shape(moved)
    out = tf.reshape(tf.matmul(matrix, tf.reshape(moved, [shape[0], -1])),
                     tf.concat([tf.shape(matrix)[:1], shape[1:]], 0))
    return tf.transpose(out, [perm.index(i) for i in range(4)])


def band_weight(phi: tf.Tensor, fill: tuple[float, float]) -> tf.Tensor:
    """Hint influence phi [B, H, W, 1] -> smoothstep over the band fill = (low, high), in
    [0, 1]: 0 at or below low, 1 at or above high."""
    low, high = fill
    t = tf.clip_by_value((phi - low) / (high - low), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def banded(x: tf.Tensor, fill: tuple[float, float]) -> tf.Tensor:
    """The fill band: solve()'s output for [corrections, 1] [B, H, W, C + 1] (the last
    channel phi, the hint influence) -> the corrections [B, H, W, C] as each pixel's weighted
    mean of the hints times band_weight(phi)."""
    phi = x[..., -1:]
    # Where the weight is > 0, phi > low, so the division is safe; no hints: x = 0, weight
    # 0, nothing added.
    return x[..., :-1] / tf.maximum(phi, fill[0]) * band_weight(phi, fill)


def _link_distance(guide: tf.Tensor, axis: int, span: int) -> tf.Tensor:
    """Squared guide difference across each link along `axis` (1: vertical, 2: horizontal):
    [B, H, W, C] -> [B, H, W-1, 1] (axis 2). span > 1: the largest difference between the
    `span` pixels on either side, so an edge blurred over up to 2 span - 2 pixels still
    counts in full at the link nearest its middle (one step of a soft edge is small)."""
    n = tf.shape(guide)[axis]
    pad = [[0, 0]] * 4
    pad[axis] = [span - 1, span - 1]
    padded = tf.pad(guide, pad, mode="SYMMETRIC")

    # Pixels start .. start + n - 2 of the padded axis, for each of the 2 * span starts
    # that the span^2 pairs below read: one gather per start, not two per pair (6 instead
    # of 18 at span 3; the same values).
    take = {start: tf.gather(padded, tf.range(n - 1) + start, axis=axis)
            for start in range(2 * span)}

    worst = None
    for a in range(span):  # the far side's a-th pixel, the near side's b-th
        for b in range(span):
            d = tf.reduce_sum(tf.square(take[span + a] - take[span - 1 - b]), -1, keepdims=True)
            worst = d if worst is None else tf.maximum(worst, d)
    return worst


def affinities(guides: list[tuple[tf.Tensor, int]]) -> tuple[tf.Tensor, tf.Tensor]:
    """[(guide [B, H, W, C] scaled so that a difference of 1 is a strong edge, span)] ->
    weights between horizontal neighbours [B, H, W-1, 1] and vertical ones [B, H-1, W, 1]
    in (0, 1]: exp(-d / 2), d the sum of each guide's squared link distance."""
    dx = tf.add_n([_link_distance(g, 2, span) for g, span in guides])
    dy = tf.add_n([_link_distance(g, 1, span) for g, span in guides])
    return tf.exp(-0.5 * dx), tf.exp(-0.5 * dy)


def laplacian(x: tf.Tensor, wx: tf.Tensor, wy: tf.Tensor) -> tf.Tensor:
    """sum_q w_pq (x_p - x_q) over each pixel's 4 neighbours: x [B, H, W, C] -> same."""
    fx = wx * (x[:, :, 1:] - x[:, :, :-1])  # what flows from p to its right neighbour
    fy = wy * (x[:, 1:] - x[:, :-1])
    zx, zy = tf.zeros_like(x[:, :, :1]), tf.zeros_like(x[:, :1])
    return (tf.concat([zx, fx], 2) - tf.concat([fx, zx], 2)
            + tf.concat([zy, fy], 1) - tf.concat([fy, zy], 1))


def degree(wx: tf.Tensor, wy: tf.Tensor) -> tf.Tensor:
    """sum_q w_pq per pixel [B, H, W, 1]: the Laplacian's diagonal."""
    zx, zy = tf.zeros_like(wx[:, :, :1]), tf.zeros_like(wy[:, :1])
    return (tf.concat([zx, wx], 2) + tf.concat([wx, zx], 2)
            + tf.concat([zy, wy], 1) + tf.concat([wy, zy], 1))


def conjugate_gradients(apply, b: tf.Tensor, x: tf.Tensor, inverse_diagonal: tf.Tensor,
                        iterations: int) -> tf.Tensor:
    """`iterations` steps of Jacobi-preconditioned CG on apply(x) = b from x, per image of
    the batch (each image its own system; one that has converged stops moving)."""
    axes = [1, 2, 3]
    r = b - apply(x)
    z = inverse_diagonal * r
    p = z
    rz = tf.reduce_sum(r * z, axes, keepdims=True)
    floor = 1e-12 * tf.reduce_sum(b * inverse_diagonal * b, axes, keepdims=True) + 1e-30

    def body(i, x, r, p, rz):
        active = rz > floor  # a converged image (or one with no hint: b = 0) stays put
        q = apply(p)
        pq = tf.reduce_sum(p * q, axes, keepdims=True)
        alpha = tf.where(active, rz / tf.where(active, pq, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * q
        z = inverse_diagonal * r
        rz_new = tf.reduce_sum(r * z, axes, keepdims=True)
        beta = tf.where(active, rz_new / tf.where(active, rz, 1.0), 0.0)
        return i + 1, x, r, z + beta * p, tf.where(active, rz_new, rz)

    _, x, *_ = tf.while_loop(lambda i, *_: i < iterations, body,
                             (tf.constant(0), x, r, p, rz))
    return x


def _pool(x: tf.Tensor) -> tf.Tensor:
    # SAME: an odd side keeps its last row or column (averaged over what is there).
    return tf.nn.avg_pool2d(x, 2, 2, "SAME")


def solve(guides: list[tuple[tf.Tensor, int]], mask: tf.Tensor, d: tf.Tensor, decay, mu: float,
          iterations: tuple[int, int], levels: int = 4) -> tf.Tensor:
    """The screened system above -> x [B, H, W, C].

    guides: [(guide [B, H, W, G] scaled, span)] (affinities()), mask [B, H, W, 1] in [0, 1], d [B, H, W, C] (the
    corrections where mask > 0); decay (a float or a scalar tensor) in pixels of this
    size. iterations = (the finest
    level, each coarser one); `levels` coarser levels below the finest (fixed, since the
    sides are known only at run time; a level's side is ceil(side / 2)).
    """
    pyramid = [([g for g, _ in guides], mask, d * mask)]
    for _ in range(levels):
        g, m, md = pyramid[-1]
        pyramid.append(([_pool(t) for t in g], _pool(m), _pool(md)))
    x = None
    for level in reversed(range(len(pyramid))):
        g, m, md = pyramid[level]
        area = float(4 ** level)  # a cell stands for 4^level pixels; the Dirichlet
        # energy of a 2-D grid needs no rescaling
        wx, wy = affinities([(t, span) for t, (_, span) in zip(g, guides)])
        diag = (1.0 / tf.square(tf.cast(decay, tf.float32)) + mu * m) * area  # [B, h, w, 1]
        inverse = 1.0 / (diag + degree(wx, wy))
        b = mu * area * md

        def apply(v, diag=diag, wx=wx, wy=wy):
            return diag * v + laplacian(v, wx, wy)

        if x is None:
            x = tf.zeros_like(b)
        else:
            x = tf.image.resize(x, tf.shape(b)[1:3], method="bilinear")
        x = conjugate_gradients(apply, b, x, inverse, iterations[0 if level == 0 else 1])
    return x
