"""The Jinja2 environment, for the fragments Django's template engine renders too slowly (the
User List's rows: docs/performance.md). Autoescaping is on, as Django's Jinja2 backend sets it.

Translations are compiled in. `_("literal")` in a template is replaced by its translation when
the template is compiled, so a label costs nothing per row (a constant is escaped once, at
compile time, instead of at every output). A template is therefore compiled once per language:
the environment looks templates up under "<language>:<name>" and the loader drops the prefix.
The strings are Django's own catalogue: `make makemessages` finds `_("...")` in these templates
as it does in Django's."""

from collections.abc import Iterator

from django.utils import translation
from django.utils.dateformat import format as format_date
from jinja2 import BaseLoader
from jinja2 import Environment as BaseEnvironment
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

_SEPARATOR = ":"


def _language_of(template_name: str | None) -> str | None:
    if template_name and _SEPARATOR in template_name:
        return template_name.split(_SEPARATOR, 1)[0]
    return None


class CompiledTranslations(Extension):
    """`_("text")` with a string literal becomes the translated literal, in the language the
    template is compiled for. Any other use of `_` (a variable argument) is left alone and
    calls gettext when rendered."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        language = _language_of(stream.name)
        window: list[Token] = []
        for token in stream:
            window.append(token)
            if len(window) < 4:
                continue
            name, lparen, literal, rparen = window
            if (
                name.test("name:_")
                and lparen.test("lparen")
                and literal.test("string")
                and rparen.test("rparen")
            ):
                with translation.override(language):
                    text = translation.gettext(literal.value)
                window = []
                yield Token(literal.lineno, "string", text)
            else:
                yield window.pop(0)
        yield from window


class PerLanguageLoader(BaseLoader):
    """Loads "<language>:<name>" as <name> from the loader Django configured."""

    def __init__(self, loader: BaseLoader):
        self.loader = loader

    def get_source(self, environment, template):
        _language, _sep, name = template.rpartition(_SEPARATOR)
        return self.loader.get_source(environment, name)


class Environment(BaseEnvironment):
    def get_template(self, name, parent=None, globals=None):
        if _language_of(name) is None:
            name = f"{translation.get_language() or 'ja'}{_SEPARATOR}{name}"
        return super().get_template(name, parent, globals)


def environment(**options) -> Environment:
    options["loader"] = PerLanguageLoader(options["loader"])
    env = Environment(extensions=[CompiledTranslations], **options)
    env.globals["_"] = translation.gettext
    # A datetime in a Django date format (formats/<language>/formats.py): Django's `date`.
    env.filters["date"] = format_date
    return env
