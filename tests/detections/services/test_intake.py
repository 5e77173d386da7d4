"""Intake: events stored once, pending until applied, and a wake-up that never holds the reply."""

import threading
import time

import pytest
from celery.signals import before_task_publish

from detections.models import PendingEvent, RawEvent
from detections.services import intake
from tests.detections.pending import assert_pending_is_unprocessed
from tests.detections.services.helpers import receive

pytestmark = pytest.mark.django_db


def test_redelivery_gives_no_second_event():
    first = receive(user_id="1", value="CEO")
    again = receive(user_id="1", value="CEO")

    assert (first.status, again.status) == ("accepted", "duplicate")
    assert again.event_id == first.event_id
    assert RawEvent.objects.count() == 1


def test_an_accepted_event_is_pending_until_its_member_is_processed():
    from detections.services.processing import member_events_process

    first = receive(user_id="1", value="CEO")
    receive(user_id="1", value="CEO")  # a duplicate: nothing more is pending
    other = receive(user_id="2", value="CFO")
    receive(user_id="3", field="Nickname", value="Al")  # ignored: never pending

    pending = {p.event_id: p for p in PendingEvent.objects.all()}
    assert set(pending) == {first.event_id, other.event_id}
    assert (pending[first.event_id].user_id, pending[first.event_id].received_at) == (
        "1",
        RawEvent.objects.get(pk=first.event_id).received_at,
    )

    member_events_process(user_id="1")

    assert list(PendingEvent.objects.values_list("event_id", flat=True)) == [other.event_id]
    assert_pending_is_unprocessed()


def test_deleting_an_unprocessed_event_takes_it_off_the_pending_list():
    waiting = receive(user_id="1", value="CEO")

    RawEvent.objects.filter(pk=waiting.event_id).delete()  # what the admin's delete does

    assert not PendingEvent.objects.exists()


def test_intake_asks_for_a_wake_up_only_when_one_is_due_and_it_goes_out_off_the_request_thread(
    monkeypatch, purge_queue
):
    published = []

    def capture(**kwargs):
        published.append(threading.current_thread().name)

    before_task_publish.connect(capture)
    try:
        monkeypatch.setattr(intake, "_next_wake_at", time.monotonic() + 60)  # one is on its way
        intake.events_processing_wake_soon()
        assert intake._wake_in_background.wait_idle(timeout=10)
        assert published == []

        monkeypatch.setattr(intake, "_next_wake_at", 0.0)
        intake.events_processing_wake_soon()
        intake.events_processing_wake_soon()  # the same interval: one publish
        assert intake._wake_in_background.wait_idle(timeout=10)
    finally:
        before_task_publish.disconnect(capture)

    assert published == ["processing-wake"]
    assert intake._next_wake_at > time.monotonic()  # the next ones wait for the interval
