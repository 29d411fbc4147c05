"""Factories for the activity data (analytics app), and helpers that read the rendered pages.

Every factory keeps the row's organization equal to its user's (host's, creator's, team's), as the
product does: a call of a user of organization A is a call of organization A.
"""

import datetime as dt
import html
import re
from html.parser import HTMLParser

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from analytics.models import (
    BookmarkedFilter,
    ByUserDaily,
    CallRecord,
    FunnelTeam,
    FunnelTeamMember,
    Meeting,
    MeetingParticipant,
    TableTheme,
)
from tests.factories import OrganizationFactory, UserFactory

# --- Factories ----------------------------------------------------------------------------------


class CallRecordFactory(DjangoModelFactory):
    class Meta:
        model = CallRecord

    user = factory.SubFactory(UserFactory)
    organization = factory.SelfAttribute("user.organization")
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=1))
    duration_seconds = 120
    direction = CallRecord.Direction.OUTBOUND
    counterpart = factory.Sequence(lambda n: f"03-{n // 10000 % 10000:04d}-{n % 10000:04d}")


class ByUserDailyFactory(DjangoModelFactory):
    """One day of one user; `day` defaults to today (one row per user and day)."""

    class Meta:
        model = ByUserDaily

    user = factory.SubFactory(UserFactory)
    organization = factory.SelfAttribute("user.organization")
    day = factory.LazyFunction(timezone.localdate)
    call_count = 10
    talk_seconds = 600
    talk_ratio = 0.5
    score = 80.0


class MeetingFactory(DjangoModelFactory):
    class Meta:
        model = Meeting
        skip_postgeneration_save = True

    host = factory.SubFactory(UserFactory)
    organization = factory.SelfAttribute("host.organization")
    uploader = None
    title = factory.Sequence(lambda n: f"Meeting {n}")
    started_at = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(hours=2))
    access = Meeting.Access.ALL

    @factory.post_generation
    def allowed_users(obj, create, extracted, **kwargs):
        if create and extracted:
            obj.allowed_users.set(extracted)


class MeetingParticipantFactory(DjangoModelFactory):
    class Meta:
        model = MeetingParticipant

    meeting = factory.SubFactory(MeetingFactory)
    user = factory.SubFactory(
        UserFactory, organization=factory.SelfAttribute("..meeting.organization")
    )
    guest_name = ""


class TableThemeFactory(DjangoModelFactory):
    class Meta:
        model = TableTheme

    creator = factory.SubFactory(UserFactory)
    organization = factory.SelfAttribute("creator.organization")
    name = factory.Sequence(lambda n: f"Theme {n}")
    columns = factory.LazyFunction(lambda: ["calls", "talk_time"])


class BookmarkedFilterFactory(DjangoModelFactory):
    class Meta:
        model = BookmarkedFilter

    creator = factory.SubFactory(UserFactory)
    organization = factory.SelfAttribute("creator.organization")
    name = factory.Sequence(lambda n: f"Bookmark {n}")
    conditions = factory.LazyFunction(lambda: {"days": 7})


class FunnelTeamFactory(DjangoModelFactory):
    class Meta:
        model = FunnelTeam

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class FunnelTeamMemberFactory(DjangoModelFactory):
    class Meta:
        model = FunnelTeamMember

    team = factory.SubFactory(FunnelTeamFactory)
    user = factory.SubFactory(
        UserFactory, organization=factory.SelfAttribute("..team.organization")
    )


def by_user_days(user, days: int, *, start: int = 0, **kwargs) -> list[ByUserDaily]:
    """`days` By-user rows of `user`: `start` days ago (today by default), the day before, and
    so on."""
    today = timezone.localdate()
    return [
        ByUserDailyFactory(user=user, day=today - dt.timedelta(days=n), **kwargs)
        for n in range(start, start + days)
    ]


# --- Reading pages ------------------------------------------------------------------------------


def deleted_label(name: str, locale: str) -> str:
    """How a deleted user's name reads, in the viewer's language (docs/rules.md)."""
    return f"{name}（削除済み）" if locale == "ja" else f"{name} (Deleted)"


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


