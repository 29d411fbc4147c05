"""Bulk actions on the User List: one confirmation page, then the apply (users.bulk).

POST users:bulk (from the list's bulk bar): the selection is read once, dry-run through the
change service, and shown as its combined effect with a pin of the exact users and versions.
POST users:bulk_apply (from that page): the pinned users, all or nothing or "the others", in one
transaction as one batch. GET on either is 405: a confirmation is only ever of a selection."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts import access
from audit.services import Actor

from . import bulk
from .changes import DELETE, UNDOABLE, UPDATE
from .views import _back_to_list


def _error(request: HttpRequest, message: str, *, back: str) -> HttpResponse:
    return render(
        request,
        "users/bulk_confirm.html",
        {"errors": [message], "back_url": back},
        status=400,
    )


def _confirmation(
    request: HttpRequest, summary: bulk.Summary, pin: bulk.Pin, *, back: str, status=200, **extra
) -> HttpResponse:
    token = bulk.pin_dumps(organization=request.organization, actor=request.user, pin=pin)
    return render(
        request,
        "users/bulk_confirm.html",
        {
            "summary": summary,
            "action": summary.action,
            "token": token,
            "back_url": back,
            "matching": pin.params,
            "organization_tz": bulk.organization_time_zone(request.organization),
            **extra,
        },
        status=status,
    )


def _pin_of(summary: bulk.Summary, pairs, params) -> bulk.Pin:
    return bulk.Pin(action=summary.action, pairs=pairs, refused=summary.refused_ids, params=params)


@access.admin_required
@require_POST
def bulk_confirm(request: HttpRequest) -> HttpResponse:
    """The combined effect of the action on the selection, from a dry run; nothing changes."""
    organization = request.organization
    back = _back_to_list(request)
    form = bulk.BulkForm(request.POST, organization=organization)
    if not form.is_valid():
        errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
        return _error(request, " ".join(errors), back=back)
    action = form.bulk_action()
    params: dict = {}
    try:
        if form.cleaned_data.get("scope") == "all":
            params = bulk.filter_params(request.POST, organization=organization)
            pairs = bulk.select_matching(organization=organization, params=params)
            params = bulk.describe_filter(params)
        else:
            ids = bulk.ticked_ids(request.POST.getlist("ids"))
            try:
                pairs = bulk.select_ids(organization=organization, ids=ids)
            except LookupError:
                raise Http404 from None
        bulk.check_request_size(action, len(pairs))
    except bulk.SelectionError as error:
        return _error(request, str(error), back=back)
    if not pairs:
        return _error(request, _("Select at least one user."), back=back)
    summary = bulk.dry_run(
        organization=organization,
        actor=Actor.from_request(request),
        action=action,
        pairs=pairs,
    )
    return _confirmation(request, summary, _pin_of(summary, pairs, params), back=back)


@access.admin_required
@require_POST
def bulk_apply(request: HttpRequest) -> HttpResponse:
    """The pinned users, in one transaction: all of them ("all"), or the ones the confirmation
    did not show as refused ("others"). Refused: nothing is changed and the confirmation is
    shown again as things are now."""
    organization = request.organization
    back = _back_to_list(request)
    try:
        pin = bulk.pin_loads(
            request.POST.get("token", ""), organization=organization, actor=request.user
        )
    except bulk.SelectionError as error:
        return _error(request, str(error), back=back)
    others = request.POST.get("mode") == "others"
    actor = Actor.from_request(request)
    result = bulk.apply(organization=organization, actor=actor, pin=pin, others=others)
    if result.committed:
        changed = sum(1 for o in result.outcomes if o.status in (UPDATE, DELETE))
        if changed:
            messages.success(request, _done_message(pin.action, changed))
        else:
            messages.info(request, _("Nothing was changed: the users were already so."))
        return redirect(back)
    # Refused as a whole: the confirmation again, of the same users as they are now.
    summary = bulk.dry_run(
        organization=organization,
        actor=actor,
        action=pin.action,
        pairs=pin.pairs,
        pinned_versions=False,
    )
    pairs = _current_pairs(pin.pairs, summary)
    return _confirmation(
        request,
        summary,
        _pin_of(summary, pairs, pin.params),
        back=back,
        status=400,
        refused_apply=True,
    )


def _current_pairs(pairs, summary: bulk.Summary) -> list[tuple[int, int]]:
    """The pinned users with their versions as the dry run just read them."""
    versions = {
        o.change.user_id: o.user.version for o in summary.result.outcomes if o.user is not None
    }
    return [(pk, versions.get(pk, version)) for pk, version in pairs]


def _done_message(action: bulk.BulkAction, n: int) -> str:
    count = f"{n:,}"
    if action.kind == bulk.DEACTIVATE:
        text = ngettext(
            "%(count)s user was deactivated and signed out everywhere.",
            "%(count)s users were deactivated and signed out everywhere.",
            n,
        )
    elif action.kind == bulk.ACTIVATE:
        text = ngettext("%(count)s user was activated.", "%(count)s users were activated.", n)
    elif action.kind == bulk.GRANT:
        text = ngettext(
            "%(service)s was granted to %(count)s user.",
            "%(service)s was granted to %(count)s users.",
            n,
        )
    elif action.kind == bulk.REVOKE:
        text = ngettext(
            "%(service)s was revoked from %(count)s user.",
            "%(service)s was revoked from %(count)s users.",
            n,
        )
    elif action.kind == bulk.SCHEDULE:
        text = ngettext(
            "%(count)s user will be deactivated at the scheduled time.",
            "%(count)s users will be deactivated at the scheduled time.",
            n,
        )
    else:
        text = ngettext("%(count)s user was deleted.", "%(count)s users were deleted.", n)
    message = text % {"count": count, "service": action.service_label}
    if bulk.BATCH_KINDS[action.kind] in UNDOABLE:
        message += " " + _("The batch can be undone from the audit log for 7 days.")
    return message
