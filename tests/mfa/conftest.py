"""Helpers of the 2-step verification tests: signing in through the real forms (django-axes on),
codes computed with pyotp from a device's secret, and the passkey options a page carries."""

import html
import re
import time

import pyotp
import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD, AdminFactory, UserFactory
from tests.mfa.factories import PasskeyFactory, TOTPDeviceFactory

IP = "10.0.0.1"


def browser() -> Client:
    """A browser of its own (cookies), reading English."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def sign_in(client: Client, login_id: str, password: str = PASSWORD, *, ip: str = IP, **data):
    return client.post(
        reverse("login"),
        {"username": login_id, "password": password, **data},
        REMOTE_ADDR=ip,
        HTTP_ACCEPT_LANGUAGE="en",
    )


def code(device_or_secret, *, steps: int = 0, at: float | None = None) -> str:
    """The code an app shows `steps` time steps from now (or at `at`)."""
    secret = getattr(device_or_secret, "plain_secret", device_or_secret)
    return pyotp.TOTP(secret).at((at or time.time()) + steps * 30)


def post(client: Client, name: str, data: dict | None = None, *, ip: str = IP):
    return client.post(reverse(name), data or {}, REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE="en")


def session_key(client: Client) -> str | None:
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie is not None and cookie.value else None


def stored_session(client: Client) -> dict:
    key = session_key(client)
    row = Session.objects.filter(session_key=key, expire_date__gt=timezone.now()).first()
    return row.get_decoded() if row is not None else {}


def signed_in_id(client: Client) -> str | None:
    return stored_session(client).get("_auth_user_id")


def passkey_options(response) -> str:
    """The WebAuthn options JSON of the page's passkey form (data-options)."""
    match = re.search(r'data-options="([^"]*)"', response.content.decode())
    assert match, "the page has no passkey form"
    return html.unescape(match.group(1))


def secret_on_page(response) -> str:
    match = re.search(
        r'<code class="secret" id="totp-secret">([A-Z2-7 ]+)</code>', response.content.decode()
    )
    assert match, "the page shows no secret"
    return match.group(1).replace(" ", "")


@pytest.fixture
def totp_admin(admin_a):
    """Admin A with an authenticator app (`admin_a.device`)."""
    admin_a.device = TOTPDeviceFactory(user=admin_a)
    return admin_a


@pytest.fixture
def passkey_admin(admin_a):
    """Admin A with a passkey (`admin_a.passkey`, whose `.softkey` signs)."""
    admin_a.passkey = PasskeyFactory(user=admin_a)
    # The test client's origin; the relying party ID is the request's host name.
    admin_a.passkey.softkey.origin = "http://testserver"
    return admin_a


# The three users of every view test, reading English (assertions quote the English text; the
# Japanese pages are checked by the translation and browser tests).
@pytest.fixture
def admin_a(org_a):
    return AdminFactory(
        organization=org_a, login_id="admin@a.example.com", name="Admin A", locale="en"
    )


@pytest.fixture
def member_a(org_a):
    return UserFactory(
        organization=org_a, login_id="member@a.example.com", name="Member A", locale="en"
    )


@pytest.fixture
def admin_b(org_b):
    return AdminFactory(
        organization=org_b, login_id="admin@b.example.com", name="Admin B", locale="en"
    )


@pytest.fixture
def client():
    return browser()
