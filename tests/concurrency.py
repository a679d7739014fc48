"""Run the same call from many threads at once, each with its own database connection."""

import threading
from collections.abc import Callable

from django.db import connections


def run_concurrently(fn: Callable[[int], object], threads: int, timeout: float = 60) -> list:
    """Start `threads` threads behind a barrier so they hit the database together; return each
    thread's result (or the exception it raised), in thread order."""
    barrier = threading.Barrier(threads)
    results: list = [None] * threads

    def worker(i: int):
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # the test inspects what each thread met
            results[i] = exc
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout)
    assert not any(t.is_alive() for t in pool), "a thread hung"
    return results
