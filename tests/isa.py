"""What the oneDNN kernels of this run can do, for tests that depend on it.

`ONEDNN_MAX_CPU_ISA=AVX2` (.ci/run's agreement pass) makes oneDNN run the kernels of an
older CPU. TensorFlow still reads the CPU itself: on a CPU with AVX512_FP16 it sends fp16
convolutions to oneDNN, which under the cap has no kernel for them and fails ("could not
create a primitive descriptor", an abort inside a training graph). A real AVX2 CPU runs
them in Eigen instead, so under such a cap fp16 compute tests nothing that a real CPU runs.
"""

from __future__ import annotations

import os

import pytest

# oneDNN's ISA names from which on it has fp16 kernels (its ONEDNN_MAX_CPU_ISA values).
_FP16_ISAS = {"ALL", "AVX512_CORE_FP16", "AVX10_1_512", "AVX512_CORE_AMX",
              "AVX10_1_512_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512_AMX_FP16"}


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def fp16_capped() -> bool:
    """Whether ONEDNN_MAX_CPU_ISA takes oneDNN's fp16 kernels away on a CPU that has them."""
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    return bool(isa) and isa not in _FP16_ISAS and "avx512_fp16" in _cpu_flags()


needs_fp16_kernels = pytest.mark.skipif(
    fp16_capped(), reason="ONEDNN_MAX_CPU_ISA leaves oneDNN no fp16 kernel on this fp16 CPU "
    "(tests/isa.py)")
