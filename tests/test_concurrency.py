"""Limits hold under concurrent requests (docs/security.md), on PostgreSQL (the contract
row is locked FOR UPDATE) and on file-based SQLite (IMMEDIATE transactions): threads, each on its
own database connection, race for the last seats."""

import threading
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from accounts.models import User
from audit.services import Actor
from permissions import catalog
from permissions.models import ServiceGrant
from tests.factories import AdminFactory, OrganizationFactory, UserFactory
from tests.services import create_user, set_active, update_user

THREADS = 20

pytestmark = pytest.mark.django_db(transaction=True)


def race(work, n=THREADS):
    """Run work(i) in n threads released together; return Counter of outcomes."""
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(i):
        try:
            barrier.wait()
            work(i)
            result = "ok"
        except ValidationError as error:
            codes = {e.code for e in error.error_list} if hasattr(error, "error_list") else set()
            if hasattr(error, "error_dict"):
                result = "rule:" + ",".join(sorted(error.error_dict))
            else:
                result = "rule:" + ",".join(sorted(filter(None, codes)))
        except Exception as error:  # noqa: BLE001  (any other exception is the failure we look for)
            result = f"error:{type(error).__name__}:{error}"
        finally:
            connections.close_all()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return Counter(outcomes)


def test_database_is_one_that_runs_concurrent_connections():
    # In-memory SQLite would give each thread its own empty database.
    assert connection.vendor == "postgresql" or connection.settings_dict["NAME"] != ":memory:"
    assert ":memory:" not in str(connection.settings_dict["NAME"])


def test_twenty_concurrent_adds_with_three_free_seats_create_exactly_three():
    org = OrganizationFactory(slug="race")
    admin = AdminFactory(organization=org)
    UserFactory.create_batch(6, organization=org)
    org.contract.user_limit = 10  # 7 used, 3 free
    org.contract.save()
    actor = Actor(user=admin, label=admin.login_id)

    def add(i):
        create_user(
            actor=actor,
            organization=org,
            login_id=f"racer{i}@example.com",
            name=f"Racer {i}",
            password="Qz8#vLm2pR4t",
        )

    outcomes = race(add)

    assert outcomes == Counter({"ok": 3, "rule:user_limit": 17}), outcomes
    assert User.objects.filter(organization=org).count() == 10


def test_twenty_concurrent_phone_grants_with_five_free_seats_grant_exactly_five():
    org = OrganizationFactory(slug="phones")
    admin = AdminFactory(organization=org)
    users = UserFactory.create_batch(THREADS, organization=org)
    org.contract.service_limits = {catalog.PHONE: 5}
    org.contract.save()
    actor = Actor(user=admin, label=admin.login_id)

    def grant(i):
        update_user(actor=actor, user=users[i], data={}, grants={catalog.PHONE: ""})

    outcomes = race(grant)

    assert outcomes == Counter({"ok": 5, "rule:service_phone": 15}), outcomes
    assert ServiceGrant.objects.filter(organization=org, service=catalog.PHONE).count() == 5


def test_concurrent_deactivations_of_the_last_two_admins_leave_one_active_admin():
    org = OrganizationFactory(slug="admins")
    admins = [AdminFactory(organization=org) for _ in range(2)]
    operator = Actor(user=None, label="operator:test")

    def deactivate(i):
        set_active(actor=operator, user=admins[i % 2], active=False)

    outcomes = race(deactivate)

    # Ten threads target each admin: one admin's deactivation wins (its other nine threads find
    # it already done), the other admin's ten are all refused as the last one.
    assert set(outcomes) == {"ok", "rule:last_admin"}, outcomes
    assert outcomes["rule:last_admin"] == THREADS // 2, outcomes
    assert User.objects.filter(organization=org, role="admin", is_active=True).count() == 1


def test_concurrent_adds_of_one_login_id_in_two_organizations_create_one_user():
    orgs = [OrganizationFactory(slug=f"twin-{i}") for i in range(2)]
    operator = Actor(user=None, label="operator:test")

    def add(i):
        create_user(
            actor=operator,
            organization=orgs[i % 2],
            login_id="Same.Person@example.com" if i % 2 else "same.person@EXAMPLE.com",
            name="Same",
            password="Qz8#vLm2pR4t",
        )

    outcomes = race(add)

    assert outcomes["ok"] == 1, outcomes
    assert set(outcomes) <= {"ok", "rule:login_id"}, outcomes
    assert User.objects.filter(login_id_key="same.person@example.com").count() == 1
