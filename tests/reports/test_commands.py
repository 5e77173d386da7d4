import pytest
from django.core.management import CommandError, call_command

from reports.models import Report


def test_generate_report_for_a_given_month(october, capsys):
    call_command("generate_report", "--month", "2026-10")

    out = capsys.readouterr().out
    assert "4 detections (3 first, 1 promotions)" in out and "CSV:" in out
    assert Report.objects.get().status == "ready"


def test_a_bad_month_is_a_command_error(db):
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("generate_report", "--month", "10/2026")
