"""The webhook in the OpenAPI schema (a drf-spectacular postprocessing hook).

The webhook is a plain Django view (detections.webhook), which drf-spectacular does not see; this
hook adds its two paths, generated from the pydantic models it validates with.
"""

from django.conf import settings
from django.urls import get_script_prefix, reverse
from pydantic.json_schema import models_json_schema

from .payloads import ProfileUpdated, UserRegistered, WebhookError, WebhookReply
from .webhook import PAYLOADS

_SECURITY_SCHEMES = {
    "webhookBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "What inSided sends: WEBHOOK_BASIC_AUTH_USERNAME / WEBHOOK_BASIC_AUTH_PASSWORD.",
    },
    "standardWebhooks": {
        "type": "apiKey",
        "in": "header",
        "name": "webhook-signature",
        "description": (
            "Standard Webhooks: `webhook-id`, `webhook-timestamp` (within 5 minutes) and "
            "`webhook-signature` (`v1,<base64 HMAC-SHA256>` with the WEBHOOK_SIGNING_SECRET)."
        ),
    },
}
_ERRORS = {
    "400": (
        "A Host header outside ALLOWED_HOSTS, malformed JSON, an empty or non-object body, a body shorter than its "
        "Content-Length, invalid fields, or a webhook-id over 255 characters. Nothing is stored."
    ),
    "401": "Missing or wrong Basic credentials, or a bad or stale signature. Nothing is stored.",
    "404": "Unknown event name.",
    "405": "Not a POST.",
    "411": "A chunked body where the server cannot mark its end (granian can). Nothing is stored.",
    "415": "Content type is not application/json.",
    "429": "Too many deliveries from this address; see Retry-After.",
    "503": "The database is unavailable; nothing was stored. Retry after Retry-After seconds.",
}


def _ref(model) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(operation_id: str, summary: str, request: dict, parameters: list | None = None) -> dict:
    errors = {**_ERRORS, "413": f"Body larger than WEBHOOK_MAX_BODY_BYTES ({settings.WEBHOOK_MAX_BODY_BYTES} bytes)."}
    accepted = "Stored, recognised as a repeat, or ignored (a field that is not tracked)."
    responses = {"202": {"description": accepted, "content": _json(WebhookReply)}}
    responses.update({code: {"description": text, "content": _json(WebhookError)} for code, text in errors.items()})
    return {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["webhook"],
        "security": [{"webhookBasic": []}, {"standardWebhooks": []}],  # either one admits a delivery
        "parameters": parameters or [],
        "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
        "responses": responses,
    }


def _json(model) -> dict:
    return {"application/json": {"schema": _ref(model)}}


def webhook_paths(result, generator, request, public):
    """Add POST /webhooks/community and /webhooks/community/{event_name} to the generated schema."""
    models = [(ProfileUpdated, "validation"), (UserRegistered, "validation")]
    models += [(WebhookReply, "serialization"), (WebhookError, "serialization")]
    _, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    components = result.setdefault("components", {})
    components.setdefault("schemas", {}).update(definitions["$defs"])
    components.setdefault("securitySchemes", {}).update(_SECURITY_SCHEMES)
    event_name = {
        "name": "event_name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": list(PAYLOADS)},
        "description": "The inSided event the subscription is for.",
    }
    url = "/" + reverse("webhook-community").removeprefix(get_script_prefix())
    result["paths"][url] = {
        "post": _operation(
            "webhooks_community", "An integration.UserProfileUpdated delivery from inSided.", _ref(ProfileUpdated)
        )
    }
    result["paths"][f"{url}/{{event_name}}"] = {
        "post": _operation(
            "webhooks_community_event",
            "A delivery of the event named in the path (one URL per inSided subscription).",
            {"oneOf": [_ref(model) for model in PAYLOADS.values()]},
            [event_name],
        )
    }
    return result
