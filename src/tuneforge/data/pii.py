"""Personal data in examples: e-mail addresses, phone numbers, IBANs and payment card numbers.

Patterns alone flag every invoice number, so each candidate must pass the check its kind has: IBANs their
ISO 13616 mod-97 checksum, card numbers the Luhn checksum and a known issuer prefix, phone numbers a valid
number in libphonenumber's numbering plans (the `phonenumbers` package): every international form (+1 415 ...,
+31 20 ...) and the national forms of PHONE_REGIONS ((415) 555-0132, 020-555 0134, 020 7946 0958). Hand-written
phone patterns missed national formats; the library's metadata is maintained for every country.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?\d{1,3})?\b")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
# Regions whose national formats are recognised (international +CC forms are recognised for every country).
# Germany is left out: its plan makes almost any 0-prefixed digit string valid (ticket 074-2381190455).
PHONE_REGIONS = ("US", "GB", "NL", "FR", "ES", "IT", "BE", "CH", "AT", "IN", "AU", "CA")
# Cheap pre-filter: only digit runs that could hold a phone number (7+ digits) go to the library.
# No "/" inside: date ranges (01/05-31/05) are not phone numbers.
_PHONE_CANDIDATE = re.compile(r"[+(]?\d[\d \t().\-]{5,}\d")
# A number without +CC in a national format that is also a common account-number shape (512-778-2041 is a
# Google Ads customer id and a valid US number) counts only with a trunk 0 / bracketed area code, or a word
# that says it is a phone number just before it.
_PHONE_WORD = re.compile(r"(?i)\b(?:tel|phone|call|mobile|mobiel|cell|fax|whatsapp|sms|nummer|number|nr|ph|☎)\W{0,3}$")
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


def _phones(text: str) -> list[tuple[int, int]]:
    """Spans of valid phone numbers: libphonenumber run only on candidate digit runs (with a little context)."""
    import phonenumbers

    spans: set[tuple[int, int]] = set()
    for cand in _PHONE_CANDIDATE.finditer(text):
        if sum(ch.isdigit() for ch in cand.group()) < 7:
            continue
        lo, hi = max(cand.start() - 2, 0), min(cand.end() + 2, len(text))
        snippet = text[lo:hi]
        for region in PHONE_REGIONS:
            for m in phonenumbers.PhoneNumberMatcher(snippet, region, leniency=phonenumbers.Leniency.VALID):
                start = lo + m.start
                raw = m.raw_string
                if raw.startswith(("+", "(", "0")) or _PHONE_WORD.search(text[max(start - 24, 0):start]):
                    spans.add((start, lo + m.end))
    # Keep the longest of overlapping spans (a national reading inside an international one).
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans, key=lambda x: (x[0], -x[1])):
        if not out or s >= out[-1][1]:
            out.append((s, e))
    return out


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
    ):
        for m in pattern.finditer(text):
            if kind == "iban":
                if ok(m.group()):
                    found.append(PiiMatch(kind, m.start(), m.end(), m.group()))
            elif ok(m.group()) and free(m.start(), m.end()):
                found.append(PiiMatch(kind, m.start(), m.end(), m.group()))
    for s, e in _phones(text):
        if free(s, e):
            found.append(PiiMatch("phone", s, e, text[s:e]))
    return sorted(found, key=lambda m: m.start)


def redact(text: str, matches: list[PiiMatch]) -> str:
    for m in sorted(matches, key=lambda m: m.start, reverse=True):
        text = text[: m.start] + PLACEHOLDERS[m.kind] + text[m.end :]
    return text
