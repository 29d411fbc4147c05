import factory
from factory.django import DjangoModelFactory

from accounts.models import Contract, Organization, User
from permissions import catalog
from permissions.models import ServiceGrant

# The password every factory user signs in with (MD5 in tests: fast).
PASSWORD = "Passw0rd!xyz"


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.Sequence(lambda n: f"org-{n}")
    contract = factory.RelatedFactory(
        "tests.factories.ContractFactory", factory_related_name="organization"
    )


class ContractFactory(DjangoModelFactory):
    class Meta:
        model = Contract

    organization = factory.SubFactory(OrganizationFactory, contract=None)
    user_limit = 100
    services = factory.LazyFunction(lambda: sorted(catalog.GRANTABLE_CODES))
    service_limits = factory.LazyFunction(lambda: {catalog.PHONE: 50})


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    login_id = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Sequence(lambda n: f"User {n}")
    role = User.Role.MEMBER
    must_change_password = False

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or PASSWORD)
        if create:
            obj.save(update_fields=["password"])


class AdminFactory(UserFactory):
    role = User.Role.ADMIN


class GrantFactory(DjangoModelFactory):
    class Meta:
        model = ServiceGrant

    user = factory.SubFactory(UserFactory)
    organization = factory.SelfAttribute("user.organization")
    service = catalog.PHONE
    level = ""
