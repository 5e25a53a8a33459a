"""Per-client rate limit on creating sessions: a token bucket for each client address.

Without it one client could fill the global ``max_sessions`` cap in seconds (1,000 creates in
~16 s), and then everyone got 429. A bucket holds ``burst`` tokens and refills at ``rate_per_min``;
each create takes one. The defaults (60/min, burst 60) let a class of 30 behind one NAT address
start together. The address is the TCP peer: behind a reverse proxy, run uvicorn with
``--proxy-headers`` and ``--forwarded-allow-ips`` so that it is the client's, not the proxy's.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

MAX_CLIENTS = 100_000  # buckets kept; beyond it, the full (idle) ones are forgotten


class RateLimiter:
    def __init__(
        self, rate_per_min: float, burst: int, clock: Callable[[], float] = time.monotonic
    ):
        self.rate, self.burst, self.clock = rate_per_min / 60.0, max(1, burst), clock
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str) -> float | None:
        """Take one token for ``client``: None if allowed, else seconds until one is free."""
        if self.rate <= 0:  # the limit is off
            return None
        now = self.clock()
        with self._lock:
            tokens, at = self._buckets.get(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens < 1.0:
                self._buckets[client] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[client] = (tokens - 1.0, now)
            if len(self._buckets) > MAX_CLIENTS:
                self._forget_full(now)
            return None

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        full_after = self.burst / self.rate
        self._buckets = {c: v for c, v in self._buckets.items() if now - v[1] < full_after}

    def refusal(self, retry_after: float) -> tuple[str, dict[str, str]]:
        """The 429 message naming the limit, and its Retry-After header."""
        per_min = self.rate * 60.0
        wait = max(1, math.ceil(retry_after))
        message = (
            f"at most {per_min:g} new sessions a minute from one address (bursts of "
            f"{self.burst}); try again in {wait} s"
        )
        return message, {"Retry-After": str(wait)}
