from django.core.exceptions import ValidationError

from scim.tokens import token_create
from users.management.base import OperatorCommand, error_lines, fail


class Command(OperatorCommand):
    help = (
        "Create a SCIM bearer token for an organization's identity provider. The token is "
        "printed once, alone on the last line (only its hash is stored): paste it into the "
        "identity provider. Audited under the operator's name."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--name", required=True, help="What the token is for, e.g. Okta.")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        try:
            new = token_create(organization=organization, actor=self.actor(), name=options["name"])
        except ValidationError as error:
            raise fail(error_lines(error)) from None
        self.stdout.write(
            f"Created SCIM token “{new.token.name}” for {organization.slug}. "
            "It is shown only now; store it in the identity provider:"
        )
        self.stdout.write(new.secret)
