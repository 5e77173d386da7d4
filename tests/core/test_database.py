"""core.database: a cursor that binds on the server, so a statement run on every request is prepared."""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from core.database import server_bound_cursor

pytestmark = pytest.mark.django_db

STATEMENT = "SELECT %s::integer + 1"


def prepared(statement_start: str) -> list[tuple[str, bool]]:
    """This session's prepared statements that start with `statement_start`: (text, from SQL PREPARE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement, from_sql FROM pg_prepared_statements WHERE statement LIKE %s",
            [statement_start + "%"],
        )
        return cursor.fetchall()


def test_a_statement_through_it_is_prepared_once_per_connection():
    # when: the same statement runs three times with different values
    answers = []
    for value in (1, 2, 3):
        with server_bound_cursor() as cursor:
            cursor.execute(STATEMENT, [value])
            answers.append(cursor.fetchone()[0])

    # then: each gets its own answer, from one statement the server prepared (by protocol, not SQL)
    assert answers == [2, 3, 4]
    assert prepared("SELECT $1::integer + 1") == [("SELECT $1::integer + 1", False)]


def test_djangos_own_cursors_still_bind_on_the_client_and_prepare_nothing():
    with server_bound_cursor() as cursor:
        cursor.execute(STATEMENT, [1])
    for value in (1, 2, 3, 4, 5, 6):
        with connection.cursor() as cursor:
            cursor.execute("SELECT %s::integer + 2", [value])

    # psycopg neither prepares nor records their statements: its threshold is back at Django's None
    assert connection.connection.prepare_threshold is None
    assert prepared("SELECT $1::integer + 2") == []
    assert prepared("SELECT 6::integer + 2") == []


def prepared_names(statement: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE statement = %s", [statement])
        return [name for (name,) in cursor.fetchall()]


def test_a_prepared_statement_outlives_a_savepoint_rollback():
    # given: the statement is prepared, then a savepoint (a nested atomic block) rolls back
    with server_bound_cursor() as cursor:
        cursor.execute(STATEMENT, [1])
    before = prepared_names("SELECT $1::integer + 1")
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        with server_bound_cursor() as cursor:
            cursor.execute(STATEMENT, [2])
        raise ZeroDivisionError

    # then: the next execution runs the same prepared statement
    with server_bound_cursor() as cursor:
        cursor.execute(STATEMENT, [5])
        assert cursor.fetchone() == (6,)
    assert prepared_names("SELECT $1::integer + 1") == before
    assert len(before) == 1


@pytest.mark.django_db(transaction=True)
def test_after_a_transaction_rolls_back_it_is_prepared_again():
    with server_bound_cursor() as cursor:
        cursor.execute(STATEMENT, [1])
    before = prepared_names("SELECT $1::integer + 1")

    # when: a transaction rolls back (psycopg then deallocates every prepared statement)
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        raise ZeroDivisionError
    assert prepared_names("SELECT $1::integer + 1") == []

    # then: the next execution prepares it again, under a new name
    with server_bound_cursor() as cursor:
        cursor.execute(STATEMENT, [5])
        assert cursor.fetchone() == (6,)
    after = prepared_names("SELECT $1::integer + 1")
    assert len(before) == len(after) == 1
    assert after != before


def test_nothing_is_prepared_behind_a_transaction_pool(settings):
    settings.DATABASE_TRANSACTION_POOLING = True

    with server_bound_cursor() as cursor:
        cursor.execute(STATEMENT, [1])
        assert cursor.fetchone() == (2,)

    assert prepared("SELECT $1::integer + 1") == []


def test_it_is_djangos_cursor_to_the_query_log_and_execute_wrappers():
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with (
        CaptureQueriesContext(connection) as queries,
        connection.execute_wrapper(wrapper),
        server_bound_cursor() as cursor,
    ):
        cursor.execute(STATEMENT, [41])

    assert seen == [STATEMENT]
    assert [q["sql"] for q in queries.captured_queries] == [STATEMENT]


def test_database_errors_are_djangos():
    with pytest.raises(DatabaseError, match="no_such_table"), server_bound_cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table WHERE id = %s", [1])
