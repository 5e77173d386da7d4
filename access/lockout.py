"""The admin login's lockout (django-axes): which address a login comes from."""

from rest_framework.throttling import BaseThrottle


def client_ip(request) -> str:
    """The client's address as the API's rate limits see it: REMOTE_ADDR, or behind NUM_PROXIES
    trusted proxies the address the outermost of them saw (X-Forwarded-For). One rule for both,
    so a client cannot pick its own address with a forged header."""
    return BaseThrottle().get_ident(request)
