"""Where deliveries go: the Automation Anywhere Control Room, or the console in development."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from integrations.automation_anywhere.client import ControlRoomClient, ControlRoomError

from .models import Channel, DigestDelivery

logger = logging.getLogger(__name__)


class DeliveryError(Exception):
    """The delivery did not go out; the message is what operators see as its last error."""


class ControlRoomBackend:
    """Runs the email or Teams bot with the delivery's content as the bot's input variables. The
    deploy only queues the run: whether it sent is read from the Control Room later (digests.runs)."""

    reports_runs = True

    def send(self, delivery: DigestDelivery) -> str:
        bot_id, inputs = self.bot_request(delivery)
        if not bot_id:
            raise DeliveryError(f"AA_{delivery.channel.upper()}_BOT_ID is not set")
        if not settings.AA_CONTROL_ROOM_URL:
            raise DeliveryError("AA_CONTROL_ROOM_URL is not set")
        try:
            return ControlRoomClient().deploy(bot_id=bot_id, automation_name=delivery.automation_name, inputs=inputs)
        except ControlRoomError as exc:
            raise DeliveryError(str(exc)) from exc

    @staticmethod
    def bot_request(delivery: DigestDelivery) -> tuple[int, dict[str, str]]:
        content = delivery.content
        if delivery.channel == Channel.EMAIL:
            return settings.AA_EMAIL_BOT_ID, {
                settings.AA_EMAIL_INPUT_RECIPIENTS: ";".join(content["recipients"]),
                settings.AA_EMAIL_INPUT_SUBJECT: content["subject"],
                settings.AA_EMAIL_INPUT_HTML: content["html"],
                settings.AA_EMAIL_INPUT_TEXT: content["text"],
            }
        return settings.AA_TEAMS_BOT_ID, {
            settings.AA_TEAMS_INPUT_WEBHOOK_URL: content["webhook_url"],
            settings.AA_TEAMS_INPUT_MESSAGE: json.dumps(content["message"], ensure_ascii=False, separators=(",", ":")),
        }


class ConsoleBackend:
    """Development: log the delivery and keep a copy in var/outbox/ instead of calling AA."""

    reports_runs = False

    def send(self, delivery: DigestDelivery) -> str:
        outbox = settings.VAR_DIR / "outbox"
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{delivery.automation_name}.json"
        path.write_text(json.dumps(delivery.content, indent=2, ensure_ascii=False), encoding="utf-8")
        summary = delivery.content.get("subject") or "Teams card"
        logger.info("console digest delivery %s: %s (written to %s)", delivery.pk, summary, path)
        return f"console-{delivery.pk}"


BACKENDS = {"aa": ControlRoomBackend, "console": ConsoleBackend}


def backend_get():
    try:
        return BACKENDS[settings.DIGEST_BACKEND]()
    except KeyError:
        raise ImproperlyConfigured(f"DIGEST_BACKEND must be one of {', '.join(BACKENDS)}") from None
