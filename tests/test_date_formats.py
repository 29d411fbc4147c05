"""Dates and times read the same on every page, one format per language (ja `2026/12/02 12:47`,
en `2 Dec 2026, 12:47`), in the viewer's time zone."""

import datetime as dt

import pytest
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from tests.analytics.factories import CallRecordFactory, MeetingFactory

# 03:47 UTC is 12:47 in Tokyo (UTC+9), the viewer's zone.
WHEN = dt.datetime(2026, 12, 2, 3, 47, tzinfo=dt.UTC)
SHOWN = {"ja": "2026/12/02 12:47", "en": "2 Dec 2026, 12:47"}


@pytest.fixture
def dated(admin_a, member_a):
    User.objects.filter(pk=member_a.pk).update(last_login=WHEN)
    CallRecordFactory(user=member_a, started_at=WHEN)
    meeting = MeetingFactory(host=admin_a, started_at=WHEN)
    AuditEvent.objects.create(
        organization=admin_a.organization,
        created_at=WHEN,
        action=AuditEvent.Action.LOGIN,
        actor=admin_a,
        actor_label=admin_a.login_id,
        target=admin_a,
        target_label=admin_a.login_id,
    )
    return meeting


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_page_shows_a_time_in_the_same_format(admin_client_a, admin_a, dated, language):
    User.objects.filter(pk=admin_a.pk).update(locale=language, time_zone="Asia/Tokyo")
    pages = [
        reverse("users:list"),
        reverse("analytics:calls"),
        reverse("analytics:meetings"),
        reverse("analytics:meeting", args=[dated.pk]),
        reverse("audit:list"),
    ]
    for url in pages:
        content = admin_client_a.get(url).content.decode()
        assert SHOWN[language] in content, (language, url)
        assert '<time datetime="2026-12-02T12:47:00+09:00">' in content, (language, url)
        # Not the formats the pages used before.
        for other in ("2026-12-02 12:47", "12/02/2026", "p.m.", "a.m."):
            assert other not in content, (language, url, other)
