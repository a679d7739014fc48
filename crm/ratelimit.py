"""Attempt limits counted in the shared cache (Redis in production, see crm.checks), so every web
process sees the same count: at most `limit` attempts per key within a fixed window."""

import contextlib
import hashlib
import math
import time

from django.core.cache import cache

from .exceptions import TooManyAttempts


class AttemptLimit:
    def __init__(self, name: str, *, limit: int, window: int):
        self.name, self.limit, self.window = name, limit, window

    def _keys(self, key: str) -> tuple[str, str]:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        return f"limit:{self.name}:{digest}:n", f"limit:{self.name}:{digest}:t"

    def take(self, key: str) -> None:
        """Count one attempt; TooManyAttempts (with the seconds until the window ends) past the limit.
        Counting before the attempt is judged keeps concurrent attempts within the limit too."""
        count_key, start_key = self._keys(key)
        now = time.time()
        cache.add(start_key, now, timeout=self.window)
        cache.add(count_key, 0, timeout=self.window)
        try:
            count = cache.incr(count_key)
        except ValueError:  # the window ended between add and incr
            cache.set(count_key, 1, timeout=self.window)
            count = 1
        if count > self.limit:
            started = cache.get(start_key) or now
            raise TooManyAttempts(retry_after=max(1, math.ceil(started + self.window - now)))

    def check(self, key: str) -> None:
        """TooManyAttempts if the limit is reached, counting nothing: one cache read, for a path whose
        attempts mostly succeed and are counted (take) only when they fail. Attempts judged at the
        same instant may then each pass the check: the limit can be overrun by the caller's
        concurrency (a few), never by more."""
        count_key, start_key = self._keys(key)
        values = cache.get_many([count_key, start_key])
        if values.get(count_key, 0) >= self.limit:
            now = time.time()
            started = values.get(start_key) or now
            raise TooManyAttempts(retry_after=max(1, math.ceil(started + self.window - now)))

    def give_back(self, key: str) -> None:
        """The attempt succeeded: it does not count against the limit."""
        count_key, _start_key = self._keys(key)
        with contextlib.suppress(ValueError):  # the window has just ended
            cache.decr(count_key)
