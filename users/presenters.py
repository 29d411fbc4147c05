"""The User List's table body, built in one pass.

Rendering 50 rows × 9 service icons through template tags cost more than every query of the page
together (docs/benchmarks.md), so the rows are assembled here from fragments escaped once per
page, with every per-user value passed through escape(). The template places the result."""

from html import escape as _html_escape
from urllib.parse import quote

from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.formats import get_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from accounts import access
from permissions import catalog

from . import selectors
from .templatetags.console import service_abbr


def escape(value) -> str:
    """django.utils.html.escape() without its lazy-string wrapper: the same output, called a
    few hundred times per page."""
    return _html_escape(str(value))


_ICON = (
    '<li class="svc svc-{}{}" title="{}: {}"><span aria-hidden="true">{}</span>'
    '<span class="visually-hidden">{}: {}</span></li>'
)


def user_rows_html(*, users, actor, contract, back: str) -> SafeString:
    shown = [s for s in catalog.GRANTABLE if contract.has_service(s.code) and not s.has_levels]
    enabled, disabled = _("enabled"), _("not enabled")
    icons = {
        s.code: {
            on: format_html(
                _ICON,
                s.code,
                " svc-on" if on else "",
                s.label,
                enabled if on else disabled,
                service_abbr(s.code),
                s.label,
                enabled if on else disabled,
            )
            for on in (True, False)
        }
        for s in shown
    }
    role_badge = {
        True: format_html('<span class="badge badge-admin">{}</span>', _("Admin")),
        False: format_html('<span class="badge">{}</span>', _("Member")),
    }
    status_badge = {
        True: format_html('<span class="badge badge-active">{}</span>', _("Active")),
        False: format_html('<span class="badge badge-inactive">{}</span>', _("Deactivated")),
    }
    mfa_badge = {
        True: format_html('<span class="badge badge-mfa">{}</span>', _("2-step verification")),
        False: "",
    }
    label = {
        key: escape(text)
        for key, text in {
            "name": _("User name"),
            "login": _("Login ID"),
            "role": _("Role"),
            "status": _("Status"),
            "services": _("Services"),
            "ext": _("Extension"),
            "last": _("Last login"),
            "edit": _("Edit"),
            "activate": _("Activate"),
            "deactivate": _("Deactivate"),
            "delete": _("Delete"),
            "never": _("Never"),
        }.items()
    }
    actions_for = _("Actions for %(name)s")
    datetime_format = get_format("SHORT_DATETIME_FORMAT")  # once per page, not per row
    next_param = escape("?next=" + quote(back, safe=""))
    urls = {  # one reverse() per URL name, not per row
        name: reverse(f"users:{name}", args=[0]).replace("/0/", "/%d/")
        for name in ("edit", "activate", "deactivate", "delete")
    }

    def link(name: str, pk: int, text: str, css: str = "") -> str:
        cls = f' class="{css}"' if css else ""
        return f'<li><a{cls} href="{urls[name] % pk}{next_param}">{label[text]}</a></li>'

    out = []
    for user in users:
        grants = selectors.parse_grants(user.grant_codes)
        services = "".join(icons[code][code in grants] for code in icons)
        if user.last_login:
            when = timezone.localtime(user.last_login)
            last = (
                f'<time datetime="{when.isoformat()}">'
                f"{escape(format_date(when, datetime_format))}</time>"
            )
        else:
            last = label["never"]
        menu = link("edit", user.pk, "edit")
        if access.can_activate_user(actor, user):
            menu += link("activate", user.pk, "activate")
        if access.can_deactivate_user(actor, user):
            menu += link("deactivate", user.pk, "deactivate")
        if access.can_delete_user(actor, user):
            menu += link("delete", user.pk, "delete", "danger")
        name = escape(user.name)
        out.append(
            f"<tr{'' if user.is_active else ' class="row-inactive"'}>"
            f'<td class="col-name" data-label="{label["name"]}">'
            f'<a href="{urls["edit"] % user.pk}{next_param}">{name}</a></td>'
            f'<td class="col-login_id" data-label="{label["login"]}">{escape(user.login_id)}</td>'
            f'<td class="col-role" data-label="{label["role"]}">{role_badge[user.is_admin]}</td>'
            f'<td class="col-status" data-label="{label["status"]}">'
            f"{status_badge[user.is_active]}{mfa_badge[user.has_mfa]}</td>"
            f'<td class="col-services" data-label="{label["services"]}">'
            f'<ul class="service-icons">{services}</ul></td>'
            f'<td class="col-extension" data-label="{label["ext"]}">'
            f"{escape(user.extension) or '—'}</td>"
            f'<td class="col-last_login" data-label="{label["last"]}">{last}</td>'
            '<td class="col-actions"><details class="row-menu">'
            f'<summary aria-label="{escape(actions_for % {"name": user.name})}">'
            '<span aria-hidden="true">⋮</span></summary>'
            f'<ul class="menu">{menu}</ul></details></td></tr>'
        )
    # Every value above went through escape() or format_html().
    return mark_safe("\n".join(out))  # noqa: S308


def filter_selects(form, params: dict) -> list[dict]:
    """The User List's filter <select>s, options rendered here (Django's widget templates cost
    more than the table's rows)."""
    selects = []
    for name in ("role", "status", "service", "per_page"):
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
