"""Replace personal data in text before it is stored: e-mail addresses, phone numbers, IBANs, card numbers.

IBANs and card numbers are only replaced when their checksum holds (mod-97, Luhn), so invoice numbers and
amounts are left alone. One module, so other parts (data cleaning, monitoring) can share it.
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
PHONE = re.compile(r"(?<![\w.])(?:\+|00)\d{1,3}[ .-]?(?:\(0\)[ .-]?)?\d{2,5}(?:[ .-]?\d{2,8}){1,4}(?!\w|\.\d)"
                   r"|(?<![\w.])\(?0\d{2,5}\)?[ .-/]?\d{3,8}(?:[ .-]?\d{2,5}){0,2}(?!\w|\.\d)")


def _iban_ok(s: str) -> bool:
    s = s.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    digits = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(digits) % 97 == 1


def _luhn_ok(s: str) -> bool:
    digits = [int(c) for c in s if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def redact(text: str) -> str:
    text = EMAIL.sub("[EMAIL]", text)
    text = IBAN.sub(lambda m: "[IBAN]" if _iban_ok(m.group()) else m.group(), text)
    text = CARD.sub(lambda m: "[CARD]" if _luhn_ok(m.group()) else m.group(), text)
    return PHONE.sub("[PHONE]", text)


def redact_value(value):
    """Redact every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value
