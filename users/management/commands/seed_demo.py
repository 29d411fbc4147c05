import random

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import Organization, User
from accounts.validators import validate_login_id
from analytics.generate import (
    derive_by_user_days,
    generate_calls,
    generate_meetings_and_more,
)
from permissions import catalog
from users import services
from users.changes import Change
from users.management.base import OperatorCommand, error_lines, fail

FAMILY = [
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("伊藤", "ito"),
    ("渡辺", "watanabe"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
    ("吉田", "yoshida"),
    ("山田", "yamada"),
    ("佐々木", "sasaki"),
    ("山口", "yamaguchi"),
    ("松本", "matsumoto"),
    ("井上", "inoue"),
]
GIVEN = [
    ("太郎", "taro"),
    ("花子", "hanako"),
    ("健太", "kenta"),
    ("美咲", "misaki"),
    ("翔太", "shota"),
    ("陽菜", "hina"),
    ("大輔", "daisuke"),
    ("さくら", "sakura"),
    ("拓也", "takuya"),
    ("結衣", "yui"),
    ("直樹", "naoki"),
    ("真由美", "mayumi"),
]


class Command(OperatorCommand):
    help = (
        "Create a demo organization with an admin (whose temporary password is printed), "
        "members and a contract. --if-empty does nothing when any organization exists."
    )

    def add_arguments(self, parser):
        parser.add_argument("--slug", default="demo")
        parser.add_argument("--name", default="デモ株式会社")
        parser.add_argument("--users", type=int, default=12, help="Members besides the admin.")
        parser.add_argument("--if-empty", action="store_true")
        parser.add_argument(
            "--calls", type=int, default=120, help="Call records per user (default 120)."
        )
        parser.add_argument(
            "--days",
            type=int,
            default=90,
            help="Days of call history, from which the By-user rows are added up (default 90).",
        )
        parser.add_argument(
            "--meetings", type=int, default=3, help="Meetings hosted per user (default 3)."
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed (repeatable data).")

    def handle(self, *args, **options):
        try:
            with transaction.atomic():
                self._seed(options)
        except ValidationError as error:
            raise fail(error_lines(error)) from None

    def _seed(self, options):
        if options["if_empty"] and Organization.objects.exists():
            self.stdout.write("The database already has data; nothing seeded.")
            return
        members = options["users"]
        if members < 0:
            raise fail(["users: must be 0 or more."])
        if Organization.objects.filter(slug=options["slug"]).exists():
            raise fail([f"slug: an organization “{options['slug']}” already exists."])
        domain = f"{options['slug']}.example.com"
        try:
            validate_login_id(f"admin@{domain}")
        except ValidationError:
            raise fail(
                [
                    f"slug: “{options['slug']}” cannot be part of a login ID's domain "
                    "(use a-z, 0-9 and inner hyphens)."
                ]
            ) from None
        rng = random.Random(options["seed"])
        user_limit = max(50, members + 10)
        phone_limit = max(20, (members + 1) * 3 // 4)
        actor = self.actor()
        organization = services.organization_create(
            actor=actor,
            slug=options["slug"],
            name=options["name"],
            user_limit=user_limit,
            services=sorted(catalog.GRANTABLE_CODES),
            service_limits={catalog.PHONE: phone_limit},
        )
        admin_change = Change(
            fields={
                "login_id": f"admin@{domain}",
                "name": "管理者 デモ",
                "role": User.Role.ADMIN,
                "extension": "100",
            },
            grants={
                catalog.PHONE: "",
                catalog.MONITORING: "",
                **dict.fromkeys(catalog.ANALYTICS_CODES, ""),
            },
            generate_password=True,
        )
        changes = [admin_change, *self._members(domain, members, phone_limit - 1, rng)]
        outcomes = self.apply(organization, changes).outcomes
        admin, password = outcomes[0].user, outcomes[0].temporary_password
        made = self._activity(organization, options, rng)
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded organization “{organization.slug}”: 1 admin, {members} members."
            )
        )
        self.stdout.write("Activity: " + ", ".join(f"{v:,} {k}" for k, v in made.items()))
        self.stdout.write(f"Admin login ID:     {admin.login_id}")
        self.stdout.write(f"Temporary password: {password}")
        self.stdout.write("(shown only now; you will choose your own password at first sign-in)")

    def _activity(self, organization, options, rng) -> dict[str, int]:
        for name in ("calls", "days", "meetings"):
            if options[name] < 0:
                raise fail([f"{name}: must be 0 or more."])
        users = list(User.objects.filter(organization=organization).order_by("id"))
        ids = [u.pk for u in users]
        made = {
            "call records": generate_calls(
                organization=organization,
                user_ids=ids,
                per_user=options["calls"] if options["days"] else 0,
                days=options["days"],
            ),
            # Derived from the calls: the Dashboard's By-user table and totals agree.
            "By-user rows": derive_by_user_days(organization=organization, user_ids=ids, rng=rng),
        }
        more = generate_meetings_and_more(
            organization=organization, users=users, per_user=options["meetings"], rng=rng
        )
        made.update({k.replace("_", " "): v for k, v in more.items()})
        return made

    def _members(self, domain, count, phone_seats, rng) -> list[Change]:
        """The members, as changes for the change service. Their generated temporary passwords
        are never shown: only the printed admin can sign in to the demo."""
        changes = []
        for i in range(count):
            family, family_r = FAMILY[i % len(FAMILY)]
            given, given_r = GIVEN[(i // len(FAMILY)) % len(GIVEN)]
            codes = [c for c in catalog.ANALYTICS_CODES if rng.random() < 0.7]
            if i < phone_seats and rng.random() < 0.9:
                codes.append(catalog.PHONE)
                if rng.random() < 0.3:
                    codes.append(catalog.MONITORING)
            changes.append(
                Change(
                    fields={
                        "login_id": f"{given_r}.{family_r}{i + 1}@{domain}",
                        "name": f"{family} {given}",
                        "locale": User.Locale.ENGLISH if i % 7 == 3 else User.Locale.JAPANESE,
                        "role": User.Role.ADMIN if i % 25 == 0 and i else User.Role.MEMBER,
                        "extension": str(101 + i) if i < 899_899 else "",
                        "is_active": i % 11 != 5,
                    },
                    grants=dict.fromkeys(codes, ""),
                    generate_password=True,
                )
            )
        return changes
