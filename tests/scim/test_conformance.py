"""scim2-tester's whole check_server against the app, over WSGI (no network), in one run over
every resource type: discovery, the misc checks, and for User and Group the create, read, list,
attribute selection, replace, delete and PATCH add, remove and replace of every attribute. No
result may be ERROR or CRITICAL. The Group checks create groups as an identity provider pushes
them (docs/scim.md "Groups"), with users it creates as their members.

scim2-tester fills attributes with random strings, following the published schemas (and their
canonicalValues). Some product rules are beyond what a SCIM schema can say: a login ID is an
email address, a user name has at most 30 characters, an extension number 3–6 digits. The
tester is told them the way it reads them, as pydantic examples on the models it discovered
from the server; everything else is what /Schemas publishes."""

import itertools
import uuid
from collections import Counter

import pytest
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from scim2_client.engines.wsgi import WSGISCIMClient
from scim2_tester import Status, check_server

from permissions import catalog

pytestmark = pytest.mark.django_db

BAD = {Status.ERROR, Status.CRITICAL}


class Fresh(list):
    """An "examples" list scim2-tester picks from with random.choice: every pick is new, so
    the users it creates never collide on unique values."""

    def __init__(self, make):
        super().__init__([None])
        self.make = make
        self.counter = itertools.count()

    def __len__(self):
        return 1_000_000

    def __getitem__(self, index):
        return self.make(next(self.counter))


def product_examples(provider) -> None:
    """Tell the discovered User model about the rules a SCIM schema cannot express."""
    tag = uuid.uuid4().hex[:8]
    user = provider.model_for(next(t for t in provider.resource_types if t.id == "User"))
    fields = user.model_fields
    fields["user_name"].examples = Fresh(lambda n: f"conformance-{tag}-{n}@example.com")
    fields["display_name"].examples = Fresh(lambda n: f"Conformance {n}")
    name_model = fields["name"].annotation.__args__[0]
    name_model.model_fields["formatted"].examples = Fresh(lambda n: f"Formatted {n}")
    for extension in user.get_extension_models().values():
        if "extension_number" in extension.model_fields:
            extension.model_fields["extension_number"].examples = Fresh(
                lambda n: f"{100 + n % 900_000}"
            )


@pytest.fixture
def wsgi_client(scim_org, scim_token):
    # As the test client does: the test's transaction stays open across the app's requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    contract = scim_org.contract
    # Every plain service the tester may pick, with seats to spare; none needs another
    # (Monitoring privileges requires MiiTel Phone, a rule test_groups.py covers).
    contract.services = sorted(catalog.GRANTABLE_CODES - {catalog.MONITORING})
    contract.service_limits = {catalog.PHONE: 1000}
    contract.user_limit = 1000
    contract.save()
    try:
        client = WSGISCIMClient(
            get_wsgi_application(),
            base_url="http://localhost/scim/v2",
            headers={"Authorization": f"Bearer {scim_token}"},
        )
        client.discover()
        product_examples(client.provider)
        yield client
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def counts(results) -> Counter:
    return Counter(r.status.name for r in results)


def test_check_server_finds_no_error_or_critical(wsgi_client):
    results = check_server(wsgi_client)

    for result in results:
        if result.status == Status.SKIPPED:
            print("SKIPPED", result.resource_type, result.title, result.reason)
    bad = [(r.resource_type, r.title, r.reason) for r in results if r.status in BAD]
    for resource_type, title, reason in bad:
        print("BAD", resource_type, title, reason)
    assert bad == [], bad
    tally = counts(results)
    print("scim2-tester check_server:", dict(sorted(tally.items())))
    for kind in ("User", "Group", None):
        print(
            f"  {kind}:",
            dict(sorted(counts(r for r in results if r.resource_type == kind).items())),
        )
    # It did check things: discovery, CRUD and PATCH of every attribute, of both types.
    assert tally["SUCCESS"] >= 60, tally
    for kind in ("User", "Group"):
        titles = {
            r.title for r in results if r.status == Status.SUCCESS and r.resource_type == kind
        }
        assert {
            "object_creation",
            "object_query",
            "object_query_without_id",
            "object_replacement",
            "object_deletion",
            "check_add_attribute",
            "check_remove_attribute",
            "check_replace_attribute",
        } <= titles, (kind, titles)
    users = [r for r in results if r.resource_type == "User" and r.status == Status.SUCCESS]
    assert len(users) >= 25, counts(r for r in results if r.resource_type == "User")
    assert "random_url" in {r.title for r in results if r.status == Status.SUCCESS}
