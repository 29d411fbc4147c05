"""A batch of changes (a bulk action, its undo, a run of scheduled deactivations) as the audit
log shows it, and its undo: within ChangeBatch.UNDO_DAYS, a confirmation page with the change
service's dry run, then the undo itself (docs/rules.md, "Batches and undo")."""

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import access
from accounts.models import User
from accounts.pagination import page_links, page_number, paginate
from audit import presenters as audit_presenters
from audit.models import AuditEvent, ChangeBatch
from audit.services import Actor

from .changes import UNDOABLE, ChangeResult, problem_message, undo_batch

MEMBERS_PER_PAGE = 50
REFUSALS_SHOWN = 100


def _batch_or_404(request: HttpRequest, batch_id) -> ChangeBatch:
    batch = (
        ChangeBatch.objects.filter(organization=request.organization, pk=batch_id)
        .select_related("actor", "undo_of")
        .first()
    )
    if batch is None:
        raise Http404
    return batch


def batch_title(batch: ChangeBatch) -> str:
    """What the batch did, in words: "Grant a service: MiiTel Phone"."""
    title = str(batch.get_kind_display())
    if batch.detail:
        title = f"{title}: {audit_presenters.service_label(batch.detail)}"
    return title


def undo_state(batch: ChangeBatch, undone_by: ChangeBatch | None) -> str:
    """ "undoable", "undone", "expired" or "never" (deletions, undos, schedules)."""
    if batch.kind not in UNDOABLE:
        return "never"
    if undone_by is not None:
        return "undone"
    if timezone.now() > batch.undoable_until:
        return "expired"
    return "undoable"


@access.admin_required
@require_GET
def batch_detail(request: HttpRequest, batch_id) -> HttpResponse:
    batch = _batch_or_404(request, batch_id)
    undone_by = ChangeBatch.objects.filter(organization=request.organization, undo_of=batch).first()
    members = paginate(
        AuditEvent.objects.filter(organization=request.organization, batch=batch)
        .select_related("actor", "target")
        .order_by("id"),
        page=page_number(request.GET.get("page")),
        per_page=MEMBERS_PER_PAGE,
    )
    return render(
        request,
        "audit/batch_detail.html",
        {
            "batch": batch,
            "title": batch_title(batch),
            "actor": batch.actor.display_name if batch.actor else batch.actor_label,
            "state": undo_state(batch, undone_by),
            "undone_by": undone_by,
            "rows": audit_presenters.rows(members.rows),
            **page_links(members, lambda n: f"?page={n}"),
            "nav_section": "audit",
        },
    )


@dataclass(frozen=True)
class Refusal:
    name: str
    message: str


def _refusals(result: ChangeResult) -> list[Refusal]:
    ids = [o.change.user_id for o in result.outcomes if o.problems and o.change.user_id]
    names = dict(User.all_objects.filter(pk__in=ids[:REFUSALS_SHOWN]).values_list("pk", "name"))
    return [
        Refusal(
            name=names.get(o.change.user_id, "—"),
            message=" ".join(problem_message(p) for p in o.problems),
        )
        for o in result.outcomes
        if o.problems
    ][:REFUSALS_SHOWN]


@access.admin_required
@require_http_methods(["GET", "POST"])
def batch_undo(request: HttpRequest, batch_id) -> HttpResponse:
    """GET: what the undo would do (the change service's dry run). POST: undo, all or none."""
    batch = _batch_or_404(request, batch_id)
    commit = request.method == "POST"
    result = undo_batch(
        organization=request.organization,
        actor=Actor.from_request(request),
        batch_id=batch.pk,
        commit=commit,
    )
    if commit and result.ok and result.batch is not None:
        messages.success(
            request,
            _("The batch was undone: %(count)d users were put back as they were.")
            % {"count": result.batch.size},
        )
        return redirect("batches:detail", result.batch.pk)
    refused = sum(1 for o in result.outcomes if o.problems)
    return render(
        request,
        "audit/batch_undo.html",
        {
            "batch": batch,
            "title": batch_title(batch),
            "ok": result.ok,
            "count": sum(1 for o in result.outcomes if o.status == "update"),
            "unchanged": sum(1 for o in result.outcomes if o.status == "unchanged"),
            "refused": refused,
            "refusals": _refusals(result),
            "more": max(refused - REFUSALS_SHOWN, 0),
            "nav_section": "audit",
        },
        status=400 if commit else 200,
    )
