"""manage.py classify."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from classification import services

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_classify_prints_level_tab_title():
    assert run("classify", "VP of Sales", "Assistant to the CEO", "C.E.O.") == (
        "vp\tVP of Sales\nnone\tAssistant to the CEO\ncsuite\tC.E.O.\n"
    )


def test_classify_reads_a_file(tmp_path):
    titles = tmp_path / "titles.txt"
    titles.write_text("Chief Revenue Officer\n\nSoftware Engineer\n")

    assert run("classify", "--file", str(titles)) == "csuite\tChief Revenue Officer\nnone\tSoftware Engineer\n"


def test_classify_reads_standard_input_in_a_real_process():
    env_python = sys.executable
    result = subprocess.run(
        [env_python, "manage.py", "classify", "--file", "-"],
        input="Vizepräsident\nPDG\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )

    assert result.stdout == "vp\tVizepräsident\ncsuite\tPDG\n"


def test_classify_explain_adds_function_rule_and_version():
    line = run("classify", "--explain", "EVP & CFO").strip()

    assert line.split("\t") == ["csuite", "EVP & CFO", "finance", "csuite.cxo", services.ruleset_active().version]


def test_classify_evaluate_prints_the_accuracy():
    output = run("classify", "--evaluate", str(ROOT / "tests/classification/data/holdout_titles.tsv"))

    assert "accuracy 100.00% (90/90)" in output


def test_classify_without_titles_is_an_error():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="give titles"):
        run("classify")


def test_classify_writes_only_data_lines_to_stdout_and_its_logs_to_stderr(tmp_path):
    titles = tmp_path / "titles.txt"
    titles.write_text("Cheif Executive Officer\nСEO\nOffice Manager\n", encoding="utf-8")

    result = subprocess.run(
        [sys.executable, "manage.py", "classify", "--file", str(titles)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )

    assert result.stdout.splitlines() == ["csuite\tCheif Executive Officer", "csuite\tСEO", "none\tOffice Manager"]
    assert result.stdout.endswith("\n")
    assert "classification ruleset" in result.stderr  # the log line, where logs go
