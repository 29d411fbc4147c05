"""The import's apply step, run by the task worker (django-tasks-db's db_worker) so that a large
file never holds a web request: hashing thousands of temporary passwords takes minutes."""

import logging

from django.db import transaction
from django.tasks import task
from django.utils import timezone, translation

from audit.services import Actor

from . import importing
from .models import ImportJob

log = logging.getLogger(__name__)


@task()
def apply_import(job_id: str) -> None:
    job = ImportJob.objects.select_related("organization__contract", "admin").get(pk=job_id)
    if job.status != ImportJob.Status.QUEUED:
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


def _run(job: ImportJob) -> None:
    organization = job.organization
    # The database may have changed since the dry run: check again, against the state now.
    report = importing.validate_file(
        organization=organization,
        data=bytes(job.content or b""),
        encoding=job.encoding,
        acting_user=job.admin,
        language=job.language,
    )
    if not report.ok:
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED,
            report=report.to_json(),
            content=None,
            phase="",
            finished_at=timezone.now(),
            result={"error": "invalid"},
        )
        return
    to_hash = sum(
        1
        for r in report.rows
        if r.status in ("add", "update") and (r.password or r.status == "add")
    )
    ImportJob.objects.filter(pk=job.pk).update(phase="hashing", progress_total=max(to_hash, 1))

    def progress(done: int) -> None:
        ImportJob.objects.filter(pk=job.pk).update(progress_done=done)

    actor = Actor(user=job.admin, label=f"{job.admin.login_id} (CSV import)")
    result = importing.apply_report(
        organization=organization,
        report=report,
        actor=actor,
        progress=progress,
        on_write=lambda: ImportJob.objects.filter(pk=job.pk).update(phase="writing"),
    )
    with transaction.atomic():
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.DONE,
            report=report.to_json(),
            content=None,
            phase="",
            progress_done=to_hash,
            finished_at=timezone.now(),
            result={
                "added": result.added,
                "updated": result.updated,
                "generated": len(result.generated_passwords),
            },
            generated_passwords=[list(p) for p in result.generated_passwords] or None,
        )
