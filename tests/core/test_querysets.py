"""core.querysets.keyset_chunks: every row once, in order, across chunk boundaries that fall
inside a run of equal first keys, one query per chunk."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.querysets import keyset_chunks
from detections.models import Detection, SeniorMember
from tests.factories import DetectionFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db

NOON = datetime(2026, 12, 9, 17, 0, tzinfo=UTC)


def test_rows_come_once_each_in_order_when_a_chunk_ends_among_equal_keys():
    # Seven detections, five of them at the same moment: chunks of two split that run three times.
    moments = [NOON, NOON, NOON, NOON, NOON, NOON + timedelta(seconds=1), NOON - timedelta(seconds=1)]
    for moment in moments:
        DetectionFactory(detected_at=moment)
    rows = Detection.objects.values_list("detected_at", "id")
    expected = list(rows.order_by("detected_at", "id"))

    with CaptureQueriesContext(connection) as queries:
        read = list(keyset_chunks(rows, order=("detected_at", "id"), key_of=lambda row: row, chunk_size=2))

    assert read == expected
    assert len(queries) == 4  # 2 + 2 + 2 + 1 rows: the short chunk is the last


def test_model_instances_by_primary_key():
    for user_id in ("u3", "u1", "u2"):
        SeniorMemberFactory(user_id=user_id)

    read = keyset_chunks(SeniorMember.objects.all(), order=("pk",), key_of=lambda m: (m.pk,), chunk_size=2)

    assert [member.user_id for member in read] == ["u1", "u2", "u3"]


def test_an_empty_queryset_reads_nothing_in_one_query():
    with CaptureQueriesContext(connection) as queries:
        read = list(keyset_chunks(SeniorMember.objects.all(), order=("pk",), key_of=lambda m: (m.pk,), chunk_size=5))

    assert read == [] and len(queries) == 1
