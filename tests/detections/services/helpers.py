"""Events as intake stores them, for the service tests."""

from detections.models import RawEvent
from detections.services.intake import IncomingEvent, event_receive


def receive(user_id="2000", value="VP of Sales", old_value="", field="Job Title", username=None, **payload_extra):
    payload = {"userId": user_id, "profileField": field, "value": value, "oldValue": old_value, **payload_extra}
    incoming = IncomingEvent(
        event_type=RawEvent.EventType.PROFILE_UPDATED,
        user_id=user_id,
        username=f"Member {user_id}" if username is None else username,
        field=field,
        value=value,
        old_value=old_value,
        payload=payload,
    )
    return event_receive(incoming=incoming)


def register(user_id):
    incoming = IncomingEvent(
        event_type=RawEvent.EventType.USER_REGISTERED, user_id=str(user_id), payload={"userId": user_id}
    )
    return event_receive(incoming=incoming)


def send(history, previous=None):
    """Deliver (user_id, field, value) in order; `previous` carries each field's last value across
    calls (the oldValue)."""
    previous = {} if previous is None else previous
    for user_id, field, value in history:
        receive(user_id=user_id, field=field, value=value, old_value=previous.get((user_id, field), ""))
        previous[(user_id, field)] = value
