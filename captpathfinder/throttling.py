"""Rate limits on the shared cache (Redis when REDIS_URL is set).

DRF's SimpleRateThrottle keeps every request's timestamp in one cache entry and rewrites it on
each request: at the webhook's rates (thousands a minute) that entry grows to thousands of
items. These throttles count in fixed windows with one atomic increment per request instead.
"""

from __future__ import annotations

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


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
        key = f"{self.key}:{window}"
        self.cache.add(key, 0, timeout=self.duration + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # expired between add and incr
            self.cache.set(key, 1, timeout=self.duration + 1)
            count = 1
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
