"""The service's advisory locks behind PgBouncer in transaction mode (docs/pooling.md), on Debian's
PgBouncer in front of the test database with two server connections per pool. The clients are
Django processes of their own (tests/fixtures/pgbouncer.py) configured as production is behind
PgBouncer: DATABASE_URL at the transaction-mode entry, DATABASE_SESSION_URL at the session-mode one."""

import os
import queue

import psycopg
import pytest

from detections.locks import COMMUNITY_WRITER_LOCK_KEY
from tests.fixtures.pgbouncer import LockClient, pgbouncer  # noqa: F401 (the fixture)

# The test database (which the clients connect to) exists only for tests marked so.
pytestmark = pytest.mark.django_db

# A key of this test's own for the raw lock, which it leaves behind on purpose.
RAW_LOCK_KEY = 7299


def holders(key: int, database: str) -> list[int]:
    """The server processes holding advisory lock (key, 0) in `database`, asked of PostgreSQL itself."""
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as direct:
        rows = direct.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' "
            "AND l.classid = %s AND l.objid = 0 AND l.objsubid = 2 AND l.granted AND d.datname = %s",
            [key, database],
        )
        return [pid for (pid,) in rows]


def pooled_clients(pgbouncer, count: int = 2) -> list[LockClient]:  # noqa: F811
    env = {
        "DATABASE_URL": pgbouncer.url("txn"),
        "DATABASE_SESSION_URL": pgbouncer.url("session"),
        "DATABASE_TRANSACTION_POOLING": "true",
    }
    clients = [LockClient(env) for _ in range(count)]
    for client in clients:
        assert client.answer(timeout=60) == "ready"
    return clients


def test_a_session_lock_through_the_transaction_pool_leaks_and_misses_its_unlock(pgbouncer):  # noqa: F811
    """Why the writer lock has a session connection of its own: through the transaction pool, a
    session lock stays with the server connection it was taken on, which the next client gets."""
    url = pgbouncer.url("txn")
    with (
        psycopg.connect(url, autocommit=True) as locker,
        psycopg.connect(url, autocommit=True) as b,
        psycopg.connect(url, autocommit=True) as c,
    ):
        # given: a client takes a session lock, and two others each pin one of the pool's two server
        # connections in a transaction, so one of them has the connection the lock was taken on
        lock_pid, _ = locker.execute("SELECT pg_backend_pid(), pg_advisory_lock(%s, 0)", [RAW_LOCK_KEY]).fetchone()
        pids = {}
        for client in (b, c):
            client.execute("BEGIN")
            pids[client] = client.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert lock_pid in pids.values()
        on_lock, other = (b, c) if pids[b] == lock_pid else (c, b)

        # when: that client asks for the lock the first one holds
        leaked = on_lock.execute("SELECT pg_try_advisory_lock(%s, 0)", [RAW_LOCK_KEY]).fetchone()[0]
        # and the first one unlocks, on the server connection the other client just gave back
        other.execute("COMMIT")
        unlock_pid, unlocked = locker.execute(
            "SELECT pg_backend_pid(), pg_advisory_unlock(%s, 0)", [RAW_LOCK_KEY]
        ).fetchone()
        on_lock.execute("COMMIT")

        # then: the second client got the lock while the first held it, the unlock missed it, and it
        # stays with a server connection no client holds
        assert leaked is True
        assert (unlock_pid != lock_pid, unlocked) == (True, False)
        assert holders(RAW_LOCK_KEY, pgbouncer.database) == [lock_pid]


def test_the_writer_lock_through_the_session_alias_is_one_writer_at_a_time(pgbouncer):  # noqa: F811
    first, second = pooled_clients(pgbouncer)
    try:
        assert first.ask("settings") == "txn ['default', 'session'] True"

        # given: the first process holds the writer lock, and runs transactions through the pool meanwhile
        assert first.ask("writer wait") == "held True"
        assert [first.ask(c) for c in ("begin", "members_lock 7", "commit")] == ["done", "locked 7", "done"]

        # then: another process does not get it, by trying or by waiting
        assert second.ask("writer try") == "held False"
        assert second.ask("leave") == "done"
        second.send("writer wait")
        with pytest.raises(queue.Empty):
            second.answer(timeout=1)
        assert len(holders(COMMUNITY_WRITER_LOCK_KEY, pgbouncer.database)) == 1

        # when: the first one leaves it, the waiting one gets it, and then leaves it too
        assert first.ask("leave") == "done"
        assert second.answer() == "held True"
        assert second.ask("leave") == "done"

        # then: nobody holds it, not even a pooled server connection
        assert holders(COMMUNITY_WRITER_LOCK_KEY, pgbouncer.database) == []
    finally:
        first.close()
        second.close()


def test_member_locks_hold_for_a_transaction_through_the_transaction_pool(pgbouncer):  # noqa: F811
    first, second = pooled_clients(pgbouncer)
    try:
        # given: the first process holds member 7's processing lock in its transaction
        assert [first.ask(c) for c in ("begin", "members_lock 7")] == ["done", "locked 7"]

        # then: another process's try skips member 7, and its wait waits
        assert [second.ask(c) for c in ("begin", "members_try 7 8", "commit")] == ["done", "got 8", "done"]
        assert second.ask("begin") == "done"
        second.send("members_lock 7")
        with pytest.raises(queue.Empty):
            second.answer(timeout=1)

        # when: the first one commits, the waiting one gets the member
        assert first.ask("commit") == "done"
        assert second.answer() == "locked 7"
        assert second.ask("commit") == "done"
    finally:
        first.close()
        second.close()


def test_iterator_reads_through_the_transaction_pool_without_server_side_cursors(pgbouncer):  # noqa: F811
    """`.iterator()` outside a transaction would open a WITH HOLD cursor on one server connection and
    fetch from whichever comes next: DATABASE_TRANSACTION_POOLING turns server-side cursors off."""
    (client,) = pooled_clients(pgbouncer, count=1)
    try:
        assert client.ask("settings").endswith(" True")
        assert client.ask("iterate").startswith("rows ")
        assert int(client.ask("iterate").split()[1]) > 10
    finally:
        client.close()


def test_transaction_pooling_without_a_session_url_refuses_to_start():
    client = LockClient({"DATABASE_TRANSACTION_POOLING": "true", "DATABASE_SESSION_URL": ""})
    try:
        answer = client.answer(timeout=60)
    finally:
        client.close()

    assert answer.startswith("<exited> ")
    assert "DATABASE_TRANSACTION_POOLING needs DATABASE_SESSION_URL" in answer


def test_the_webhook_intake_is_not_prepared_through_the_transaction_pool(pgbouncer):  # noqa: F811
    """Directly on PostgreSQL the intake call is a prepared statement (tests/core/test_database.py);
    a prepared statement lives in one server connection, which a transaction pool does not keep."""
    client, pinner = pooled_clients(pgbouncer)
    try:
        assert client.ask("prepares") == "False None"
        for number in range(4):
            assert client.ask(f"receive pooled-1 VP of Sales {number}") == "accepted"
            # the pool lends its most recently used server connection first: pin that one, so the
            # client's next intake runs on the other
            assert [pinner.ask(c) for c in ("begin", "members_try pooled-2")] == ["done", "got pooled-2"]
            assert client.ask(f"receive pooled-1 VP of Marketing {number}") == "accepted"
            assert pinner.ask("commit") == "done"
    finally:
        pinner.ask("forget pooled-1")  # the client may have died of what went wrong
        client.close()
        pinner.close()
