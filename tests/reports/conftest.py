import pytest

from tests.fixtures.reports import AFTER_OCTOBER, NEW_YORK, ny  # noqa: F401 (used by the report tests)


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
