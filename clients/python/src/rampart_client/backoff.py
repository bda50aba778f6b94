"""Exponential backoff with ±20% jitter, as the server's retries and breakers use it."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Delays of ``initial * factor ** (n - 1)`` seconds, at most ``maximum``, each within ±``jitter``."""

    initial: float = 0.1
    factor: float = 2.0
    maximum: float = 5.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        """The pause after the ``attempt``-th failure (from 1)."""
        base = min(self.maximum, self.initial * self.factor ** max(0, min(attempt - 1, 64)))
        return max(0.0, base * random.uniform(1 - self.jitter, 1 + self.jitter))


#: Between attempts of a safe call: 1 s, 2 s, then 4 s at most (the server's ``CALL_BACKOFF``).
CALL_BACKOFF = Backoff(initial=1.0, maximum=4.0)

#: Between tries of a request the server refused for now (429, 5xx, no connection).
REQUEST_BACKOFF = Backoff(initial=0.25, maximum=4.0)

#: Between polls of a worker that cannot reach the server: it never gives up.
RECONNECT_BACKOFF = Backoff(initial=0.2, maximum=5.0)
