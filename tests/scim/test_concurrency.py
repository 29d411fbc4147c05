"""Twenty identity-provider requests at once for the last free seat: exactly one user is
created, the others answered 409 naming the rule, none 500 (threads, each on its own database
connection, as gunicorn's workers would be)."""

import threading
from collections import Counter

import pytest
from django.db import connections

from accounts.models import User
from tests.factories import AdminFactory, OrganizationFactory

from .conftest import ScimClient, make_token, new_user

THREADS = 20

pytestmark = pytest.mark.django_db(transaction=True)


def test_twenty_parallel_posts_for_the_last_seat_create_exactly_one_user():
    org = OrganizationFactory(slug="last-seat")
    AdminFactory(organization=org)
    org.contract.user_limit = 2  # the admin, and one free seat
    org.contract.save()
    secret = make_token(org)
    barrier = threading.Barrier(THREADS)
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def post(i: int) -> None:
        try:
            barrier.wait()
            response = ScimClient(secret).post("Users", new_user(f"racer{i}@example.com"))
            detail = response.json().get("detail", "") if response.status_code != 201 else ""
            outcome = (response.status_code, detail.split(":")[0])
        finally:
            connections.close_all()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert Counter(outcomes) == Counter(
        {(201, ""): 1, (409, "Your contract allows 2 users"): THREADS - 1}
    ), outcomes
    assert User.objects.filter(organization=org).count() == 2
