"""What the oneDNN kernels of this run can do, for tests that depend on it.

`ONEDNN_MAX_CPU_ISA=AVX2` (.ci/run's agreement pass) makes oneDNN run the kernels of an
older CPU. TensorFlow still reads the CPU itself: on a CPU with AVX-512 it sends bf16
convolutions to oneDNN, and on one with AVX512_FP16 fp16 ones, and under the cap oneDNN
has no kernel for them ("could not create a primitive descriptor"; inside a training
graph, an abort of the whole process). A real AVX2 CPU runs them in Eigen instead, so
under such a cap bf16 or fp16 compute tests nothing that a real CPU runs: those tests
skip (docs/notes/tests.md).
"""

from __future__ import annotations

import os

import pytest

# oneDNN's ONEDNN_MAX_CPU_ISA values, oldest first; each takes what is before it.
_ORDER = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE",
          "AVX512_CORE_VNNI", "AVX512_CORE_BF16", "AVX10_1_512", "AVX512_CORE_FP16",
          "AVX512_CORE_AMX", "AVX10_1_512_AMX", "AVX512_CORE_AMX_FP16",
          "AVX10_1_512_AMX_FP16", "ALL")
# The oldest ISA with kernels for each dtype, and the CPU flag that makes TF use them.
_NEEDS = {"bfloat16": ("AVX512_CORE", "avx512f"), "float16": ("AVX10_1_512", "avx512_fp16")}


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def capped(dtype: str) -> bool:
    """Whether ONEDNN_MAX_CPU_ISA takes oneDNN's `dtype` kernels away on a CPU for which
    TensorFlow sends that dtype to oneDNN."""
    isa = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    oldest, flag = _NEEDS[dtype]
    if not isa or isa not in _ORDER or flag not in _cpu_flags():
        return False
    return _ORDER.index(isa) < _ORDER.index(oldest)


def _skip(dtype: str):
    return pytest.mark.skipif(capped(dtype), reason=f"ONEDNN_MAX_CPU_ISA leaves oneDNN no "
                              f"{dtype} kernel that TensorFlow would use here (tests/isa.py)")


needs_bf16_kernels = _skip("bfloat16")
needs_fp16_kernels = _skip("float16")
