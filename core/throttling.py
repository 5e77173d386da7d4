"""Rate limits on the shared cache (Redis when REDIS_URL is set).

DRF's SimpleRateThrottle keeps every request's timestamp in one cache entry and rewrites it on
each request: at the webhook's rates (thousands a minute) that entry grows to thousands of
items. These throttles count in fixed windows with one atomic increment per request instead,
in one round trip to Redis on a client kept per process (Django's Redis cache builds a new
client object on every call, which cost more than the whole increment).
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cache

import redis
from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.backoff import Backoff

logger = logging.getLogger(__name__)


@cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


# After Redis failed, counting skips it for a while: a Redis that does not answer at all costs the
# request that tries up to the socket timeout (1 s), and every process would otherwise pay it again
# on its next round trip.
_redis_backoff = Backoff(5.0)


def _shared_increment(key: str, amount: int, ttl: int) -> int:
    """Add `amount` to the window's shared count and return the new total (0 while Redis is down)."""
    if settings.REDIS_URL:
        if _redis_backoff.active():
            return 0
        pipe = _redis_client(settings.REDIS_URL).pipeline(transaction=False)
        pipe.incrby(key, amount)
        pipe.expire(key, ttl)
        try:
            count, _ = pipe.execute()
        except redis.RedisError:
            # Redis down: let the request through. A webhook must still be stored (and the API
            # still answer) during a cache outage; limits resume when Redis is back.
            _redis_backoff.failed()
            logger.warning("rate limiting skipped for %.0f s: Redis unavailable", _redis_backoff.seconds, exc_info=True)
            return 0
        return count
    from django.core.cache import cache as django_cache

    django_cache.add(key, 0, timeout=ttl)
    try:
        return django_cache.incr(key, amount)
    except ValueError:  # expired between add and incr
        django_cache.set(key, amount, timeout=ttl)
        return amount


# key -> [requests not yet sent, last known shared total, when last sent]; guarded by _local_lock,
# because a web process serves requests on several threads.
_local: dict[str, list] = {}
_local_lock = threading.Lock()
_SEND_AT_LEAST_EVERY_SECONDS = 0.5


def local_counts_clear() -> None:
    """Forget the counts not yet sent and any Redis outage (tests start each from a clean cache)."""
    with _local_lock:
        _local.clear()
    _redis_backoff.reset()


def window_count(key: str, ttl: int, *, batch: int) -> int:
    """Count one request in `key`'s window; return the window's total as far as this process knows.

    A busy limit (the webhook's, thousands a minute) sends its count every `batch` requests
    or half second, one round trip per batch instead of per request; the total may then lag
    by up to `batch` requests per process. Small limits use batch 1 and are exact.

    The requests to send are taken out under the lock before the round trip. Without the lock,
    a thread counting while another was sending sent the same requests again, or its count was
    reset unsent: a process with four threads answered 429 at 1,000 webhooks/s against a limit
    of 2,000/s (`make bench`), and the threaded test below loses or repeats counts.
    """
    with _local_lock:
        entry = _local.get(key)
        if entry is None:
            if len(_local) > 1000:  # windows roll over: forget the old ones
                _local.clear()
            entry = _local[key] = [0, 0, float("-inf")]  # a new window: its first request reads the total
        entry[0] += 1
        now = time.monotonic()
        if entry[0] < batch and now - entry[2] < _SEND_AT_LEAST_EVERY_SECONDS:
            return entry[1] + entry[0]
        amount, entry[0], entry[2] = entry[0], 0, now
    total = _shared_increment(key, amount, ttl)
    with _local_lock:
        entry[1] = max(entry[1], total)  # round trips may return out of order; a window only grows
        return entry[1] + entry[0]


class FixedWindowRateThrottle(SimpleRateThrottle):
    window_end: float = 0.0

    def get_rate(self):
        # Read when used, not when the class was imported, so a changed setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.window_end = (window + 1) * self.duration
        batch = max(1, min(50, self.num_requests // 200))
        count = window_count(f"captpathfinder:{self.key}:{window}", int(self.duration) + 1, batch=batch)
        return count <= self.num_requests

    def wait(self) -> float:
        return max(self.window_end - self.timer(), 1.0)


class UserRateThrottle(FixedWindowRateThrottle):
    """Per authenticated user (one staff user per API token)."""

    scope = "user"

    def get_cache_key(self, request, view):
        user = request.user
        if not (user and getattr(user, "is_authenticated", False) and getattr(user, "pk", None)):
            return None
        return self.cache_format % {"scope": self.scope, "ident": user.pk}


class IPRateThrottle(FixedWindowRateThrottle):
    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UnauthenticatedRateThrottle(IPRateThrottle):
    """Per client IP, for requests that arrive without credentials or with wrong ones."""

    scope = "unauthenticated"


class WebhookRateThrottle(IPRateThrottle):
    """Per sending IP on the community webhook."""

    scope = "webhook"
