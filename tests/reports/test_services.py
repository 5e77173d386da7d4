"""Generating month-end reports: the figures, the files, regeneration, catch-up."""

import csv
import io
from datetime import timedelta

import pytest

from detections.models import Detection
from reports import services
from reports.models import Report
from reports.months import Month
from tests.concurrency import run_together
from tests.factories import DetectionFactory, joined_at_stored_raw
from tests.reports.conftest import AFTER_OCTOBER, ny

OCTOBER = Month(2026, 10)


def csv_rows(report: Report, *, preamble: bool = False) -> list[list[str]]:
    """The CSV's rows from its column header on (with `preamble`, only the "#" rows above it)."""
    with report.csv_file.open("rb") as handle:
        rows = list(csv.reader(io.StringIO(handle.read().decode("utf-8-sig"))))
    return [row for row in rows if row[0].startswith("#") == preamble]


def html_text(report: Report) -> str:
    with report.html_file.open("rb") as handle:
        return handle.read().decode()


def test_the_summary_of_a_known_month(october):
    report = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)

    summary = report.summary
    assert report.status == "ready" and report.is_complete and report.detection_count == 4
    assert summary["detections"] == {
        "total": 4,
        "by_kind": {"first": 3, "promotion": 1},
        "by_level": {"vp": 2, "csuite": 2},
        "by_kind_and_level": {"first": {"vp": 2, "csuite": 1}, "promotion": {"vp": 0, "csuite": 1}},
    }
    assert {k: summary["senior_members"][k] for k in ("total", "vp", "csuite")} == {"total": 2, "vp": 1, "csuite": 1}
    assert summary["departures"]["count"] == 1 and summary["departures"]["complete"]
    assert summary["rules_versions"] == ["test"]


def test_each_breakdown_keeps_its_own_counts(october):
    """The original folded countries by level into one object, so one level overwrote the other."""
    summary = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER).summary

    assert summary["by_country"] == [
        {"country": "US", "total": 2, "vp": 1, "csuite": 1},
        {"country": "DE", "total": 1, "vp": 0, "csuite": 1},
        {"country": "Unknown", "total": 1, "vp": 1, "csuite": 0},
    ]
    assert summary["top_companies"] == [
        {"company": "Acme", "total": 2, "vp": 1, "csuite": 1},
        {"company": "Beta", "total": 1, "vp": 0, "csuite": 1},
    ]
    assert [(w["start"], w["end"], w["count"]) for w in summary["weeks"]] == [
        ("2026-10-01", "2026-10-04", 1),
        ("2026-10-05", "2026-10-11", 1),
        ("2026-10-12", "2026-10-18", 0),
        ("2026-10-19", "2026-10-25", 1),
        ("2026-10-26", "2026-10-31", 1),
    ]


def test_the_csv_has_a_header_and_one_row_per_detection_of_the_month(october):
    rows = csv_rows(services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER))

    assert rows[0] == [
        "member_id", "name", "title", "level", "function", "kind", "company", "country", "joined_at", "detected_at"
    ]  # fmt: skip
    assert [row[0] for row in rows[1:]] == ["1", "2", "3", "4"]
    assert rows[1][9] == "2026-10-01T00:30:00-04:00"
    assert rows[4][9] == "2026-10-31T23:59:00-04:00"


def test_spreadsheet_formulas_are_neutralised_in_the_csv(db):
    for name in ['=HYPERLINK("http://evil")', "+1+2", "-2+3", "@SUM(A1)", "\tTab", "Plain"]:
        DetectionFactory(username=name, title="=cmd|' /C calc'!A0", detected_at=ny(2026, 10, 5))

    rows = csv_rows(services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER))

    names = sorted(row[1] for row in rows[1:])
    assert names == sorted(['\'=HYPERLINK("http://evil")', "'+1+2", "'-2+3", "'@SUM(A1)", "'\tTab", "Plain"])
    assert {row[2] for row in rows[1:]} == {"'=cmd|' /C calc'!A0"}


def test_bidirectional_overrides_do_not_reach_the_csv_or_the_page(db):
    DetectionFactory(username="Eve \u202egnp.exe", title="VP \u2067Sales\u2069", detected_at=ny(2026, 10, 5))

    report = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)

    rows, page = csv_rows(report), html_text(report)
    assert (rows[1][1], rows[1][2]) == ("Eve gnp.exe", "VP Sales")
    assert "Eve gnp.exe" in page and not any(ch in page for ch in "\u202e\u2067\u2069")


