from analytics.selectors import deletion_impact
from users.changes import Change
from users.management.base import OperatorCommand, fail, is_tty

IMPACT_LINES = [
    ("by_user_rows", "By-user rows removed for good (By-user table, individual dashboard)"),
    ("funnel_teams", "Funnel (beta) teams left"),
    ("grants", "service permissions removed"),
    ("sessions", "sessions ended"),
    ("call_records", "call records kept (Call History, Dashboard totals)"),
    ("meetings_hosted", "meetings hosted, kept"),
    ("meetings_host_only", "  of which Host only: no longer accessible to anyone"),
    ("meetings_uploaded", "meetings uploaded, kept (Video Dashboard)"),
    ("participations", "meeting participations, name kept"),
    ("themes", "table themes kept, can no longer be deleted"),
    ("bookmarks", "bookmarked filter conditions kept"),
]


class Command(OperatorCommand):
    help = (
        "Delete a user: shows what will be removed and kept, asks, then deletes in one "
        "transaction (the login ID is free at once; call history stays and shows "
        "“<name> (Deleted)”). --yes skips the question, for scripts."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument("--login-id", required=True)
        parser.add_argument("--yes", action="store_true", help="Delete without asking.")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        user = self.get_user(organization, options["login_id"])
        change = Change(user_id=user.pk, delete=True, version=user.version)
        # Refused deletions (the last active admin) are refused before anything is shown.
        self.apply(organization, [change], commit=False)
        impact = deletion_impact(user=user)
        if not options["json"]:
            self.stdout.write(f"Deleting {user.login_id} ({user.name}) from {organization.slug}:")
            for key, label in IMPACT_LINES:
                self.stdout.write(f"  {impact[key]:>10,}  {label}")
        if not options["yes"]:
            if not is_tty(self.stdout):
                raise fail(["Not deleted: confirm with --yes when not running interactively."])
            answer = input("Type the login ID to confirm: ")
            if answer.strip().lower() != user.login_id.lower():
                raise fail(["Not deleted: the confirmation did not match."])
        login_id = user.login_id
        removed = self.apply(organization, [change]).outcomes[0].removed
        if options["json"]:
            self.write_json(
                {"login_id": login_id, "deleted": True, "impact": impact, "removed": removed}
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Deleted {login_id}."))
