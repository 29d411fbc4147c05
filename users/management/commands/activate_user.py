from users.changes import Change
from users.management.base import OperatorCommand


class Command(OperatorCommand):
    help = "Activate a deactivated user: they can sign in again with their settings as they were."
    active = True

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--login-id", required=True)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        user = self.get_user(organization, options["login_id"])
        change = Change(user_id=user.pk, fields={"is_active": self.active})
        outcome = self.apply(organization, [change]).outcomes[0]
        changed = bool(outcome.changes)
        state = "active" if self.active else "deactivated"
        if options["json"]:
            self.write_json({"login_id": user.login_id, "active": self.active, "changed": changed})
        elif changed:
            self.stdout.write(self.style.SUCCESS(f"{user.login_id} is now {state}."))
        else:
            self.stdout.write(f"{user.login_id} was already {state}; nothing changed.")
