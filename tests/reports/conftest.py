from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.factories import DetectionFactory, RawEventFactory, SeniorMemberFactory

NEW_YORK = ZoneInfo("America/New_York")
AFTER_OCTOBER = datetime(2026, 11, 2, 9, 0, tzinfo=NEW_YORK)


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def october(db):
    """A known October 2026 (New York time), with neighbours on both sides that must not count."""
    DetectionFactory(
        user_id="1", username="Ann", level="vp", country="US", company="Acme", detected_at=ny(2026, 10, 1, 0, 30)
    )
    DetectionFactory(
        user_id="2", username="Bob", level="csuite", country="US", company="Acme", detected_at=ny(2026, 10, 10, 12)
    )
    DetectionFactory(
        user_id="3",
        username="Cleo",
        level="csuite",
        kind="promotion",
        country="DE",
        company="Beta",
        detected_at=ny(2026, 10, 20, 9),
    )
    DetectionFactory(
        user_id="4", username="Dan", level="vp", country="", company="", detected_at=ny(2026, 10, 31, 23, 59)
    )
    DetectionFactory(user_id="5", detected_at=ny(2026, 9, 30, 23, 59))  # 03:59 UTC on 1 October: still September
    DetectionFactory(user_id="6", detected_at=ny(2026, 11, 1, 0, 0))
    SeniorMemberFactory(user_id="1", level="vp", first_detected_at=ny(2026, 10, 1, 0, 30))
    SeniorMemberFactory(user_id="2", level="csuite", first_detected_at=ny(2026, 9, 1))
    SeniorMemberFactory(user_id="7", level="vp", first_detected_at=ny(2026, 11, 1, 8))
    for processed in (ny(2026, 10, 15), ny(2026, 10, 16), ny(2026, 11, 1, 1)):
        RawEventFactory(user_id="9", outcome="removed", received_at=ny(2026, 9, 20), processed_at=processed)
