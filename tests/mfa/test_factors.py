"""The factors themselves (docs/security.md): codes accepted once
within ±1 time step, secrets encrypted at rest, recovery codes hashed and single-use, passkeys
checked for origin, RP ID, challenge and signature counter by py_webauthn."""

import json
import time

import pyotp
import pytest
from django.db import connection
from django.test import override_settings

from audit.models import AuditEvent
from audit.services import Actor
from mfa import crypto, passkeys, recovery, services, totp
from mfa.models import RecoveryCode, TOTPDevice, WebAuthnCredential
from tests.mfa.conftest import code
from tests.mfa.factories import PasskeyFactory, TOTPDeviceFactory, recovery_codes_for
from tests.mfa.softkey import SoftKey, challenge_of

pytestmark = pytest.mark.django_db

RP = passkeys.RelyingParty(id="localhost", origins=["http://localhost"])
# The middle of a 30-second step, so a test never straddles a step boundary.
T = (int(time.time()) // 30) * 30 + 15


def actor(user):
    return Actor(user=user, label=user.login_id)


# --- Authenticator apps -------------------------------------------------------------------------


def test_the_code_of_the_current_step_is_accepted_once_then_refused_as_replayed(admin_a):
    device = TOTPDeviceFactory(user=admin_a)
    now = code(device, at=T)

    first = services.totp_verify(user=admin_a, code=now, at=T)
    again = services.totp_verify(user=admin_a, code=now, at=T)

    assert first.outcome is services.Outcome.ACCEPTED
    assert again.outcome is services.Outcome.REPLAYED
    device.refresh_from_db()
    assert device.last_step == pyotp.TOTP(device.plain_secret).timecode(T)
    assert device.last_used_at is not None


@pytest.mark.parametrize(("steps", "accepted"), [(-2, False), (-1, True), (1, True), (2, False)])
def test_one_step_of_clock_drift_is_accepted_and_two_are_not(admin_a, steps, accepted):
    device = TOTPDeviceFactory(user=admin_a)

    result = services.totp_verify(user=admin_a, code=code(device, at=T, steps=steps), at=T)

    assert result.ok is accepted
    assert result.outcome is (services.Outcome.ACCEPTED if accepted else services.Outcome.WRONG)


def test_an_earlier_code_is_refused_once_a_later_one_was_used(admin_a):
    device = TOTPDeviceFactory(user=admin_a)
    assert services.totp_verify(user=admin_a, code=code(device, at=T), at=T).ok

    # The previous step's code is still inside the drift window, but older than the last used.
    earlier = services.totp_verify(user=admin_a, code=code(device, at=T, steps=-1), at=T)

    assert earlier.outcome is services.Outcome.REPLAYED


def test_the_next_steps_code_is_accepted_after_the_current_one(admin_a):
    device = TOTPDeviceFactory(user=admin_a)
    assert services.totp_verify(user=admin_a, code=code(device, at=T), at=T).ok
    assert services.totp_verify(user=admin_a, code=code(device, at=T + 30), at=T + 30).ok


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "12 34 5x", "١٢٣٤٥٦"])
def test_malformed_codes_are_wrong_without_error(admin_a, typed):
    TOTPDeviceFactory(user=admin_a)
    assert services.totp_verify(user=admin_a, code=typed, at=T).outcome is services.Outcome.WRONG


def test_spaces_in_a_code_do_not_matter(admin_a):
    device = TOTPDeviceFactory(user=admin_a)
    now = code(device, at=T)
    assert services.totp_verify(user=admin_a, code=f" {now[:3]} {now[3:]} ", at=T).ok


def test_each_of_two_apps_works_and_another_users_app_does_not(admin_a, member_a):
    first, second = TOTPDeviceFactory(user=admin_a), TOTPDeviceFactory(user=admin_a)
    other = TOTPDeviceFactory(user=member_a)

    assert services.totp_verify(user=admin_a, code=code(second, at=T), at=T).factor == second
    assert services.totp_verify(user=admin_a, code=code(first, at=T + 30), at=T + 30).ok
    assert not services.totp_verify(user=admin_a, code=code(other, at=T + 60), at=T + 60).ok


