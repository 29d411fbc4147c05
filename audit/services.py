"""Audit records are written inside the caller's transaction: a change and its record commit or
roll back together."""

import getpass
import json
from dataclasses import dataclass

from django.db import connection, models
from django.http import HttpRequest

from accounts.backends import client_ip as resolve_client_ip

from .models import AuditEvent

# Fields whose values never reach an audit row.
SECRET_FIELDS = frozenset({"password", "temporary_password", "new_password", "old_password"})


@dataclass(frozen=True)
class Actor:
    """Who is acting: a signed-in admin (with the client's IP) or an operator's command."""

    user: object | None
    label: str
    ip_address: str | None = None
    channel: str = AuditEvent.Channel.CONSOLE

    @classmethod
    def from_request(cls, request: HttpRequest) -> "Actor":
        user = request.user if request.user.is_authenticated else None
        label = user.login_id if user is not None else "anonymous"
        return cls(user=user, label=label, ip_address=client_ip(request))

    @classmethod
    def operator(cls, command: str) -> "Actor":
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = "unknown"
        return cls(
            user=None, label=f"operator:{command} ({who})", channel=AuditEvent.Channel.OPERATOR
        )


def client_ip(request: HttpRequest) -> str | None:
    """The client IP, trusted-proxy aware (the same address django-axes counts)."""
    return resolve_client_ip(request)


def _scrub(changes: dict) -> dict:
    return {k: v for k, v in changes.items() if k not in SECRET_FIELDS}


def audit_record(**kwargs) -> AuditEvent:
    """Write one audit record (audit_event() takes the arguments), in the caller's transaction."""
    event = audit_event(**kwargs)
    event.save()
    return event


def audit_event(
    *,
    actor: Actor,
    action: str,
    organization=None,
    target=None,
    target_label: str = "",
    changes: dict | None = None,
    outcome: str = AuditEvent.Outcome.SUCCESS,
    detail: str = "",
    target_version: int | None = None,
) -> AuditEvent:
    """An unsaved audit record, for callers that write many at once (bulk_create)."""
    if target is not None and not target_label:
        target_label = target.login_id or target.name
    return AuditEvent(
        organization=organization,
        actor=actor.user,
        actor_label=actor.label[:300],
        channel=actor.channel,
        action=action,
        outcome=outcome,
        target=target,
        target_label=target_label[:300],
        changes=_scrub(changes or {}),
        ip_address=actor.ip_address,
        detail=detail[:500],
        target_version=target_version,
    )


def diff(before: dict, after: dict) -> dict:
    """{field: [before, after]} for the fields whose value changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


# Above this many records, PostgreSQL takes them by COPY (one stream) instead of INSERT.
COPY_FROM = 500


def audit_events_write(events: list[AuditEvent], *, chunk: int = 1000) -> None:
    """Save many unsaved audit records (audit_event()) in the caller's transaction. On
    PostgreSQL a large batch is one COPY: a bulk action's 10,000 records as INSERT statements
    cost more in building and sending their 140,000 parameters than the rows cost to write
    (docs/performance.md). The records' IDs are not read back."""
    if not events:
        return
    if connection.vendor != "postgresql" or len(events) < COPY_FROM:
        for start in range(0, len(events), chunk):
            AuditEvent.objects.bulk_create(events[start : start + chunk])
        return
    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)

    def value(event: AuditEvent, f):
        raw = getattr(event, f.attname)
        if isinstance(f, models.JSONField):
            return json.dumps(raw, cls=f.encoder)
        return raw

    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    # Constant SQL: the model's own table and column names.
    statement = f"COPY {table} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for event in events:
            copy.write_row([value(event, f) for f in fields])
