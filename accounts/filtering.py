"""Filters of the list pages (the User List, the audit log, the activity pages): one reading of
their query parameters."""


class ValidValuesMixin:
    """For a filter form: the valid parameters only. A bad one (not a choice, not a number, a
    NUL) is dropped, never a 500 and never sent to the database."""

    def values(self) -> dict:
        if not self.is_bound:
            return {}
        if not hasattr(self, "_valid_values"):
            self.is_valid()
            self._valid_values = {
                k: v
                for k, v in getattr(self, "cleaned_data", {}).items()
                if v not in (None, "") and k not in self.errors
            }
        return self._valid_values