def test_a_join_date_stored_out_of_range_is_marked_invalid_and_the_report_is_made(db):
    DetectionFactory(user_id="41", username="Year One", detected_at=ny(2026, 10, 5))
    DetectionFactory(user_id="42", username="Usual", detected_at=ny(2026, 10, 6), joined_at=ny(2019, 10, 10, 10))
    joined_at_stored_raw(Detection, "41", "0001-01-01T00:00:00Z")  # year 0 in New York

    report = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)

    assert report.status == "ready" and report.detection_count == 2
    rows = csv_rows(report)
    assert [(row[1], row[8]) for row in rows[1:]] == [("Year One", "invalid"), ("Usual", "2019-10-10T10:00:00-04:00")]
    page = html_text(report)
    assert "<td>invalid</td>" in page and "<td>2019-10-10</td>" in page


def test_the_html_is_self_contained_and_escaped(db):
    DetectionFactory(
        username="<script>alert(1)</script>",
        title="VP <b>Sales</b>",
        company='"Acme" & Co',
        detected_at=ny(2026, 10, 5),
    )

    page = html_text(services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER))

    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "VP &lt;b&gt;Sales&lt;/b&gt;" in page and "&quot;Acme&quot; &amp; Co" in page
    assert "<svg" in page and "<style>" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no external assets
    assert "src=" not in page and "<link" not in page


def test_regenerating_replaces_the_files_and_removes_the_old_ones(october, django_capture_on_commit_callbacks):
    first = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)
    old_names = [first.csv_file.name, first.html_file.name]
    storage = first.csv_file.storage
    DetectionFactory(user_id="8", detected_at=ny(2026, 10, 30))

    with django_capture_on_commit_callbacks(execute=True):
        second = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER + timedelta(hours=1))

    assert Report.objects.count() == 1 and second.pk == first.pk
    assert second.detection_count == 5 and len(csv_rows(second)) == 6
    assert not any(storage.exists(name) for name in old_names)
    assert storage.exists(second.csv_file.name) and storage.exists(second.html_file.name)


def test_a_failed_regeneration_keeps_the_previous_report(october, monkeypatch):
    first = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(services.rendering, "files_write", broken)
    with pytest.raises(OSError):
        services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)

    report = Report.objects.get()
    assert report.status == "ready" and "disk full" in report.error
    assert report.csv_file.name == first.csv_file.name and report.csv_file.storage.exists(report.csv_file.name)


def test_a_month_that_has_not_started_is_refused(db):
    with pytest.raises(ValueError, match="not started"):
        services.report_generate_month(month=Month(2026, 12), now=AFTER_OCTOBER)


def test_a_report_during_the_month_covers_up_to_now_and_is_not_complete(october):
    report = services.report_generate_month(month=OCTOBER, now=ny(2026, 10, 15))

    assert report.detection_count == 2 and not report.is_complete


def test_month_end_acts_only_on_the_last_day(october):
    assert services.report_generate_month_end(now=ny(2026, 10, 30, 23, 55)) is None
    assert not Report.objects.filter(month="2026-10-01").exists()

    report = services.report_generate_month_end(now=ny(2026, 10, 31, 23, 55))

    assert str(report.month) == "2026-10-01" and report.detection_count == 3  # the 23:59 one is still to come


def test_catch_up_generates_missed_months_and_completes_the_month_end_run(october):
    services.report_generate_month_end(now=ny(2026, 10, 31, 23, 55))  # misses 23:55-24:00
    assert Report.objects.get(month="2026-09-01").is_complete  # caught up before October's run

    generated = services.reports_catch_up(now=ny(2026, 12, 3, 6))

    assert sorted(str(r.month) for r in generated) == ["2026-10-01", "2026-11-01"]
    october_report = Report.objects.get(month="2026-10-01")
    assert october_report.is_complete and october_report.detection_count == 4
    assert services.reports_catch_up(now=ny(2026, 12, 3, 6)) == []  # nothing left to do


def test_catch_up_is_bounded_and_starts_at_the_first_data(settings, db):
    settings.REPORTS_CATCH_UP_MONTHS = 2
    assert services.reports_catch_up(now=ny(2026, 12, 3)) == []  # no data at all: nothing to report

    DetectionFactory(detected_at=ny(2025, 1, 5))
    generated = services.reports_catch_up(now=ny(2026, 12, 3))

    assert sorted(str(r.month) for r in generated) == ["2026-10-01", "2026-11-01"]


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_produce_one_report(october, settings, tmp_path):
    def run():
        services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)

    run_together(run, run, run)  # raises what any of them raised

    report = Report.objects.get()
    assert report.detection_count == 4
    files = sorted(p.name for p in (tmp_path / "media" / "reports" / "2026-10").iterdir())
    assert files == sorted([report.csv_file.name.rsplit("/", 1)[1], report.html_file.name.rsplit("/", 1)[1]])


# --- a report that reads as it should ----------------------------------------------------------------


