"""A per-key rate limit: a token bucket in memory, one per API key.

A till sends a request per sale; a key far past that is a loop or a flood, and the answer is
429 with ``Retry-After`` rather than the database's time. Each process keeps its own buckets, so
behind a load balancer the limit is per key per process.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

RATE = 20.0  # requests per second a key may keep up
BURST = 40  # requests a key may send at once after a quiet moment


class RateLimiter:
    """Token buckets by key id: ``take`` spends one token or says how long until there is one."""

    def __init__(
        self, rate: float = RATE, burst: int = BURST, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # key id -> (tokens, when counted)

    def take(self, key_id: int) -> int:
        """0 if the request may go now, else the whole seconds to wait (for ``Retry-After``)."""
        now = self._clock()
        tokens, then = self._buckets.get(key_id, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens < 1:
            self._buckets[key_id] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))
        self._buckets[key_id] = (tokens - 1, now)
        return 0
