"""Reading a large queryset in chunks, each chunk its own query.

`.iterator()` streams through a server-side cursor, but Django may not use one behind PgBouncer's
transaction pooling (`DATABASE_TRANSACTION_POOLING`, docs/pooling.md): the cursor would live on a
server connection the next statement may not get. Without it, `.iterator()` reads the whole result
at once. Keyset chunks keep memory flat either way: each chunk asks for the rows after the last
one it got, in a unique order, so none is read twice or missed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.db.models import Q, QuerySet


def keyset_chunks(
    queryset: QuerySet, *, order: tuple[str, ...], key_of: Callable[[Any], tuple], chunk_size: int
) -> Iterator[Any]:
    """`queryset`'s rows in `order` (fields that are unique together; none may be NULL), read
    `chunk_size` at a time. `key_of` gives a row's values of `order`: attributes of a model
    instance, or positions in a `values_list` row."""
    ordered = queryset.order_by(*order)
    after = Q()
    while True:
        chunk = list(ordered.filter(after)[:chunk_size])
        yield from chunk
        if len(chunk) < chunk_size:
            return
        after = _after(order, key_of(chunk[-1]))


def _after(fields: tuple[str, ...], values: tuple) -> Q:
    """Rows whose (fields) come after (values) in that order: (a, b) > (x, y) is a > x, or a = x
    and b > y; and a >= x besides, which says the same but gives an index on `a` where to start
    (without it each chunk would scan from the first row)."""
    condition = Q(**{f"{fields[-1]}__gt": values[-1]})
    for field, value in zip(reversed(fields[:-1]), reversed(values[:-1]), strict=True):
        condition = Q(**{f"{field}__gt": value}) | (Q(**{field: value}) & condition)
    return Q(**{f"{fields[0]}__gte": values[0]}) & condition
