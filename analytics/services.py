from .models import ByUserDaily, FunnelTeamMember


def purge_user_activity(*, user) -> dict[str, int]:
    """Remove, for good, what a deletion purges of a user's activity: their By-user rows (the
    By-user table and the individual dashboard) and their funnel team memberships. Call history,
    meetings, participants, themes and bookmarks are left as they are.

    Each is one DELETE statement whatever the number of rows: nothing here has delete signals
    or Python-side cascades (docs/performance.md: one receiver would load every row)."""
    by_user, _ = ByUserDaily.objects.filter(user=user).delete()
    memberships, _ = FunnelTeamMember.objects.filter(user=user).delete()
    return {"by_user_rows": by_user, "funnel_memberships": memberships}
