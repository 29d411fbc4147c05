"""Two admins on the same user (issue: no 500s under races, no lost updates).

Every page that changes a user — the edit form and the activate, deactivate and delete
confirmations — posts the version of the user it was opened on. A change made over a newer
version is refused with what changed since, and nothing is overwritten; a user deleted in the
meantime (or a double click on Delete) gets a message, never a 500. Races are run for real
with threads on their own database connections (PostgreSQL in CI, file SQLite locally)."""

import threading
from collections import Counter

import pytest
from django.db import connections
from django.test import Client
from django.urls import reverse

from accounts.models import User
from audit.models import AuditEvent
from audit.services import Actor
from tests.factories import AdminFactory, OrganizationFactory, UserFactory
from tests.forms import edit_data
from tests.services import set_active, update_user, user_delete
from users import changes as user_changes

LIST_URL = reverse("users:list")


def edit_url(user):
    return reverse("users:edit", args=[user.pk])


def confirm_url(name, user):
    return reverse(f"users:{name}", args=[user.pk])


def english(user):
    User.objects.filter(pk=user.pk).update(locale=User.Locale.ENGLISH)


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def second_admin(org_a):
    admin = AdminFactory(organization=org_a, login_id="second@a.example.com", name="Second")
    english(admin)
    return admin


@pytest.fixture
def first(admin_a):
    english(admin_a)
    return client_of(admin_a)


# --- the edit form ----------------------------------------------------------------------------


def test_a_rename_saved_over_a_deactivation_is_refused_and_says_what_changed(
    first, member_a, second_admin
):
    page = first.get(edit_url(member_a))
    opened = page.context["form"]["version"].value()
    set_active(
        actor=Actor(user=second_admin, label="second@a.example.com"), user=member_a, active=False
    )

    data = edit_data(member_a, name="Renamed", version=opened, is_active="on")
    response = first.post(edit_url(member_a), data)

    assert response.status_code == 200
    html = response.content.decode()
    assert "was changed by someone else after you opened this page" in html
    assert "Status: Active → Deactivated (second@a.example.com" in html
    member_a.refresh_from_db()
    assert (member_a.name, member_a.is_active) == ("Member A", False)  # nothing overwritten
    form = response.context["form"]
    # The field someone else changed shows its current value; what the admin typed stays.
    assert form["is_active"].value() is False
    assert form["name"].value() == "Renamed"
    assert int(form["version"].value()) == member_a.version

    # Saving again, on what is there now, is a decision made knowingly.
    again = first.post(
        edit_url(member_a), edit_data(member_a, name="Renamed", version=member_a.version)
    )
    assert again.status_code == 302
    member_a.refresh_from_db()
    assert (member_a.name, member_a.is_active) == ("Renamed", False)


def test_services_changed_since_the_form_was_opened_are_not_undone(first, member_a, second_admin):
    page = first.get(edit_url(member_a))
    opened = page.context["form"]["version"].value()
    update_user(
        actor=Actor(user=second_admin, label="second@a.example.com"),
        user=member_a,
        grants={"dashboard": ""},
    )
    response = first.post(edit_url(member_a), edit_data(member_a, name="Renamed", version=opened))
    assert response.status_code == 200
    assert "Services: — → Dashboard" in response.content.decode()
    assert response.context["form"]["service_dashboard"].value() is True
    member_a.refresh_from_db()
    assert member_a.name == "Member A"


def test_an_edit_of_a_user_deleted_meanwhile_goes_back_to_the_list_with_a_message(
    first, member_a, second_admin, monkeypatch
):
    real_lock = user_changes.contract_lock

    def deleted_just_before(organization):
        # Another admin's deletion commits between this page's read and its change.
        User.objects.filter(pk=member_a.pk).update(
            deleted_at="2026-12-01T00:00:00Z", login_id="", login_id_key=""
        )
        return real_lock(organization)

    monkeypatch.setattr(user_changes, "contract_lock", deleted_just_before)
    response = first.post(edit_url(member_a), edit_data(member_a, name="Renamed"), follow=True)
    assert response.redirect_chain[-1][0] == LIST_URL
    assert "Member A was already deleted." in response.content.decode()


# --- the confirmations ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["deactivate", "delete"])
def test_a_confirmation_over_a_newer_version_is_refused_then_can_be_confirmed_again(
    first, member_a, second_admin, name
):
    page = first.get(confirm_url(name, member_a))
    opened = member_a.version
    assert f'name="version" value="{opened}"' in page.content.decode()
    update_user(
        actor=Actor(user=second_admin, label="second@a.example.com"),
        user=member_a,
        data={"name": "Jiro"},
    )

    refused = first.post(confirm_url(name, member_a), {"version": opened})

    assert refused.status_code == 400
    html = refused.content.decode()
    assert "User name: Member A → Jiro (second@a.example.com" in html
    member_a.refresh_from_db()
    assert member_a.is_active and member_a.deleted_at is None
    assert f'name="version" value="{member_a.version}"' in html
    done = first.post(confirm_url(name, member_a), {"version": member_a.version})
    assert done.status_code == 302


