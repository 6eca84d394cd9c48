"""How a server process runs the models: on one thread, concurrent requests batched, large
buffers given back.

The thread and the buffers counter a server's memory creeping up under load while the models
stay the same size; the batcher turns concurrent requests into one forward pass.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")
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


class MicroBatcher(Generic[T, R]):
    """Runs the items of concurrent calls as batches of up to ``max_batch`` on the model thread.

    Each call waits for its own results. Items that arrive while a batch runs form the next
    batch, so batching adds no waiting when the app is idle and fills batches under load. It
    replaces Gradio's ``batch=True``, under which one ``gradio_client.Client`` shared by many
    threads lost requests (``CancelledError``); behind a plain endpoint none were lost.
    """

    def __init__(self, run_batch: Callable[[list[T]], Sequence[R]], max_batch: int) -> None:
        self.run_batch, self.max_batch = run_batch, max_batch
        self._pending: list[tuple[T, Future[R]]] = []
        self._lock = threading.Lock()
        self._scheduled = False  # a drain is queued on, or running on, the model thread

    def __call__(self, items: Sequence[T]) -> list[R]:
        if not items:
            return []
        futures: list[Future[R]] = [Future() for _ in items]
        with self._lock:
            self._pending.extend(zip(items, futures, strict=True))
            if not self._scheduled:
                self._scheduled = True
                _MODEL_THREAD.submit(self._run_one_batch)
        return [future.result() for future in futures]

    def _run_one_batch(self) -> None:
        """One batch, then the next turn is queued behind whatever model work came meanwhile
        (a topic request, an explanation), which a loop here would starve."""
        with self._lock:
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
        try:
            results = self.run_batch([item for item, _ in batch])
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)
        except Exception as err:  # every caller of the batch gets the error, none waits forever
            for _, future in batch:
                if not future.done():
                    future.set_exception(err)
        with self._lock:
            self._scheduled = bool(self._pending)
            if self._scheduled:
                _MODEL_THREAD.submit(self._run_one_batch)


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
