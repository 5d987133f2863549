"""Replace personal data in text before it is stored: e-mail addresses, phone numbers, IBANs, card numbers.

IBANs and card numbers are only replaced when their checksum holds (mod-97, Luhn), so invoice numbers and
amounts are left alone. The detection lives in data/pii.py, shared with data cleaning.
"""

from __future__ import annotations

from tuneforge.data import pii


def redact(text: str) -> str:
    # The detectors are data/pii.py's, shared with `tuneforge data clean`, so training data and traffic logs
    # are redacted by the same rules.
    return pii.redact(text, pii.find_pii(text))


def redact_value(value):
    """Redact every string inside a JSON-like value."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    return value
