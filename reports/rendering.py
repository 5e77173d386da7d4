"""The report's files: a spreadsheet-safe CSV and a self-contained HTML page.

Both are written row by row into a file object, so memory does not grow with the month.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from html import escape
from itertools import islice
from typing import IO

from django.template.loader import render_to_string

from classification.functions import FUNCTIONS
from core.dates import INVALID_TEXT, moment_local
from core.text import bidi_strip

from .months import Month, local_zone

CSV_HEADER = [
    "member_id",
    "name",
    "title",
    "level",
    "function",
    "kind",
    "company",
    "country",
    "joined_at",
    "detected_at",
]
# Spreadsheets run a cell starting with these as a formula (OWASP "CSV injection"); tab and
# carriage return can smuggle one past a naive check.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_ROWS_PER_SLICE = 2000
_TABLE_SLOT = "<!--report-rows-->"
LEVEL_LABELS = {"csuite": "C-suite", "vp": "VP"}
KIND_LABELS = {"first": "First detection", "promotion": "Promotion to C-suite"}


def csv_preamble(month: Month, generated_at: datetime, *, partial: bool) -> list[list[str]]:
    """The rows above the column header, each starting with "#" (skipped as comments by
    pandas' `comment="#"`, R's `comment.char`, and most importers): which month, whether it is
    complete, and what it covers, so a file read on its own cannot pass for more than it is."""
    generated = generated_at.astimezone(local_zone())
    if partial:
        status = f"partial: generated {generated:%Y-%m-%d %H:%M %Z}, before the month ended"
        covers = f"{month.first_day:%Y-%m-%d} to {generated:%Y-%m-%d %H:%M %Z}"
    else:
        status = f"complete: generated {generated:%Y-%m-%d %H:%M %Z}"
        covers = f"{month.first_day:%Y-%m-%d} to {month.last_day:%Y-%m-%d}"
    return [
        ["# CaptPathfinder month-end report", str(month)],
        ["# status", status],
        ["# covers (America/New_York)", covers],
    ]


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # A date stored out of range (before the range was checked) is marked, not a failed report.
        local = moment_local(value)
        return local.isoformat(timespec="seconds") if local else INVALID_TEXT
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def function_rows(summary: dict) -> list[dict]:
    """The summary's count by function with each function's label (none for a summary stored
    before functions were read: the admin says so; the HTML file is written with its summary)."""
    rows = summary.get("by_function", [])
    return [{**row, "label": FUNCTIONS.get(row["function"], row["function"])} for row in rows]


def _days(week: dict) -> str:
    """A week's days under its bar: "23–29", or "30" for a week of one day."""
    first, last = week["start"][8:], week["end"][8:]
    return first if first == last else f"{first}–{last}"


def chart_bars(weeks: list[dict], *, width: int = 560, height: int = 160) -> dict:
    """Geometry of the inline-SVG bar chart of detections per week (computed here, drawn by
    the template, so the template stays free of arithmetic)."""
    top = max([week["count"] for week in weeks] + [1])
    slot = width / max(len(weeks), 1)
    plot = height - 40
    bars = []
    for index, week in enumerate(weeks):
        bar_height = round(plot * week["count"] / top, 1)
        bars.append(
            {
                **week,
                "x": round(index * slot + slot * 0.15, 1),
                "width": round(slot * 0.7, 1),
                "y": round(20 + plot - bar_height, 1),
                "count_y": round(16 + plot - bar_height, 1),
                "height": bar_height,
                "label_x": round(index * slot + slot / 2, 1),
                "label": _days(week),
            }
        )
    return {"width": width, "height": height, "bars": bars, "baseline": height - 20, "label_y": height - 5}


# One table row. Filled by _rows_html with every value escaped: a per-row Django template took
# two thirds of the time of a 100,000-row report for the same escaping (docs/reports.md).
_ROW = (
    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
    '<td class="id">{}</td></tr>\n'
)


def _rows_html(rows: list[tuple]) -> str:
    zone = local_zone()
    return "".join(
        _ROW.format(
            *map(
                escape,
                (
                    detected_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                    username,
                    title,
                    LEVEL_LABELS.get(level, level),
                    FUNCTIONS.get(function, function),
                    KIND_LABELS.get(kind, kind),
                    company,
                    country,
                    _joined_text(joined_at),
                    user_id,
                ),
            )
        )
        for user_id, username, title, level, function, kind, company, country, joined_at, detected_at in rows
    )


def _joined_text(joined_at: datetime | None) -> str:
    if joined_at is None:
        return ""
    local = moment_local(joined_at)
    return local.date().isoformat() if local else INVALID_TEXT


def _row_text_neutral(row: tuple) -> tuple:
    """A row with bidirectional formatting characters out of its member-supplied text (name,
    title, company, country): a right-to-left override would reorder the cells after it."""
    user_id, username, title, level, function, kind, company, country, joined_at, detected_at = row
    username, title, company, country = (bidi_strip(text or "") for text in (username, title, company, country))
    return user_id, username, title, level, function, kind, company, country, joined_at, detected_at


def files_write(
    rows: Iterator[tuple], csv_out: IO[str], html_out: IO[str], *, month: Month, summary: dict, generated_at: datetime
) -> int:
    """Write the CSV and the HTML page in one pass over the rows; returns the number of rows.

    The page (reports/report.html, a Django template with autoescaping) is rendered once with
    a marker where the table rows go; the rows are written a slice at a time between its two
    halves, every value HTML-escaped, so member-supplied text cannot inject markup.
    """
    context = {
        "month": month,
        "summary": summary,
        "chart": chart_bars(summary["weeks"]),
        "by_function": function_rows(summary),
        "generated_at": generated_at.astimezone(local_zone()),
        # Generated before the month ended: the page says so (the month-end run replaces it).
        "partial": generated_at < month.end,
    }
    head, slot, foot = render_to_string("reports/report.html", context).partition(_TABLE_SLOT)
    if not slot:
        raise RuntimeError(f"reports/report.html lost its {_TABLE_SLOT} marker")
    html_out.write(head)
    writer = csv.writer(csv_out)
    writer.writerows(csv_preamble(month, generated_at, partial=context["partial"]))
    writer.writerow(CSV_HEADER)
    count = 0
    while chunk := [_row_text_neutral(row) for row in islice(rows, _ROWS_PER_SLICE)]:
        writer.writerows([csv_cell(value) for value in row] for row in chunk)
        html_out.write(_rows_html(chunk))
        count += len(chunk)
    html_out.write(foot)
    return count
