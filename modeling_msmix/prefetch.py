"""Run an iterator in a background thread, a bounded number of items ahead of its consumer.

Decoding and face detection (OpenCV) and the encoders (torch) release the GIL, so the next
frames of a clip are decoded and cropped while the current batch is encoded. The queue holds at
most ``depth`` items, which keeps memory bounded.
"""

from __future__ import annotations

import threading
from queue import Empty, Full, Queue
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` in order, produced in a background thread at most ``depth`` ahead.

    An exception raised while producing is raised in the consumer at the same position; a
    consumer that stops early stops the producer after its current item.
    """
    queue: Queue = Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                queue.put(entry, timeout=0.05)
                return True
            except Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            put((_END, error))
            return
        put((_END, None))

    thread = threading.Thread(target=produce, name="prefetch", daemon=True)
    thread.start()
    try:
        while True:
            try:
                item, error = queue.get(timeout=0.05)
            except Empty:
                if not thread.is_alive() and queue.empty():
                    raise RuntimeError("the prefetch thread ended without a result") from None
                continue
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        thread.join()
