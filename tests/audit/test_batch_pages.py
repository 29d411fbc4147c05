"""A batch in the audit log and its undo (docs/rules.md): the batch page lists its members; the
undo is confirmed on a page that shows the change service's dry run, and refused with the
reason when a seat was taken since."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Contract, User
from audit.models import ChangeBatch
from audit.services import Actor
from permissions import catalog
from permissions.services import grants_of
from tests.factories import GrantFactory, UserFactory
from users.changes import BatchSpec, Change, apply_changes


@pytest.fixture(autouse=True)
def english(admin_a):
    User.objects.filter(pk=admin_a.pk).update(locale="en")


def bulk(org, actor_user, users, kind, **change):
    return apply_changes(
        organization=org,
        actor=Actor(user=actor_user, label=actor_user.login_id),
        changes=[Change(user_id=u.pk, **change) for u in users],
        batch=BatchSpec(
            kind=kind, detail=change.get("revoke", [""])[0] if "revoke" in change else ""
        ),
    ).batch


@pytest.fixture
def deactivated(org_a, admin_a):
    users = UserFactory.create_batch(3, organization=org_a)
    return users, bulk(
        org_a, admin_a, users, ChangeBatch.Kind.DEACTIVATE, fields={"is_active": False}
    )


def test_the_audit_log_links_each_member_to_its_batch(admin_client_a, deactivated):
    _users, batch = deactivated
    text = admin_client_a.get(reverse("audit:list")).content.decode()
    assert text.count(reverse("batches:detail", args=[batch.pk])) == 3


def test_the_batch_page_lists_its_members_and_offers_the_undo(admin_client_a, deactivated):
    users, batch = deactivated
    response = admin_client_a.get(reverse("batches:detail", args=[batch.pk]))
    assert response.status_code == 200
    assert {row.event.target_id for row in response.context["rows"]} == {u.pk for u in users}
    assert response.context["state"] == "undoable"
    assert reverse("batches:undo", args=[batch.pk]) in response.content.decode()


def test_the_undo_page_shows_the_dry_run_then_undoes(admin_client_a, deactivated):
    users, batch = deactivated
    url = reverse("batches:undo", args=[batch.pk])
    page = admin_client_a.get(url)
    assert page.status_code == 200 and page.context["count"] == 3 and page.context["ok"]
    assert not User.objects.filter(pk__in=[u.pk for u in users], is_active=True).exists()

    response = admin_client_a.post(url)
    undo = ChangeBatch.objects.get(undo_of=batch)
    assert response.status_code == 302
    assert response["Location"] == reverse("batches:detail", args=[undo.pk])
    assert User.objects.filter(pk__in=[u.pk for u in users], is_active=True).count() == 3
    # Undone once: the batch page says so, and a second undo is refused.
    assert admin_client_a.get(reverse("batches:detail", args=[batch.pk])).context["state"] == (
        "undone"
    )
    again = admin_client_a.post(url)
    assert again.status_code == 400
    assert "already undone" in again.content.decode()


def test_an_undo_refused_because_seats_were_taken_since_changes_nothing(
    admin_client_a, org_a, admin_a
):
    Contract.objects.filter(organization=org_a).update(service_limits={catalog.PHONE: 2})
    org_a.refresh_from_db()
    holders = UserFactory.create_batch(2, organization=org_a)
    for holder in holders:
        GrantFactory(user=holder, service=catalog.PHONE)
    batch = bulk(org_a, admin_a, holders, ChangeBatch.Kind.REVOKE, revoke=[catalog.PHONE])
    GrantFactory(user=UserFactory(organization=org_a), service=catalog.PHONE)

    response = admin_client_a.post(reverse("batches:undo", args=[batch.pk]))

    assert response.status_code == 400
    assert response.context["refused"] >= 1
    assert "MiiTel Phone" in response.content.decode()
    assert all(grants_of(h) == {} for h in holders)
    assert not ChangeBatch.objects.filter(undo_of=batch).exists()


def test_a_deletion_batch_offers_no_undo(admin_client_a, org_a, admin_a):
    users = UserFactory.create_batch(2, organization=org_a)
    batch = bulk(org_a, admin_a, users, ChangeBatch.Kind.DELETE, delete=True)
    page = admin_client_a.get(reverse("batches:detail", args=[batch.pk]))
    assert page.context["state"] == "never"
    response = admin_client_a.post(reverse("batches:undo", args=[batch.pk]))
    assert response.status_code == 400
    assert "cannot be undone" in response.content.decode()


def test_after_seven_days_the_batch_is_no_longer_undoable(admin_client_a, deactivated):
    _users, batch = deactivated
    ChangeBatch.objects.filter(pk=batch.pk).update(
        created_at=timezone.now() - timedelta(days=ChangeBatch.UNDO_DAYS, minutes=1)
    )
    page = admin_client_a.get(reverse("batches:detail", args=[batch.pk]))
    assert page.context["state"] == "expired"
    assert admin_client_a.post(reverse("batches:undo", args=[batch.pk])).status_code == 400


def test_a_member_gets_403(member_client_a, deactivated):
    _users, batch = deactivated
    assert member_client_a.get(reverse("batches:detail", args=[batch.pk])).status_code == 403
    assert member_client_a.post(reverse("batches:undo", args=[batch.pk])).status_code == 403


def test_another_organizations_batch_is_404_and_not_undone(admin_client_b, deactivated):
    users, batch = deactivated
    assert admin_client_b.get(reverse("batches:detail", args=[batch.pk])).status_code == 404
    assert admin_client_b.post(reverse("batches:undo", args=[batch.pk])).status_code == 404
    assert not User.objects.filter(pk__in=[u.pk for u in users], is_active=True).exists()


def test_wrong_methods_are_405(admin_client_a, deactivated):
    _users, batch = deactivated
    assert admin_client_a.post(reverse("batches:detail", args=[batch.pk])).status_code == 405
    assert admin_client_a.put(reverse("batches:undo", args=[batch.pk])).status_code == 405


def test_the_batch_page_queries_do_not_grow_with_its_size(admin_client_a, org_a, admin_a):
    def queries(size: int) -> int:
        users = UserFactory.create_batch(size, organization=org_a)
        batch = bulk(
            org_a, admin_a, users, ChangeBatch.Kind.DEACTIVATE, fields={"is_active": False}
        )
        with CaptureQueriesContext(connection) as ctx:
            assert admin_client_a.get(reverse("batches:detail", args=[batch.pk])).status_code == 200
        return len(ctx.captured_queries)

    assert queries(40) == queries(1)
