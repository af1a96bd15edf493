"""Command-line flags derived from the config dataclasses: one absl flag per field.

Each field is declared once, in config.py, with its help text (and, for a choice, its
choices) in `dataclasses.field(metadata=...)`. `define()` makes a flag of the same name
whose type follows the annotation: int, float, str, bool, an enum where there are
choices, and comma-separated tuples (`--crop_area=0.35,1.0`). Every default is None,
meaning "the preset's value", so `overrides()` feeds `config.with_overrides` directly.
No TensorFlow import here: `train.py --helpfull` stays instant.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from absl import flags

from colorgan import config

# Flag name -> config field, where the user-facing name (README, Makefile) predates the field's.
ALIASES = {"data": "source", "eval_data": "eval_source"}

_SCALARS = {bool: flags.DEFINE_bool, int: flags.DEFINE_integer, float: flags.DEFINE_float,
            str: flags.DEFINE_string}


class _TupleParser(flags.ArgumentParser):
    """"0.5,1" -> (0.5, 1.0): comma-separated items of one type, exactly `length` if given."""

    def __init__(self, item_type: type, length: int | None):
        self.item_type, self.length = item_type, length

    def parse(self, argument):
        if isinstance(argument, tuple):
            return argument
        items = tuple(self.item_type(x.strip()) for x in argument.split(",") if x.strip())
        if self.length is not None and len(items) != self.length:
            raise ValueError(f"needs {self.length} comma-separated values, got {len(items)}")
        return items

    def flag_type(self):
        return f"tuple of {self.item_type.__name__}"


def config_fields(cls: type = config.Config) -> dict[str, tuple[dataclasses.Field, Any]]:
    """Flag name -> (field, its resolved type) for every field of every section of `cls`.

    Raises ValueError when two fields (or a field and an alias) would share a flag name:
    `with_overrides` finds a field by its name alone, so names must be unique.
    """
    to_flag = {name: flag for flag, name in ALIASES.items()}
    out: dict[str, tuple[dataclasses.Field, Any]] = {}
    for section, section_cls in typing.get_type_hints(cls).items():
        hints = typing.get_type_hints(section_cls)
        for f in dataclasses.fields(section_cls):
            name = to_flag.get(f.name, f.name)
            if name in out:
                raise ValueError(f"config field {section}.{f.name}: flag --{name} is already "
                                 f"the flag of {out[name][0].name}; rename one of them")
            if not f.metadata.get("help"):
                raise ValueError(f"config field {section}.{f.name} has no help: declare it "
                                 "with config._field(default, help)")
            out[name] = (f, hints[f.name])
    return out


def _define(name: str, f: dataclasses.Field, kind: Any, default: Any,
            flag_values: flags.FlagValues) -> None:
    text, choices = f.metadata["help"], f.metadata.get("choices")
    if choices:
        flags.DEFINE_enum(name, default, list(choices), text, flag_values=flag_values)
    elif kind in _SCALARS:
        _SCALARS[kind](name, default, text, flag_values=flag_values)
    elif typing.get_origin(kind) is tuple:
        args = typing.get_args(kind)  # (str, ...) or (float, float)
        length = None if args[-1] is Ellipsis else len(args)
        flags.DEFINE(_TupleParser(args[0], length), name, default, text,
                     flag_values=flag_values, serializer=flags.CsvListSerializer(","))
    else:
        raise TypeError(f"config field {f.name}: no flag type for {kind}")


def define(flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines one flag per config field in `flag_values`, each defaulting to None."""
    for name, (f, kind) in config_fields().items():
        _define(name, f, kind, None, flag_values)


def define_flat(cls: type, flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """One flag per field of the flat dataclass `cls` (e.g. config.RenderConfig), each
    defaulting to the field's default. A nested dataclass field (RestorerConfig.degrade)
    gets no flag: it keeps its default."""
    for f, kind in _flat_fields(cls):
        _define(f.name, f, kind, f.default, flag_values)


def _flat_fields(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f, hints[f.name]) for f in dataclasses.fields(cls)
            if not dataclasses.is_dataclass(hints[f.name])]


def flat_values(cls: type, flag_values: flags.FlagValues = flags.FLAGS) -> Any:
    """`cls` built from the flags `define_flat` made."""
    return cls(**{f.name: flag_values[f.name].value for f, _ in _flat_fields(cls)})


def overrides(flag_values: flags.FlagValues = flags.FLAGS) -> dict[str, Any]:
    """Field name -> its flag's value (None where unset), for `config.with_overrides`."""
    return {f.name: flag_values[name].value for name, (f, _) in config_fields().items()}


def post_processing_flags(flag_values: flags.FlagValues = flags.FLAGS) -> dict[str, Any]:
    """The post-processing flags (config.RenderConfig's flip, chroma_smooth, chroma_gain)
    that colorize.py / evaluate.py were given, validated; {} = none given: the model then
    renders as it was made to (an export as exported, anything else with the defaults)."""
    render = flat_values(config.RenderConfig, flag_values)  # validates every value
    return {name: value for name, value in render.post_processing().items()
            if flag_values[name].present}


def as_flags(post_processing: dict[str, Any]) -> str:
    """{"flip": True, "chroma_gain": 1.11} -> "--flip --chroma_gain=1.11"."""
    return " ".join((f"--{k}" if v else f"--no{k}") if isinstance(v, bool) else f"--{k}={v}"
                    for k, v in post_processing.items())
