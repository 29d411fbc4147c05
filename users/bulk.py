"""Bulk actions on the User List and the bulk_users command (docs/rules.md, "Batches, undo and
schedules"): which users a selection names, the change each action makes, the combined effect
of a dry run, and the pin that carries the confirmed set from the confirmation to the apply.

A selection is either the ticked rows (their IDs) or "every user matching this search and
filter" (the list's own parameters, read by users.selectors.user_list_for like the list and its
export). Either way it becomes a list of (user ID, version) pairs, read once: the confirmation
shows the dry run of exactly those, and the apply hands exactly those to apply_changes with
their versions, so a filter that matches other users by then, or a user changed since, changes
nothing silently (a changed user is refused as stale, and the admin confirms again).

The pin is a signed token (django.core.signing) of the organization, the admin, the action and
the pairs: IDs as sorted gaps, versions as a list, compressed. 10,000 users make a few kB,
nothing is stored server-side, and a token of another admin, another organization or over an
hour old is refused."""

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from django import forms
from django.core import signing
from django.utils import timezone
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from accounts.batching import lookup_chunks
from accounts.models import Organization, User
from analytics.selectors import deletion_impact_total
from audit.models import ChangeBatch
from audit.services import Actor
from permissions import catalog
from permissions.models import SeatCount

from . import selectors
from .changes import DELETE, ERROR, UNCHANGED, BatchSpec, Change, ChangeResult, apply_changes
from .changes import problem_message as console_message
from .filters import NARROWING, UserFilterForm, list_params

DEACTIVATE, ACTIVATE, GRANT, REVOKE, REMOVE, SCHEDULE = (
    "deactivate",
    "activate",
    "grant",
    "revoke",
    "delete",
    "schedule",
)
ACTIONS = (DEACTIVATE, ACTIVATE, GRANT, REVOKE, REMOVE, SCHEDULE)
ACTION_CHOICES = [
    (DEACTIVATE, pgettext_lazy("bulk action", "Deactivate")),
    (ACTIVATE, pgettext_lazy("bulk action", "Activate")),
    (GRANT, pgettext_lazy("bulk action", "Grant a service")),
    (REVOKE, pgettext_lazy("bulk action", "Revoke a service")),
    (SCHEDULE, pgettext_lazy("bulk action", "Schedule deactivation")),
    (REMOVE, pgettext_lazy("bulk action", "Delete")),
]
BATCH_KINDS = {
    DEACTIVATE: ChangeBatch.Kind.DEACTIVATE,
    ACTIVATE: ChangeBatch.Kind.ACTIVATE,
    GRANT: ChangeBatch.Kind.GRANT,
    REVOKE: ChangeBatch.Kind.REVOKE,
    REMOVE: ChangeBatch.Kind.DELETE,
    SCHEDULE: ChangeBatch.Kind.SCHEDULE,
}

# Ticked rows come from one page (at most 100 rows); more IDs than this in one POST is not a
# page's selection and is refused with a message.
MAX_TICKED = 1000
# "All matching": one request and one transaction for up to this many users (docs/performance.md
# measures 10,000); a larger selection is refused with a message to narrow the filter.
MAX_SELECTION = 50_000
# A deletion purges each user's activity one by one (docs/rules.md): about 6 ms a user, so a
# request deletes at most this many (the bulk_users command has no request to time out).
MAX_DELETE_IN_REQUEST = 2_000
# Refused users listed by name on the confirmation (the others are counted).
REFUSED_SHOWN = 100
# A confirmation older than this is asked for again.
PIN_MAX_AGE = 60 * 60
PIN_SALT = "users.bulk.pin"


class SelectionError(Exception):
    """A selection that cannot be acted on; the message is for the admin."""


def organization_time_zone(organization: Organization) -> ZoneInfo:
    """The zone a scheduled time is given in: the organization's, whoever types it
    (docs/rules.md)."""
    return ZoneInfo(organization.time_zone)


