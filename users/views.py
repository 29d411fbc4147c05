from axes.models import AccessAttempt
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts import access
from accounts.backends import axes_username
from accounts.fields import USER_FIELDS
from accounts.models import User
from accounts.pagination import page_links, paginate
from accounts.problems import Problem
from accounts.sessions import session_register
from analytics.selectors import deletion_impact
from audit.models import AuditEvent
from audit.services import Actor, audit_record, client_ip
from mfa import flow as mfa_flow
from mfa import selectors as mfa_selectors
from permissions.services import grants_of
from sso import selectors as sso_selectors

from . import bulk, selectors, services
from .changes import Change, ChangeResult, Outcome, apply_changes, problem_message
from .filters import UserFilterForm, is_filtered, list_params, query_string
from .forms import LoginForm, PasswordChangeForm, UserForm
from .presenters import filter_selects, list_services, user_rows

# --- Sign-in, sign-out, password ----------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("login")
    return redirect("users:list")


class LoginView(auth_views.LoginView):
    form_class = LoginForm
    template_name = "registration/login.html"
    redirect_authenticated_user = True
    http_method_names = ["get", "post"]

    def form_valid(self, form):
        user = form.get_user()
        if sso_selectors.password_sign_in_refused(user=user):
            # Require SSO (docs/sso.md): the password is refused but for break-glass admins.
            audit_record(
                actor=Actor(user=None, label="anonymous", ip_address=client_ip(self.request)),
                action=AuditEvent.Action.LOGIN_FAILED,
                outcome=AuditEvent.Outcome.FAILURE,
                organization=user.organization,
                target=user,
                detail="sso required",
            )
            form.add_error(
                None,
                _(
                    "Your organization signs in with single sign-on: use “Sign in with SSO”. "
                    "Password sign-in is kept for the admins your organization named."
                ),
            )
            return self.render_to_response(self.get_context_data(form=form))
        # The password is right: mfa signs in, or first asks for the second factor.
        return mfa_flow.password_accepted(
            self.request, user=form.get_user(), redirect_to=self.get_success_url()
        )

    def form_invalid(self, form):
        # A locked-out attempt checked no password: django-axes records the lockout instead.
        if form.data.get("username") and not getattr(self.request, "axes_locked_out", False):
            username = str(form.data.get("username"))[:300].replace("\x00", "")
            target = (
                User.objects.filter(login_id_key=username.strip().lower())
                .select_related("organization")
                .first()
            )
            audit_record(
                actor=Actor(user=None, label="anonymous", ip_address=client_ip(self.request)),
                action=AuditEvent.Action.LOGIN_FAILED,
                outcome=AuditEvent.Outcome.FAILURE,
                organization=target.organization if target else None,
                target=target,
                target_label=username.encode("unicode_escape").decode()[:300],
            )
        return super().form_invalid(form)


def lockout_response(request: HttpRequest, original_response=None, credentials=None):
    """django-axes calls this for a locked login ID: the sign-in page, status 429, saying when
    to try again. No password is hashed on this path."""
    # Locked attempts are not recorded, so the lock ends a cool-off after the last failure.
    username = axes_username(request, credentials)
    last = AccessAttempt.objects.filter(
        username=username, attempt_time__gte=timezone.now() - settings.AXES_COOLOFF_TIME
    ).aggregate(last=Max("attempt_time"))["last"]
    retry_at = timezone.localtime((last or timezone.now()) + settings.AXES_COOLOFF_TIME)
    target = User.objects.select_related("organization").filter(login_id_key=username).first()
    error = _(
        "Too many failed sign-in attempts for this login ID. Try again after %(time)s, or ask "
        "your organization's admin to set a new password."
    ) % {"time": retry_at.strftime("%H:%M")}
    audit_record(
        actor=Actor(user=None, label="anonymous", ip_address=client_ip(request)),
        action=AuditEvent.Action.LOCKOUT,
        outcome=AuditEvent.Outcome.FAILURE,
        organization=target.organization if target else None,
        target=target,
        target_label=(username or "").encode("unicode_escape").decode()[:300],
    )
    return render(
        request,
        "registration/login.html",
        {"form": LoginForm(request), "lockout_error": error},
        status=429,
    )


