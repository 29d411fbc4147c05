from urllib.parse import urlencode

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.access import admin_required
from accounts.filtering import ValidValuesMixin
from accounts.pagination import page_links, paginate

from . import selectors

PER_PAGE = 50
DEFAULT_DAYS = 30


class UserChoiceField(forms.ModelChoiceField):
    """Users by name, with the login ID beside it: two users of the same name are told apart."""

    def label_from_instance(self, obj):
        values = {"name": obj.name, "login_id": obj.login_id}
        if obj.is_active:
            return _("%(name)s (%(login_id)s)") % values
        return _("%(name)s (%(login_id)s, deactivated)") % values


class ActivityFilterForm(ValidValuesMixin, forms.Form):
    """A user-name filter whose options are the organization's users that are not deleted."""

    user = UserChoiceField(
        label=_("User name"), required=False, queryset=None, empty_label=_("All users")
    )
    days = forms.TypedChoiceField(
        label=_("Period"),
        required=False,
        coerce=int,
        # The period shown when none is chosen, and the one the unfilled form selects.
        initial=DEFAULT_DAYS,
        empty_value=DEFAULT_DAYS,
        choices=[
            (7, _("Last 7 days")),
            (30, _("Last 30 days")),
            (90, _("Last 90 days")),
            (0, _("All time")),
        ],
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=10**6)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = selectors.user_options(organization=organization)
        # The figures are for the default period when none (or a bad one) was asked for: the
        # select must then show that period too, not its first choice.
        periods = {str(value) for value, _label in self.fields["days"].choices}
        if self.is_bound and self.data.get("days") not in periods:
            self.data = self.data.copy()
            self.data["days"] = str(DEFAULT_DAYS)


def _page_links(page, params):
    return page_links(page, lambda n: "?" + urlencode({**params, "page": n}))


@admin_required
@require_GET
def call_history(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    form = ActivityFilterForm(request.GET or None, organization=organization)
    values = form.values()
    user = values.get("user")
    page = paginate(
        selectors.call_list(organization=organization, user=user),
        page=values.get("page", 1),
        per_page=PER_PAGE,
    )
    params = {"user": user.pk} if user else {}
    return render(
        request,
        "analytics/call_history.html",
        {
            "form": form,
            "calls": page.rows,
            "bookmarks": selectors.bookmarks(organization=organization),
            "nav_section": "calls",
            **_page_links(page, params),
        },
    )


@admin_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    form = ActivityFilterForm(request.GET or None, organization=organization)
    values = form.values()
    user = values.get("user")
    days = values.get("days", DEFAULT_DAYS)
    since = selectors.period_start(days)
    return render(
        request,
        "analytics/dashboard.html",
        {
            "form": form,
            "days": days,
            "totals": selectors.dashboard_totals(organization=organization, since=since, user=user),
            "by_user": selectors.by_user_table(
                organization=organization,
                since_day=timezone.localtime(since).date() if since else None,
                user=user,
            ),
            "video": selectors.video_dashboard(organization=organization),
            "themes": selectors.table_themes(organization=organization),
            "teams": selectors.funnel_teams(organization=organization),
            "nav_section": "dashboard",
        },
    )


class MeetingFilterForm(ValidValuesMixin, forms.Form):
    host = UserChoiceField(label=_("Host"), required=False, queryset=None, empty_label=_("All"))
    participant = UserChoiceField(
        label=_("Participant"), required=False, queryset=None, empty_label=_("All")
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=10**6)

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        options = selectors.user_options(organization=organization)
        self.fields["host"].queryset = options
        self.fields["participant"].queryset = options


@admin_required
@require_GET
def meeting_list(request: HttpRequest) -> HttpResponse:
    organization = request.organization
    form = MeetingFilterForm(request.GET or None, organization=organization)
    values = form.values()
    qs = selectors.visible_meetings(viewer=request.user)
    params = {}
    if values.get("host"):
        qs = qs.filter(host=values["host"])
        params["host"] = values["host"].pk
    if values.get("participant"):
        qs = qs.filter(participants__user=values["participant"]).distinct()
        params["participant"] = values["participant"].pk
    page = paginate(qs, page=values.get("page", 1), per_page=PER_PAGE)
    return render(
        request,
        "analytics/meeting_list.html",
        {
            "form": form,
            "meetings": page.rows,
            "nav_section": "meetings",
            **_page_links(page, params),
        },
    )


@admin_required
@require_GET
def meeting_detail(request: HttpRequest, meeting_id: int) -> HttpResponse:
    try:
        meeting = selectors.visible_meetings(viewer=request.user).get(pk=meeting_id)
    except selectors.Meeting.DoesNotExist:
        raise Http404 from None
    return render(
        request,
        "analytics/meeting_detail.html",
        {
            "meeting": meeting,
            "participants": selectors.meeting_participants(meeting=meeting),
            "nav_section": "meetings",
        },
    )
