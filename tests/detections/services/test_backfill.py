"""backfill_members: CSV exports and the community API into members, resumable and idempotent."""

import csv
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from detections.models import BackfillRun, Detection, SeniorMember
from detections.services import backfill
from tests.factories import RawEventFactory, SeniorMemberFactory

pytestmark = pytest.mark.django_db
HEADER = ["user_id", "username", "job_title", "country", "company", "joined_at"]


def write_csv(path: Path, rows: list[list[str]], header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("backfill_members", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def export(tmp_path):
    return write_csv(
        tmp_path / "members.csv",
        [
            ["1", "Ann", "Chief Executive Officer", "United States", "Acme", "2020-01-02"],
            ["2", "Bob", "Software Engineer", "Germany", "Beta", ""],
            ["3", "Cy", "VP, Sales", "France", "Gamma", "2021-05-06T10:00:00Z"],
            ["", "NoId", "CEO", "", "", ""],
            ["4", "Dee", "Vice President Marketing", "", "", "not-a-date"],
            ["5", "Eve", "CFO", "Spain", "Delta", "2019-03-03", "an extra field"],
            ["6", "Fay", "", "", "", ""],
        ],
    )


def test_good_rows_load_and_bad_rows_are_reported_with_their_line(export):
    out, err = run("--csv", str(export))

    assert sorted(SeniorMember.objects.values_list("user_id", "level")) == [("1", "csuite"), ("3", "vp")]
    ann = SeniorMember.objects.get(pk="1")
    assert (ann.username, ann.country, ann.company, ann.joined_at.date().isoformat()) == (
        "Ann",
        "United States",
        "Acme",
        "2020-01-02",
    )
    assert "read 7; senior 2 (C-suite 1, VP 1); not senior 1; skipped 1; errors 3" in out
    run_record = BackfillRun.objects.get()
    assert run_record.status == "done" and run_record.errors == [
        "line 5: user id is empty",
        "line 6: joined_at 'not-a-date' is not a date (YYYY-MM-DD or ISO 8601)",
        "line 7: 7 fields, the header has 6",
    ]


def test_a_row_with_a_date_out_of_range_or_an_unsafe_user_id_is_reported(tmp_path):
    export = write_csv(
        tmp_path / "members.csv",
        [
            ["1", "Ann", "CEO", "", "", "0001-01-01"],
            ["p1-1067/../x", "Bob", "CEO", "", "", ""],
            ["3", "Cy", "CEO", "", "", "1900-01-01"],
        ],
    )

    run("--csv", str(export))

    assert list(SeniorMember.objects.values_list("user_id", flat=True)) == ["3"]
    assert BackfillRun.objects.get().errors == [
        "line 2: joined_at '0001-01-01' must be from 1900-01-01 up to 2200-01-01, New York time",
        "line 3: user id 'p1-1067/../x' must be letters, digits, '-', '_' and '.' (not only dots)",
    ]


def test_baseline_records_no_detections_and_announce_records_first_ones(export, tmp_path):
    run("--csv", str(export))
    assert not Detection.objects.exists()

    SeniorMember.objects.all().delete()
    run("--csv", str(export), "--mode", "announce")

    assert sorted(Detection.objects.values_list("user_id", "kind", "level")) == [
        ("1", "first", "csuite"),
        ("3", "first", "vp"),
    ]


def test_running_again_duplicates_nothing(export):
    run("--csv", str(export), "--mode", "announce")
    out, _ = run("--csv", str(export), "--mode", "announce")

    assert SeniorMember.objects.count() == 2 and Detection.objects.count() == 2
    assert "members created 0, updated 2" in out


def test_the_same_state_machine_as_a_webhook(tmp_path):
    SeniorMemberFactory(user_id="10", level="vp", title="VP of Sales")
    SeniorMemberFactory(user_id="11", level="vp", title="VP of Sales")
    path = write_csv(
        tmp_path / "m.csv", [["10", "Ida", "Chief Revenue Officer", "", "", ""], ["11", "Ivo", "Engineer", "", "", ""]]
    )

    run("--csv", str(path), "--mode", "announce")

    assert SeniorMember.objects.get(pk="10").level == "csuite"
    assert not SeniorMember.objects.filter(pk="11").exists()  # no longer senior: removed
    assert list(Detection.objects.values_list("user_id", "kind")) == [("10", "promotion")]


def test_a_member_changed_by_a_webhook_since_the_run_started_is_left_alone(tmp_path):
    path = write_csv(tmp_path / "m.csv", [["20", "Jo", "CEO", "", "", ""]])
    RawEventFactory(user_id="20", received_at=timezone.now() + timedelta(minutes=1))  # newer than the export

    out, _ = run("--csv", str(path))

    assert not SeniorMember.objects.exists() and "skipped 1" in out


def test_a_missing_column_is_a_clear_error_and_nothing_loads(tmp_path):
    path = write_csv(tmp_path / "m.csv", [["1", "CEO"]], header=["member", "title"])

    with pytest.raises(CommandError, match=r"missing column 'user_id' \(for user_id\), 'job_title' \(for job_title\)"):
        run("--csv", str(path))
    assert not SeniorMember.objects.exists()


def test_column_names_are_configurable(tmp_path):
    path = write_csv(tmp_path / "m.csv", [["7", "Chief Operating Officer"]], header=["Member ID", "Job Title"])

    run("--csv", str(path), "--column", "user_id=Member ID", "--column", "job_title=Job Title")

    assert SeniorMember.objects.get().level == "csuite"


def test_a_dry_run_counts_by_level_and_writes_nothing(export):
    out, _ = run("--csv", str(export), "--dry-run")

    assert out.startswith("dry run (nothing written): read 7; senior 2 (C-suite 1, VP 1)")
    assert not SeniorMember.objects.exists() and not BackfillRun.objects.exists()


def test_an_interrupted_run_resumes_after_its_last_batch(tmp_path):
    rows = [[str(i), f"M{i}", "VP of Sales" if i % 2 else "Engineer", "", "", ""] for i in range(1, 101)]
    path = write_csv(tmp_path / "m.csv", rows)
    run_record, _ = backfill.run_for(
        source="csv", source_key=backfill.csv_source_key(path), mode="announce", restart=False
    )
    items = backfill.csv_items(path, columns=backfill.csv_columns({}))
    seen = []

    def interrupt_after_three_batches(count):
        seen.append(count)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill.backfill_run(
            run=run_record,
            batches=backfill.csv_batches(items, start=0, batch_size=10),
            on_progress=interrupt_after_three_batches,
        )
    run_record.refresh_from_db()
    assert (run_record.status, run_record.position, SeniorMember.objects.count()) == ("running", 30, 15)

    out, err = run("--csv", str(path), "--mode", "announce", "--batch-size", "10")

    assert "resuming backfill" in err and "after row 30" in err
    assert SeniorMember.objects.count() == 50 and Detection.objects.count() == 50
    assert BackfillRun.objects.get().status == "done"


def test_resuming_in_another_mode_is_refused(tmp_path):
    path = write_csv(tmp_path / "m.csv", [["1", "x", "CEO", "", "", ""]])
    backfill.run_for(source="csv", source_key=backfill.csv_source_key(path), mode="announce", restart=False)

    with pytest.raises(CommandError, match="--mode announce"):
        run("--csv", str(path))
    run("--csv", str(path), "--restart")
    assert SeniorMember.objects.count() == 1


# --- the community API --------------------------------------------------------------------------


@pytest.fixture
def community(insided, settings):
    settings.COMMUNITY_USERS_PAGE_SIZE = 10
    for i in range(1, 26):
        title = "Chief Technology Officer" if i % 5 == 0 else ("VP Engineering" if i % 5 == 1 else "Engineer")
        insided.add_user(
            i,
            username=f"user{i}",
            job_title=title,
            country="Chile",
            company="Acme",
            joined=datetime(2020, 1, i, tzinfo=UTC),
        )
    return insided


def test_the_community_is_paged_through(community):
    out, _ = run("--from-community", "--rate", "100")

    assert [r["page"] for r in community.list_requests] == ["1", "2", "3"]  # 25 of statistics.count 25
    assert all(r["pageSize"] == "10" and r["_returnIterable"] == "true" for r in community.list_requests)
    assert SeniorMember.objects.count() == 10 and SeniorMember.objects.filter(level="csuite").count() == 5
    assert SeniorMember.objects.get(pk="5").country == "Chile"
    assert "read 25; senior 10 (C-suite 5, VP 5)" in out


def test_the_documented_filters_are_sent(community):
    run("--from-community", "--rate", "100", "--joined-from", "2020-01-20", "--joined-to", "2020-01-24")

    assert community.list_requests[0]["filter[joindate][from]"] == "2020-01-20"
    assert community.list_requests[0]["filter[joindate][to]"] == "2020-01-24"
    assert sorted(SeniorMember.objects.values_list("user_id", flat=True)) == ["20", "21"]


def test_a_filter_that_is_not_a_date_is_refused(community):
    with pytest.raises(CommandError, match="not a date"):
        run("--from-community", "--joined-from", "last week")


def test_a_server_answering_smaller_pages_loses_nobody(community):
    community.max_page_size = 4  # the largest page size is not documented

    run("--from-community", "--rate", "200")

    assert SeniorMember.objects.count() == 10
    assert len(community.list_requests) == 7  # 25 users in pages of 4


def test_a_member_without_the_job_title_field_is_a_row_error_not_a_non_executive(community):
    community.add_user(26, username="NoTitle", country="Chile", company="Acme")  # no Job Title field

    run("--from-community", "--rate", "200")

    run_ = BackfillRun.objects.get()
    assert run_.counts["errors"] == 1
    assert "no 'Job Title' profile field" in str(run_.errors)


def test_profiles_missing_from_the_list_are_fetched_one_by_one(community):
    community.list_without_fields = True

    run("--from-community", "--rate", "200")

    assert community.user_requests == 25 and SeniorMember.objects.count() == 10


def test_a_failing_page_is_retried_until_it_recovers(community):
    community.page_failures = {2: [500, 503]}

    run("--from-community", "--rate", "100")

    assert [r["page"] for r in community.list_requests] == ["1", "2", "2", "2", "3"]
    assert SeniorMember.objects.count() == 10


def test_rate_limit_answers_are_waited_out(community):
    community.max_per_second = 20

    run("--from-community", "--rate", "1000")

    assert SeniorMember.objects.count() == 10  # some 429s, retried with backoff, nothing lost


def test_a_page_that_keeps_failing_stops_the_run_which_resumes_later(community):
    community.page_failures = {2: [500, 500, 500]}

    with pytest.raises(CommandError, match="run the same command again to resume"):
        run("--from-community", "--rate", "100")
    assert BackfillRun.objects.get().position == 1 and SeniorMember.objects.count() == 4

    _, err = run("--from-community", "--rate", "100")

    assert "after page 1" in err and SeniorMember.objects.count() == 10


def test_without_a_terminal_progress_is_plain_log_lines(export, monkeypatch):
    from detections.management.commands import backfill_members

    monkeypatch.setattr(backfill_members, "_LOG_EVERY_SECONDS", 0)

    _, err = run("--csv", str(export), "--batch-size", "2")

    assert "backfill: 2 rows read" in err and "s left" in err


def test_runs_are_visible_in_the_admin(admin_client, export):
    run("--csv", str(export))

    assert admin_client.get("/admin/detections/backfillrun/").status_code == 200
    page = admin_client.get(f"/admin/detections/backfillrun/{BackfillRun.objects.get().pk}/change/")
    assert page.status_code == 200 and "user id is empty" in page.content.decode()


def test_titles_from_the_community_are_stored_as_a_webhook_stores_them(insided):
    insided.add_user(30, username="Pat", job_title="  VP of Sales \n", country="Peru")
    SeniorMemberFactory(user_id="31", title="VP of Sales", level="vp", country="Chile")
    insided.add_user(31, username="Sam", job_title="Chief Executive Officer ")

    run("--from-community", "--rate", "100", "--mode", "announce")

    assert SeniorMember.objects.get(pk="30").title == "VP of Sales"
    member = SeniorMember.objects.get(pk="31")
    assert (member.title, member.level, member.country) == ("Chief Executive Officer", "csuite", "Chile")
    assert sorted(Detection.objects.values_list("user_id", "kind", "title")) == [
        ("30", "first", "VP of Sales"),
        ("31", "promotion", "Chief Executive Officer"),
    ]
