from accounts.fields import DEFAULT_TIME_ZONE
from accounts.models import User
from permissions import catalog
from users.changes import Change
from users.management.base import OperatorCommand, parse_services

NAMES = {"login_id": "login-id", "name": "name", "time_zone": "time-zone"}


class Command(OperatorCommand):
    help = (
        "Add a user with a temporary password (the user must change it at first sign-in). "
        "Without --password, one is generated and printed once. The same rules as the Add new "
        "user form apply."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--login-id", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--password", help="Temporary password (generated when omitted).")
        parser.add_argument(
            "--role", default=User.Role.MEMBER, help=" or ".join(User.Role.values) + "."
        )
        parser.add_argument(
            "--locale", default=User.Locale.JAPANESE, help=" or ".join(User.Locale.values) + "."
        )
        parser.add_argument("--time-zone", default=DEFAULT_TIME_ZONE)
        parser.add_argument("--extension", default="")
        parser.add_argument(
            "--services",
            help="Comma-separated service codes, e.g. phone,monitoring,meeting_access=host. "
            "Known: " + ", ".join(sorted(catalog.GRANTABLE_CODES)),
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        change = Change(
            fields={
                "login_id": options["login_id"],
                "name": options["name"],
                "locale": options["locale"],
                "time_zone": options["time_zone"],
                "role": options["role"],
                "extension": options["extension"],
            },
            grants=parse_services(options["services"]) or {},
            password=options["password"],
            generate_password=options["password"] is None,
        )
        outcome = self.apply(organization, [change], names=NAMES).outcomes[0]
        user = outcome.user
        result = {
            "organization": organization.slug,
            "login_id": user.login_id,
            "name": user.name,
            "role": user.role,
            "services": sorted(change.grants),
        }
        if outcome.temporary_password:
            result["temporary_password"] = outcome.temporary_password
        if options["json"]:
            self.write_json(result)
            return
        self.stdout.write(
            self.style.SUCCESS(f"Added {user.login_id} ({user.name}) to {organization.slug}.")
        )
        if outcome.temporary_password:
            self.stdout.write(f"Temporary password: {outcome.temporary_password}")
            self.stdout.write("It is shown only now; the user must change it at first sign-in.")
