"""The three users of every view test: an admin and a member of organization A,
and an admin of organization B, each organization with a full contract."""

import pytest
from django.db import connection
from django.test import Client

from tests.factories import AdminFactory, OrganizationFactory, UserFactory


@pytest.fixture
def org_a(db):
    return OrganizationFactory(slug="org-a", name="Organization A")


@pytest.fixture
def org_b(db):
    return OrganizationFactory(slug="org-b", name="Organization B")


@pytest.fixture
def admin_a(org_a):
    return AdminFactory(organization=org_a, login_id="admin@a.example.com", name="Admin A")


@pytest.fixture
def member_a(org_a):
    return UserFactory(organization=org_a, login_id="member@a.example.com", name="Member A")


@pytest.fixture
def admin_b(org_b):
    return AdminFactory(organization=org_b, login_id="admin@b.example.com", name="Admin B")


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_a(admin_a):
    return _client_for(admin_a)


@pytest.fixture
def member_client_a(member_a):
    return _client_for(member_a)


@pytest.fixture
def admin_client_b(admin_b):
    return _client_for(admin_b)


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"
