"""FID and KID between two sets of images, on the FID Inception-v3 (inception.py).

FID (Heusel et al. 2017): |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^1/2) of the two
sets' pool_3 features. It is biased on small sets (it falls as the count grows), so only
FIDs over the same number of images compare. KID (Binkowski et al. 2018): the unbiased
squared MMD with the kernel (x.y / 2048 + 1)^3, averaged over random subsets; unbiased, so
it is the one to read on a few dozen photos. Both x 1 (not x 1000, as some papers print KID).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from colorgan.data import decode, folders
from colorgan.errors import UserError, first_line
from colorgan.evaluate import inception
from colorgan.progress import Progress

KID_SUBSETS = 100
KID_MAX_SUBSET = 1000  # clean-fid's and torch-fidelity's subset size


class FIDNetwork:
    """The FID Inception: RGB images in 0..255 -> pool_3 features [B, 2048] (float64)."""

    def __init__(self, weights_path: str | None = None):
        self.model = inception.build(inception.read_weights(weights_path))
        side = inception.SIDE
        self._net = tf.function(lambda x: self.model(x, training=False), input_signature=[
            tf.TensorSpec([None, side, side, 3], tf.float32)], autograph=False)

    def features(self, images) -> np.ndarray:
        """[B, H, W, 3] RGB 0..255 (uint8 or float; any H, W) -> [B, 2048] float64.

        Callers that score saved photos pass them rounded to 8 bits, as a file holds them.
        """
        return self._net(inception.preprocess(images)).numpy().astype(np.float64)

    def file_features(self, paths: list[str], batch_size: int = 16,
                      progress_label: str | None = None) -> np.ndarray:
        """Image files, whole (no crop), each resized to 299 x 299 -> [N, 2048] float64.

        JPEGs decode with libjpeg's accurate DCT, as PIL decodes them (bit for bit on the
        shipped photos): the reference implementations read files with PIL. Raises
        UserError for a file that does not decode."""
        if not paths:
            raise ValueError("no image files to score")
        bar = Progress(len(paths), label=progress_label) if progress_label else None
        out = []
        for start in range(0, len(paths), batch_size):
            batch = []
            for path in paths[start:start + batch_size]:
                try:
                    image = decode.load_file(tf.constant(path), accurate_jpeg=True)
                except tf.errors.OpError as e:  # not an image, too large, unreadable
                    raise UserError(f"cannot read {path}: {first_line(e)}") from None
                # each image to 299 x 299 on its own (sizes differ), in 8-bit levels
                batch.append(inception.preprocess(tf.round(image[None] * 255.0)))
            x = tf.concat(batch, 0)
            out.append(self._net(x).numpy().astype(np.float64))
            if bar is not None:
                bar.update(paths[min(start + batch_size, len(paths)) - 1], len(batch))
        return np.concatenate(out)


def list_images(folder: str) -> list[str]:
    """The image files under `folder`, recursively; UserError for a missing or empty one."""
    paths = folders.list_image_files(folder)
    if not paths:
        raise UserError(f"no images in {folder} ({', '.join(folders.IMAGE_EXTENSIONS)})")
    return paths


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float | None:
    """FID of two feature sets [Na, D], [Nb, D] (None with fewer than 2 in either).

    tr (S_a S_b)^1/2 = sum of sqrt(eigenvalues of R S_b R), R = S_a^1/2: the product of two
    covariances is similar to that symmetric PSD matrix, so this is exact where scipy's
    sqrtm of the (singular, for N < 2048) product needs its complex-part workaround.
    """
    if len(a) < 2 or len(b) < 2:
        return None
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    mu = a.mean(0) - b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(sa)
    root = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ sb @ root), 0, None)).sum()
    return float(mu @ mu + np.trace(sa) + np.trace(sb) - 2.0 * cross)


def kid_subset_size(n: int, paired: bool = False) -> int | None:
    """KID's default subset size for sets of n (the smaller one): half of it, at most 1000
    (a subset as large as the set would draw the same photos every time and report a spread
    of 0; paired sets need disjoint halves). None where KID cannot be computed: n < 2, or
    n < 4 paired."""
    most = n // 2 if paired else n
    return None if most < 2 else min(KID_MAX_SUBSET, max(2, n // 2), most)


def kernel_inception_distance(a: np.ndarray, b: np.ndarray, subsets: int = KID_SUBSETS,
                              subset_size: int | None = None, seed: int = 0,
                              paired: bool = False) -> tuple[float, float] | tuple[None, None]:
    """KID of [Na, D], [Nb, D]: (mean, std) of the unbiased MMD^2 over `subsets` random
    subsets of `subset_size` (default kid_subset_size of the smaller set) drawn without
    replacement from each set. (None, None) with fewer than 2 in either set (4 if paired).

    `paired`: a[i] and b[i] show the same scene (a photo and its colorized copy). Each
    subset pair is then drawn from disjoint photos: a colorized photo beside its own truth
    is far closer than two photos of one distribution, and would pull KID below 0.
    """
    if subsets < 1 or (subset_size is not None and subset_size < 2):
        raise ValueError(f"KID needs subsets >= 1 and subset_size >= 2, not {subsets}, "
                         f"{subset_size}")
    n = min(len(a), len(b))
    if paired and len(a) != len(b):
        raise ValueError(f"paired sets differ in size: {len(a)} and {len(b)}")
    m = kid_subset_size(n, paired)
    if m is None:
        return None, None
    m = min(subset_size, n // 2 if paired else n) if subset_size else m
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        if paired:
            order = rng.permutation(n)
            x, y = a[order[:m]], b[order[m:2 * m]]
        else:
            x = a[rng.choice(len(a), m, replace=False)]
            y = b[rng.choice(len(b), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        values.append(within - 2.0 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def scores(truth: np.ndarray, other: np.ndarray) -> dict:
    """{"fid", "kid", "kid_std"} of `other`'s features against the truth's, other[i] being
    truth[i]'s photo colorized (KID's subsets paired accordingly)."""
    kid, kid_std = kernel_inception_distance(truth, other, paired=True)
    fid = frechet_distance(truth, other)
    return {"fid": None if fid is None else round(fid, 4),
            "kid": None if kid is None else round(kid, 6),
            "kid_std": None if kid_std is None else round(kid_std, 6)}