def test_activating_over_a_newer_version_is_refused(first, member_a, second_admin):
    User.objects.filter(pk=member_a.pk).update(is_active=False)
    member_a.refresh_from_db()
    opened = member_a.version
    update_user(
        actor=Actor(user=second_admin, label="second@a.example.com"),
        user=member_a,
        data={"extension": "321"},
    )
    refused = first.post(confirm_url("activate", member_a), {"version": opened})
    assert refused.status_code == 400
    assert "Extension number: — → 321" in refused.content.decode()
    member_a.refresh_from_db()
    assert member_a.is_active is False


def test_a_deactivation_already_done_by_someone_else_is_not_an_error(first, member_a, second_admin):
    opened = member_a.version
    set_active(actor=Actor(user=second_admin, label="second"), user=member_a, active=False)
    response = first.post(confirm_url("deactivate", member_a), {"version": opened}, follow=True)
    assert response.redirect_chain[-1][0] == LIST_URL
    assert "Member A is already deactivated." in response.content.decode()


def test_a_second_delete_of_the_same_user_is_a_message_or_a_404_never_a_500(first, member_a):
    version = member_a.version
    assert first.post(confirm_url("delete", member_a), {"version": version}).status_code == 302
    # A double click arrives after the first one committed: the user no longer exists here.
    again = first.post(confirm_url("delete", member_a), {"version": version})
    assert again.status_code == 404
    assert AuditEvent.objects.filter(action=AuditEvent.Action.USER_DELETE).count() == 1


def test_a_delete_racing_another_is_told_the_user_was_already_deleted(first, member_a, monkeypatch):
    real_lock = user_changes.contract_lock

    def deleted_just_before(organization):
        User.objects.filter(pk=member_a.pk).update(
            deleted_at="2026-12-01T00:00:00Z", login_id="", login_id_key=""
        )
        return real_lock(organization)

    monkeypatch.setattr(user_changes, "contract_lock", deleted_just_before)
    response = first.post(confirm_url("delete", member_a), {}, follow=True)
    assert response.redirect_chain[-1][0] == LIST_URL
    assert "Member A was already deleted." in response.content.decode()


def test_the_service_refuses_a_deleted_user_with_its_own_code(org_a, admin_a, member_a):
    actor = Actor(user=admin_a, label="admin")
    user_delete(actor=actor, user=member_a)
    result = user_changes.apply_changes(
        organization=org_a,
        actor=actor,
        changes=[user_changes.Change(user_id=member_a.pk, fields={"name": "Back"})],
    )
    assert [p.code for p in result.problems] == ["user_deleted"]


def test_the_service_refuses_a_stale_version_with_what_changed(org_a, admin_a, member_a):
    actor = Actor(user=admin_a, label="admin@a.example.com")
    opened = member_a.version
    update_user(actor=actor, user=member_a, data={"name": "Jiro"})
    result = user_changes.apply_changes(
        organization=org_a,
        actor=actor,
        changes=[
            user_changes.Change(user_id=member_a.pk, fields={"is_active": False}, version=opened)
        ],
    )
    (problem,) = result.problems
    assert problem.code == "stale"
    assert problem.params["since"][0]["changes"] == {"name": ["Member A", "Jiro"]}


# --- real races, on separate connections --------------------------------------------------------


def _race(posts: list) -> Counter:
    """Run each (client, url, data) POST in its own thread, released together."""
    barrier = threading.Barrier(len(posts))
    statuses: list = []
    lock = threading.Lock()

    def run(client, url, data):
        try:
            barrier.wait()
            status = client.post(url, data).status_code
        except Exception as error:  # noqa: BLE001  (any exception is the failure looked for)
            status = f"{type(error).__name__}: {error}"
        finally:
            connections.close_all()
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=run, args=post) for post in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return Counter(statuses)


def _two_admins():
    org = OrganizationFactory(slug=f"race-{OrganizationFactory._meta.model.objects.count()}")
    admins = [AdminFactory(organization=org) for _ in range(2)]
    return org, [client_of(a) for a in admins]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["delete", "deactivate", "edit"])
def test_two_admins_acting_on_one_user_at_once_never_get_a_500(name):
    org, clients = _two_admins()
    for _ in range(5):
        target = UserFactory(organization=org)
        if name == "edit":
            url = edit_url(target)
            posts = [
                (client, url, edit_data(target, name=f"By {i}", version=target.version))
                for i, client in enumerate(clients)
            ]
        else:
            url = confirm_url(name, target)
            posts = [(client, url, {"version": target.version}) for client in clients]
        statuses = _race(posts)
        assert set(statuses) <= {302, 200, 400, 404}, statuses
        assert statuses[302] >= 1, statuses  # one of them did it
    if name == "edit":
        # No lost update: one rename landed, the other was refused as stale.
        assert AuditEvent.objects.filter(action=AuditEvent.Action.USER_UPDATE).count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_rename_racing_a_deactivation_never_undoes_it():
    org, clients = _two_admins()
    for _ in range(5):
        target = UserFactory(organization=org, name="Before")
        version = target.version
        statuses = _race(
            [
                (clients[0], confirm_url("deactivate", target), {"version": version}),
                (clients[1], edit_url(target), edit_data(target, name="After", version=version)),
            ]
        )
        assert set(statuses) <= {302, 200, 400}, statuses
        assert statuses[302] == 1, statuses  # exactly one of the two changes was made
        target.refresh_from_db()
        # Whichever won, the other did not undo it.
        assert (target.name, target.is_active) in {("Before", False), ("After", True)}
