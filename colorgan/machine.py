"""What machine a figure was measured on: CPU model, cores, vector ISA, GPUs, TF version
(bench.py's first line, the restorer's model card)."""

from __future__ import annotations

import os
import platform

import tensorflow as tf


def describe() -> dict:
    info = {}  # the first "model name" and "flags" lines of /proc/cpuinfo
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                info.setdefault(key.strip(), value.strip())
    except OSError:  # not Linux
        pass
    model, flags_line = info.get("model name", platform.processor()), " " + info.get("flags", "")
    isa = [x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16") if f" {x}" in flags_line]
    return {"cpu": model, "cores": os.cpu_count(), "isa": isa,
            "gpus": len(tf.config.list_physical_devices("GPU")), "tensorflow": tf.__version__}
