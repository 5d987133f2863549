"""Personal data in examples: e-mail addresses, phone numbers, IBANs and payment card numbers.

Patterns alone flag every invoice number, so each candidate must pass the check its kind has: IBANs their
ISO 13616 mod-97 checksum, card numbers the Luhn checksum and a known issuer prefix, phone numbers a plausible
digit count with a leading + or 0 and separators the way people write them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?\d{1,3})?\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# International (+31 20 555 0134, +49-30-1234567) or national with a trunk 0 and separators (020-555 0134);
# no dots in the national form, which would read dates (01.02.2024) and VAT numbers as phones.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(0\)[ .-]?)?\(?\d{1,4}\)?(?:[ .-]?\d{2,4}){1,4}"
    r"|\(?0\d{1,4}\)?[ /-]\d{3,8}(?:[ -]\d{2,4}){0,2})(?![\w,-]|\.\d)"
)
_CARD_PREFIX = re.compile(r"^(?:4|5[1-5]|2[2-7]|3[47]|6011|65)")
PLACEHOLDERS = {"email": "[EMAIL]", "phone": "[PHONE]", "iban": "[IBAN]", "card": "[CARD]"}


@dataclass(frozen=True)
class PiiMatch:
    kind: str  # email | phone | iban | card
    start: int
    end: int
    text: str


def iban_valid(candidate: str) -> bool:
    s = candidate.replace(" ", "").upper()
    if not (15 <= len(s) <= 34) or not s[:2].isalpha() or not s[2:4].isdigit():
        return False
    moved = s[4:] + s[:4]
    digits = "".join(str(int(ch, 36)) for ch in moved)
    return int(digits) % 97 == 1


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and len(set(digits)) > 1 and luhn_valid(digits)


def _phone_ok(text: str) -> bool:
    return 9 <= len(re.sub(r"\D", "", text)) <= 15


def find_pii(text: str) -> list[PiiMatch]:
    """Non-overlapping matches, most specific kind first (an IBAN's digits are not also a phone number)."""
    found: list[PiiMatch] = []
    # An IBAN-shaped string with a bad checksum is an account number typo, not its digits read as a phone.
    taken = [(m.start(), m.end()) for m in _IBAN.finditer(text)]

    def free(s, e):
        return all(e <= a or s >= b for a, b in taken + [(m.start, m.end) for m in found])

    for kind, pattern, ok in (
        ("email", _EMAIL, lambda t: True),
        ("iban", _IBAN, iban_valid),
        ("card", _CARD, _card_ok),
        ("phone", _PHONE, _phone_ok),
    ):
        for m in pattern.finditer(text):
            if kind == "iban":
                if ok(m.group()):
                    found.append(PiiMatch(kind, m.start(), m.end(), m.group()))
            elif ok(m.group()) and free(m.start(), m.end()):
                found.append(PiiMatch(kind, m.start(), m.end(), m.group()))
    return sorted(found, key=lambda m: m.start)


def redact(text: str, matches: list[PiiMatch]) -> str:
    for m in sorted(matches, key=lambda m: m.start, reverse=True):
        text = text[: m.start] + PLACEHOLDERS[m.kind] + text[m.end :]
    return text
