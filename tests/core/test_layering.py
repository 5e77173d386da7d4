"""Imports flow one way, each app owns its tables, and third-party clients import no app (STYLE.md
rules 11, 13 and 14).

Read from the source, not run: a module's SQL is text (a cursor's statement, a RunSQL, a .sql
file), so the check is every `<app>_<model>` table name of ours in an app's Python and SQL files.
Django's and the libraries' own tables (auth_user, django_celery_beat_*) belong to no app here.
"""

import ast
import re
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parents[2]
_BELOW_DETECTIONS = {"core", "integrations", "access", "classification"}
# What each app may import (README › Layout): core at the bottom, then the third parties' clients
# (integrations/, not an app: every app may call them, they call no app), console on top; digests
# and reports side by side, neither importing the other.
MAY_IMPORT = {
    "core": set(),
    "integrations": {"core"},
    "access": {"core", "integrations"},
    "classification": {"core", "integrations", "access"},
    "detections": _BELOW_DETECTIONS,
    "digests": _BELOW_DETECTIONS | {"detections"},
    "reports": _BELOW_DETECTIONS | {"detections"},
    "crm": _BELOW_DETECTIONS | {"detections"},
    "console": _BELOW_DETECTIONS | {"detections", "digests", "reports", "crm"},
}


def _files(app: str, *suffixes: str) -> list[Path]:
    return sorted(p for p in (ROOT / app).rglob("*") if p.suffix in suffixes and "__pycache__" not in p.parts)


def _is_migration(path: Path) -> bool:
    return "migrations" in path.parts


def _table_owners() -> dict[str, str]:
    return {
        model._meta.db_table: model._meta.app_label
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in MAY_IMPORT
    }


def _tables_named(path: Path, owners: dict[str, str]) -> set[str]:
    text = path.read_text()
    return {table for table in owners if re.search(rf"\b{re.escape(table)}\b", text)}


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for each absolute import in the file, those inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def test_every_app_is_placed():
    ours = {config.label for config in apps.get_app_configs() if (ROOT / config.label).is_dir()}
    assert ours <= set(MAY_IMPORT), f"add {ours - set(MAY_IMPORT)} to MAY_IMPORT"


@pytest.mark.parametrize("app", MAY_IMPORT)
def test_imports_flow_one_way(app):
    upward = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _files(app, ".py")
        for line, name in _imports(path)
        if (top := name.split(".")[0]) in MAY_IMPORT and top != app and top not in MAY_IMPORT[app]
    ]
    assert not upward


def test_integrations_import_no_app():
    """A third party's client imports core and Django, never an app nor the project package: what
    it needs of an app (a column's length, a user id's rule) lives in core or in the integration,
    and the app passes or imports it (STYLE.md rule 14)."""
    ours = {config.label for config in apps.get_app_configs() if (ROOT / config.label).is_dir()}
    forbidden = (ours | {"captpathfinder"}) - {"core"}
    assert {"detections", "digests", "reports", "classification", "access", "console"} <= forbidden
    reaching = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _files("integrations", ".py")
        for line, name in _imports(path)
        if name.split(".")[0] in forbidden
    ]
    assert _files("integrations", ".py") and not reaching


@pytest.mark.parametrize("app", MAY_IMPORT)
def test_no_module_names_a_table_of_another_app(app):
    """Outside its migrations an app's SQL names only its own tables: it asks the owner's service or
    selector for the rest (detections.selectors.members_rows, detections_freeze)."""
    owners = _table_owners()
    foreign = {
        f"{path.relative_to(ROOT)}: {table}"
        for path in _files(app, ".py", ".sql")
        if not _is_migration(path)
        for table in _tables_named(path, owners)
        if owners[table] != app
    }
    assert not foreign


@pytest.mark.parametrize("app", MAY_IMPORT)
def test_no_migration_names_a_table_of_an_app_it_may_not_import(app):
    """Migrations that moved data between apps (digests' receipts from detections' columns) are
    history: they may name the tables of the apps below, never of those above."""
    owners = _table_owners()
    upward = {
        f"{path.relative_to(ROOT)}: {table}"
        for path in _files(app, ".py", ".sql")
        if _is_migration(path)
        for table in _tables_named(path, owners)
        if owners[table] != app and owners[table] not in MAY_IMPORT[app]
    }
    assert not upward


def test_advisory_locks_are_taken_in_one_module():
    """detections.locks holds every advisory lock key and takes the locks; the intake function
    (detections/sql/) takes its lock with the namespace it is passed."""
    home = {ROOT / "detections" / "locks.py"}
    takers = {
        path.relative_to(ROOT).as_posix()
        for app in MAY_IMPORT
        for path in _files(app, ".py", ".sql")
        if path not in home and re.search(r"pg_(try_)?advisory", path.read_text())
    }
    assert takers == {"detections/sql/event_receive.v1.sql", "detections/sql/event_receive.v2.sql"}
