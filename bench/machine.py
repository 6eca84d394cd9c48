"""The machine a benchmark ran on: inference speed here depends on the CPU more than on the
runtime (the same int8 model ran 170-313 messages/s on an AVX2 CPU and about 900 on one with
AVX-512 VNNI), so every benchmark records the CPU model and the flags that pick the kernels."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

# The instruction sets that decide which kernels numpy, onnxruntime and torch pick.
CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8")


def cpu_description() -> dict[str, Any]:
    """The CPU model, the cores this process may use, and which of ``CPU_FLAGS`` it has."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    # "key<tabs>: value" lines; every processor repeats them, the last one wins.
    fields = {
        key.strip(): value.strip()
        for key, value in (line.split(":", 1) for line in info.splitlines() if ":" in line)
    }
    flags = set(fields.get("flags", "").split())
    return {
        "model": fields.get("model name", platform.processor()).strip(),
        "cores": len(os.sched_getaffinity(0)),
        "flags": {flag: flag in flags for flag in CPU_FLAGS},
    }


def cpu_line(cpu: dict[str, Any]) -> str:
    """``cpu_description`` as one Markdown sentence."""
    has = ", ".join(flag for flag, present in cpu["flags"].items() if present) or "none"
    lacks = ", ".join(flag for flag, present in cpu["flags"].items() if not present) or "none"
    return f"CPU: {cpu['model']}, {cpu['cores']} cores; with {has}; without {lacks}."
