"""Audit records are written inside the caller's transaction: a change and its record commit or
roll back together."""

import getpass
import json
from dataclasses import dataclass

from django.db import connection, models
from django.http import HttpRequest
from django.utils import timezone

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


def audit_event(**kwargs) -> AuditEvent:
    """An unsaved audit record (the arguments of event_values()), for callers that write many
    at once."""
    return AuditEvent(**event_values(**kwargs))


def event_values(
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
) -> dict:
    """The fields of one audit record."""
    if target is not None and not target_label:
        target_label = target.login_id or target.name
    return {
        "organization": organization,
        "actor": actor.user,
        "actor_label": actor.label[:300],
        "channel": actor.channel,
        "action": action,
        "outcome": outcome,
        "target": target,
        "target_label": target_label[:300],
        "changes": _scrub(changes or {}),
        "ip_address": actor.ip_address,
        "detail": detail[:500],
        "target_version": target_version,
    }


def diff(before: dict, after: dict) -> dict:
    """{field: [before, after]} for the fields whose value changed."""
    return {k: [before.get(k), after.get(k)] for k in after if before.get(k) != after.get(k)}


# Above this many records, PostgreSQL takes them by COPY (one stream) instead of INSERT.
COPY_FROM = 500


def audit_events_write(entries: list[dict], *, batch=None, chunk: int = 1000) -> None:
    """Save many audit records, each given as the arguments of audit_event(), in the caller's
    transaction, as members of `batch` if given. On PostgreSQL a large batch is one COPY of
    plain rows: a bulk action's 10,000 records as model instances and INSERT statements cost
    more to build and send than the rows cost to write (docs/performance.md)."""
    if not entries:
        return
    if connection.vendor != "postgresql" or len(entries) < COPY_FROM:
        events = []
        for entry in entries:
            event = audit_event(**entry)
            event.batch = batch
            events.append(event)
        for start in range(0, len(events), chunk):
            AuditEvent.objects.bulk_create(events[start : start + chunk])
        return
    fields = [f for f in AuditEvent._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    now = timezone.now()
    batch_id = batch.pk if batch is not None else None

    def getter(f):
        # One function per column, chosen once (10,000 rows × 14 columns).
        if f.name == "batch":
            return lambda values: batch_id
        if f.name == "created_at":
            return lambda values: now
        if f.is_relation:
            return lambda values: None if values[f.name] is None else values[f.name].pk
        if isinstance(f, models.JSONField):
            return lambda values: json.dumps(values[f.name], cls=f.encoder)
        # A field event_values() does not give fails here, loudly.
        return lambda values: values[f.name]

    getters = [getter(f) for f in fields]
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    # Constant SQL: the model's own table and column names.
    statement = f"COPY {table} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for entry in entries:
            values = event_values(**entry)
            copy.write_row([get(values) for get in getters])
