"""Transactions of the busy write paths.

A service opens `transaction.atomic()`; nested in a caller's transaction that costs a SAVEPOINT and a
RELEASE (two statements) so that the caller could catch the service's error and go on. The API's
Idempotency-Key wrapper never goes on: any error ends its whole transaction. Inside it, a service
that asks `service_atomic()` gets no savepoint of its own. Anywhere else (staff pages, commands,
tests that catch a refusal and then look at the database) it gets the usual savepoint.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction

# the savepoint depth of the innermost request transaction, or None outside one
_request_depth: ContextVar[int | None] = ContextVar("tsunagu_request_transaction", default=None)


@contextmanager
def request_transaction() -> Iterator[None]:
    """A transaction that any error inside rolls back as a whole (the caller never goes on after one)."""
    with transaction.atomic():
        token = _request_depth.set(len(connection.savepoint_ids))
        try:
            yield
        finally:
            _request_depth.reset(token)


def service_atomic():
    """`transaction.atomic()` for a service: without a savepoint directly inside a request transaction."""
    owned = connection.in_atomic_block and _request_depth.get() == len(connection.savepoint_ids)
    return transaction.atomic(savepoint=not owned)