# --- The action ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkAction:
    """One action applied to every selected user: `service` and `level` for a grant or a revoke
    (the level of a service with levels), `at` for a scheduled deactivation."""

    kind: str
    service: str = ""
    level: str = ""
    at: datetime | None = None

    def change(self, user_id: int, version: int | None = None) -> Change:
        if self.kind == DEACTIVATE:
            return Change(user_id=user_id, fields={"is_active": False}, version=version)
        if self.kind == ACTIVATE:
            return Change(user_id=user_id, fields={"is_active": True}, version=version)
        if self.kind == GRANT:
            return Change(user_id=user_id, grant={self.service: self.level}, version=version)
        if self.kind == REVOKE:
            return Change(user_id=user_id, revoke=[self.service], version=version)
        if self.kind == REMOVE:
            return Change(user_id=user_id, delete=True, version=version)
        if self.kind == SCHEDULE:
            return Change(user_id=user_id, fields={"deactivate_at": self.at}, version=version)
        raise ValueError(f"not a bulk action: {self.kind}")

    def batch(self) -> BatchSpec:
        detail = self.service if self.kind in (GRANT, REVOKE) else ""
        if self.kind == SCHEDULE and self.at is not None:
            detail = self.at.isoformat()
        return BatchSpec(kind=BATCH_KINDS[self.kind], detail=detail)

    @property
    def service_label(self) -> str:
        service = catalog.BY_CODE.get(self.service)
        if service is None:
            return self.service
        level = service.level(self.level) if self.level else None
        return f"{service.label} ({level.label})" if level else service.label

    def as_list(self) -> list:
        return [self.kind, self.service, self.level, self.at.isoformat() if self.at else ""]

    @classmethod
    def from_list(cls, items: list) -> "BulkAction":
        kind, service, level, at = items
        if kind not in ACTIONS:
            raise ValueError(kind)
        return cls(kind, service, level, datetime.fromisoformat(at) if at else None)


def service_choices(organization: Organization) -> list[tuple[str, str]]:
    """The services a bulk grant or revoke may name: the contract's grantable ones, a service
    with levels once per level it can be granted at ("code=level")."""
    contract = organization.contract
    choices = []
    for service in catalog.GRANTABLE:
        if not contract.has_service(service.code):
            continue
        if service.has_levels:
            # The first level means "not granted": granting it is revoking.
            for level in service.levels[1:]:
                choices.append((f"{service.code}={level.value}", f"{service.label}: {level.label}"))
        else:
            choices.append((service.code, service.label))
    return choices


def parse_service(value: str) -> tuple[str, str]:
    code, _sep, level = value.partition("=")
    service = catalog.BY_CODE.get(code)
    if service is not None and service.has_levels and not level:
        level = service.levels[-1].value
    return code, level


# --- The form of the User List's bulk bar ---------------------------------------------------


