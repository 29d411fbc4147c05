"""Fixtures of the SCIM tests: an organization with a token, and a client that speaks SCIM to
the app (the Django test client with the bearer token and SCIM's content type)."""

import json

import pytest
from django.test import Client

from audit.services import Actor
from scim.tokens import token_create
from tests.factories import AdminFactory, OrganizationFactory

SCIM_JSON = "application/scim+json"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
MIITEL = "urn:ietf:params:scim:schemas:extension:miitel:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BASE = "/scim/v2"


class ScimClient:
    """SCIM requests with a bearer token; bodies are JSON, answers decoded."""

    def __init__(self, secret: str | None, **headers):
        self.client = Client(**headers)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}

    def request(self, method: str, path: str, body=None, **headers):
        url = path if path.startswith("/") else f"{BASE}/{path}"
        data = json.dumps(body) if body is not None and not isinstance(body, str | bytes) else body
        kwargs = {**self.headers, **headers}
        if data is not None:
            kwargs["content_type"] = SCIM_JSON
            return getattr(self.client, method.lower())(url, data, **kwargs)
        return getattr(self.client, method.lower())(url, **kwargs)

    def get(self, path, **headers):
        return self.request("GET", path, **headers)

    def post(self, path, body, **headers):
        return self.request("POST", path, body, **headers)

    def put(self, path, body, **headers):
        return self.request("PUT", path, body, **headers)

    def patch(self, path, *operations, **headers):
        return self.request(
            "PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)}, **headers
        )

    def delete(self, path, **headers):
        return self.request("DELETE", path, **headers)


def body(response) -> dict:
    assert response["Content-Type"].startswith(SCIM_JSON), response["Content-Type"]
    return json.loads(response.content)


def new_user(login_id: str = "taro@example.com", **extra) -> dict:
    return {"schemas": [USER], "userName": login_id, "displayName": "Taro Yamada", **extra}


def make_token(organization, name: str = "Entra ID") -> str:
    return token_create(organization=organization, actor=Actor.operator("test"), name=name).secret


@pytest.fixture
def scim_org(db):
    org = OrganizationFactory(slug="scim-org", name="SCIM Org")
    AdminFactory(organization=org, login_id="owner@scim.example.com", name="Owner")
    return org


@pytest.fixture
def scim_token(scim_org) -> str:
    return make_token(scim_org)


@pytest.fixture
def scim(scim_token) -> ScimClient:
    return ScimClient(scim_token)
