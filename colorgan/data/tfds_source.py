"""`tfds:NAME[:SPLIT]` sources through tensorflow-datasets (imagenette, coco/2017, ... on Colab).

Offline, `tfds.load` retries for ~200 s before failing; here an unprepared dataset with
no network fails at once with one line saying what to do. Images are read as encoded
bytes (SkipDecoding) so that skipping ahead on resume costs no decoding.
`TfdsSource` is the `tfds:` kind of `sources.ImageSource`.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterator

import tensorflow as tf

from colorgan import net
from colorgan.data import sources
from colorgan.errors import UserError, first_line


def parse_spec(spec: str) -> tuple[str, str]:
    """'tfds:NAME[:SPLIT]' -> (NAME, SPLIT); NAME may carry a config or a ':x.y.z' version."""
    parts = spec[len("tfds:"):].split(":")
    split = "train"
    if len(parts) > 1 and not re.fullmatch(r"[\d.*]+", parts[-1]):
        split = parts.pop()
    name = ":".join(parts)
    if not name:
        raise UserError(f"source={spec!r}: expected tfds:NAME[:SPLIT], e.g. tfds:imagenette:train")
    return name, split


def network_reachable(timeout: float = 3.0) -> bool:
    """True if TFDS's download host answers within `timeout` seconds (DNS included)."""
    return net.host_reachable(net.DOWNLOAD_HOST, timeout)


@dataclasses.dataclass(frozen=True)
class TfdsSource(sources.ImageSource):
    """One split of a prepared TFDS dataset; items are encoded image bytes."""

    spec: str
    dataset: str  # NAME as in the spec (with its config and version, if given)
    split: str
    data_dir: str  # the versioned folder of the prepared dataset
    image_key: str  # the feature holding the image
    min_chroma: float = 0.0
    skipped_unreadable: int = 0
    skipped_grayscale: int = 0

    @property
    def size(self) -> None:
        return None  # read as a stream, never counted

    def _bytes(self, shuffle_seed: int | None) -> tf.data.Dataset:
        import tensorflow_datasets as tfds  # seconds to import: only where a tfds: source is read
        # data_dir is the versioned folder open_tfds found; read it back without the registry.
        builder = tfds.builder_from_directory(self.data_dir)
        read_config = tfds.ReadConfig(shuffle_seed=shuffle_seed, try_autocache=False)
        ds = builder.as_dataset(split=self.split, shuffle_files=shuffle_seed is not None,
                                decoders={self.image_key: tfds.decode.SkipDecoding()},
                                read_config=read_config)
        return ds.map(sources.plain(lambda ex: ex[self.image_key]))

    def ordered_items(self) -> tf.data.Dataset:
        """Encoded images of the split in the dataset's own order, once."""
        return self._bytes(None)

    def elements(self, *, seed, start, shuffle_buffer, batch_size, input_context):
        """Shuffled from `seed`; resuming skips `start` encoded records: reading, not decoding."""
        ds = self._bytes(seed).shuffle(shuffle_buffer, seed=seed).repeat().skip(start)
        stream = tf.data.Dataset.zip(tf.data.Dataset.counter(start), ds)
        return sources.pipeline_slice(stream, batch_size, input_context)

    def named_bytes(self) -> Iterator[tuple[str, bytes]]:
        """Names are SPLIT/INDEX."""
        for i, data in enumerate(self.ordered_items().as_numpy_iterator()):
            yield f"{self.split}/{i}", data


def open_tfds(spec: str, *, data_dir: str = "", min_chroma: float = 0.0) -> TfdsSource:
    """Finds (and, online, prepares) the dataset; one-line UserError when it cannot."""
    import tensorflow_datasets as tfds  # seconds to import: only where a tfds: source is read

    name, split = parse_spec(spec)
    try:
        builder = tfds.builder(name, data_dir=data_dir or None)
    except Exception as e:  # DatasetNotFoundError and malformed names alike
        raise UserError(f"source={spec}: {first_line(e)}") from None
    if not builder.is_prepared():
        if not network_reachable():
            raise UserError(
                f"source={spec}: not prepared in {builder.data_dir} and no network to download it; "
                f"run `tfds build {name}` where there is network, then set tfds_data_dir")
        builder.download_and_prepare()
    if split.split("[")[0] not in builder.info.splits:
        raise UserError(f"source={spec}: no split {split!r}; it has {sorted(builder.info.splits)}")
    keys = [k for k, f in builder.info.features.items() if isinstance(f, tfds.features.Image)]
    if not keys:
        raise UserError(f"source={spec}: the dataset has no image feature")
    return TfdsSource(spec=spec, dataset=name, split=split, image_key=keys[0],
                      data_dir=str(builder.data_dir), min_chroma=min_chroma)
