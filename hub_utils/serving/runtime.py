"""How a server process runs the models: on one thread, with large buffers given back.

Both counter the same problem: a server's memory creeping up under load while the models
themselves stay the same size.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_MODEL_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
_M_MMAP_THRESHOLD = -3  # mallopt parameter, from glibc's malloc.h


def run_model(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` run on the one thread that does all model work; returns its result.

    Gradio calls handlers on worker threads that it starts and stops as load changes, and
    native libraries (torch, MKL, tokenizers) keep buffers per thread: run there, the app's
    memory grew by tens of KB per request without end. One thread also runs forward passes
    one at a time, which is all two cores can do, and keeps ``torch.set_num_threads`` calls
    from racing.
    """
    return _MODEL_THREAD.submit(function, *args).result()


def return_large_frees_to_the_system(threshold: int = 1 << 20) -> None:
    """Serve allocations of ``threshold`` bytes or more with mmap, so that freeing them gives
    the memory back to the system at once.

    By default glibc raises that threshold after each large free and keeps such blocks in its
    heap, where fragmentation strands them: under 32 clients the app's peak memory climbed
    past 1.6 GB instead of staying near 1.4 GB. No-op where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(_M_MMAP_THRESHOLD, threshold)
