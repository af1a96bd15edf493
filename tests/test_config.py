import dataclasses
import json

import pytest

from colorgan import config
from colorgan.errors import UserError


def test_presets_are_valid_and_distinct():
    for name in ("pix2pix", "demo", "tiny"):
        config.validate(config.get_preset(name))
    paper = config.get_preset("pix2pix")
    assert (paper.data.image_size, paper.model.base_filters, paper.loss.lambda_l1) == (256, 64, 100)
    assert (paper.train.g_learning_rate, paper.train.beta_1) == (2e-4, 0.5)
    assert config.get_preset("tiny").data.image_size <= 64


def test_overrides_reach_their_section_and_none_keeps_the_preset():
    cfg = config.with_overrides(config.get_preset("demo"),
                                {"image_size": 32, "steps": 7, "lambda_l1": 10.0, "seed": None})
    assert cfg.data.image_size == 32 and cfg.train.steps == 7 and cfg.loss.lambda_l1 == 10.0
    assert cfg.train.seed == config.get_preset("demo").train.seed
    assert json.loads(cfg.to_json())["train"]["steps"] == 7


@pytest.mark.parametrize("field,value,match", [
    ("image_size", 48, "power of two"), ("image_size", 16, "power of two"),
    ("batch_size", 0, "batch_size"), ("strategy", "gpu", "strategy"), ("precision", "fp8", "precision"),
    ("crop_area", (0.5, 0.2), "crop_area"), ("gan_loss", "wgan", "gan_loss='wgan': choose one of"),
    ("no_such_field", 1, "unknown config field")])
def test_bad_settings_name_the_field(field, value, match):
    with pytest.raises(UserError, match=match):
        config.with_overrides(config.get_preset("tiny"), {field: value})


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.get_preset("tiny").train.steps = 3


def test_unknown_preset_names_the_choices():
    with pytest.raises(UserError) as e:
        config.get_preset("nope")
    assert str(e.value) == f"preset='nope' is unknown; choose one of {sorted(config.PRESETS)}"
