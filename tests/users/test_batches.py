"""Batches of changes (docs/rules.md): recorded as one batch with its members, undone as a
batch within seven days (checked like any change), and scheduled deactivations run by the
worker through the change service."""

import zoneinfo
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone, translation

from accounts.models import Contract, User
from audit.models import AuditEvent, ChangeBatch
from audit.services import Actor
from permissions import catalog
from permissions.services import grants_of
from tests.factories import AdminFactory, GrantFactory, UserFactory
from users.changes import (
    BatchSpec,
    Change,
    apply_changes,
    run_due_deactivations,
    undo_batch,
)


@pytest.fixture
def actor(admin_a):
    return Actor(user=admin_a, label=admin_a.login_id)


def deactivate_all(org, actor, users):
    return apply_changes(
        organization=org,
        actor=actor,
        changes=[Change(user_id=u.pk, fields={"is_active": False}) for u in users],
        batch=BatchSpec(kind=ChangeBatch.Kind.DEACTIVATE),
    )


def test_a_bulk_change_is_one_batch_with_its_members(org_a, actor):
    users = UserFactory.create_batch(3, organization=org_a)
    result = deactivate_all(org_a, actor, users)
    batch = result.batch
    assert batch.kind == "deactivate" and batch.size == 3
    assert batch.actor_label == actor.label
    assert set(batch.events.values_list("target_id", flat=True)) == {u.pk for u in users}
    assert set(batch.events.values_list("action", flat=True)) == {"user_deactivate"}


def test_undo_restores_exactly_what_the_batch_changed(org_a, actor):
    users = UserFactory.create_batch(3, organization=org_a)
    batch = deactivate_all(org_a, actor, users).batch
    # Something the batch did not change is not touched by its undo.
    User.objects.filter(pk=users[0].pk).update(extension="456")

    result = undo_batch(organization=org_a, actor=actor, batch_id=batch.pk)

    assert result.ok and result.committed
    assert [u.is_active for u in User.objects.filter(pk__in=[u.pk for u in users])] == [True] * 3
    assert User.objects.get(pk=users[0].pk).extension == "456"
    assert result.batch.kind == "undo" and result.batch.undo_of == batch
    again = undo_batch(organization=org_a, actor=actor, batch_id=batch.pk)
    assert [p.code for p in again.problems] == ["batch_undone"]


def test_undoing_a_revoke_is_refused_when_the_seats_were_taken_since(org_a, actor):
    Contract.objects.filter(organization=org_a).update(service_limits={catalog.PHONE: 2})
    org_a.refresh_from_db()
    holders = UserFactory.create_batch(2, organization=org_a)
    for holder in holders:
        GrantFactory(user=holder, service=catalog.PHONE)
    revoked = apply_changes(
        organization=org_a,
        actor=actor,
        changes=[Change(user_id=u.pk, revoke=[catalog.PHONE]) for u in holders],
        batch=BatchSpec(kind=ChangeBatch.Kind.REVOKE, detail=catalog.PHONE),
    ).batch
    newcomer = UserFactory(organization=org_a)
    GrantFactory(user=newcomer, service=catalog.PHONE)  # a seat taken since

    result = undo_batch(organization=org_a, actor=actor, batch_id=revoked.pk)

    assert not result.committed
    assert "seat_limit" in [p.code for p in result.problems]
    assert all(grants_of(h) == {} for h in holders)


def test_undo_does_not_revert_a_field_changed_again_since(org_a, actor):
    user = UserFactory(organization=org_a)
    batch = deactivate_all(org_a, actor, [user]).batch
    apply_changes(
        organization=org_a,
        actor=actor,
        changes=[Change(user_id=user.pk, fields={"is_active": True})],
    )
    result = undo_batch(organization=org_a, actor=actor, batch_id=batch.pk)
    assert [p.code for p in result.problems] == ["undo_changed_since"]
    assert not result.committed


def test_a_batch_is_undone_for_seven_days_only(org_a, actor):
    user = UserFactory(organization=org_a)
    batch = deactivate_all(org_a, actor, [user]).batch
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        result = undo_batch(organization=org_a, actor=actor, batch_id=batch.pk)
    assert [p.code for p in result.problems] == ["batch_too_old"]


