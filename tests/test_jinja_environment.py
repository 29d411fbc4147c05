"""The Jinja2 environment of the User List's rows (miitel_admin/jinja_env.py): values are
escaped, and the translations compiled into a template follow the language it is rendered in,
one compiled template per language, in the same process."""

import pytest
from django.template import engines
from django.utils import translation
from jinja2 import DictLoader

from miitel_admin.jinja_env import PerLanguageLoader, environment
from permissions import catalog
from tests.factories import GrantFactory
from users import selectors
from users.presenters import list_services, user_rows


@pytest.fixture
def env():
    """The project's environment over templates held in memory."""
    options = {
        "loader": DictLoader(
            {
                "label.html": '<b title="{{ _("Edit") }}">{{ value }}</b>',
                "runtime.html": "{{ _(word) }}",
            }
        ),
        "autoescape": True,
    }
    return environment(**options)


def test_the_project_environment_escapes_every_value():
    env = engines["jinja2"].env
    assert env.autoescape is True
    assert isinstance(env.loader, PerLanguageLoader)


def test_a_value_is_escaped_and_a_literal_label_translated_at_compile_time(env):
    with translation.override("ja"):
        ja = env.get_template("label.html").render(value="<i>x</i>")
    with translation.override("en"):
        en = env.get_template("label.html").render(value="<i>x</i>")
    # Rendered again in Japanese: the Japanese compilation, not the last one made.
    with translation.override("ja"):
        ja_again = env.get_template("label.html").render(value="a&b")

    assert ja == '<b title="編集">&lt;i&gt;x&lt;/i&gt;</b>'
    assert en == '<b title="Edit">&lt;i&gt;x&lt;/i&gt;</b>'
    assert ja_again == '<b title="編集">a&amp;b</b>'
    # The label is part of the compiled template: no gettext call when rendering.
    source = env.loader.get_source(env, "ja:label.html")[0]
    compiled = env.compile(source, name="ja:label.html", raw=True)
    assert "編集" in compiled
    assert "'Edit'" not in compiled


def test_gettext_of_a_variable_runs_when_rendered(env):
    with translation.override("ja"):
        assert env.get_template("runtime.html").render(word="Delete") == "削除"
    with translation.override("en"):
        assert env.get_template("runtime.html").render(word="Delete") == "Delete"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("ja", ["編集", "無効化", "削除", "メンバー", "有効", "通話履歴: 付与済み", "モニタ"]),
        ("en", ["Edit", "Deactivate", "Delete", "Member", "Active", "Call History: enabled"]),
    ],
)
def test_user_rows_are_rendered_in_the_active_language(admin_a, member_a, language, words):
    GrantFactory(user=member_a, service=catalog.CALL_HISTORY)
    users = list(selectors.list_page(selectors.user_list(organization=admin_a.organization)))
    with translation.override(language):
        html = user_rows(
            users=users,
            actor=admin_a,
            services=list_services(admin_a.organization.contract),
            back="/users/?q=a",
        )
    for word in words:
        assert word in html, (language, word)
    other = "Deactivate" if language == "ja" else "無効化"
    assert other not in html
