"""inSided's usual delivery, answered ahead of Django's request handling.

A valid profile update is nine in ten of the service's requests. Django's handler wraps it in
eleven middleware layers and their exception guards, and the middleware that matters for a
machine posting JSON with its own credentials — request metrics, the request id, the security
headers — is a small part of that: measured in one granian process, the handler and its
middleware cost a fifth of the web process's CPU per webhook. `WebhookFastLane` wraps the Django
WSGI application: for a POST to the webhook URL it runs those three middlewares' hooks, the
request signals and `profile_update_receive_fast`; anything the fast path does not answer (every
error, every other event) goes to Django untouched, with the body it read put back.
"""

from __future__ import annotations

import io

from django.core import signals
from django.core.handlers.exception import response_for_exception
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.middleware.security import SecurityMiddleware
from django.urls import get_script_prefix, resolve, reverse, set_script_prefix
from django_guid.middleware import process_incoming_request, process_outgoing_request

from captpathfinder.metrics import request_exception_count, request_observe, request_timer

from .api import profile_update_receive_fast


class WebhookFastLane:
    def __init__(self, django_application) -> None:
        self.django_application = django_application
        url = reverse("webhook-community")  # with FORCE_SCRIPT_NAME's prefix, which PATH_INFO lacks
        self.match = resolve(url)
        self.path = "/" + url.removeprefix(get_script_prefix())
        # Only its hooks are called: the HTTPS redirect check and the security headers.
        self.security = SecurityMiddleware(self.django_application)

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != self.path:
            return self.django_application(environ, start_response)
        set_script_prefix(get_script_name(environ))
        signals.request_started.send(sender=self.__class__, environ=environ)
        request = WSGIRequest(environ)
        response = self._respond(request)
        if response is None:
            # Django's handler answers with a request of its own; it sends request_started again,
            # which only resets query logging and checks connections.
            return self.django_application(_rewound(environ, request), start_response)
        content = response.content
        response.close()  # request_finished: connections checked, the request id cleared
        start_response(f"{response.status_code} {response.reason_phrase}", list(response.items()))
        return [content]

    def _respond(self, request):
        """The fast path's response with the middleware's headers and metrics, or None."""
        if self.security.process_request(request) is not None:
            return None  # an HTTPS redirect: Django's SecurityMiddleware words it
        started = request_timer()
        request.resolver_match = self.match  # request metrics label the view, as for any request
        process_incoming_request(request)
        try:
            response = profile_update_receive_fast(request)
        except Exception as exc:
            request_exception_count(request, exc)
            response = response_for_exception(request, exc)  # Django's 500: handler500, logged
        if response is None:
            return None
        process_outgoing_request(response, request)
        self.security.process_response(request, response)
        request_observe(request, response, started)
        return response


def _rewound(environ: dict, request: WSGIRequest) -> dict:
    """The environ with the body the fast path read put back for Django to read again."""
    if hasattr(request, "_body"):  # how Django's HttpRequest.body itself tells a read body
        environ["wsgi.input"] = io.BytesIO(request.body)
    return environ
