"""Audit events in words, in the viewer's language: who acted, on whom, and each change as a
field name with its values before and after (never a field code, a Python value or a list
literal). The audit page and its CSV download both read events through here; what is stored is
left as it is ({field: [before, after]}, services as ["phone", "meeting_access=host"])."""

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

from accounts.models import User
from permissions import catalog

from .models import AuditEvent

NONE = "—"

# The fields an audit record can name, as the forms and pages call them.
FIELD_LABELS = {
    "login_id": gettext_lazy("Login ID"),
    "name": gettext_lazy("User name"),
    "locale": gettext_lazy("Language"),
    "time_zone": gettext_lazy("Time zone"),
    "role": gettext_lazy("Role"),
    "extension": gettext_lazy("Extension number"),
    "is_active": gettext_lazy("Status"),
    "deactivate_at": gettext_lazy("Scheduled deactivation"),
    "external_id": gettext_lazy("External ID"),
    "services": gettext_lazy("Services"),
    "user_limit": gettext_lazy("User limit"),
    "service_limits": gettext_lazy("Seat limits"),
    "slug": gettext_lazy("Organization ID"),
    # Single sign-on settings (sso.services).
    "idp_entity_id": gettext_lazy("Identity provider entity ID"),
    "sso_url": gettext_lazy("Sign-in URL"),
    "certificates": gettext_lazy("Signing certificates"),
    "match_by": gettext_lazy("Match users by"),
    "match_attribute": gettext_lazy("Attribute name"),
    "enabled": gettext_lazy("Single sign-on"),
    "require_sso": gettext_lazy("Require single sign-on"),
    "allow_idp_initiated": gettext_lazy("IdP-initiated sign-in"),
    "break_glass": gettext_lazy("Break-glass admins"),
    # Groups the identity provider created (scim.groups).
    "group_name": gettext_lazy("Group name"),
    "members_added": gettext_lazy("Members added"),
    "members_removed": gettext_lazy("Members removed"),
}
_SSO_MATCH = {
    "name_id": gettext_lazy("NameID (email address format)"),
    "attribute": gettext_lazy("An attribute"),
}
# Why single sign-on refused a response (the detail of an SSO_FAILED event, sso.saml codes).
SSO_REASONS = {
    "signature": gettext_lazy("signature missing or not valid"),
    "audience": gettext_lazy("meant for another service"),
    "destination": gettext_lazy("sent to another address"),
    "recipient": gettext_lazy("sent to another address"),
    "issuer": gettext_lazy("from another identity provider"),
    "expired": gettext_lazy("expired"),
    "not_yet_valid": gettext_lazy("not valid yet"),
    "replayed": gettext_lazy("already used"),
    "unsolicited": gettext_lazy("no sign-in was started for it in this browser"),
    "unknown_user": gettext_lazy("no active user with this login ID"),
    "not_enabled": gettext_lazy("single sign-on is off"),
    "not_set_up": gettext_lazy("single sign-on is not set up"),
    "doctype": gettext_lazy("XML with a DOCTYPE or entities"),
    "malformed": gettext_lazy("unreadable response"),
    "encoding": gettext_lazy("unreadable response"),
    "idp_status": gettext_lazy("the identity provider reported a failure"),
    "test_other_user": gettext_lazy("test sign-in as another user"),
    "invalid": gettext_lazy("not valid"),
}
SSO_REQUIRED = "sso required"  # the detail of a password refused under "require SSO"
# Languages named in the viewer's language (the language menus name each in its own).
_LANGUAGES = {
    User.Locale.JAPANESE: pgettext_lazy("language, as a value", "Japanese"),
    User.Locale.ENGLISH: pgettext_lazy("language, as a value", "English"),
}
_STATUS = {True: gettext_lazy("Active"), False: gettext_lazy("Deactivated")}
_YES_NO = {True: gettext_lazy("Yes"), False: gettext_lazy("No")}
_CSV_IMPORT_SUFFIX = " (CSV import)"
_OPERATOR_PREFIX = "operator:"
AUDIT_LOG_EXPORT = "audit log"  # the detail of an EXPORT event that downloaded this log


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class Party:
    """Someone named by an event: a name to show and, below it, the login ID it had then."""

    name: str
    login_id: str = ""


