from django.core.exceptions import ValidationError

from accounts.models import User
from permissions import catalog
from users import services
from users.forms import UserForm
from users.management.base import (
    OperatorCommand,
    error_lines,
    fail,
    form_and_services,
)

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
        parser.add_argument("--role", choices=User.Role.values, default=User.Role.MEMBER)
        parser.add_argument("--locale", choices=User.Locale.values, default=User.Locale.JAPANESE)
        parser.add_argument("--time-zone", default="Asia/Tokyo")
        parser.add_argument("--extension", default="")
        parser.add_argument(
            "--services",
            help="Comma-separated service codes, e.g. phone,monitoring,meeting_access=host. "
            "Known: " + ", ".join(sorted(catalog.GRANTABLE_CODES)),
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        generated = options["password"] is None
        password = options["password"]
        if generated:
            password = services.generate_temporary_password(
                User(
                    organization=organization,
                    login_id=options["login_id"],
                    name=options["name"],
                )
            )
        form = UserForm(
            {
                "login_id": options["login_id"],
                "name": options["name"],
                "password": password,
                "locale": options["locale"],
                "time_zone": options["time_zone"],
                "role": options["role"],
                "extension": options["extension"],
            },
            organization=organization,
        )
        grants = form_and_services(form, options["services"], NAMES) or {}
        try:
            user = services.user_create(
                actor=self.actor(),
                organization=organization,
                password=password,
                grants=grants,
                **form.user_data(),
            )
        except ValidationError as error:
            raise fail(error_lines(error, NAMES)) from None
        result = {
            "organization": organization.slug,
            "login_id": user.login_id,
            "name": user.name,
            "role": user.role,
            "services": sorted(grants),
        }
        if generated:
            result["temporary_password"] = password
        if options["json"]:
            self.write_json(result)
            return
        self.stdout.write(
            self.style.SUCCESS(f"Added {user.login_id} ({user.name}) to {organization.slug}.")
        )
        if generated:
            self.stdout.write(f"Temporary password: {password}")
            self.stdout.write("It is shown only now; the user must change it at first sign-in.")
