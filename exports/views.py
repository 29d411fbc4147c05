from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import admin_required
from audit.models import AuditEvent
from audit.services import Actor, audit_record, client_ip
from users.filters import NARROWING, UserFilterForm, list_params, query_string

from . import csv_format, importing, limits
from .exporting import export_bytes, export_queryset, unencodable_users
from .models import IMPORT_TTL, ImportJob
from .tasks import apply_import, check_import


class ExportForm(forms.Form):
    encoding = forms.ChoiceField(
        label=_("Encoding"),
        choices=list(csv_format.ENCODINGS.items()),
        initial="utf-8-sig",
        widget=forms.RadioSelect,
        help_text=_(
            "UTF-8 with BOM opens correctly in current Excel. Choose Shift_JIS for older Excel "
            "on Japanese Windows."
        ),
    )


def _too_busy(request: HttpRequest) -> HttpResponse:
    response = render(request, "errors/429_busy.html", status=429)
    response["Retry-After"] = "30"
    return response


def _filters_summary(filters: UserFilterForm, params: dict) -> list[tuple[str, str]]:
    shown = []
    for name in NARROWING:
        value = params.get(name)
        if not value:
            continue
        field = filters.fields[name]
        label = dict(field.choices).get(value, value) if hasattr(field, "choices") else value
        shown.append((field.label, label))
    return shown


@admin_required
@require_http_methods(["GET", "POST"])
def export_users(request: HttpRequest) -> HttpResponse:
    """GET: choose the encoding (the list's current search and filters come along in the query
    string). POST: the file, streamed; refused before any byte when a name does not fit."""
    organization = request.organization
    data = request.POST if request.method == "POST" else request.GET
    filters = UserFilterForm(data, organization=organization)
    params = list_params(filters)
    form = ExportForm(request.POST or None)
    problems, problem_count = [], 0
    if request.method == "POST" and form.is_valid():
        encoding = form.cleaned_data["encoding"]
        qs = export_queryset(organization=organization, params=params)
        problems, problem_count = unencodable_users(qs, encoding)
        if not problems:
            try:
                body = limits.streaming(
                    organization,
                    "export",
                    export_bytes(
                        organization=organization,
                        qs=qs,
                        language=get_language()[:2],
                        encoding=encoding,
                    ),
                )
            except limits.TooManyTransfers:
                return _too_busy(request)
            audit_record(
                actor=Actor.from_request(request),
                action=AuditEvent.Action.EXPORT,
                organization=organization,
                detail=f"encoding={encoding} " + query_string(params),
            )
            response = StreamingHttpResponse(
                body,
                content_type=f"text/csv; charset={csv_format.CHARSETS[encoding]}",
            )
            response["Content-Disposition"] = 'attachment; filename="users.csv"'
            response["Cache-Control"] = "no-store"
            return response
    return render(
        request,
        "exports/export.html",
        {
            "form": form,
            "params": params,
            "filters_summary": _filters_summary(filters, params),
            "problems": problems,
            "problem_count": problem_count,
            "more_problems": problem_count - len(problems),
            "list_qs": query_string(params),
            "nav_section": "users",
        },
        status=400 if problems else 200,
    )


# --- Import ---------------------------------------------------------------------------------------

SHOWN_ROWS = 200


class ImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "A file downloaded from this page, or MiiTel's bulk add or update template. Up to "
            "20,000 rows and 10 MB."
        ),
    )
    encoding = forms.ChoiceField(
        label=_("Encoding"),
        choices=[
            ("utf-8", _("UTF-8 (with or without BOM)")),
            ("shift_jis", _("Shift_JIS (CP932)")),
        ],
        initial="utf-8",
        widget=forms.RadioSelect,
    )


def _get_job(request: HttpRequest, job_id, *, lock: bool = False) -> ImportJob:
    """An import is visible to the admin who uploaded it, in their organization, only.
    `lock`: read it FOR UPDATE (inside the caller's transaction)."""
    jobs = ImportJob.objects.select_for_update() if lock else ImportJob.objects.all()
    try:
        return jobs.get(pk=job_id, organization=request.organization, admin=request.user)
    except (ImportJob.DoesNotExist, ValueError, ValidationError):
        raise Http404 from None


