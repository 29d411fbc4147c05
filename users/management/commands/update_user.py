from users.changes import Change
from users.management.base import OperatorCommand, parse_services, schedule_option

NAMES = {
    "login_id": "new-login-id",
    "time_zone": "time-zone",
    "is_active": "active",
    "deactivate_at": "deactivate-at",
}

# option -> user field, for the options that set one field each (None: not given, kept).
FIELD_OPTIONS = {
    "new_login_id": "login_id",
    "name": "name",
    "role": "role",
    "locale": "locale",
    "time_zone": "time_zone",
    "extension": "extension",
}


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
        parser.add_argument("--role", help="admin or member.")
        parser.add_argument("--locale", help="ja or en.")
        parser.add_argument("--time-zone")
        parser.add_argument("--extension", help='3-6 digits, or "" to clear.')
        password = parser.add_mutually_exclusive_group()
        password.add_argument("--password", help="A new temporary password.")
        password.add_argument("--generate-password", action="store_true")
        parser.add_argument(
            "--deactivate-at",
            metavar="WHEN",
            help='Schedule the deactivation: "YYYY-MM-DD HH:MM" in the organization\'s time '
            'zone (or ISO 8601 with an offset); "none" cancels it.',
        )
        parser.add_argument(
            "--services", help="Replace the user's services, e.g. phone,call_history."
        )
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        user = self.get_user(organization, options["login_id"])
        fields = {
            field: options[option]
            for option, field in FIELD_OPTIONS.items()
            if options[option] is not None
        }
        if options["deactivate_at"] is not None:
            fields["deactivate_at"] = schedule_option(options["deactivate_at"], organization)
        change = Change(
            user_id=user.pk,
            fields=fields,
            grants=parse_services(options["services"]),
            password=options["password"],
            generate_password=options["generate_password"],
        )
        outcome = self.apply(organization, [change], names=NAMES).outcomes[0]
        password = options["password"] or outcome.temporary_password
        result = {"login_id": outcome.user.login_id, "changes": outcome.changes}
        if outcome.temporary_password:
            result["temporary_password"] = outcome.temporary_password
        if options["json"]:
            self.write_json(result)
            return
        if not outcome.changes and not password:
            self.stdout.write("Nothing changed.")
            return
        self.stdout.write(self.style.SUCCESS(f"Updated {result['login_id']}."))
        for field, (before, after) in outcome.changes.items():
            self.stdout.write(f"  {field}: {before} -> {after}")
        if password:
            self.stdout.write("  password: new temporary password set; signed out everywhere")
        if outcome.temporary_password:
            self.stdout.write(f"Temporary password: {outcome.temporary_password}")
