from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import catalog


class ServiceGrant(models.Model):
    """One service given to one user. For services with levels, `level` holds the chosen one.

    `organization` is the grantee's own organization (denormalised), so seat counts and lists
    read one index without joining users."""

    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="grants"
    )
    service = models.CharField(
        _("service"), max_length=32, choices=[(s.code, s.code) for s in catalog.GRANTABLE]
    )
    level = models.CharField(_("level"), max_length=16, blank=True)
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("service grant")
        verbose_name_plural = _("service grants")
        constraints = [
            models.UniqueConstraint(fields=["user", "service"], name="grant_user_service_unique"),
            models.CheckConstraint(
                condition=Q(service__in=sorted(catalog.GRANTABLE_CODES)),
                name="grant_service_known",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "service"], name="grant_org_service_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.service}{'=' + self.level if self.level else ''}"


class SeatCount(models.Model):
    """How many seats an organization uses: `code` "users" counts its users that are not
    deleted, a service code counts that service's grants.

    Kept by database triggers (permissions.db_triggers) on users_user and permissions_servicegrant,
    in the same transaction as the change, whatever writes it (services, bulk loads, raw SQL),
    so the seat meter and the limit checks read one row instead of counting 100,000."""

    USERS = "users"

    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    code = models.CharField(max_length=32)
    used = models.IntegerField(default=0)

    class Meta:
        # The table keeps the name it was created with, in the users app.
        db_table = "users_seatcount"
        constraints = [
            models.UniqueConstraint(fields=["organization", "code"], name="seatcount_org_code"),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}:{self.code}={self.used}"

    @classmethod
    def used_of(cls, *, organization_id: int, code: str) -> int:
        """Seats in use for `code` ("users" or a service code); 0 before the first one."""
        row = cls.objects.filter(organization_id=organization_id, code=code)
        return row.values_list("used", flat=True).first() or 0
