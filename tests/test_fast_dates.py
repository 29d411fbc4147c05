"""accounts.dates.formatter gives exactly what Django's dateformat gives."""

from datetime import datetime

import pytest
from django.utils import translation
from django.utils.dateformat import format as django_format
from django.utils.formats import get_format

from accounts.dates import formatter

MOMENTS = [
    datetime(2026, m, d, h, mi, s)
    for m, d, h, mi, s in [
        (1, 1, 0, 0, 0),
        (2, 9, 9, 5, 7),
        (5, 31, 12, 47, 59),
        (12, 2, 23, 59, 1),
    ]
]


@pytest.mark.parametrize("language", ["ja", "en"])
@pytest.mark.parametrize(
    "name", ["SHORT_DATETIME_FORMAT", "DATETIME_FORMAT", "DATE_FORMAT", "TIME_FORMAT"]
)
def test_the_project_formats_come_out_as_djangos(language, name):
    with translation.override(language):
        fmt = get_format(name)
        fast = formatter(fmt)
        for moment in MOMENTS:
            assert fast(moment) == django_format(moment, fmt)


@pytest.mark.parametrize("fmt", [r"Y-m-d\TH:i:s", "y/n/j G:i", "N j, Y, P", "l jS F"])
def test_other_formats_too_falling_back_where_needed(fmt):
    with translation.override("en"):
        for moment in MOMENTS:
            assert formatter(fmt)(moment) == django_format(moment, fmt)
