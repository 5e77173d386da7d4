"""How the OpenAPI schema describes the webhook's authentication (drf-spectacular extension)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class WebhookAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "detections.authentication.WebhookAuthentication"
    name = ["webhookBasic", "standardWebhooks"]

    def get_security_requirement(self, auto_schema):
        return [{"webhookBasic": []}, {"standardWebhooks": []}]  # either one admits a delivery

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "basic",
                "description": "What inSided sends: WEBHOOK_BASIC_AUTH_USERNAME / WEBHOOK_BASIC_AUTH_PASSWORD.",
            },
            {
                "type": "apiKey",
                "in": "header",
                "name": "webhook-signature",
                "description": (
                    "Standard Webhooks: `webhook-id`, `webhook-timestamp` (within 5 minutes) and "
                    "`webhook-signature` (`v1,<base64 HMAC-SHA256>` with the WEBHOOK_SIGNING_SECRET)."
                ),
            },
        ]