class Page(HTMLParser):
    """The parts of a rendered page the tests read: the options of each <select>, every table
    (titled by its caption, else the heading before it), the <li> items under each heading and
    the <dt>/<dd> pairs."""

    def __init__(self, content: str):
        super().__init__(convert_charrefs=True)
        self.selects: dict[str, list[tuple[str, str]]] = {}
        self.tables: list[dict] = []
        self.items: list[tuple[str, str]] = []
        self.pairs: list[tuple[str, str]] = []
        self._heading = ""
        self._buffers: dict[str, list[str]] = {}
        self._select: str | None = None
        self._option_value: str | None = None
        self._table: dict | None = None
        self._row: list[str] | None = None
        self._dt = ""
        self.feed(content)
        self.close()
        self.text = _squash(re.sub(r"<[^>]+>", " ", html.unescape(content)))

    def _open(self, key: str) -> None:
        self._buffers[key] = []

    def _close(self, key: str) -> str:
        return _squash("".join(self._buffers.pop(key, [])))

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select":
            self._select = attrs.get("name") or ""
            self.selects[self._select] = []
        elif tag == "option" and self._select is not None:
            self._option_value = attrs.get("value") or ""
            self._open("option")
        elif tag in ("h1", "h2"):
            self._open("heading")
        elif tag == "table":
            self._table = {"title": self._heading, "rows": []}
        elif tag == "caption" and self._table is not None:
            self._open("caption")
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._open("cell")
        elif tag == "li":
            self._open("li")
        elif tag == "dt":
            self._open("dt")
        elif tag == "dd":
            self._open("dd")

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "option" and "option" in self._buffers:
            self.selects[self._select].append((self._option_value, self._close("option")))
        elif tag in ("h1", "h2") and "heading" in self._buffers:
            self._heading = self._close("heading")
        elif tag == "caption" and "caption" in self._buffers:
            self._table["title"] = self._close("caption")
        elif tag in ("td", "th") and "cell" in self._buffers:
            self._row.append(self._close("cell"))
        elif tag == "tr" and self._row is not None:
            self._table["rows"].append(self._row)
            self._row = None
        elif tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None
        elif tag == "li" and "li" in self._buffers:
            self.items.append((self._heading, self._close("li")))
        elif tag == "dt" and "dt" in self._buffers:
            self._dt = self._close("dt")
        elif tag == "dd" and "dd" in self._buffers:
            self.pairs.append((self._dt, self._close("dd")))

    def handle_data(self, data):
        for buffer in self._buffers.values():
            buffer.append(data)

    # --- queries --------------------------------------------------------------------------------

    def options(self, name: str) -> list[str]:
        """The labels a <select name=...> offers, its empty choice left out."""
        return [label for value, label in self.selects[name] if value != ""]

    def option_values(self, name: str) -> list[str]:
        return [value for value, _label in self.selects[name] if value != ""]

    def table(self, title: str) -> list[list[str]]:
        """The body rows (header row left out) of the table titled `title`."""
        matches = [t for t in self.tables if t["title"] == title]
        assert len(matches) == 1, f"no single table titled {title!r}: {self.table_titles()}"
        rows = matches[0]["rows"]
        return rows[1:]

    def table_titles(self) -> list[str]:
        return [t["title"] for t in self.tables]

    def column(self, title: str, index: int = 0) -> list[str]:
        return [row[index] for row in self.table(title) if len(row) > index]

    def items_under(self, heading: str) -> list[str]:
        return [text for h, text in self.items if h == heading]

    def value(self, term: str) -> str:
        values = [dd for dt_, dd in self.pairs if dt_ == term]
        assert len(values) == 1, f"no single <dt>{term}</dt>: {self.pairs}"
        return values[0]


def page(response) -> Page:
    assert response.status_code == 200, response.status_code
    return Page(response.content.decode())


def normalised(response) -> str:
    """The body without the per-response random values (CSRF mask, CSP nonce)."""
    body = response.content.decode()
    body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "csrf", body)
    return re.sub(r'nonce="[^"]*"', "nonce", body)
