from django.core.exceptions import ValidationError

from accounts.models import User
from users import services
from users.forms import UserForm
from users.management.base import (
    OperatorCommand,
    error_lines,
    fail,
    form_and_services,
)

NAMES = {"login_id": "new-login-id", "time_zone": "time-zone", "is_active": "active"}


class Command(OperatorCommand):
    help = (
        "Change a user's details. Options not given keep their value. --password or "
        "--generate-password sets a temporary password (forced change at next sign-in; the "
        "user is signed out everywhere)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--login-id", required=True, help="The user to change.")
        parser.add_argument("--new-login-id")
        parser.add_argument("--name")
        parser.add_argument("--role", choices=User.Role.values)
        parser.add_argument("--locale", choices=User.Locale.values)
        parser.add_argument("--time-zone")
        parser.add_argument("--extension", help='3-6 digits, or "" to clear.')
        password = parser.add_mutually_exclusive_group()
        password.add_argument("--password", help="A new temporary password.")
        password.add_argument("--generate-password", action="store_true")
        parser.add_argument(
            "--services", help="Replace the user's services, e.g. phone,call_history."
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        user = self.get_user(organization, options["login_id"])
        password = options["password"]
        if options["generate_password"]:
            password = services.generate_temporary_password(user)
        data = {
            "login_id": options["new_login_id"] or user.login_id,
            "name": user.name if options["name"] is None else options["name"],
            "locale": options["locale"] or user.locale,
            "time_zone": options["time_zone"] or user.time_zone,
            "role": options["role"] or user.role,
            "extension": user.extension if options["extension"] is None else options["extension"],
            "password": password or "",
        }
        if user.is_active:
            data["is_active"] = "on"
        form = UserForm(data, organization=organization, instance=user)
        grants = form_and_services(form, options["services"], NAMES)
        try:
            changes = services.user_update(
                actor=self.actor(),
                user=user,
                data=form.user_data(),
                grants=grants,
                password=password,
            )
        except ValidationError as error:
            raise fail(error_lines(error, NAMES)) from None
        result = {"login_id": form.cleaned_data["login_id"], "changes": changes}
        if options["generate_password"]:
            result["temporary_password"] = password
        if options["json"]:
            self.write_json(result)
            return
        if not changes and not password:
            self.stdout.write("Nothing changed.")
            return
        self.stdout.write(self.style.SUCCESS(f"Updated {result['login_id']}."))
        for field, (before, after) in changes.items():
            self.stdout.write(f"  {field}: {before} -> {after}")
        if password:
            self.stdout.write("  password: new temporary password set; signed out everywhere")
        if options["generate_password"]:
            self.stdout.write(f"Temporary password: {password}")