def test_the_secret_is_stored_encrypted_and_only_the_secret_key_reads_it(admin_a):
    device = TOTPDeviceFactory(user=admin_a)
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM mfa_totpdevice WHERE id = %s", [device.pk])
        stored = cursor.fetchone()[0]

    assert device.plain_secret not in stored
    assert crypto.decrypt_secret(stored) == (device.plain_secret, True)
    other_key = override_settings(
        SECRET_KEY="another-secret-key-" + "z" * 40, SECRET_KEY_FALLBACKS=[]
    )
    with other_key, pytest.raises(crypto.SecretUnreadable):
        crypto.decrypt_secret(stored)


def test_after_a_secret_key_rotation_codes_still_verify_and_the_secret_is_re_encrypted(
    admin_a, settings
):
    device = TOTPDeviceFactory(user=admin_a)
    old_key = settings.SECRET_KEY
    settings.SECRET_KEY = "rotated-secret-key-" + "r" * 40
    settings.SECRET_KEY_FALLBACKS = [old_key]

    assert services.totp_verify(user=admin_a, code=code(device, at=T), at=T).ok

    device.refresh_from_db()
    assert crypto.decrypt_secret(device.secret) == (device.plain_secret, True)  # current key now
    settings.SECRET_KEY_FALLBACKS = []
    assert services.totp_verify(user=admin_a, code=code(device, at=T + 30), at=T + 30).ok


def test_adding_an_app_needs_its_current_code_and_counts_that_step_as_used(admin_a):
    secret = totp.new_secret()
    with pytest.raises(services.ValidationError) as refused:
        services.totp_device_add(
            actor=actor(admin_a), user=admin_a, name="Phone", secret=secret, code="000000"
        )
    assert "code" in refused.value.message_dict
    assert not TOTPDevice.objects.exists()

    now = pyotp.TOTP(secret).now()
    enrolled = services.totp_device_add(
        actor=actor(admin_a), user=admin_a, name="Phone", secret=secret, code=now
    )

    assert len(enrolled.recovery_codes) == recovery.COUNT
    assert services.totp_verify(user=admin_a, code=now).outcome is services.Outcome.REPLAYED
    event = AuditEvent.objects.get(action=AuditEvent.Action.MFA_ENROLL)
    assert (event.target, event.detail) == (admin_a, "totp: Phone")


def test_a_second_method_keeps_the_recovery_codes(admin_a):
    first = services.totp_device_add(
        actor=actor(admin_a),
        user=admin_a,
        name="Phone",
        secret=(s := totp.new_secret()),
        code=pyotp.TOTP(s).now(),
    )
    second = services.totp_device_add(
        actor=actor(admin_a),
        user=admin_a,
        name="Tablet",
        secret=(s2 := totp.new_secret()),
        code=pyotp.TOTP(s2).now(),
    )
    assert len(first.recovery_codes) == 10
    assert second.recovery_codes == []
    assert RecoveryCode.objects.filter(user=admin_a).count() == 10


def test_the_qr_code_is_an_svg_data_uri_of_the_otpauth_uri(admin_a):
    uri = totp.provisioning_uri(secret="JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", account=admin_a.login_id)
    assert uri.startswith("otpauth://totp/MiiTel%20Admin:admin%40a.example.com?")
    assert "secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" in uri and "issuer=MiiTel%20Admin" in uri
    assert totp.qr_data_uri(uri).startswith("data:image/svg+xml")


# --- Recovery codes -----------------------------------------------------------------------------


def test_recovery_codes_are_stored_as_keyed_hashes_never_in_clear(admin_a):
    codes = recovery_codes_for(admin_a)
    stored = list(RecoveryCode.objects.filter(user=admin_a).values_list("code_hash", flat=True))

    assert len(codes) == len(set(codes)) == 10
    for plain in codes:
        normalised = recovery.normalize(plain)
        assert all(normalised not in h and plain not in h for h in stored)
    assert sorted(stored) == sorted(recovery.hashes(c)[0] for c in codes)
    with override_settings(SECRET_KEY="another-secret-key-" + "z" * 40, SECRET_KEY_FALLBACKS=[]):
        assert recovery.hashes(codes[0])[0] not in stored  # the key is not in the database


