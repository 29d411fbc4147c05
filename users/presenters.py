"""What the User List's templates show, prepared once per page: the rows (rendered by the
Jinja2 template users/user_rows.html, which the Django page places) and the filter <select>s."""

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from django.template import engines
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import get_format
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe

from accounts import access
from accounts.dates import formatter
from accounts.models import User
from permissions import catalog

from . import selectors


@dataclass(frozen=True, slots=True)
class Row:
    """One row: the user, the services granted and the links of their ⋮ menu (None: not
    offered)."""

    user: object  # a row of selectors.list_page() (a named tuple of the user's columns)
    is_admin: bool
    granted: frozenset[str]
    last_login: datetime | None  # in the viewer's time zone
    last_login_text: str  # formatted in the viewer's language ("" for never)
    deactivate_at_text: str  # a scheduled deactivation, formatted likewise ("" for none)
    detail_url: str
    edit_url: str
    activate_url: str | None
    deactivate_url: str | None
    delete_url: str | None


def list_services(contract) -> list[catalog.Service]:
    """The services the list shows as badges: those of the contract that a user has or has not
    (not the ones with levels), in catalog order. The legend names the same ones."""
    return [s for s in catalog.GRANTABLE if contract.has_service(s.code) and not s.has_levels]


def user_rows(*, users, actor: User, services: list[catalog.Service], back: str) -> SafeString:
    """The table body of the User List."""
    back_param = "?next=" + quote(back, safe="")
    # One reverse() per URL name, not per row: "/users/0/edit/" split around the ID.
    detail, edit, activate, deactivate, delete = (
        reverse(f"users:{name}", args=[0]).split("/0/", 1)
        for name in ("detail", "edit", "activate", "deactivate", "delete")
    )

    def link(parts: list[str], pk: int) -> str:
        return f"{parts[0]}/{pk}/{parts[1]}{back_param}"

    # The date format read and parsed once per page, not once per row.
    when = formatter(get_format("SHORT_DATETIME_FORMAT"))
    localtime = timezone.localtime
    rows = []
    for user in users:
        last_login = localtime(user.last_login) if user.last_login else None
        rows.append(
            Row(
                user=user,
                is_admin=user.role == User.Role.ADMIN,
                granted=frozenset(selectors.parse_grants(user.grant_codes)),
                last_login=last_login,
                last_login_text=when(last_login) if last_login else "",
                deactivate_at_text=(
                    when(localtime(user.deactivate_at)) if user.deactivate_at else ""
                ),
                detail_url=link(detail, user.id),
                edit_url=link(edit, user.id),
                activate_url=link(activate, user.id)
                if access.can_activate_user(actor, user)
                else None,
                deactivate_url=(
                    link(deactivate, user.id) if access.can_deactivate_user(actor, user) else None
                ),
                delete_url=link(delete, user.id) if access.can_delete_user(actor, user) else None,
            )
        )
    html = (
        engines["jinja2"]
        .env.get_template("users/user_rows.html")
        .render({"rows": rows, "services": services})
    )
    # An autoescaping Jinja2 template's output: every value in it was escaped there.
    return mark_safe(html)  # noqa: S308


def filter_selects(form, params: dict) -> list[dict]:
    """The User List's filter <select>s, options rendered here (Django's widget templates cost
    more than the table's rows)."""
    selects = []
    for name in ("role", "status", "service", "idle", "per_page"):
        field = form.fields[name]
        current = str(params.get(name, ""))
        selects.append(
            {
                "name": name,
                "id": f"id_{name}",
                "label": field.label,
                "options": format_html_join(
                    "",
                    '<option value="{}"{}>{}</option>',
                    (
                        (value, " selected" if str(value) == current else "", label)
                        for value, label in field.choices
                    ),
                ),
            }
        )
    return selects