def test_a_report_generated_before_the_month_ended_says_it_is_partial(db):
    DetectionFactory(detected_at=ny(2026, 10, 5))

    page = html_text(services.report_generate_month(month=OCTOBER, now=ny(2026, 10, 20, 14, 30)))

    assert '<p id="partial"' in page and "generated October 20, 2026, 14:30 EDT, before the month ended" in page
    assert "2026-10-01 to 2026-10-20 14:30" in page and "so far" in page and "at month end" not in page


def test_the_csv_says_in_its_header_rows_whether_it_is_partial(db):
    DetectionFactory(detected_at=ny(2026, 10, 5))

    partial = services.report_generate_month(month=OCTOBER, now=ny(2026, 10, 20, 14, 30))
    assert csv_rows(partial, preamble=True) == [
        ["# CaptPathfinder month-end report", "2026-10"],
        ["# status", "partial: generated 2026-10-20 14:30 EDT, before the month ended"],
        ["# covers (America/New_York)", "2026-10-01 to 2026-10-20 14:30 EDT"],
    ]
    complete = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)
    assert csv_rows(complete, preamble=True)[1:] == [
        ["# status", "complete: generated 2026-11-02 09:00 EST"],
        ["# covers (America/New_York)", "2026-10-01 to 2026-10-31"],
    ]
    assert csv_rows(complete)[0][:2] == ["member_id", "name"] and len(csv_rows(complete)) == 2


def test_a_complete_report_reads_as_a_person_would_write_it(db):
    DetectionFactory(detected_at=ny(2026, 10, 5), kind="promotion", level="csuite", rules_version="2026.11.2")

    page = html_text(services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER))

    assert '<p id="partial"' not in page
    assert '1</div><div class="what">promotion to C-suite' in page and "promotions" not in page
    assert "Rules version behind this month's detections: 2026.11.2." in page


def test_a_week_of_one_day_is_labelled_with_that_day(db):
    DetectionFactory(detected_at=ny(2026, 11, 30, 12, 0))  # Monday 30 November: a week of one day

    page = html_text(services.report_generate_month(month=Month(2026, 11), now=ny(2026, 12, 1, 6, 0)))

    assert ">30</text>" in page and "30–30" not in page


def test_departures_are_unknown_for_a_month_whose_events_are_gone(db):
    from detections.models import RawEvent
    from tests.factories import RawEventFactory

    RawEventFactory(received_at=ny(2026, 11, 28, 23, 58))  # the oldest event kept: after October
    assert RawEvent.objects.count() == 1

    report = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)

    assert report.summary["departures"]["known_from"] is None
    assert "unknown: this month's events are no longer kept" in html_text(report)


def test_known_from_is_a_new_york_date(db):
    from tests.factories import RawEventFactory

    RawEventFactory(received_at=ny(2026, 10, 10, 23, 58))  # 03:58 UTC on the 11th

    report = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)

    assert report.summary["departures"]["known_from"].startswith("2026-10-10T23:58")
    assert "known from 2026-10-10" in html_text(report)


def test_the_report_counts_detections_by_function_and_the_csv_and_page_name_it(db):
    DetectionFactory(
        user_id="1", username="Fay", title="CFO", level="csuite", function="finance", detected_at=ny(2026, 10, 2)
    )
    DetectionFactory(user_id="2", username="Vic", title="VP Finance", function="finance", detected_at=ny(2026, 10, 3))
    DetectionFactory(user_id="3", username="Ted", title="CTO", level="csuite", function="engineering",
                     detected_at=ny(2026, 10, 4))  # fmt: skip
    DetectionFactory(user_id="4", username="Vee", title="Vice President", detected_at=ny(2026, 10, 5))  # other

    report = services.report_generate_month(month=OCTOBER, now=AFTER_OCTOBER)

    assert report.summary["by_function"] == [
        {"function": "finance", "total": 2, "vp": 1, "csuite": 1},
        {"function": "engineering", "total": 1, "vp": 0, "csuite": 1},
        {"function": "other", "total": 1, "vp": 1, "csuite": 0},
    ]
    rows = csv_rows(report)
    assert [(row[1], row[3], row[4]) for row in rows[1:]] == [
        ("Fay", "csuite", "finance"),
        ("Vic", "vp", "finance"),
        ("Ted", "csuite", "engineering"),
        ("Vee", "vp", "other"),
    ]
    page = html_text(report)
    assert "<h2>By function</h2>" in page
    assert '<tr><td>Finance</td><td class="num">2</td><td class="num">1</td><td class="num">1</td></tr>' in page
    assert '<tr><td>Engineering and technology</td><td class="num">1</td>' in page
    assert "<td>CTO</td><td>C-suite</td><td>Engineering and technology</td><td>First detection</td>" in page
