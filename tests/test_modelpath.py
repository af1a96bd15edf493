"""modelpath.identify: each kind of model path told apart by the files it holds (empty
stand-in files: nothing is loaded), locally and on TF's ram:// filesystem, and the two
error lines."""

import pytest
import tensorflow as tf

from colorgan import modelpath
from colorgan.errors import UserError


def touch(root, *names):
    for name in names:
        path = tf.io.gfile.join(root, name)
        tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
        with tf.io.gfile.GFile(path, "wb") as f:
            f.write(b"")


@pytest.mark.parametrize("root", ["local", "ram://modelpath"])
def test_each_kind_is_told_by_its_files(tmp_path, root):
    root = str(tmp_path) if root == "local" else root
    j = tf.io.gfile.join
    touch(j(root, "shipped"), "generator.npz", "config.json")
    touch(j(root, "run"), "config.json", "checkpoints/ckpt-3.index")
    touch(j(root, "export"), "1/saved_model.pb", "2/saved_model.pb", "3/variables.index")
    touch(j(root, "lite"), "1/model.tflite", "2/model.tflite")
    touch(j(root, "other"), "notes.txt")
    want = {
        "shipped": ("shipped", j(root, "shipped")),
        "run": ("workdir", j(root, "run")),
        "run/checkpoints/ckpt-3": ("checkpoint", j(root, "run/checkpoints/ckpt-3")),
        # TF Serving's base path: its highest version that holds a whole SavedModel (3 is
        # half-written: no saved_model.pb yet).
        "export": ("saved_model", j(root, "export", "2")),
        "export/1": ("saved_model", j(root, "export", "1")),
        "lite": ("tflite", j(root, "lite", "2", "model.tflite")),
        "lite/1/model.tflite": ("tflite", j(root, "lite/1/model.tflite")),
    }
    for name, (kind, path) in want.items():
        got = modelpath.identify(j(root, name))
        assert (got.kind, got.path) == (kind, path), name
    with pytest.raises(UserError, match=r"^init_from: .*other is not a colorgan model"):
        modelpath.identify(j(root, "other"), what="init_from")
    with pytest.raises(UserError, match=r"^model: .*nope does not exist \(give 'pretrained'"):
        modelpath.identify(j(root, "nope"))


def test_pretrained_is_the_shipped_folder():
    got = modelpath.identify("pretrained")
    assert got == modelpath.ModelPath("shipped", str(modelpath.SHIPPED))
    assert (modelpath.SHIPPED / modelpath.GENERATOR_FILE).is_file()
