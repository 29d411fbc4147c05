from django.core.exceptions import ValidationError

from accounts.fields import DEFAULT_TIME_ZONE
from permissions import catalog
from users import services
from users.management.base import OperatorCommand, error_lines, fail, parse_limits


class Command(OperatorCommand):
    help = (
        "Create an organization (tenant) with its contract: a user limit, the contracted "
        "services and per-service seat limits. Default services: "
        + ", ".join(catalog.DEFAULT_CONTRACT_SERVICES)
        + "."
    )

    def add_arguments(self, parser):
        parser.add_argument("--slug", required=True, help="Unique short name, e.g. acme.")
        parser.add_argument("--name", required=True, help="Display name.")
        parser.add_argument("--user-limit", type=int, required=True, help="Contracted users.")
        parser.add_argument(
            "--services",
            help="Comma-separated service codes: " + ", ".join(sorted(catalog.GRANTABLE_CODES)),
        )
        parser.add_argument(
            "--service-limit",
            action="append",
            metavar="CODE=N",
            help="Seat limit of a seat-limited service (repeatable), e.g. phone=20.",
        )
        parser.add_argument(
            "--time-zone",
            default=DEFAULT_TIME_ZONE,
            help="The organization's time zone, for scheduled deactivations (default: "
            + DEFAULT_TIME_ZONE
            + ").",
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, **options):
        services_list = None
        if options["services"] is not None:
            services_list = [c.strip() for c in options["services"].split(",") if c.strip()]
        try:
            organization = services.organization_create(
                actor=self.actor(),
                slug=options["slug"],
                name=options["name"],
                user_limit=options["user_limit"],
                services=services_list,
                service_limits=parse_limits(options["service_limit"]),
                time_zone=options["time_zone"],
            )
        except ValidationError as error:
            raise fail(error_lines(error)) from None
        contract = organization.contract
        result = {
            "slug": organization.slug,
            "name": organization.name,
            "time_zone": organization.time_zone,
            "user_limit": contract.user_limit,
            "services": contract.services,
            "service_limits": contract.service_limits,
        }
        if options["json"]:
            self.write_json(result)
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created organization {organization.slug} ({organization.name})."
                )
            )
            self.stdout.write(f"  time zone:  {organization.time_zone}")
            self.stdout.write(f"  user limit: {contract.user_limit}")
            self.stdout.write(f"  services:   {', '.join(contract.services) or '(none)'}")
            for code, limit in contract.service_limits.items():
                self.stdout.write(f"  {code} seats: {limit}")
