"""Hardened reading of XML that comes from outside (docs/sso.md, "XML parsing"): a document
with a DOCTYPE (and so any DTD or entity) is refused before any parser sees it, then parsed with
defusedxml, which refuses DTDs, entities and external references again."""

import re

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

# Anything that can declare a DTD or an entity; matched on the raw bytes, any letter case.
_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST|NOTATION)", re.IGNORECASE)


class UnsafeXml(ValueError):
    """XML refused before or while parsing."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def check_xml(data: bytes) -> None:
    """Refuse a DOCTYPE or declaration, NUL bytes (another encoding than UTF-8 hiding one) and
    anything that is not UTF-8 text; raises UnsafeXml."""
    if b"\x00" in data:
        raise UnsafeXml("encoding")
    if _DECLARATION.search(data):
        raise UnsafeXml("doctype")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeXml("encoding") from None


def parse_xml(data: bytes):
    """check_xml(), then an ElementTree element parsed by defusedxml (DTDs forbidden)."""
    check_xml(data)
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise UnsafeXml("doctype") from None
    except Exception:  # noqa: BLE001 (ElementTree.ParseError and anything a bad document raises)
        raise UnsafeXml("malformed") from None
