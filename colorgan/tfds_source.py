"""`tfds:NAME[:SPLIT]` sources through tensorflow-datasets (imagenette, coco/2017, ... on Colab).

Offline, `tfds.load` retries for ~200 s before failing; here an unprepared dataset with
no network fails at once with one line saying what to do. Images are read as encoded
bytes (SkipDecoding) so that skipping ahead on resume costs no decoding.
"""

from __future__ import annotations

import re

import tensorflow as tf

from colorgan import net
from colorgan.errors import UserError

_DOWNLOAD_HOST = ("storage.googleapis.com", 443)  # TFDS's own mirror of prepared datasets


def parse_spec(spec: str) -> tuple[str, str]:
    """'tfds:NAME[:SPLIT]' -> (NAME, SPLIT); NAME may carry a config or a ':x.y.z' version."""
    parts = spec[len("tfds:"):].split(":")
    split = "train"
    if len(parts) > 1 and not re.fullmatch(r"[\d.*]+", parts[-1]):
        split = parts.pop()
    name = ":".join(parts)
    if not name:
        raise UserError(f"--data={spec!r}: expected tfds:NAME[:SPLIT], e.g. tfds:imagenette:train")
    return name, split


def network_reachable(timeout: float = 3.0) -> bool:
    """True if TFDS's download host answers within `timeout` seconds (DNS included)."""
    return net.host_reachable(_DOWNLOAD_HOST, timeout)


def open_tfds(spec: str, *, data_dir: str = "", min_chroma: float = 0.0):
    """Finds (and, online, prepares) the dataset; returns a data.ImageSource."""
    import tensorflow_datasets as tfds

    from colorgan.data import ImageSource

    name, split = parse_spec(spec)
    try:
        builder = tfds.builder(name, data_dir=data_dir or None)
    except Exception as e:  # DatasetNotFoundError and malformed names alike
        raise UserError(f"--data={spec}: {str(e).splitlines()[0]}") from None
    if not builder.is_prepared():
        if not network_reachable():
            raise UserError(
                f"--data={spec}: not prepared in {builder.data_dir} and no network to download it; "
                f"run `tfds build {name}` where there is network, then pass --tfds_data_dir")
        builder.download_and_prepare()
    if split.split("[")[0] not in builder.info.splits:
        raise UserError(f"--data={spec}: no split {split!r}; it has {sorted(builder.info.splits)}")
    keys = [k for k, f in builder.info.features.items() if isinstance(f, tfds.features.Image)]
    if not keys:
        raise UserError(f"--data={spec}: the dataset has no image feature")
    return ImageSource(spec=spec, tfds_name=name, tfds_split=split, tfds_image_key=keys[0],
                       tfds_data_dir=str(builder.data_dir), min_chroma=min_chroma)


def _builder(source):
    import tensorflow_datasets as tfds
    # data_dir is the versioned folder open_tfds found; read it back without the registry.
    return tfds.builder_from_directory(source.tfds_data_dir)


def _bytes(source, shuffle_seed: int | None) -> tf.data.Dataset:
    import tensorflow_datasets as tfds
    builder = _builder(source)
    read_config = tfds.ReadConfig(shuffle_seed=shuffle_seed, try_autocache=False)
    ds = builder.as_dataset(split=source.tfds_split, shuffle_files=shuffle_seed is not None,
                            decoders={source.tfds_image_key: tfds.decode.SkipDecoding()},
                            read_config=read_config)
    return ds.map(lambda ex: ex[source.tfds_image_key])


def ordered_bytes(source) -> tf.data.Dataset:
    """Encoded images of the split in the dataset's own order, once."""
    return _bytes(source, None)


def element_stream(source, *, seed: int, start: int, shuffle_buffer: int) -> tf.data.Dataset:
    """(element index, encoded image) from `start` on, forever, shuffled from `seed`.

    Resuming skips `start` encoded records: reading, not decoding.
    """
    ds = _bytes(source, seed).shuffle(shuffle_buffer, seed=seed).repeat().skip(start)
    return tf.data.Dataset.zip(tf.data.Dataset.counter(start), ds)
