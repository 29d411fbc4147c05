"""A refused change, as every channel reports it (docs/rules.md lists the rules and codes)."""

from dataclasses import dataclass, field
from typing import Any

# The key of a problem that belongs to no single field.
GENERAL = "__all__"


@dataclass
class Problem:
    """One rule a proposed change breaks.

    `field` is the user field ("login_id", "name", ...), a service's form field
    ("service_phone"), "version" for a stale change, or GENERAL. `message` states the rule in the
    active language. `advice` tells a tenant admin what to do when only the vendor can help
    ("please contact us"); `operator_advice` tells an operator (the vendor) what to run instead.
    The change service sets `index` (the change's position in the batch) and `ref` (the
    channel's own name for it, such as a CSV line)."""

    field: str
    message: str
    code: str
    advice: str = ""
    operator_advice: str = ""
    index: int | None = None
    ref: Any = None
    params: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        """What the console shows: the rule, then the advice."""
        return f"{self.message} {self.advice}" if self.advice else self.message

    @property
    def operator_text(self) -> str:
        """What an operator's command prints: the rule, then what to run."""
        advice = self.operator_advice or self.advice
        return f"{self.message} {advice}" if advice else self.message
