"""Activity data: what a user's deletion must treat correctly (docs/rules.md).

History rows (calls, meetings, participants, themes, bookmarks) point at the user's row, which a
deletion keeps as a tombstone: nothing here is rewritten when a user is deleted. Per-user
analytics (By-user rows) and funnel memberships are purged."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CallRecord(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "in", _("Inbound")
        OUTBOUND = "out", _("Outbound")

    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    # PROTECT: users are never removed from the table (deletion is a tombstone), so call
    # history can always name who made the call.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    started_at = models.DateTimeField(_("start time"))
    duration_seconds = models.PositiveIntegerField(_("duration (seconds)"))
    direction = models.CharField(_("direction"), max_length=3, choices=Direction.choices)
    counterpart = models.CharField(_("counterpart"), max_length=32)

    class Meta:
        verbose_name = _("call record")
        verbose_name_plural = _("call records")
        indexes = [
            models.Index(fields=["organization", "-started_at", "-id"], name="call_org_time_idx"),
            models.Index(fields=["user", "-started_at", "-id"], name="call_user_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.counterpart}"


class ByUserDaily(models.Model):
    """One user's day in the By-user table and the individual dashboard (scores included).
    Removed for good when the user is deleted."""

    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(_("day"))
    call_count = models.PositiveIntegerField(_("calls"), default=0)
    talk_seconds = models.PositiveIntegerField(_("talk time (seconds)"), default=0)
    talk_ratio = models.FloatField(_("talk ratio"), default=0.0)
    score = models.FloatField(_("score"), default=0.0)

    class Meta:
        verbose_name = _("By-user row")
        verbose_name_plural = _("By-user rows")
        constraints = [
            models.UniqueConstraint(fields=["user", "day"], name="byuser_user_day_unique"),
        ]
        indexes = [models.Index(fields=["organization", "day"], name="byuser_org_day_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.day}"


class Meeting(models.Model):
    class Access(models.TextChoices):
        ALL = "all", _("All users")
        SPECIFIED = "specified", _("Host and specified users")
        HOST = "host", _("Host only")

    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    host = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("host")
    )
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("uploader"),
    )
    title = models.CharField(_("title"), max_length=200)
    started_at = models.DateTimeField(_("time"))
    access = models.CharField(
        _("access"), max_length=10, choices=Access.choices, default=Access.ALL
    )
    # Who may see it besides the host, when access is "Host and specified users".
    allowed_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="+", blank=True, verbose_name=_("specified users")
    )

    class Meta:
        verbose_name = _("meeting")
        verbose_name_plural = _("meetings")
        indexes = [
            models.Index(
                fields=["organization", "-started_at", "-id"], name="meeting_org_time_idx"
            ),
            models.Index(fields=["host"], name="meeting_host_idx"),
            models.Index(fields=["uploader"], name="meeting_uploader_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class MeetingParticipant(models.Model):
    meeting = models.ForeignKey(Meeting, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # Guests (no user) are shown by the name they joined with.
    guest_name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        indexes = [models.Index(fields=["user"], name="participant_user_idx")]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.user.display_name if self.user_id else self.guest_name


class TableTheme(models.Model):
    """A saved layout of the Dashboard's table. Only its creator may delete it, so a deleted
    creator's themes can no longer be deleted by anyone (published behaviour)."""

    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(_("name"), max_length=100)
    columns = models.JSONField(_("columns"), default=list)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("table theme")
        verbose_name_plural = _("table themes")
        indexes = [models.Index(fields=["creator"], name="theme_creator_idx")]

    def __str__(self) -> str:
        return self.name

    def can_be_deleted_by(self, user) -> bool:
        return self.creator_id == user.pk and not self.creator.is_deleted

    @property
    def deletable(self) -> bool:
        """Whether anyone can still delete it: only while its creator exists."""
        return not self.creator.is_deleted


class BookmarkedFilter(models.Model):
    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    name = models.CharField(_("name"), max_length=100)
    conditions = models.JSONField(_("conditions"), default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("bookmarked filter")
        verbose_name_plural = _("bookmarked filters")
        indexes = [models.Index(fields=["creator"], name="bookmark_creator_idx")]

    def __str__(self) -> str:
        return self.name


class FunnelTeam(models.Model):
    organization = models.ForeignKey(
        "users.Organization", on_delete=models.CASCADE, related_name="+"
    )
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        verbose_name = _("funnel team")
        verbose_name_plural = _("funnel teams")

    def __str__(self) -> str:
        return self.name


class FunnelTeamMember(models.Model):
    team = models.ForeignKey(FunnelTeam, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("funnel team member")
        verbose_name_plural = _("funnel team members")
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="funnel_member_unique"),
        ]
        indexes = [models.Index(fields=["user"], name="funnel_member_user_idx")]

    def __str__(self) -> str:
        return f"{self.team_id}:{self.user_id}"
