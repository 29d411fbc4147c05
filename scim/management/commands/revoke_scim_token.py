from django.core.management.base import CommandError

from scim.models import ScimToken
from scim.tokens import token_revoke
from users.management.base import OperatorCommand


class Command(OperatorCommand):
    help = (
        "Revoke an organization's SCIM token by its name: requests with it are refused (401) "
        "at once. Audited under the operator's name."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--name", required=True, help="The token's name.")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        token = ScimToken.objects.live().filter(organization=organization, name=options["name"])
        token = token.first()
        if token is None:
            names = ", ".join(
                ScimToken.objects.live()
                .filter(organization=organization)
                .order_by("name")
                .values_list("name", flat=True)
            )
            raise CommandError(
                f"name: no active SCIM token “{options['name']}” in {organization.slug}. "
                f"Active tokens: {names or '(none)'}."
            )
        token_revoke(token=token, actor=self.actor())
        self.stdout.write(f"Revoked SCIM token “{token.name}” of {organization.slug}.")
