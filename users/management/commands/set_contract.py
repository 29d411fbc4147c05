from django.core.exceptions import ValidationError

from permissions import catalog
from users import selectors, services
from users.management.base import OperatorCommand, error_lines, fail, parse_limits


class Command(OperatorCommand):
    help = (
        "Change an organization's contract. Options not given are left as they are. Lowering a "
        "limit below what is in use removes nobody; adding is refused until usage is under it."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The organization's slug.")
        parser.add_argument("--user-limit", type=int)
        parser.add_argument(
            "--services",
            help="The full comma-separated list of contracted services (replaces the old one): "
            + ", ".join(sorted(catalog.GRANTABLE_CODES)),
        )
        parser.add_argument("--service-limit", action="append", metavar="CODE=N")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        organization = self.get_organization(options["slug"])
        services_list = None
        if options["services"] is not None:
            services_list = [c.strip() for c in options["services"].split(",") if c.strip()]
        try:
            contract = services.contract_set(
                actor=self.actor(),
                organization=organization,
                user_limit=options["user_limit"],
                services=services_list,
                service_limits=parse_limits(options["service_limit"]),
            )
        except ValidationError as error:
            raise fail(error_lines(error)) from None
        organization.contract = contract
        meter = selectors.seat_meter(organization=organization)
        result = {
            "slug": organization.slug,
            "user_limit": contract.user_limit,
            "users": meter.used,
            "services": contract.services,
            "service_limits": contract.service_limits,
        }
        if options["json"]:
            self.write_json(result)
            return
        self.stdout.write(self.style.SUCCESS(f"Contract of {organization.slug} saved."))
        self.stdout.write(f"  users: {meter.used} / {contract.user_limit}")
        for label, used, limit in meter.services:
            self.stdout.write(f"  {label}: {used} / {limit}")
        self.stdout.write(f"  services: {', '.join(contract.services) or '(none)'}")
        if meter.used > contract.user_limit:
            self.stderr.write(
                self.style.WARNING(
                    f"Warning: {meter.used} users are registered, above the new limit of "
                    f"{contract.user_limit}. No one was removed; adding users is refused."
                )
            )
        for label, used, limit in meter.services:
            if used > limit:
                self.stderr.write(
                    self.style.WARNING(f"Warning: {label} has {used} users, above {limit}.")
                )
