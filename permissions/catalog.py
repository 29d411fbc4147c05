"""The service catalog (docs/rules.md), defined in code.

A contract names which of these an organization bought (and seat limits for seat-limited ones);
grants give them to users. Labels are kept here in both languages, because CSV headers and the
import must recognise either whatever language the request runs in.
"""

from dataclasses import dataclass, field

from django.utils.translation import get_language


@dataclass(frozen=True)
class Level:
    value: str
    labels: dict[str, str]

    @property
    def label(self) -> str:
        return _pick(self.labels)


@dataclass(frozen=True)
class Service:
    code: str
    labels: dict[str, str]
    group: str
    requires: tuple[str, ...] = ()
    seat_limited: bool = False
    separate_contract: bool = False
    # Services with levels (Edit meeting access permission) store the chosen level on the grant;
    # the first level means "not granted".
    levels: tuple[Level, ...] = field(default=())
    # False for Administrative privileges: it is the user's role, not a grant row.
    grantable: bool = True
    # The User List's badge: a mark short enough for nine in a row, in both languages (the
    # page explains each in a legend and in the badge's title and screen-reader text).
    shorts: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return _pick(self.labels)

    @property
    def short(self) -> str:
        return _pick(self.shorts) if self.shorts else self.label

    @property
    def has_levels(self) -> bool:
        return bool(self.levels)

    def level(self, value: str) -> Level | None:
        return next((lvl for lvl in self.levels if lvl.value == value), None)


def _pick(labels: dict[str, str]) -> str:
    language = (get_language() or "ja")[:2]
    return labels.get(language) or labels["en"]


ADMIN = "admin"
MONITORING = "monitoring"
PHONE = "phone"
PHONE_MOBILE = "phone_mobile"
CALL_HISTORY = "call_history"
DASHBOARD = "dashboard"
VIDEO_ANALYTICS = "video_analytics"
FULLTEXT_SEARCH = "fulltext_search"
FUNNEL = "funnel"
VIDEO_DASHBOARD = "video_dashboard"
MEETING_ACCESS = "meeting_access"

MEETING_ACCESS_NONE = "none"
MEETING_ACCESS_HOST = "host"
MEETING_ACCESS_ALL = "all"

SERVICES: tuple[Service, ...] = (
    Service(
        ADMIN,
        {"en": "Administrative privileges", "ja": "管理者権限"},
        group="role",
        grantable=False,
    ),
    Service(
        MONITORING,
        {"en": "Monitoring privileges", "ja": "モニタリング権限"},
        group="phone",
        requires=(PHONE,),
        shorts={"en": "Mon", "ja": "モニタ"},
    ),
    Service(
        PHONE,
        {"en": "MiiTel Phone", "ja": "MiiTel Phone"},
        group="phone",
        seat_limited=True,
        shorts={"en": "☎", "ja": "☎"},
    ),
    Service(
        PHONE_MOBILE,
        {"en": "MiiTel Phone Mobile", "ja": "MiiTel Phone Mobile"},
        group="phone",
        separate_contract=True,
        shorts={"en": "Mob", "ja": "携帯"},
    ),
    Service(
        CALL_HISTORY,
        {"en": "Call History", "ja": "通話履歴"},
        group="analytics",
        shorts={"en": "CH", "ja": "履歴"},
    ),
    Service(
        DASHBOARD,
        {"en": "Dashboard", "ja": "ダッシュボード"},
        group="analytics",
        shorts={"en": "DB", "ja": "ダッシュ"},
    ),
    Service(
        VIDEO_ANALYTICS,
        {"en": "Video Analytics", "ja": "ビデオ解析"},
        group="analytics",
        shorts={"en": "VA", "ja": "解析"},
    ),
    Service(
        FULLTEXT_SEARCH,
        {"en": "Full-text search", "ja": "全文検索"},
        group="analytics",
        shorts={"en": "FT", "ja": "全文"},
    ),
    Service(
        FUNNEL,
        {"en": "Funnel (beta)", "ja": "ファネル（ベータ）"},
        group="analytics",
        shorts={"en": "FN", "ja": "ファネル"},
    ),
    Service(
        VIDEO_DASHBOARD,
        {"en": "Video Dashboard (beta)", "ja": "ビデオダッシュボード（ベータ）"},
        group="analytics",
        shorts={"en": "VD", "ja": "動画"},
    ),
    Service(
        MEETING_ACCESS,
        {"en": "Edit meeting access permission", "ja": "会議履歴単位の閲覧制限設定"},
        group="meetings",
        separate_contract=True,
        shorts={"en": "MA", "ja": "会議"},
        levels=(
            Level(MEETING_ACCESS_NONE, {"en": "None", "ja": "なし"}),
            Level(MEETING_ACCESS_HOST, {"en": "Host only", "ja": "ホストのみ"}),
            Level(MEETING_ACCESS_ALL, {"en": "All", "ja": "すべて"}),
        ),
    ),
)

BY_CODE: dict[str, Service] = {s.code: s for s in SERVICES}
GRANTABLE: tuple[Service, ...] = tuple(s for s in SERVICES if s.grantable)
GRANTABLE_CODES: frozenset[str] = frozenset(s.code for s in GRANTABLE)
ANALYTICS_CODES: tuple[str, ...] = tuple(s.code for s in SERVICES if s.group == "analytics")
SEAT_LIMITED_CODES: frozenset[str] = frozenset(s.code for s in SERVICES if s.seat_limited)

# What `create_organization` contracts when no --services is given: the core product, without
# the items that need a separate contract.
DEFAULT_CONTRACT_SERVICES: tuple[str, ...] = tuple(
    s.code for s in GRANTABLE if not s.separate_contract
)


def get(code: str) -> Service:
    return BY_CODE[code]
