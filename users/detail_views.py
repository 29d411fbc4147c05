"""The user page (/users/<id>/): a user's details, services, status, 2-step verification,
sign-in history, active sessions and audit history (docs/rules.md, "The user page"); with the
actions that live there: sign out everywhere and cancelling a scheduled deactivation."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib import messages
from django.contrib.sessions.models import Session
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts import access
from accounts.models import User, UserSession
from accounts.pagination import page_links, page_number, paginate
from accounts.sessions import users_sessions_end
from audit import presenters as audit_presenters
from audit.models import AuditEvent
from audit.services import Actor, audit_record
from mfa import selectors as mfa_selectors
from permissions.services import grants_of, grants_summary

from .changes import Change, apply_changes, problem_message
from .views import posted_version

HISTORY_PER_PAGE = 20
SIGN_INS_SHOWN = 20
SESSIONS_SHOWN = 50

# The audit actions that are sign-in attempts, for the sign-in history.
SIGN_IN_ACTIONS = (
    AuditEvent.Action.LOGIN,
    AuditEvent.Action.LOGIN_FAILED,
    AuditEvent.Action.LOCKOUT,
    AuditEvent.Action.MFA_FAILED,
    AuditEvent.Action.MFA_RECOVERY_USED,
    AuditEvent.Action.SSO_LOGIN,
    AuditEvent.Action.SSO_FAILED,
)
_SSO_ACTIONS = (AuditEvent.Action.SSO_LOGIN, AuditEvent.Action.SSO_FAILED)
_FAILURES = (AuditEvent.Action.MFA_FAILED, AuditEvent.Action.SSO_FAILED)


@dataclass(frozen=True)
class SignIn:
    at: datetime
    ip_address: str | None
    method: str
    succeeded: bool
    reason: str


def _method(event: AuditEvent) -> str:
    """How a sign-in was made, in words: the password alone, or with which second step."""
    detail = event.detail or ""
    if event.action in _SSO_ACTIONS:
        return _("Single sign-on")
    if event.action == AuditEvent.Action.MFA_RECOVERY_USED or "recovery" in detail:
        return _("Password and a recovery code")
    if event.action == AuditEvent.Action.MFA_FAILED or "totp" in detail or "passkey" in detail:
        if "passkey" in detail:
            return _("Password and a passkey")
        if "totp" in detail:
            return _("Password and an authenticator app")
        return _("Password and 2-step verification")
    return _("Password")


def sign_ins(user: User) -> list[SignIn]:
    events = AuditEvent.objects.filter(
        organization_id=user.organization_id, target=user, action__in=SIGN_IN_ACTIONS
    ).order_by("-created_at", "-id")[:SIGN_INS_SHOWN]
    return [
        SignIn(
            at=event.created_at,
            ip_address=event.ip_address,
            method=_method(event),
            succeeded=event.outcome == AuditEvent.Outcome.SUCCESS and event.action not in _FAILURES,
            reason=str(audit_presenters.action(event)),
        )
        for event in events
    ]


def active_sessions(user: User) -> list[UserSession]:
    """The user's sessions that have not expired, newest first."""
    live = Session.objects.filter(expire_date__gt=timezone.now()).values("session_key")
    return list(
        UserSession.objects.filter(user=user, session_id__in=live).order_by("-created_at")[
            :SESSIONS_SHOWN
        ]
    )


@access.admin_required
@require_GET
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    target = access.get_managed_user_or_404(request, user_id)
    history = paginate(
        AuditEvent.objects.filter(organization=request.organization, target=target)
        .select_related("actor", "target")
        .order_by("-created_at", "-id"),
        page=page_number(request.GET.get("page")),
        per_page=HISTORY_PER_PAGE,
    )
    sessions = active_sessions(target)
    is_self = access.acting_on_self(request.user, target)
    grants = grants_of(target)
    return render(
        request,
        "users/user_detail.html",
        {
            "target": target,
            "is_self": is_self,
            "services": [audit_presenters.service_label(v) for v in grants_summary(grants)],
            "mfa": mfa_selectors.factors_of(user=target),
            "sign_ins": sign_ins(target),
            "sessions": sessions,
            "current_session": request.session.session_key,
            "history": audit_presenters.rows(history.rows),
            **page_links(history, lambda n: f"?page={n}#history"),
            "can_activate": access.can_activate_user(request.user, target),
            "can_deactivate": access.can_deactivate_user(request.user, target),
            "can_delete": access.can_delete_user(request.user, target),
            "back": reverse("users:detail", args=[target.pk]),
            "sign_ins_url": reverse("audit:list") + f"?user={target.pk}",
        },
    )


@access.admin_required
@require_POST
def user_sign_out(request: HttpRequest, user_id: int) -> HttpResponse:
    """End every session of the user (your own: every other one; this one stays)."""
    target = access.get_managed_user_or_404(request, user_id)
    is_self = access.acting_on_self(request.user, target)
    ended = users_sessions_end(
        user_ids=[target.pk], keep_session_key=request.session.session_key if is_self else None
    )
    audit_record(
        actor=Actor.from_request(request),
        action=AuditEvent.Action.SESSIONS_END,
        organization=request.organization,
        target=target,
        detail=f"sessions: {ended}",
    )
    if is_self:
        message = _("Your other sessions were signed out (%(count)d).")
    else:
        message = _("%(name)s was signed out everywhere (%(count)d sessions).")
    messages.success(request, message % {"name": target.name, "count": ended})
    return redirect("users:detail", target.pk)


@access.admin_required
@require_POST
def user_cancel_schedule(request: HttpRequest, user_id: int) -> HttpResponse:
    """Cancel a scheduled deactivation (through the change service, audited there)."""
    target = access.get_managed_user_or_404(request, user_id)
    version = posted_version(request)
    result = apply_changes(
        organization=request.organization,
        actor=Actor.from_request(request),
        changes=[Change(user_id=target.pk, fields={"deactivate_at": None}, version=version)],
    )
    if result.ok:
        if result.outcomes[0].status == "unchanged":
            messages.info(request, _("No deactivation was scheduled."))
        else:
            messages.success(
                request,
                _("The scheduled deactivation of %(name)s was cancelled.") % {"name": target.name},
            )
    else:
        messages.error(request, " ".join(problem_message(p) for p in result.problems))
    return redirect("users:detail", target.pk)