def test_a_recovery_code_works_once(admin_a):
    codes = recovery_codes_for(admin_a)

    assert services.recovery_code_use(user=admin_a, code=codes[3]).ok
    assert not services.recovery_code_use(user=admin_a, code=codes[3]).ok
    assert services.recovery_code_use(user=admin_a, code=codes[4]).ok
    assert RecoveryCode.objects.filter(user=admin_a, used_at__isnull=True).count() == 8


def test_a_recovery_code_is_read_the_way_a_person_copies_it(admin_a):
    codes = recovery_codes_for(admin_a)
    typed = codes[0].upper().replace("-", " ")
    assert services.recovery_code_use(user=admin_a, code=f"  {typed} ").ok
    # Crockford's alphabet has no o, i or l: typed, they read as 0 and 1.
    assert recovery.normalize("O1-IL0") == "01110"


def test_another_users_recovery_code_does_not_work(admin_a, member_a):
    theirs = recovery_codes_for(member_a)
    recovery_codes_for(admin_a)
    assert not services.recovery_code_use(user=admin_a, code=theirs[0]).ok


def test_regenerating_invalidates_the_old_set(admin_a):
    TOTPDeviceFactory(user=admin_a)
    old = recovery_codes_for(admin_a)

    new = services.recovery_codes_regenerate(actor=actor(admin_a), user=admin_a)

    assert len(new) == 10 and not set(new) & set(old)
    assert not services.recovery_code_use(user=admin_a, code=old[0]).ok
    assert services.recovery_code_use(user=admin_a, code=new[0]).ok
    assert AuditEvent.objects.filter(action=AuditEvent.Action.MFA_RECOVERY_NEW).count() == 1


def test_recovery_codes_need_a_method_to_back_up(admin_a):
    with pytest.raises(services.ValidationError):
        services.recovery_codes_regenerate(actor=actor(admin_a), user=admin_a)
    assert not RecoveryCode.objects.exists()


# --- Passkeys -----------------------------------------------------------------------------------


def register(user, key: SoftKey, **bend):
    options, challenge = passkeys.registration_options(user=user, rp=RP, existing=[])
    return services.passkey_add(
        actor=actor(user),
        user=user,
        name="Laptop",
        response=key.create(options, **bend),
        challenge=challenge,
        rp=RP,
    )


def assertion(user, key: SoftKey, **bend):
    options, challenge = passkeys.authentication_options(
        credentials=WebAuthnCredential.objects.filter(user=user), rp=RP
    )
    assert challenge_of(options) == challenge
    return services.passkey_verify(
        user=user, response=key.get(options, **bend), challenge=challenge, rp=RP
    )


def test_a_passkey_is_registered_and_then_signs_in(admin_a):
    key = SoftKey()

    enrolled = register(admin_a, key)
    result = assertion(admin_a, key)

    credential = WebAuthnCredential.objects.get(user=admin_a)
    assert enrolled.factor == credential and len(enrolled.recovery_codes) == 10
    assert credential.credential_id == key.id and credential.transports == ["internal"]
    assert result.ok and result.factor == credential
    credential.refresh_from_db()
    assert credential.sign_count == 1 and credential.last_used_at is not None


def test_the_registration_options_ask_for_what_the_issue_names(admin_a):
    existing = PasskeyFactory(user=admin_a)
    options, _ = passkeys.registration_options(user=admin_a, rp=RP, existing=[existing])
    data = json.loads(options)

    assert data["rp"] == {"id": "localhost", "name": "MiiTel Admin"}
    assert data["user"]["name"] == admin_a.login_id
    assert data["authenticatorSelection"]["residentKey"] == "preferred"
    assert data["authenticatorSelection"]["userVerification"] == "preferred"
    assert data["attestation"] == "none"
    assert [c["id"] for c in data["excludeCredentials"]] == [existing.credential_id]
    assert str(admin_a.pk) not in data["user"]["id"]  # an opaque handle


