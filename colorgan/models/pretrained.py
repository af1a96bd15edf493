"""Trained models as weights: the colorizer shipped inside colorgan, and `--init_from`.

A model folder in the shipped format holds
  config.json        the Config it was trained with (workdir.CONFIG_FILE)
  generator.npz      G's weights by variable path; for a vgg16 generator with a frozen
                     encoder only what differs from VGG16 (decoder, norms), since the
                     encoder's weights ship once, in colorgan/weights/vgg16_lpips.npz
  discriminator.npz  D's weights (optional: fine-tuning with a GAN loss starts from it)

"pretrained" names the one inside the package (`SHIPPED`). `--init_from` also takes a
training workdir, a checkpoint or an export from export.py (which carries its config in
assets.extra/, a folder TF Serving ignores); modelpath.identify says which a path is. They
may be remote (gs://...) and are read through fileio.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from colorgan import config, fileio, modelpath, workdir
from colorgan.errors import UserError, first_line
from colorgan.models import networks, vgg, vgg_unet

SHIPPED = modelpath.SHIPPED
GENERATOR_FILE = modelpath.GENERATOR_FILE
DISCRIMINATOR_FILE = "discriminator.npz"
EXPORT_CONFIG = "assets.extra/colorgan_config.json"
resolve = modelpath.resolve
is_shipped_format = modelpath.is_shipped_format


def read_config(spec: fileio.PathLike, what: str = "init_from") -> config.Config:
    """The Config of a shipped-format folder, a workdir, a checkpoint's workdir or an
    export; a one-line UserError (starting with `what`) otherwise."""
    found = modelpath.identify(spec, what)
    if found.kind in ("shipped", "workdir"):
        return workdir.read_config(found.path)
    if found.kind == "checkpoint":
        return workdir.read_config(workdir.resolve_checkpoint(found.path)[1])
    if found.kind == "saved_model":
        if not fileio.isfile(fileio.join(found.path, EXPORT_CONFIG)):
            raise UserError(f"{spec}: this export has no {EXPORT_CONFIG} (made before colorgan "
                            "0.2); start from its training workdir instead")
        return workdir.parse_config(fileio.join(found.path, EXPORT_CONFIG))
    raise UserError(f"{what}: {spec} is a .tflite model, which holds no trainable weights; "
                    "give 'pretrained', a workdir or an export")


def read_npz(path: str) -> dict[str, np.ndarray]:
    try:  # read whole through gfile: np.load opens local files only
        with np.load(io.BytesIO(fileio.read_bytes(path)), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as e:  # truncated, not a zip, ...
        raise UserError(f"{path} cannot be read ({type(e).__name__}: {e}); it is damaged, "
                        "reinstall colorgan or retrain") from None


def assign_weights(model: keras.Model, arrays: dict[str, np.ndarray], source: str,
            optional: set[int] = frozenset()) -> None:
    """Sets every variable of `model` from arrays[variable.path]; ids in `optional` may be
    missing (they keep their value). A missing or misshapen array is a UserError."""
    for v in model.variables:
        if v.path not in arrays:
            if id(v) in optional:
                continue
            raise UserError(f"{source} has no weights for {v.path}: damaged, or a model of "
                            "another architecture")
        if tuple(arrays[v.path].shape) != tuple(v.shape):
            raise UserError(f"{source}: {v.path} has shape {arrays[v.path].shape}, the model "
                            f"needs {tuple(v.shape)} (another architecture)")
        v.assign(arrays[v.path])


def load_shipped(spec: fileio.PathLike) -> tuple[keras.Model, config.Config]:
    """A shipped-format folder (or "pretrained") -> (generator with its weights, Config)."""
    path = resolve(spec)
    cfg = workdir.read_config(path)
    generator = networks.build_generator(config.generator_model(cfg), config.generator_size(cfg))
    set_generator_weights(generator, cfg, path)
    logging.info("loaded the generator from %s", path)
    return generator, cfg


def set_generator_weights(generator: keras.Model, cfg: config.Config, path: str) -> None:
    """The shipped format's generator.npz into `generator`. A vgg16 encoder may be left out
    as a whole (it is then VGG16's own, as built); if any of it is there, all must be."""
    arrays = read_npz(fileio.join(path, GENERATOR_FILE))
    optional = set()
    if cfg.model.encoder == "vgg16":
        encoder = vgg_unet.encoder_variables(generator)
        if not any(v.path in arrays for v in encoder):
            optional = {id(v) for v in encoder}
    # A hint model started from one without hints: its hint branch keeps its (zero-output)
    # initial weights, so it starts as the source model.
    branch = vgg_unet.hint_variables(generator)
    if not any(v.path in arrays for v in branch):
        optional |= {id(v) for v in branch}
    assign_weights(generator, arrays, fileio.join(path, GENERATOR_FILE), optional)


def _encoder_is_vgg16s(generator: keras.Model) -> bool:
    """Whether a vgg16 generator's encoder still holds the shipped ImageNet weights."""
    reference = vgg.load_weights()["VGG16_0"]
    encoder = generator.get_layer(vgg_unet.ENCODER)
    return all(np.array_equal(encoder.get_layer(f"conv{i}").kernel.numpy(),
                              reference[f"Conv_{i}"]["kernel"]) and
               np.array_equal(encoder.get_layer(f"conv{i}").bias.numpy(),
                              reference[f"Conv_{i}"]["bias"])
               for i in range(len(reference)))


def save_shipped(generator: keras.Model, cfg: config.Config, out_dir: str | Path,
                 discriminator: keras.Model | None = None, card: dict | None = None) -> Path:
    """Writes the shipped format to out_dir, replaced whole (fileio.publishing).

    Local only: it writes the model folder inside the package (scripts/ship_pretrained.py).
    """
    if fileio.is_remote(out_dir):
        raise UserError(f"{out_dir}: the shipped format is written to a local folder")
    out_dir = Path(out_dir)
    with fileio.publishing(out_dir, folder=True) as folder:
        tmp = Path(folder)
        arrays = {v.path: v.numpy() for v in generator.variables}
        # A frozen encoder is VGG16's own, which ships once (vgg.py); a trained one must ship.
        # Decided by the weights, not the config: a resumed or re-initialized run may have
        # trained its encoder under another train_encoder setting.
        if cfg.model.encoder == "vgg16" and _encoder_is_vgg16s(generator):
            arrays = vgg_unet.decoder_weights(generator)
        np.savez(tmp / GENERATOR_FILE, **arrays)
        if discriminator is not None:
            np.savez(tmp / DISCRIMINATOR_FILE, **{v.path: v.numpy()
                                                  for v in discriminator.variables})
        (tmp / workdir.CONFIG_FILE).write_text(cfg.to_json())
        if card:
            (tmp / "model_card.json").write_text(json.dumps(card, indent=2) + "\n")
    return out_dir


# ModelConfig fields that shape the generator's weights.
GENERATOR_FIELDS = ("encoder", "color_space", "base_filters", "spectral_norm_g", "attention_g",
                    "noise_channels")


def check_compatible(source: config.Config, cfg: config.Config, spec: str) -> None:
    """UserError unless `source`'s generator has the architecture `cfg` builds."""
    for key in GENERATOR_FIELDS:
        was, now = getattr(source.model, key), getattr(cfg.model, key)
        if was != now:
            raise UserError(f"init_from={spec} is a model with {key}={was}; this run has "
                            f"{key}={now} (set {key}={was}, or start from scratch)")
    if config.generator_size(source) != config.generator_size(cfg) and cfg.model.encoder == "unet":
        raise UserError(f"init_from={spec}: its U-Net is {config.generator_size(source)} px "
                        f"deep, this run's {config.generator_size(cfg)} (use image_size="
                        f"{config.generator_size(source)})")


def with_architecture_of(spec: str, base: config.Config) -> config.Config:
    """`base` (a preset) with the model section and image size of the model `spec` names, so
    its weights fit; the loop, data and losses stay the preset's."""
    source = read_config(spec)
    # A U-Net's depth follows its smallest training size; the vgg16 one has a fixed depth.
    size = config.generator_size(source) if source.model.encoder == "unet" \
        else source.data.image_size
    data = dataclasses.replace(base.data, image_size=size, size_schedule="")
    return dataclasses.replace(base, model=source.model, data=data)


def init_from(spec: str, cfg: config.Config, generator: keras.Model,
              discriminator: keras.Model) -> bool:
    """Copies the weights of the model `spec` names into a fresh run's G, and D where the
    source has one of the same shape (otherwise D starts from scratch, with a warning).
    Returns whether D was copied."""
    source = read_config(spec)
    check_compatible(source, cfg, spec)
    found = modelpath.identify(spec, "init_from")
    path = found.path
    if found.kind == "shipped":
        set_generator_weights(generator, source, path)
        d_file = fileio.join(path, DISCRIMINATOR_FILE)
        if not fileio.isfile(d_file):
            return False
        arrays = read_npz(d_file)
        if [tuple(arrays.get(v.path, np.empty(0)).shape) for v in discriminator.variables] \
                != [tuple(v.shape) for v in discriminator.variables]:
            logging.warning("init_from=%s: its discriminator does not fit this run's; D "
                            "starts from scratch", spec)
            return False
        assign_weights(discriminator, arrays, d_file)
        return True
    if found.kind in ("workdir", "checkpoint"):
        prefix, _ = workdir.resolve_checkpoint(path)
        try:
            tf.train.Checkpoint(generator=generator).restore(prefix) \
                .expect_partial().assert_existing_objects_matched()
        except (AssertionError, ValueError) as e:
            raise UserError(f"init_from={spec}: its generator does not fit this run's model "
                            f"({first_line(e)})") from None
        try:
            tf.train.Checkpoint(discriminator=discriminator).restore(prefix) \
                .expect_partial().assert_existing_objects_matched()
            return True
        except (AssertionError, ValueError) as e:
            logging.warning("init_from=%s: its discriminator does not fit (%s); D starts "
                            "from scratch", spec, first_line(e))
            return False
    module = tf.saved_model.load(path)  # read_config let only a SavedModel through
    saved = list(module.generator_variables)
    if [tuple(v.shape) for v in saved] != [tuple(v.shape) for v in generator.variables]:
        raise UserError(f"init_from={spec}: its generator's weights do not fit this run's "
                        "model")
    for v, w in zip(generator.variables, saved):
        v.assign(w)
    return False  # an export holds G only
