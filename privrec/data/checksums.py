"""Check digits of the identifiers the generators plant (Python reference implementations; the
scrubber's TF-op versions live in privrec/text_scrubber.py)."""

_GB11643_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def gb11643_check_digit(body17: str) -> str:
    """The 18th character of a Chinese resident ID number ('X' stands for 10)."""
    return "10X98765432"[sum(int(d) * w for d, w in zip(body17, _GB11643_WEIGHTS)) % 11]


def luhn_valid(number: str) -> bool:
    """Luhn check over the digits of `number` (other characters ignored)."""
    digits = [int(c) for c in number if c.isdigit()]
    total = sum(d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d)
                for i, d in enumerate(reversed(digits)))
    return total % 10 == 0


def with_luhn_digit(body: str) -> str:
    """`body` followed by the check digit that makes it pass the Luhn check."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))
