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