class LogoutView(auth_views.LogoutView):
    """POST only (Django's LogoutView answers GET with 405)."""

    http_method_names = ["post", "options"]

    def post(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            audit_record(
                actor=Actor.from_request(request),
                action=AuditEvent.Action.LOGOUT,
                organization=request.user.organization,
                target=request.user,
            )
        return super().post(request, *args, **kwargs)


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    user = request.user
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_change_own(
            actor=Actor.from_request(request),
            user=user,
            new_password=form.cleaned_data["new_password1"],
        )
        # Keep this session (the key rotates) and re-link it; other sessions end.
        update_session_auth_hash(request, user)
        session_register(request=request, user=user, signed_in=False)
        messages.success(request, _("Your password has been changed."))
        return redirect("home")
    return render(
        request,
        "registration/password_change.html",
        {"form": form, "forced": user.must_change_password},
    )


# --- User List ----------------------------------------------------------------------------------


COLUMNS = [
    ("name", gettext_lazy("User name")),
    ("login_id", gettext_lazy("Login ID")),
    ("role", gettext_lazy("Role")),
    ("status", gettext_lazy("Status")),
    ("services", gettext_lazy("Services")),
    ("extension", gettext_lazy("Extension")),
    ("last_login", gettext_lazy("Last login")),
]


@access.admin_required
@require_GET
def user_list(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    filters = UserFilterForm(request.GET or None, organization=organization)
    params = list_params(filters)
    qs = selectors.user_list_for(organization=organization, params=params)
    meter = selectors.seat_meter(organization=organization)
    filtered = is_filtered(params)
    page = paginate(
        selectors.list_page(qs),
        page=filters.value("page", 1),
        per_page=params["per_page"],
        keyset=selectors.KEYSET_SORTS.get(params["sort"]),
        descending=params["dir"] == "desc",
        after=filters.value("after"),
        before=filters.value("before"),
        # Unfiltered, the list is every user that is not deleted: the seat counter's number,
        # exact however large the organization, without a count.
        total=None if filtered else meter.used,
    )
    shown_services = list_services(organization.contract)
    rows_html = user_rows(
        users=page.rows, actor=request.user, services=shown_services, back=request.get_full_path()
    )
    columns = []
    for key, label in COLUMNS:
        active = params["sort"] == key
        next_dir = "desc" if active and params["dir"] == "asc" else "asc"
        columns.append(
            {
                "key": key,
                "label": label,
                "active": active,
                "dir": params["dir"] if active else "",
                "url": "?" + query_string(params, sort=key, dir=next_dir),
            }
        )
    list_qs = query_string(params)
    # Idle users hold seats (docs/rules.md); counted when the filter's count is exact.
    idle_seats = (
        selectors.seats_held(organization=organization, qs=qs, meter=meter)
        if params["idle"] and page.total and not page.total_capped
        else None
    )
    return render(
        request,
        "users/user_list.html",
        {
            "filters": filters,
            "filter_selects": filter_selects(filters, params),
            "params": params,
            **page_links(page, lambda n: "?" + query_string(params, page=n)),
            "rows_html": rows_html,
            "shown_services": shown_services,
            "columns": columns,
            "meter": meter,
            # Keyset cursors where the sort has them (users.selectors.KEYSET_SORTS).
            **_cursor_links(page, params),
            "list_qs": list_qs,
            "first_url": "?" + list_qs,
            "filtered": filtered,
            "idle_seats": idle_seats,
            # The bulk bar (users.bulk): its actions, the services it may grant or revoke, the
            # filter it selects "all matching" by, and how many that is when the count is exact.
            "bulk_actions": bulk.ACTION_CHOICES,
            "bulk_services": bulk.service_choices(organization),
            "bulk_filter": list(bulk.describe_filter(params).items()),
            "bulk_total": None if page.total_capped else page.total,
        },
    )


def _cursor_links(page, params: dict) -> dict:
    links = {}
    if page.next_cursor:
        links["next_url"] = "?" + query_string(params, after=page.next_cursor)
    if page.prev_cursor:
        links["prev_url"] = "?" + query_string(params, before=page.prev_cursor)
    return links


def _back_to_list(request: HttpRequest) -> str:
    """The User List with the filters the admin came from (kept in ?next=, same site only)."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    list_url = reverse("users:list")
    if target.startswith(list_url) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return list_url


# --- Add and edit -------------------------------------------------------------------------------


def _gone(result: ChangeResult) -> str | None:
    """The message when the user acted on was deleted meanwhile (another admin, a double
    click): the page then goes back to the list with it, never a 500."""
    for problem in result.problems:
        if problem.code in ("user_deleted", "user_missing"):
            return problem.text
    return None


def _stale(result: ChangeResult) -> Problem | None:
    return next((p for p in result.problems if p.code == "stale"), None)


def posted_version(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


@access.admin_required
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    form = UserForm(request.POST or None, organization=organization)
    meter = selectors.seat_meter(organization=organization)
    if request.method == "POST" and form.is_valid():
        result = apply_changes(
            organization=organization, actor=Actor.from_request(request), changes=[form.change()]
        )
        if result.ok:
            user = result.outcomes[0].user
            messages.success(
                request,
                _(
                    "%(name)s was added. It may take a while (up to about an hour) before the "
                    "user can use every service. Give them their login ID and temporary "
                    "password; they will choose their own password at first sign-in."
                )
                % {"name": user.name},
            )
            if "add_another" in request.POST:
                return redirect("users:create")
            return redirect(_back_to_list(request))
        form.add_problems(result.problems)
    return render(
        request,
        "users/user_form.html",
        {
            "form": form,
            "meter": meter,
            "creating": True,
            "back_url": _back_to_list(request),
            "sso_required": sso_selectors.sso_required_for_organization(organization=organization),
        },
    )


def _edit_form(request, target: User, data=None) -> UserForm:
    form = UserForm(
        data, organization=request.organization, instance=target, grants=grants_of(target)
    )
    if access.acting_on_self(request.user, target):
        # Your own role and active flag are not yours to change (no self-lockout).
        form.fields["role"].disabled = True
        form.fields["is_active"].disabled = True
        form.fields["deactivate_at"].disabled = True
    return form


def _refreshed(request, target: User, stale: Problem) -> UserForm:
    """After a stale save: the form again, with what the admin typed, except the fields someone
    else changed meanwhile, which show their current values; and the current version, so that
    saving again is a decision made on what is there now."""
    fresh = User.objects.get(pk=target.pk)
    current = UserForm(organization=request.organization, instance=fresh, grants=grants_of(fresh))
    changed = {key for event in stale.params.get("since", []) for key in event["changes"]}
    data = request.POST.copy()
    for name, field in current.fields.items():
        if (
            name == "version"
            or (name in (*USER_FIELDS, "deactivate_at") and name in changed)
            or (name.startswith("service_") and "services" in changed)
        ):
            value = current.initial.get(name, field.initial)
            if isinstance(field, forms.BooleanField):
                if value:
                    data[name] = "on"
                else:
                    data.pop(name, None)
            else:
                data[name] = "" if value is None else str(value)
    form = _edit_form(request, fresh, data)
    form.is_valid()
    return form


@access.admin_required
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    target = access.get_managed_user_or_404(request, user_id)
    form = _edit_form(request, target, request.POST or None)
    is_self = access.acting_on_self(request.user, target)
    if request.method == "POST" and form.is_valid():
        change = form.change(current_grants=grants_of(target))
        result = apply_changes(
            organization=request.organization, actor=Actor.from_request(request), changes=[change]
        )
        if result.ok:
            outcome = result.outcomes[0]
            if is_self and change.password:
                request.user.refresh_from_db()
                update_session_auth_hash(request, request.user)
                session_register(request=request, user=request.user, signed_in=False)
            if outcome.status == "unchanged":
                messages.info(request, _("Nothing was changed."))
            else:
                # Your own new language applies to this message already.
                language = outcome.user.locale if is_self else translation.get_language()
                with translation.override(language):
                    messages.success(
                        request, _("Changes to %(name)s were saved.") % {"name": outcome.user.name}
                    )
            return redirect(_back_to_list(request))
        if gone := _gone(result):
            messages.info(request, gone)
            return redirect(_back_to_list(request))
        if stale := _stale(result):
            form = _refreshed(request, target, stale)
        form.add_problems(result.problems)
    return render(
        request,
        "users/user_form.html",
        {
            "form": form,
            "target": target,
            "creating": False,
            "is_self": is_self,
            "back_url": _back_to_list(request),
            "mfa": mfa_selectors.factors_of(user=target),
            "sso_required": sso_selectors.sso_required_for_organization(
                organization=request.organization
            ),
            "break_glass": sso_selectors.is_break_glass(user=target),
        },
    )


# --- Activate, deactivate and delete: a confirmation page, then the change ---------------------


def _confirm(request: HttpRequest, target: User, change: Change, *, done) -> tuple:
    """GET: the dry run's verdict, shown before the admin confirms. POST: the change.
    Returns (a response, or None to show the page; the problems; the user as it is now)."""
    actor = Actor.from_request(request)
    commit = request.method == "POST"
    result = apply_changes(
        organization=request.organization, actor=actor, changes=[change], commit=commit
    )
    if commit and result.ok:
        return done(result.outcomes[0]), [], target
    if gone := _gone(result):
        messages.info(request, gone)
        return redirect(_back_to_list(request)), [], target
    if commit:
        target = User.objects.select_related("organization").get(pk=target.pk)
    return None, result.problems, target


def _confirmation_context(request, target, problems) -> dict:
    return {
        "target": target,
        "error": " ".join(problem_message(p) for p in problems) or None,
        # A stale confirmation may be confirmed again, on what is there now.
        "can_confirm": all(p.code == "stale" for p in problems),
        "back_url": _back_to_list(request),
    }


def _set_active_view(request: HttpRequest, user_id: int, *, active: bool) -> HttpResponse:
    target = access.get_managed_user_or_404(request, user_id)
    version = posted_version(request) if request.method == "POST" else None
    change = Change(user_id=target.pk, fields={"is_active": active}, version=version)

    def done(outcome):
        if outcome.status == "unchanged":
            message = (
                _("%(name)s is already active.")
                if active
                else _("%(name)s is already deactivated.")
            )
            messages.info(request, message % {"name": target.name})
        elif active:
            messages.success(request, _("%(name)s was activated.") % {"name": target.name})
        else:
            messages.success(
                request,
                _("%(name)s was deactivated and signed out everywhere.") % {"name": target.name},
            )
        return redirect(_back_to_list(request))

    response, problems, target = _confirm(request, target, change, done=done)
    if response is not None:
        return response
    if request.method == "POST" and target.is_active == active:
        # Someone else did the same meanwhile (or a double click): nothing left to do.
        return done(Outcome(change=change, status="unchanged"))
    return render(
        request,
        "users/user_confirm_active.html",
        {**_confirmation_context(request, target, problems), "activating": active},
        status=400 if problems and request.method == "POST" else 200,
    )


@access.admin_required
@require_http_methods(["GET", "POST"])
def user_deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    return _set_active_view(request, user_id, active=False)


@access.admin_required
@require_http_methods(["GET", "POST"])
def user_activate(request: HttpRequest, user_id: int) -> HttpResponse:
    return _set_active_view(request, user_id, active=True)


@access.admin_required
@require_http_methods(["GET", "POST"])
def user_delete(request: HttpRequest, user_id: int) -> HttpResponse:
    """GET: what the deletion will remove and keep, with this user's own counts. POST: delete."""
    target = access.get_managed_user_or_404(request, user_id)
    version = posted_version(request) if request.method == "POST" else None
    change = Change(user_id=target.pk, delete=True, version=version)
    name = target.name

    def done(outcome):
        messages.success(
            request,
            _("%(name)s was deleted. Their call history remains and shows them as “%(shown)s”.")
            % {"name": name, "shown": outcome.user.display_name},
        )
        return redirect(_back_to_list(request))

    response, problems, target = _confirm(request, target, change, done=done)
    if response is not None:
        return response
    return render(
        request,
        "users/user_confirm_delete.html",
        {
            **_confirmation_context(request, target, problems),
            "impact": deletion_impact(user=target),
        },
        status=400 if problems and request.method == "POST" else 200,
    )
