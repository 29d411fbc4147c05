import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# An upload waits this long for its admin to confirm; generated passwords wait this long to be
# downloaded. Then both are gone.
IMPORT_TTL = timedelta(hours=1)


# A queued or running import may outlast its hour (it waits for a transfer slot, then hashes
# thousands of passwords): it is purged only this long after expiring, when its worker has
# surely died. Purged earlier, its result and generated passwords would be lost.
STUCK_AFTER = timedelta(days=1)


def _expiry():
    return timezone.now() + IMPORT_TTL


class ImportJobQuerySet(models.QuerySet):
    def expired(self) -> "ImportJobQuerySet":
        now = timezone.now()
        in_progress = [ImportJob.Status.CHECKING, ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]
        return self.filter(expires_at__lt=now).filter(
            ~models.Q(status__in=in_progress) | models.Q(expires_at__lt=now - STUCK_AFTER)
        )


class ImportJob(models.Model):
    """One CSV import: the uploaded file (kept only until it is applied or cancelled, for the
    admin who uploaded it), its dry-run report, then the apply's progress and result."""

    class Status(models.TextChoices):
        CHECKING = "checking", _("Checking the file")
        VALIDATED = "validated", _("Checked, waiting for confirmation")
        QUEUED = "queued", _("Waiting to start")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Not imported")
        CANCELLED = "cancelled", _("Cancelled")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    admin = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=_expiry)
    filename = models.CharField(max_length=255, blank=True)
    encoding = models.CharField(max_length=16)
    language = models.CharField(max_length=2, default="ja")
    content = models.BinaryField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VALIDATED)
    report = models.JSONField(default=dict, blank=True)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    phase = models.CharField(max_length=20, blank=True)
    result = models.JSONField(default=dict, blank=True)
    # Temporary passwords generated for blank cells: shown once to the importing admin, then
    # deleted (on download or at expiry). Never logged or audited.
    generated_passwords = models.JSONField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The confirming admin's address, for the audit records the background apply writes.
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = ImportJobQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="importjob_expiry_idx")]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED, self.Status.CANCELLED)

    @property
    def in_progress(self) -> bool:
        """The worker has it (a large file's dry run, or the apply): the page follows it."""
        return self.status in (self.Status.CHECKING, self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.progress_total:
            return 0
        return min(99, self.progress_done * 100 // self.progress_total)


class ActiveTransfer(models.Model):
    """A CSV export streaming or an import being checked or applied, per organization: at most
    MAX_CONCURRENT_TRANSFERS at once (exports.limits). Rows left by a crashed worker expire."""

    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=10)
    started_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["organization", "expires_at"], name="transfer_org_idx")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.organization_id}"
