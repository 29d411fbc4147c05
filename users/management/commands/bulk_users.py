from datetime import datetime

from django.core.management.base import CommandError
from django.utils import timezone

from permissions import catalog
from users import bulk
from users.changes import DELETE, ERROR, UPDATE
from users.filters import NARROWING, UserFilterForm
from users.management.base import OperatorCommand, fail


class Command(OperatorCommand):
    help = (
        "Apply one action to every user of an organization matching a filter, as the User "
        "List's bulk actions do: checked as one batch by the change service, written in one "
        "transaction and audited as one batch. Refused users (the last active admin, seats "
        "over the contract, ...) refuse the whole batch (exit status 1) unless --others is "
        "given; --dry-run shows the effect and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--organization", required=True, metavar="SLUG")
        parser.add_argument(
            "--filter",
            default="",
            metavar="KEY=VALUE,...",
            help="The User List's filters: q (search), role, status (active or inactive), "
            "service, idle (30, 60, 90 or never); a search term cannot contain a comma. No "
            "filter: every user.",
        )
        parser.add_argument("--action", required=True, choices=bulk.ACTIONS)
        parser.add_argument("--service", metavar="CODE", help="The service to grant or revoke.")
        parser.add_argument(
            "--level", default="", help="The level of a service with levels (grant)."
        )
        parser.add_argument(
            "--at",
            metavar="DATETIME",
            help="schedule: when to deactivate, e.g. 2026-04-01T09:00 (without an offset: "
            "in the organization's time zone).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Show the effect only.")
        parser.add_argument(
            "--others",
            action="store_true",
            help="Apply to the users that are not refused (default: all or nothing).",
        )

    def handle(self, *args, **options):
        organization = self.get_organization(options["organization"])
        params = self.parse_filter(options["filter"], organization)
        action = self.parse_action(options, organization)
        try:
            pairs = bulk.select_matching(organization=organization, params=params)
        except bulk.SelectionError as error:
            raise CommandError(str(error)) from None
        described = ",".join(f"{k}={v}" for k, v in bulk.describe_filter(params).items())
        if not pairs:
            self.stdout.write(f"No user matches {described or 'the organization'}; nothing to do.")
            return
        actor = self.actor()
        summary = bulk.dry_run(organization=organization, actor=actor, action=action, pairs=pairs)
        self.write_summary(summary, described)
        refused = self.refused_lines(summary)
        if refused and not options["others"]:
            raise fail([*refused, "Nothing was changed (all or nothing; --others skips them)."])
        for line in refused:
            self.stderr.write(f"skipped: {line}")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
            return
        pin = bulk.Pin(action=action, pairs=pairs, refused=summary.refused_ids)
        result = bulk.apply(
            organization=organization, actor=actor, pin=pin, others=options["others"]
        )
        if not result.committed:
            # Changed between the dry run and the apply (another admin, the worker).
            now = bulk.summarize(organization=organization, action=action, result=result)
            raise fail([*self.refused_lines(now), "Nothing was changed."])
        changed = sum(1 for o in result.outcomes if o.status in (UPDATE, DELETE))
        batch = f" (batch {result.batch.pk})" if result.batch is not None else ""
        self.stdout.write(self.style.SUCCESS(f"{action.kind}: {changed:,} users changed{batch}."))

    # Input --------------------------------------------------------------------------------------

    def parse_filter(self, text: str, organization) -> dict:
        """ "q=sato,status=active" read by the User List's own filter form."""
        data = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or key not in NARROWING:
                raise CommandError(
                    f"filter: “{item}” is not KEY=VALUE with KEY one of {', '.join(NARROWING)}."
                )
            data[key] = value.strip()
        form = UserFilterForm(data, organization=organization)
        form.is_valid()
        errors = [
            f"filter: {key}: {' '.join(messages)}"
            for key, messages in form.errors.items()
            if key in data
        ]
        if errors:
            raise fail(errors)
        return bulk.filter_params(data, organization=organization, prefix=None)

    def parse_action(self, options, organization) -> bulk.BulkAction:
        kind = options["action"]
        if kind in (bulk.GRANT, bulk.REVOKE):
            code = (options["service"] or "").strip()
            if not code:
                raise CommandError(f"service: --service is needed to {kind}.")
            if code not in catalog.GRANTABLE_CODES:
                raise CommandError(
                    f"service: “{code}” is not a service. Services: "
                    + ", ".join(sorted(catalog.GRANTABLE_CODES))
                    + "."
                )
            level = options["level"].strip() if kind == bulk.GRANT else ""
            if kind == bulk.GRANT and not level:
                _code, level = bulk.parse_service(code)
            return bulk.BulkAction(kind, service=code, level=level)
        if kind == bulk.SCHEDULE:
            if not options["at"]:
                raise CommandError("at: --at is needed to schedule a deactivation.")
            try:
                at = datetime.fromisoformat(options["at"].strip())
            except ValueError:
                raise CommandError(
                    f"at: “{options['at']}” is not a date and time like 2026-04-01T09:00."
                ) from None
            if timezone.is_naive(at):
                at = at.replace(tzinfo=bulk.organization_time_zone(organization))
            return bulk.BulkAction(kind, at=at)
        return bulk.BulkAction(kind)

    # Output -------------------------------------------------------------------------------------

    def write_summary(self, summary: bulk.Summary, described: str) -> None:
        what = summary.action.kind
        if summary.action.service:
            what += f" {summary.action.service}"
            if summary.action.level:
                what += f"={summary.action.level}"
        if summary.action.at:
            what += f" at {summary.action.at.isoformat()}"
        self.stdout.write(
            f"{what}: {summary.selected:,} users matching {described or 'the organization'}"
        )
        self.stdout.write(f"  change: {summary.changing:,}")
        self.stdout.write(f"  already so: {summary.unchanged:,}")
        self.stdout.write(f"  refused: {summary.refused_count:,}")
        for seat in summary.seats:
            limit = "-" if seat.limit is None else f"{seat.limit:,}"
            self.stdout.write(
                f"  seats {seat.label}: {seat.used:,} -> {seat.after:,} (contract {limit})"
            )
        if summary.impact:
            for key, value in summary.impact.items():
                self.stdout.write(f"  delete impact {key}: {value:,}")

    def refused_lines(self, summary: bulk.Summary) -> list[str]:
        lines = []
        for outcome in summary.result.outcomes:
            if outcome.status != ERROR:
                continue
            user = outcome.user
            who = user.login_id if user is not None else f"#{outcome.change.user_id}"
            for problem in outcome.problems:
                lines.append(f"{who}: {problem.operator_text}")
        return lines
