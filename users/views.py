from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts import access
from accounts.backends import axes_username
from accounts.models import User
from accounts.pagination import paginate
from accounts.sessions import session_register
from analytics.selectors import deletion_impact
from audit.models import AuditEvent
from audit.services import Actor, audit_record, client_ip
from permissions.services import grants_of

from . import selectors, services
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
        response = super().form_valid(form)
        user = form.get_user()
        audit_record(
            actor=Actor.from_request(self.request),
            action=AuditEvent.Action.LOGIN,
            organization=user.organization,
            target=user,
        )
        return response

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
    qs = selectors.user_list(
        organization=organization,
        search=params["q"],
        role=params["role"],
        status=params["status"],
        service=params["service"],
        sort=params["sort"],
        descending=params["dir"] == "desc",
    )
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
    return render(
        request,
        "users/user_list.html",
        {
            "filters": filters,
            "filter_selects": filter_selects(filters, params),
            "params": params,
            "page": page,
            "rows_html": rows_html,
            "shown_services": shown_services,
            "columns": columns,
            "meter": meter,
            "page_urls": [
                (n, "?" + query_string(params, page=n) if n else None) for n in page.page_links()
            ],
            "prev_url": _prev_url(page, params),
            "next_url": _next_url(page, params),
            "list_qs": list_qs,
            "first_url": "?" + list_qs,
            "filtered": filtered,
        },
    )


def _next_url(page, params: dict) -> str:
    if page.next_cursor:
        return "?" + query_string(params, after=page.next_cursor)
    return "?" + query_string(params, page=(page.number or 1) + 1)


def _prev_url(page, params: dict) -> str:
    if page.prev_cursor:
        return "?" + query_string(params, before=page.prev_cursor)
    return "?" + query_string(params, page=(page.number or 2) - 1)


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


@access.admin_required
@require_http_methods(["GET", "POST"])
def user_create(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    form = UserForm(request.POST or None, organization=organization)
    meter = selectors.seat_meter(organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(
                actor=Actor.from_request(request),
                organization=organization,
                password=form.cleaned_data["password"],
                grants=form.grants(),
                **form.user_data(),
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
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
    return render(
        request,
        "users/user_form.html",
        {"form": form, "meter": meter, "creating": True, "back_url": _back_to_list(request)},
    )


@access.admin_required
@require_http_methods(["GET", "POST"])
def user_edit(request: HttpRequest, user_id: int) -> HttpResponse:
    target = access.get_managed_user_or_404(request, user_id)
    grants = grants_of(target)
    form = UserForm(
        request.POST or None, organization=request.organization, instance=target, grants=grants
    )
    is_self = target.pk == request.user.pk
    if is_self:
        # Your own role and active flag are not yours to change (no self-lockout).
        form.fields["role"].disabled = True
        form.fields["is_active"].disabled = True
    if request.method == "POST" and form.is_valid():
        password = form.cleaned_data.get("password") or None
        try:
            changes = services.user_update(
                actor=Actor.from_request(request),
                user=target,
                data=form.user_data(),
                grants=form.grants(current=grants),
                password=password,
            )
        except ValidationError as error:
            form.add_service_error(error)
        else:
            if is_self and password:
                request.user.refresh_from_db()
                update_session_auth_hash(request, request.user)
                session_register(request=request, user=request.user, signed_in=False)
            if changes or password:
                messages.success(
                    request,
                    _("Changes to %(name)s were saved.") % {"name": form.cleaned_data["name"]},
                )
            else:
                messages.info(request, _("Nothing was changed."))
            return redirect(_back_to_list(request))
    return render(
        request,
        "users/user_form.html",
        {
            "form": form,
            "target": target,
            "creating": False,
            "is_self": is_self,
            "back_url": _back_to_list(request),
        },
    )


# --- Activate and deactivate --------------------------------------------------------------------


def _set_active_view(request: HttpRequest, user_id: int, *, active: bool) -> HttpResponse:
    target = access.get_managed_user_or_404(request, user_id)
    error = None
    if request.method == "POST":
        try:
            changed = services.user_set_active(
                actor=Actor.from_request(request), user=target, active=active
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            if not changed:
                messages.info(
                    request,
                    (
                        _("%(name)s is already active.")
                        if active
                        else _("%(name)s is already deactivated.")
                    )
                    % {"name": target.name},
                )
            elif active:
                messages.success(request, _("%(name)s was activated.") % {"name": target.name})
            else:
                messages.success(
                    request,
                    _("%(name)s was deactivated and signed out everywhere.")
                    % {"name": target.name},
                )
            return redirect(_back_to_list(request))
    if not active and target.pk == request.user.pk:
        error = _("You cannot deactivate yourself.")
    return render(
        request,
        "users/user_confirm_active.html",
        {
            "target": target,
            "activating": active,
            "error": error,
            "back_url": _back_to_list(request),
        },
        status=400 if error and request.method == "POST" else 200,
    )


@access.admin_required
@require_http_methods(["GET", "POST"])
def user_deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    return _set_active_view(request, user_id, active=False)


@access.admin_required
@require_http_methods(["GET", "POST"])
def user_activate(request: HttpRequest, user_id: int) -> HttpResponse:
    return _set_active_view(request, user_id, active=True)


# --- Delete -------------------------------------------------------------------------------------


@access.admin_required
@require_http_methods(["GET", "POST"])
def user_delete(request: HttpRequest, user_id: int) -> HttpResponse:
    """GET: what the deletion will remove and keep, with this user's own counts. POST: delete."""
    target = access.get_managed_user_or_404(request, user_id)
    error = None
    if not access.can_delete_user(request.user, target):
        error = _("You cannot delete yourself.")
    elif request.method == "POST":
        name = target.name
        try:
            services.user_delete(actor=Actor.from_request(request), user=target)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            target.refresh_from_db(fields=["deleted_at"])
            messages.success(
                request,
                _("%(name)s was deleted. Their call history remains and shows them as “%(shown)s”.")
                % {"name": name, "shown": target.display_name},
            )
            return redirect(_back_to_list(request))
    return render(
        request,
        "users/user_confirm_delete.html",
        {
            "target": target,
            "impact": deletion_impact(user=target),
            "error": error,
            "back_url": _back_to_list(request),
        },
        status=400 if error and request.method == "POST" else 200,
    )