def test_deletions_and_other_organizations_batches_cannot_be_undone(org_a, admin_b, actor):
    user = UserFactory(organization=org_a)
    deleted = apply_changes(
        organization=org_a,
        actor=actor,
        changes=[Change(user_id=user.pk, delete=True)],
        batch=BatchSpec(kind=ChangeBatch.Kind.DELETE),
    ).batch
    assert [
        p.code for p in undo_batch(organization=org_a, actor=actor, batch_id=deleted.pk).problems
    ] == ["batch_not_undoable"]
    theirs = deactivate_all(
        admin_b.organization,
        Actor(user=admin_b, label="b"),
        [UserFactory(organization=admin_b.organization)],
    ).batch
    assert [
        p.code for p in undo_batch(organization=org_a, actor=actor, batch_id=theirs.pk).problems
    ] == ["batch_missing"]


# --- Scheduled deactivation -----------------------------------------------------------------------


def test_a_scheduled_deactivation_runs_when_due_and_not_before(org_a, actor):
    user = UserFactory(organization=org_a)
    when = timezone.now() + timedelta(hours=2)
    apply_changes(
        organization=org_a,
        actor=actor,
        changes=[Change(user_id=user.pk, fields={"deactivate_at": when})],
    )
    assert run_due_deactivations() == 0
    assert User.objects.get(pk=user.pk).is_active

    assert run_due_deactivations(now=when + timedelta(seconds=1)) == 1
    user.refresh_from_db()
    assert (user.is_active, user.deactivate_at) == (False, None)
    event = AuditEvent.objects.get(target=user, action="user_deactivate")
    assert event.channel == AuditEvent.Channel.SCHEDULE
    assert event.batch.kind == "schedule"


def test_a_cancelled_schedule_does_nothing(org_a, actor):
    user = UserFactory(organization=org_a)
    when = timezone.now() + timedelta(hours=2)
    for value in (when, None):
        apply_changes(
            organization=org_a,
            actor=actor,
            changes=[Change(user_id=user.pk, fields={"deactivate_at": value})],
        )
    assert run_due_deactivations(now=when + timedelta(minutes=1)) == 0
    assert User.objects.get(pk=user.pk).is_active


def test_a_scheduled_deactivation_of_the_last_admin_is_refused_and_recorded(org_a, admin_a):
    operator = Actor(user=None, label="operator")
    other = AdminFactory(organization=org_a)
    when = timezone.now() + timedelta(hours=1)
    apply_changes(
        organization=org_a,
        actor=operator,
        changes=[
            Change(user_id=admin_a.pk, fields={"deactivate_at": when}),
            Change(user_id=other.pk, fields={"deactivate_at": when}),
        ],
    )
    with translation.override("en"):
        assert run_due_deactivations(now=when + timedelta(seconds=5)) == 0
    # Both at once would leave no admin: neither is deactivated; both schedules are dropped.
    assert User.objects.filter(pk__in=[admin_a.pk, other.pk], is_active=True).count() == 2
    assert not User.objects.filter(deactivate_at__isnull=False).exists()
    refused = AuditEvent.objects.filter(outcome="failure", action="user_deactivate")
    assert refused.count() == 2
    assert "last active admin" in refused.first().detail


def test_the_schedule_crosses_a_day_boundary_in_the_organizations_time_zone(org_a, actor):
    """23:30 on the 1st in Tokyo is 14:30 UTC on the 1st: due then, not at UTC's midnight."""
    user = UserFactory(organization=org_a)
    tokyo = zoneinfo.ZoneInfo("Asia/Tokyo")
    when = timezone.now().astimezone(tokyo).replace(hour=23, minute=30, second=0, microsecond=0)
    when += timedelta(days=1)
    apply_changes(
        organization=org_a,
        actor=actor,
        changes=[Change(user_id=user.pk, fields={"deactivate_at": when})],
    )
    assert run_due_deactivations(now=when - timedelta(minutes=1)) == 0
    assert run_due_deactivations(now=when.astimezone(zoneinfo.ZoneInfo("UTC"))) == 1
