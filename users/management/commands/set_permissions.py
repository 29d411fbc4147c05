from permissions.services import grants_of
from users.changes import Change
from users.management.base import OperatorCommand, parse_services


class Command(OperatorCommand):
    help = (
        "Set a user's services within the contract. --services replaces the whole set; "
        "--grant and --revoke change some. Rules: only contracted services, Monitoring "
        "requires MiiTel Phone, seat limits."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--login-id", required=True)
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--services", help="The complete set, e.g. phone,monitoring.")
        group.add_argument("--grant", help="Services to add, e.g. phone,meeting_access=all.")
        group.add_argument("--revoke", help="Services to remove.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        user = self.get_user(organization, options["login_id"])
        change = Change(
            user_id=user.pk,
            grants=parse_services(options["services"]),
            grant=parse_services(options["grant"]) or {},
            revoke=list(parse_services(options["revoke"]) or ()),
        )
        outcome = self.apply(organization, [change]).outcomes[0]
        before, after = outcome.changes.get("services", [None, None])
        if options["json"]:
            self.write_json(
                {
                    "login_id": user.login_id,
                    "services": grants_of(outcome.user),
                    "changed": bool(outcome.changes),
                }
            )
            return
        if not outcome.changes:
            self.stdout.write("Nothing changed.")
            return
        self.stdout.write(self.style.SUCCESS(f"Services of {user.login_id} saved."))
        self.stdout.write(f"  before: {', '.join(before or []) or '(none)'}")
        self.stdout.write(f"  after:  {', '.join(after or []) or '(none)'}")