@pytest.mark.parametrize(
    "bend",
    [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}],
    ids=["another origin", "another RP ID"],
)
def test_a_registration_for_another_origin_or_rp_id_is_refused(admin_a, bend):
    with pytest.raises(services.ValidationError):
        register(admin_a, SoftKey(), **bend)
    assert not WebAuthnCredential.objects.exists()


@pytest.mark.parametrize(
    "bend",
    [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}],
    ids=["another origin", "another RP ID"],
)
def test_an_assertion_for_another_origin_or_rp_id_is_refused(admin_a, bend):
    key = SoftKey()
    register(admin_a, key)

    result = assertion(admin_a, key, **bend)

    assert result.outcome is services.Outcome.WRONG
    assert WebAuthnCredential.objects.get().sign_count == 0


def test_a_signature_counter_that_goes_back_is_refused_as_a_cloned_key(admin_a):
    key = SoftKey()
    register(admin_a, key)
    assert assertion(admin_a, key, sign_count=5).ok

    clone = assertion(admin_a, key, sign_count=4)
    same = assertion(admin_a, key, sign_count=5)

    assert not clone.ok and "sign count" in clone.detail
    assert not same.ok
    assert WebAuthnCredential.objects.get().sign_count == 5
    assert assertion(admin_a, key, sign_count=6).ok


def test_an_answer_to_another_challenge_is_refused(admin_a):
    key = SoftKey()
    register(admin_a, key)
    options, _ = passkeys.authentication_options(
        credentials=WebAuthnCredential.objects.all(), rp=RP
    )
    _, other_challenge = passkeys.authentication_options(
        credentials=WebAuthnCredential.objects.all(), rp=RP
    )

    result = services.passkey_verify(
        user=admin_a, response=key.get(options), challenge=other_challenge, rp=RP
    )

    assert not result.ok


def test_another_users_passkey_does_not_sign_this_user_in(admin_a, member_a):
    theirs = PasskeyFactory(user=member_a)
    PasskeyFactory(user=admin_a)
    options, challenge = passkeys.authentication_options(
        credentials=WebAuthnCredential.objects.filter(user=member_a), rp=RP
    )

    result = services.passkey_verify(
        user=admin_a, response=theirs.softkey.get(options), challenge=challenge, rp=RP
    )

    assert not result.ok and "not one of this user's" in result.detail


@pytest.mark.parametrize(
    "response", ["", "null", "[]", "{}", '{"id": 5}', "x" * 70000, '{"id": "abc", "response": 1}']
)
def test_garbage_instead_of_an_assertion_is_refused_without_error(admin_a, response):
    PasskeyFactory(user=admin_a, credential_id="abc")
    assert not services.passkey_verify(
        user=admin_a, response=response, challenge=b"x" * 32, rp=RP
    ).ok


def test_the_same_passkey_cannot_be_registered_twice(admin_a, member_a):
    key = SoftKey()
    register(admin_a, key)
    with pytest.raises(services.ValidationError):
        register(member_a, key)
    assert WebAuthnCredential.objects.get().user == admin_a


def test_the_relying_party_comes_from_settings_or_else_from_the_request(rf, settings):
    request = rf.get("/", HTTP_HOST="localhost:8101")
    settings.WEBAUTHN_RP_ID, settings.WEBAUTHN_ORIGINS = "", []
    assert passkeys.relying_party(request) == passkeys.RelyingParty(
        "localhost", ["http://localhost:8101"]
    )
    settings.WEBAUTHN_RP_ID = "admin.miitel.example"
    settings.WEBAUTHN_ORIGINS = ["https://admin.miitel.example"]
    assert passkeys.relying_party(request) == passkeys.RelyingParty(
        "admin.miitel.example", ["https://admin.miitel.example"]
    )


@pytest.mark.parametrize(
    ("rp_id", "usable"),
    [("localhost", True), ("admin.miitel.example", True), ("127.0.0.1", False), ("[::1]", False)],
)
def test_passkeys_are_offered_only_where_the_rp_id_is_a_domain(rp_id, usable):
    assert passkeys.RelyingParty(rp_id, []).usable is usable