@admin_required
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    ImportJob.objects.expired().delete()
    # Bodies over settings.MAX_REQUEST_BYTES never get here (RequestSizeLimitMiddleware: 413).
    form = ImportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > importing.MAX_BYTES:
            form.add_error(
                "file",
                _("The file is larger than %(mb)d MB. Split it into smaller files.")
                % {"mb": importing.MAX_BYTES // (1024 * 1024)},
            )
            status = 413
        else:
            data = upload.read()
            language = get_language()[:2]
            encoding = form.cleaned_data["encoding"]
            if importing.BACKGROUND_CHECK_ROWS < importing.row_count(data) <= importing.MAX_ROWS:
                # A large file is checked by the task worker; its page follows the check.
                job = ImportJob.objects.create(
                    organization=request.organization,
                    admin=request.user,
                    filename=(upload.name or "")[:255],
                    encoding=encoding,
                    language=language,
                    content=data,
                    status=ImportJob.Status.CHECKING,
                    phase="checking",
                )
                transaction.on_commit(lambda: check_import.enqueue(str(job.pk)))
                return redirect("exports:import_detail", job_id=job.pk)
            try:
                with limits.transfer_slot(request.organization, "import"):
                    report = importing.validate_file(
                        organization=request.organization,
                        data=data,
                        encoding=encoding,
                        acting_user=request.user,
                        language=language,
                    )
            except limits.TooManyTransfers:
                return _too_busy(request)
            job = ImportJob.objects.create(
                organization=request.organization,
                admin=request.user,
                filename=(upload.name or "")[:255],
                encoding=encoding,
                language=language,
                content=data if report.ok else None,
                report=report.to_json(),
                status=ImportJob.Status.VALIDATED if report.ok else ImportJob.Status.FAILED,
            )
            return redirect("exports:import_detail", job_id=job.pk)
    return render(
        request,
        "exports/import_upload.html",
        {"form": form, "nav_section": "users"},
        status=status
        if request.method == "GET" or status != 200
        else (400 if form.errors else 200),
    )


@admin_required
@require_GET
def import_detail(request: HttpRequest, job_id) -> HttpResponse:
    job = _get_job(request, job_id)
    report = job.report or {}
    rows = report.get("rows", [])
    errors = [r for r in rows if r["status"] == "error"]
    # Rows that change something first (updates, then adds), the unchanged ones after them.
    order = {"update": 0, "add": 1, "unchanged": 2}
    others = sorted(
        (r for r in rows if r["status"] != "error"), key=lambda r: order.get(r["status"], 3)
    )
    return render(
        request,
        "exports/import_detail.html",
        {
            "job": job,
            "counts": report.get("counts", {}),
            "file_errors": report.get("file_errors", []),
            "unknown_columns": report.get("unknown_columns", []),
            "error_rows": errors,
            "rows": others[:SHOWN_ROWS],
            "more_rows": max(len(others) - SHOWN_ROWS, 0),
            "can_apply": job.status == ImportJob.Status.VALIDATED,
            "refresh": job.in_progress,
            "nav_section": "users",
        },
    )


@admin_required
@require_GET
def import_status(request: HttpRequest, job_id) -> JsonResponse:
    job = _get_job(request, job_id)
    return JsonResponse(
        {
            "status": job.status,
            "status_label": job.get_status_display(),
            "phase": job.phase,
            "percent": job.percent,
            "finished": job.finished,
        }
    )


@admin_required
@require_POST
def import_apply(request: HttpRequest, job_id) -> HttpResponse:
    job = _get_job(request, job_id)
    with transaction.atomic():
        updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.VALIDATED).update(
            status=ImportJob.Status.QUEUED,
            expires_at=timezone.now() + IMPORT_TTL,
            ip_address=client_ip(request),
        )
        if updated:
            transaction.on_commit(lambda: apply_import.enqueue(str(job.pk)))
    if not updated:
        messages.info(request, _("This import was already started, finished or cancelled."))
    return redirect("exports:import_detail", job_id=job.pk)


@admin_required
@require_POST
def import_cancel(request: HttpRequest, job_id) -> HttpResponse:
    job = _get_job(request, job_id)
    cancelled = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.VALIDATED).update(
        status=ImportJob.Status.CANCELLED, content=None, finished_at=timezone.now()
    )
    if cancelled:
        messages.info(request, _("The import was cancelled. Nothing was changed."))
    return redirect("users:list")


@admin_required
@require_POST
def import_passwords(request: HttpRequest, job_id) -> HttpResponse:
    """The generated temporary passwords, once: the download deletes them."""
    with transaction.atomic():
        # One read, under the row lock: a job purged by another admin's upload meanwhile is a
        # 404 like any missing one (reading it twice, the second read found nothing: a 500).
        job = _get_job(request, job_id, lock=True)
        passwords = job.generated_passwords
        if not passwords or job.expires_at < timezone.now():
            messages.error(
                request, _("The generated passwords were already downloaded or have expired.")
            )
            return redirect("exports:import_detail", job_id=job.pk)
        job.generated_passwords = None
        job.save(update_fields=["generated_passwords"])
    columns = [csv_format.columns_for(request.organization.contract)[0], csv_format.PASSWORD_COLUMN]
    language = get_language()[:2]
    rows = [csv_format.header_row(columns, language), *([login, pw] for login, pw in passwords)]
    encoding = "shift_jis" if job.encoding == "shift_jis" else "utf-8-sig"
    response = HttpResponse(
        b"".join(csv_format.encode_rows(rows, encoding)),
        content_type=f"text/csv; charset={csv_format.CHARSETS[encoding]}",
    )
    response["Content-Disposition"] = 'attachment; filename="temporary-passwords.csv"'
    response["Cache-Control"] = "no-store"
    return response
