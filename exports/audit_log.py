"""The audit log as CSV, in the words of the audit page (audit.presenters) and the viewer's
language, in the user export's three encodings (csv_format), streamed in batches."""

from collections.abc import Iterator

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from audit import presenters

from . import csv_format

BATCH = 1000
# How many entries a refused Shift_JIS download names (the page says how many more).
MAX_REPORTED = 20


def header() -> list[str]:
    return [
        _("When"),
        _("Actor"),
        _("Actor's login ID"),
        _("Action"),
        _("Outcome"),
        _("Target"),
        _("Target's login ID"),
        _("Changes"),
        _("IP address"),
    ]


def _value(text: str) -> str:
    # The page's "—" (U+2014) is not in Shift_JIS: the file says "(none)" in words.
    return _("(none)") if text == presenters.NONE else text


def event_row(row: presenters.Row) -> list[str]:
    event = row.event
    return [
        timezone.localtime(event.created_at).strftime("%Y-%m-%d %H:%M:%S"),
        row.actor.name,
        row.actor.login_id,
        row.action,
        str(event.get_outcome_display()),
        row.target.name if row.target.name != presenters.NONE else "",
        row.target.login_id,
        "; ".join(f"{c.field}: {_value(c.before)} → {_value(c.after)}" for c in row.changes),
        event.ip_address or "",
    ]


def rows(events, *, language: str, zone) -> Iterator[list[str]]:
    """The header, then one row per event, read in batches (actor and target in each query),
    in `language` and time `zone`: the body is streamed after the view has returned, when the
    request's language and zone are no longer active."""
    with translation.override(language), timezone.override(zone):
        yield header()
        for start in range(0, events.count(), BATCH):
            for row in presenters.rows(events[start : start + BATCH]):
                yield event_row(row)


def unencodable(events, encoding: str, **context) -> tuple[list[tuple[str, str]], int]:
    """Entries the encoding cannot hold unchanged: ([(time, text)], how many). Checked before
    the first byte is sent; UTF-8 holds everything."""
    if encoding != "shift_jis":
        return [], 0
    found, total = [], 0
    for row in rows(events, **context):
        bad = [cell for cell in row if not cell.isascii() and not fits(cell, encoding)]
        if bad:
            total += 1
            if len(found) < MAX_REPORTED:
                found.append((row[0], bad[0]))
    return found, total


def fits(text: str, encoding: str) -> bool:
    return csv_format.fits_encoding(text, encoding)


def audit_log_bytes(events, encoding: str, **context) -> Iterator[bytes]:
    return csv_format.batched(csv_format.encode_rows(rows(events, **context), encoding))