class BulkForm(forms.Form):
    """The action and its parameters. The users come with it: ticked IDs ("ids", scope
    "selected") or the list's filters under the prefix "filter-" (scope "all")."""

    action = forms.ChoiceField(label=gettext_lazy("Action"), choices=ACTION_CHOICES)
    service = forms.ChoiceField(label=gettext_lazy("Service"), required=False)
    deactivate_at = forms.DateTimeField(
        label=gettext_lazy("Deactivate at"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M"],
    )
    scope = forms.ChoiceField(
        choices=[("selected", "selected"), ("all", "all")], required=False, initial="selected"
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization
        self.fields["service"].choices = [("", "—"), *service_choices(organization)]

    def full_clean(self):
        # A scheduled time is a time in the organization's zone, whoever types it.
        with timezone.override(organization_time_zone(self.organization)):
            super().full_clean()

    def clean(self):
        data = super().clean()
        action = data.get("action")
        if action in (GRANT, REVOKE) and not data.get("service"):
            self.add_error("service", gettext_lazy("Choose the service to grant or revoke."))
        if action == SCHEDULE and not data.get("deactivate_at"):
            self.add_error("deactivate_at", gettext_lazy("Give the date and time to deactivate."))
        return data

    def bulk_action(self) -> BulkAction:
        data = self.cleaned_data
        action = data["action"]
        code, level = parse_service(data.get("service") or "")
        return BulkAction(
            kind=action,
            service=code if action in (GRANT, REVOKE) else "",
            level=level if action == GRANT else "",
            at=data.get("deactivate_at") if action == SCHEDULE else None,
        )


def ticked_ids(values: list[str]) -> list[int]:
    """The IDs of ticked rows, as posted: whole positive numbers, at most MAX_TICKED."""
    if len(values) > MAX_TICKED:
        raise SelectionError(
            ngettext(
                "Select at most %(max)s user on a page, or select all users matching the "
                "search and filter.",
                "Select at most %(max)s users on a page, or select all users matching the "
                "search and filter.",
                MAX_TICKED,
            )
            % {"max": f"{MAX_TICKED:,}"}
        )
    ids = set()
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise SelectionError(str(gettext_lazy("The selection is not valid."))) from None
        if not 0 < number < 2**63:
            raise SelectionError(str(gettext_lazy("The selection is not valid.")))
        ids.add(number)
    return sorted(ids)


def select_ids(*, organization: Organization, ids: list[int]) -> list[tuple[int, int]]:
    """(ID, version) of the ticked users. An ID that is not a user of this organization (another
    organization's, a deleted user, none at all) is refused as a whole, without saying which:
    the view answers 404, exactly as for an ID that does not exist."""
    pairs = []
    for chunk in lookup_chunks(ids):
        pairs += User.objects.filter(organization=organization, pk__in=chunk).values_list(
            "pk", "version"
        )
    if len(pairs) != len(ids):
        raise LookupError("not every ID is a user of this organization")
    return sorted(pairs)


def filter_params(data, *, organization: Organization, prefix: str | None = "filter") -> dict:
    """The list's parameters from the bulk bar's hidden fields (or, without a prefix, from a
    dict such as the command's --filter), read like the list reads them."""
    filters = UserFilterForm(data, organization=organization, prefix=prefix)
    return list_params(filters)


def select_matching(*, organization: Organization, params: dict) -> list[tuple[int, int]]:
    """(ID, version) of every user the list shows for `params`, however many pages. Refused
    above MAX_SELECTION (one statement reads at most one more than that)."""
    qs = selectors.user_list_for(organization=organization, params=params).order_by("pk")
    pairs = list(qs.values_list("pk", "version")[: MAX_SELECTION + 1])
    if len(pairs) > MAX_SELECTION:
        raise SelectionError(
            ngettext(
                "More than %(max)s user matches: narrow the search or the filters.",
                "More than %(max)s users match: narrow the search or the filters.",
                MAX_SELECTION,
            )
            % {"max": f"{MAX_SELECTION:,}"}
        )
    return pairs


def check_request_size(action: "BulkAction", count: int) -> None:
    """What one request may take on: SelectionError above it."""
    if action.kind == REMOVE and count > MAX_DELETE_IN_REQUEST:
        raise SelectionError(
            ngettext(
                "Delete at most %(max)s user at once: narrow the search or the filters.",
                "Delete at most %(max)s users at once: narrow the search or the filters.",
                MAX_DELETE_IN_REQUEST,
            )
            % {"max": f"{MAX_DELETE_IN_REQUEST:,}"}
        )


def describe_filter(params: dict) -> dict:
    """The narrowing parameters only (for the confirmation's "matching" line and the pin)."""
    return {name: params[name] for name in NARROWING if params.get(name)}


# --- The pin ------------------------------------------------------------------------------------


@dataclass
class Pin:
    action: BulkAction
    pairs: list[tuple[int, int]]  # (user ID, version) as confirmed
    refused: list[int]  # the IDs the confirmation showed as refused
    params: dict = field(default_factory=dict)  # the filter of an "all matching" selection


def _gaps(ids: list[int]) -> list[int]:
    previous, gaps = 0, []
    for pk in ids:
        gaps.append(pk - previous)
        previous = pk
    return gaps


def _ungap(gaps: list[int]) -> list[int]:
    total, ids = 0, []
    for gap in gaps:
        total += gap
        ids.append(total)
    return ids


def pin_dumps(*, organization: Organization, actor: User, pin: Pin) -> str:
    pairs = sorted(pin.pairs)
    data = {
        "o": organization.pk,
        "u": actor.pk,
        "a": pin.action.as_list(),
        "i": _gaps([pk for pk, _v in pairs]),
        "v": [v for _pk, v in pairs],
        "r": _gaps(sorted(pin.refused)),
        "f": pin.params,
    }
    return signing.dumps(data, salt=PIN_SALT, compress=True)


def pin_loads(token: str, *, organization: Organization, actor: User) -> Pin:
    """The pin of a confirmation, or SelectionError when it is not this admin's, not of this
    organization, tampered with or too old."""
    expired = SelectionError(
        str(
            gettext_lazy(
                "This confirmation is no longer valid (it is over an hour old, or not yours). "
                "Select the users again."
            )
        )
    )
    if not token or len(token) > 2_000_000:
        raise expired
    try:
        data = signing.loads(token, salt=PIN_SALT, max_age=PIN_MAX_AGE)
        if data["o"] != organization.pk or data["u"] != actor.pk:
            raise expired
        ids = _ungap(data["i"])
        pairs = list(zip(ids, data["v"], strict=True))
        return Pin(
            action=BulkAction.from_list(data["a"]),
            pairs=pairs,
            refused=_ungap(data["r"]),
            params=dict(data.get("f") or {}),
        )
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise expired from None


# --- The combined effect ------------------------------------------------------------------------


@dataclass
class Refusal:
    user_id: int
    name: str
    login_id: str
    message: str


@dataclass
class SeatLine:
    label: str
    used: int
    after: int
    limit: int | None

    @property
    def freed(self) -> int:
        return max(self.used - self.after, 0)

    @property
    def needed(self) -> int:
        return max(self.after - self.used, 0)

    @property
    def over(self) -> bool:
        return self.limit is not None and self.after > self.limit and self.needed > 0


@dataclass
class Summary:
    """The combined effect of a bulk action on its selection, from one dry run."""

    action: BulkAction
    selected: int
    changing: int
    unchanged: int
    refused_count: int
    refused: list[Refusal]  # the first REFUSED_SHOWN
    refused_ids: list[int]
    reasons: list[tuple[str, int]]  # each refusal message with how many users it refuses
    seats: list[SeatLine]
    impact: dict[str, int] | None  # summed deletion impact of the users that would be deleted
    result: ChangeResult | None = None

    @property
    def refused_more(self) -> int:
        return self.refused_count - len(self.refused)


def dry_run(
    *,
    organization: Organization,
    actor: Actor,
    action: BulkAction,
    pairs: list[tuple[int, int]],
    pinned_versions: bool = True,
) -> Summary:
    """apply_changes(commit=False) of the action on the pairs, summed up."""
    changes = [action.change(pk, version if pinned_versions else None) for pk, version in pairs]
    result = apply_changes(organization=organization, actor=actor, changes=changes, commit=False)
    return summarize(organization=organization, action=action, result=result)


def summarize(*, organization: Organization, action: BulkAction, result: ChangeResult) -> Summary:
    contract = organization.contract
    refused: list[Refusal] = []
    refused_ids: list[int] = []
    reasons: Counter[str] = Counter()
    changing = unchanged = 0
    deleting: list[int] = []
    users_delta = 0
    service_delta: Counter[str] = Counter()
    limited = [
        code
        for code in sorted(catalog.SEAT_LIMITED_CODES)
        if contract.has_service(code) and contract.seat_limit(code) is not None
    ]
    for outcome in result.outcomes:
        user_id = outcome.change.user_id
        if outcome.status == ERROR:
            refused_ids.append(user_id)
            message = " ".join(console_message(p) for p in outcome.problems)
            reasons[message] += 1
            if len(refused) < REFUSED_SHOWN:
                user = outcome.user
                refused.append(
                    Refusal(
                        user_id=user_id,
                        name=user.name if user is not None else "",
                        login_id=user.login_id if user is not None else "",
                        message=message,
                    )
                )
            continue
        if outcome.status == UNCHANGED:
            unchanged += 1
            continue
        changing += 1
        plan = outcome.plan
        if outcome.status == DELETE:
            deleting.append(user_id)
            users_delta -= 1
        if plan is not None:
            for code in limited:
                had, has = code in plan.grants_before, code in plan.grants_after
                if has and not had:
                    service_delta[code] += 1
                elif had and not has:
                    service_delta[code] -= 1
    usage = selectors.seat_usage(organization=organization, codes=limited)
    seats = []
    if users_delta:
        used = usage[SeatCount.USERS]
        seats.append(
            SeatLine(str(gettext_lazy("Users")), used, used + users_delta, contract.user_limit)
        )
    for code in limited:
        if service_delta[code]:
            used = usage[code]
            seats.append(
                SeatLine(
                    catalog.get(code).label,
                    used,
                    used + service_delta[code],
                    contract.seat_limit(code),
                )
            )
    impact = (
        deletion_impact_total(organization=organization, user_ids=deleting)
        if action.kind == REMOVE
        else None
    )
    return Summary(
        action=action,
        selected=len(result.outcomes),
        changing=changing,
        unchanged=unchanged,
        refused_count=len(refused_ids),
        refused=refused,
        refused_ids=refused_ids,
        reasons=reasons.most_common(),
        seats=seats,
        impact=impact,
        result=result,
    )


def apply(
    *,
    organization: Organization,
    actor: Actor,
    pin: Pin,
    others: bool,
) -> ChangeResult:
    """Apply the pinned action in one transaction as one batch: to every pinned user (all or
    nothing), or, with `others`, to those the confirmation did not show as refused."""
    skip = set(pin.refused) if others else set()
    changes = [pin.action.change(pk, version) for pk, version in pin.pairs if pk not in skip]
    return apply_changes(
        organization=organization, actor=actor, changes=changes, batch=pin.action.batch()
    )
