"""The import's slow steps, run by the task worker (django-tasks-db's db_worker) so that a large
file never holds a web request: the dry run of a large file takes seconds, and hashing
thousands of temporary passwords takes minutes."""

import logging
import time

from django.tasks import task
from django.utils import timezone, translation

from audit.models import AuditEvent
from audit.services import Actor

from . import importing, limits
from .models import IMPORT_TTL, ImportJob

log = logging.getLogger(__name__)


@task()
def apply_import(job_id: str) -> None:
    job = (
        ImportJob.objects.select_related("organization__contract", "admin")
        .filter(pk=job_id)
        .first()
    )
    # Gone (purged after waiting past its expiry) or no longer queued: nothing to do.
    if job is None or job.status != ImportJob.Status.QUEUED:
        return
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, phase="checking")
    with translation.override(job.language):
        try:
            _run(job)
        except Exception:
            log.exception("import %s failed", job.pk)
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJob.Status.FAILED,
                content=None,
                phase="",
                finished_at=timezone.now(),
                result={"error": "internal"},
            )


@task()
def check_import(job_id: str) -> None:
    """The dry run of a large file: the report, then VALIDATED (waiting for the admin's
    confirmation) or FAILED."""
    job = (
        ImportJob.objects.select_related("organization__contract", "admin")
        .filter(pk=job_id, status=ImportJob.Status.CHECKING)
        .first()
    )
    if job is None:
        return
    with translation.override(job.language):
        try:
            slot = _wait_for_slot(job)
            try:
                report = importing.validate_file(
                    organization=job.organization,
                    data=bytes(job.content or b""),
                    encoding=job.encoding,
                    acting_user=job.admin,
                    language=job.language,
                    progress=_progress_of(job),
                )
            finally:
                limits.release(slot)
        except Exception:
            log.exception("import check %s failed", job.pk)
            report = None
    if report is None:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED,
            content=None,
            phase="",
            finished_at=timezone.now(),
            result={"error": "internal"},
        )
        return
    fields = {"report": report.to_json(), "phase": "", "progress_done": 0, "progress_total": 0}
    if report.ok:
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.VALIDATED, **fields)
    else:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, content=None, finished_at=timezone.now(), **fields
        )


def _progress_of(job: ImportJob):
    def progress(phase: str, done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            phase=phase, progress_done=done, progress_total=max(total, 1)
        )

    return progress


def _wait_for_slot(job: ImportJob, *, wait_seconds: int = 600) -> int:
    """A background import waits its turn (the organization's transfer limit) instead of
    failing; the job page says it is waiting meanwhile."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return limits.acquire(job.organization, "import")
        except limits.TooManyTransfers:
            if time.monotonic() > deadline:
                raise
            ImportJob.objects.filter(pk=job.pk).update(phase="waiting")
            time.sleep(2)


def _run(job: ImportJob) -> None:
    progress = _progress_of(job)
    slot = _wait_for_slot(job)
    try:
        report, result = importing.apply_file(
            organization=job.organization,
            data=bytes(job.content or b""),
            encoding=job.encoding,
            language=job.language,
            actor=Actor(
                user=job.admin,
                label=job.admin.login_id,
                ip_address=job.ip_address,
                channel=AuditEvent.Channel.IMPORT,
            ),
            progress=progress,
        )
    finally:
        limits.release(slot)
    finished = timezone.now()
    fields = {
        "report": report.to_json(),
        "content": None,
        "phase": "",
        "finished_at": finished,
        # The report and the generated passwords wait their hour from now, however long the
        # import waited and ran.
        "expires_at": finished + IMPORT_TTL,
    }
    if result is None:
        # The database changed since the dry run and the file no longer passes: nothing written.
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, result={"error": "invalid"}, **fields
        )
        return
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.DONE,
        result={
            "added": result.added,
            "updated": result.updated,
            "generated": len(result.generated_passwords),
        },
        generated_passwords=[list(p) for p in result.generated_passwords] or None,
        **fields,
    )
