"""Flags derived from the config dataclasses: one per field, typed, validated once."""

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
from absl import flags

from colorgan import config, config_flags
from colorgan.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = (config.DataConfig, config.ModelConfig, config.LossConfig, config.TrainConfig)


def all_fields():
    return [f for cls in SECTIONS for f in dataclasses.fields(cls)]


def flag_name(field):
    return {v: k for k, v in config_flags.ALIASES.items()}.get(field.name, field.name)


def parse(*args):
    """A fresh FlagValues with the config flags, parsed from `args`."""
    fv = flags.FlagValues()
    config_flags.define(fv)
    fv(["prog", *args])
    return fv


def test_every_field_has_one_flag_with_help_and_no_default():
    fv = parse()
    names = [flag_name(f) for f in all_fields()]
    assert sorted(names) == sorted(fv) and len(set(names)) == len(names)
    for f in all_fields():
        assert f.metadata["help"] and fv[flag_name(f)].default is None, f.name
    assert config_flags.overrides(fv) == {f.name: None for f in all_fields()}


def test_sample_argv_gives_the_expected_config():
    fv = parse("--min_chroma=1.5", "--crop_area=0.5,1", "--dropout=0", "--gan_loss=hinge",
               "--data=samples:val", "--eval_data=samples", "--perceptual_layers=relu1_2",
               "--nosync_batch_norm", "--keep_checkpoints=7", "--beta_1=0.9")
    tiny = config.get_preset("tiny")
    got = config.with_overrides(tiny, config_flags.overrides(fv))
    want = dataclasses.replace(
        tiny,
        data=dataclasses.replace(tiny.data, min_chroma=1.5, crop_area=(0.5, 1.0),
                                 source="samples:val", eval_source="samples"),
        model=dataclasses.replace(tiny.model, dropout=0.0, sync_batch_norm=False),
        loss=dataclasses.replace(tiny.loss, gan_loss="hinge", perceptual_layers=("relu1_2",)),
        train=dataclasses.replace(tiny.train, keep_checkpoints=7, beta_1=0.9))
    assert got == want
    assert isinstance(got.data.crop_area[1], float)


def test_every_default_round_trips_through_its_flag():
    def text(value):
        if isinstance(value, tuple):
            return ",".join(map(str, value))
        return str(value).lower() if isinstance(value, bool) else str(value)

    defaults = config.Config()
    fv = parse(*[f"--{flag_name(f)}={text(f.default)}" for f in all_fields()])
    assert config.with_overrides(config.get_preset("tiny"), config_flags.overrides(fv)) == defaults


@pytest.mark.parametrize("arg,words", [
    ("--gan_loss=wgan", "value should be one of <vanilla|lsgan|hinge>"),
    ("--crop_area=0.5", "needs 2 comma-separated values"),
    ("--crop_area=a,b", "could not convert"),
    ("--steps=many", "invalid literal")])
def test_bad_values_are_one_absl_error(arg, words):
    with pytest.raises(flags.IllegalFlagValueError, match=words):
        parse(arg)


def test_validate_uses_the_flag_choices():
    fv = parse()
    enums = {f.name: f.metadata["choices"] for f in all_fields() if "choices" in f.metadata}
    assert set(enums) == {"gan_loss", "color_space", "encoder", "strategy", "precision",
                          "keep_best"}
    tiny = config.with_overrides(config.get_preset("tiny"), {"eval_every": 2})  # for keep_best
    for name, choices in enums.items():
        assert fv[name].parser.enum_values == list(choices), name
        for choice in choices:  # each offered choice passes validation ...
            config.with_overrides(tiny, {name: choice})
        with pytest.raises(UserError, match=rf"^{name}='nope': choose one of"):  # ... others not
            config.with_overrides(tiny, {name: "nope"})


def test_modules_implement_exactly_the_declared_choices():
    import tensorflow as tf

    from colorgan import color
    from colorgan.train import losses

    assert tuple(color.SPACES) == config.COLOR_SPACES
    logits = tf.zeros([2, 4, 4, 1])
    for kind in config.GAN_LOSSES:
        assert losses.generator_gan_loss(logits, kind).shape == (2,)
        assert losses.discriminator_gan_loss(logits, logits, kind).shape == (2,)


def test_colliding_or_undocumented_fields_fail_at_definition():
    @dataclasses.dataclass(frozen=True)
    class A:
        steps: int = config._field(1, "a")

    @dataclasses.dataclass(frozen=True)
    class B:
        steps: int = config._field(2, "b")

    @dataclasses.dataclass(frozen=True)
    class C:
        data: str = config._field("", "collides with the --data alias of `source`")
        source: str = config._field("", "s")

    @dataclasses.dataclass(frozen=True)
    class D:
        steps: int = 3

    for a, b, words in ((A, B, "flag --steps is already"), (C, C, "flag --data is already"),
                        (D, D, "has no help")):
        cls = dataclasses.make_dataclass("Cfg", [("x", a), ("y", b)])
        with pytest.raises(ValueError, match=words):
            config_flags.config_fields(cls)


def test_train_py_helpfull_lists_every_field_and_a_bad_enum_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "train.py", "--helpfull"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr[-2000:]  # absl's help exits 1
    listed = proc.stdout + proc.stderr
    missing = [flag_name(f) for f in all_fields()
               if f"--{flag_name(f)}:" not in listed and f"--[no]{flag_name(f)}:" not in listed]
    assert not missing
    proc = subprocess.run([sys.executable, "train.py", f"--workdir={tmp_path}", "--gan_loss=wgan"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert [line for line in proc.stderr.splitlines() if "gan_loss" in line] == [
        "FATAL Flags parsing error: flag --gan_loss=wgan: value should be one of "
        "<vanilla|lsgan|hinge>"]
