import factory
from factory.django import DjangoModelFactory

from mfa import crypto, recovery, totp
from mfa.models import OrganizationPolicy, RecoveryCode, TOTPDevice, WebAuthnCredential
from tests.factories import UserFactory
from tests.mfa.softkey import SoftKey


class TOTPDeviceFactory(DjangoModelFactory):
    """An authenticator app; the instance keeps its secret in clear as `.plain_secret`."""

    class Meta:
        model = TOTPDevice
        skip_postgeneration_save = True

    class Params:
        plain = factory.LazyFunction(totp.new_secret)

    user = factory.SubFactory(UserFactory)
    name = "Phone"
    secret = factory.LazyAttribute(lambda o: crypto.encrypt_secret(o.plain))

    @factory.post_generation
    def plain_secret(obj, create, extracted, **kwargs):
        obj.plain_secret = crypto.decrypt_secret(obj.secret)[0]


class PasskeyFactory(DjangoModelFactory):
    """A passkey whose software authenticator (`.softkey`, tests.mfa.softkey) can sign in."""

    class Meta:
        model = WebAuthnCredential

    user = factory.SubFactory(UserFactory)
    name = "Laptop"
    transports = factory.LazyFunction(lambda: ["internal"])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        key = SoftKey()
        kwargs.setdefault("credential_id", key.id)
        kwargs.setdefault("public_key", key.cose_public_key())
        credential = super()._create(model_class, *args, **kwargs)
        credential.softkey = key
        return credential


def recovery_codes_for(user) -> list[str]:
    codes = recovery.new_codes()
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, code_hash=recovery.hashes(c)[0]) for c in codes]
    )
    return codes


def require_mfa(organization) -> OrganizationPolicy:
    return OrganizationPolicy.objects.update_or_create(
        organization=organization, defaults={"admins_must_use_mfa": True}
    )[0]
