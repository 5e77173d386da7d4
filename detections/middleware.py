"""inSided's usual delivery, answered before the browser-session middleware."""

from django.urls import get_script_prefix, resolve, reverse

from captpathfinder.metrics import request_exception_count

from .api import profile_update_receive_fast


class WebhookFastPathMiddleware:
    """A POST to the webhook URL that `profile_update_receive_fast` recognises is answered here.

    Sessions, CSRF, user authentication, messages and the rest of Django's view handling mean
    nothing to a machine posting JSON with its own credentials, and they were a fifth of the
    webhook's CPU. Anything the fast path does not answer — every error, every other event —
    continues through the whole middleware stack to `CommunityWebhookView`. It sits after the
    request metrics, request id and SecurityMiddleware (HTTPS redirect, security headers), which
    every request passes.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        url = reverse("webhook-community")  # with FORCE_SCRIPT_NAME's prefix, which path_info lacks
        self.match = resolve(url)
        self.path = "/" + url.removeprefix(get_script_prefix())

    def __call__(self, request):
        if request.method == "POST" and request.path_info == self.path:
            request.resolver_match = self.match  # request metrics label the view, as for any request
            try:
                response = profile_update_receive_fast(request)
            except Exception as exc:
                request_exception_count(request, exc)
                raise  # Django answers 500 (handler500) and logs it, as for a view
            if response is not None:
                return response
        return self.get_response(request)
