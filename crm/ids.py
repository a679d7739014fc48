"""Public ids: a short prefix and a ULID (`cus_01JD3…`). They sort by creation time, so cursor
pagination can order by them, and database integer ids never leave the database."""

import secrets

from ulid import ULID


def new_public_id(prefix: str) -> str:
    return f"{prefix}_{ULID()}"


def new_customer_id() -> str:
    return new_public_id("cus")


def new_order_id() -> str:
    return new_public_id("ord")


def new_return_id() -> str:
    return new_public_id("ret")


def luhn_check_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def new_member_number() -> str:
    """12 digits printed on the store card; the last is a Luhn check digit so that a mistyped
    number is caught at the counter instead of finding someone else."""
    body = str(secrets.randbelow(9 * 10**10) + 10**10)
    return body + luhn_check_digit(body)
