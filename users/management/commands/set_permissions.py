from django.core.exceptions import ValidationError

from permissions.services import grants_of
from users import services
from users.management.base import OperatorCommand, error_lines, fail, parse_services


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
        current = grants_of(user)
        if options["services"] is not None:
            desired = parse_services(options["services"])
        elif options["grant"] is not None:
            desired = {**current, **parse_services(options["grant"])}
        else:
            desired = {
                k: v for k, v in current.items() if k not in parse_services(options["revoke"])
            }
        try:
            changes = services.user_update(actor=self.actor(), user=user, data={}, grants=desired)
        except ValidationError as error:
            raise fail(error_lines(error)) from None
        after = grants_of(user)
        if options["json"]:
            self.write_json(
                {"login_id": user.login_id, "services": after, "changed": bool(changes)}
            )
            return
        if not changes:
            self.stdout.write("Nothing changed.")
            return
        before, now = changes["services"]
        self.stdout.write(self.style.SUCCESS(f"Services of {user.login_id} saved."))
        self.stdout.write(f"  before: {', '.join(before) or '(none)'}")
        self.stdout.write(f"  after:  {', '.join(now) or '(none)'}")
