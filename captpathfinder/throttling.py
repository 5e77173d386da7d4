"""Rate limits on the shared cache (Redis when REDIS_URL is set).

DRF's SimpleRateThrottle keeps every request's timestamp in one cache entry and rewrites it on
each request: at the webhook's rates (thousands a minute) that entry grows to thousands of
items. These throttles count in fixed windows with one atomic increment per request instead,
in one round trip to Redis on a client kept per process (Django's Redis cache builds a new
client object on every call, which cost more than the whole increment).
"""

from __future__ import annotations

import logging
from functools import cache

import redis
from django.conf import settings
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


@cache
def _redis_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def window_increment(key: str, ttl: int) -> int:
    """Count one more in `key`'s window and return the count."""
    if settings.REDIS_URL:
        pipe = _redis_client(settings.REDIS_URL).pipeline(transaction=False)
        pipe.incr(key)
        pipe.expire(key, ttl)
        try:
            count, _ = pipe.execute()
        except redis.RedisError:
            # Redis down: let the request through. A webhook must still be stored (and the API
            # still answer) during a cache outage; limits resume when Redis is back.
            logger.warning("rate limiting skipped: Redis unavailable", exc_info=True)
            return 0
        return count
    from django.core.cache import cache as django_cache

    django_cache.add(key, 0, timeout=ttl)
    try:
        return django_cache.incr(key)
    except ValueError:  # expired between add and incr
        django_cache.set(key, 1, timeout=ttl)
        return 1


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
        count = window_increment(f"captpathfinder:{self.key}:{window}", int(self.duration) + 1)
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