def service_label(value: str) -> str:
    """ "meeting_access=host" -> "Edit meeting access permission: Host only"; "phone" ->
    "MiiTel Phone". An unknown code (a service since removed) is shown as stored."""
    code, _sep, level = str(value).partition("=")
    service = catalog.BY_CODE.get(code)
    if service is None:
        return str(value)
    if level:
        chosen = service.level(level)
        return f"{service.label}: {chosen.label if chosen else level}"
    return service.label


def value_text(field: str, value) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return NONE
    if field == "locale":
        return str(_LANGUAGES.get(value, value))
    if field == "role":
        return str(dict(User.Role.choices).get(value, value))
    if field == "match_by":
        return str(_SSO_MATCH.get(value, value))
    if field == "is_active" and isinstance(value, bool):
        return str(_STATUS[value])
    if isinstance(value, bool):
        return str(_YES_NO[value])
    if isinstance(value, int):
        return number_format(value, force_grouping=True)
    if field == "services" and isinstance(value, list):
        return ", ".join(service_label(v) for v in value)
    if field == "deactivate_at" and isinstance(value, str):
        return _when(value)
    if field == "service_limits" and isinstance(value, dict):
        return ", ".join(
            f"{service_label(code)}: {value_text(field, limit)}"
            for code, limit in sorted(value.items())
        )
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _when(value: str) -> str:
    """A stored ISO time, in the viewer's time zone and format."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if timezone.is_naive(moment):
        return value
    return date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")


_ORGANIZATION_ACTIONS = (AuditEvent.Action.ORGANIZATION_CREATE, AuditEvent.Action.CONTRACT_CHANGE)


def field_label(event: AuditEvent, field: str) -> str:
    if field == "name" and event.action in _ORGANIZATION_ACTIONS:
        return _("Organization name")
    return str(FIELD_LABELS.get(field, field))


def changes(event: AuditEvent) -> list[Change]:
    """Each change in words; a field that reads the same before and after (an added user's
    empty extension: None then "") is left out."""
    shown = []
    for field, pair in (event.changes or {}).items():
        before = value_text(field, pair[0] if isinstance(pair, list | tuple) else None)
        after = value_text(field, pair[1] if isinstance(pair, list | tuple) else pair)
        if before != after:
            shown.append(Change(field=field_label(event, field), before=before, after=after))
    return shown


def actor(event: AuditEvent) -> Party:
    label = event.actor_label
    if label.startswith(_OPERATOR_PREFIX):
        command, _sep, who = label[len(_OPERATOR_PREFIX) :].partition(" (")
        return Party(
            _("Operator (%(command)s, %(who)s)") % {"command": command, "who": who.rstrip(")")}
        )
    if label == "anonymous":
        return Party(_("Not signed in"))
    by_import = label.endswith(_CSV_IMPORT_SUFFIX)
    login_id = label.removesuffix(_CSV_IMPORT_SUFFIX)
    name = event.actor.display_name if event.actor is not None else login_id
    if by_import:
        name = _("%(name)s, by CSV import") % {"name": name}
    return Party(name, login_id if event.actor is not None else "")


def target(event: AuditEvent) -> Party:
    """The user acted on, as named now (a deleted user: `<name> (Deleted)`), with the login ID
    recorded at the time; or what else the event names (an organization's ID)."""
    if event.target is not None:
        return Party(event.target.display_name, event.target_label)
    return Party(event.target_label or NONE)


def action(event: AuditEvent) -> str:
    if event.action == AuditEvent.Action.EXPORT and event.detail.startswith(AUDIT_LOG_EXPORT):
        return _("Audit log downloaded")
    if event.action == AuditEvent.Action.SSO_FAILED:
        reason = SSO_REASONS.get(event.detail, SSO_REASONS["invalid"])
        return _("Single sign-on refused: %(reason)s") % {"reason": reason}
    if event.action == AuditEvent.Action.LOGIN_FAILED and event.detail == SSO_REQUIRED:
        return _("Password sign-in refused: single sign-on is required")
    return str(event.get_action_display())


@dataclass(frozen=True)
class Row:
    event: AuditEvent
    actor: Party
    action: str
    target: Party
    changes: list[Change]


def rows(events) -> list[Row]:
    return [
        Row(event=e, actor=actor(e), action=action(e), target=target(e), changes=changes(e))
        for e in events
    ]
