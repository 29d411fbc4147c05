"""SCIM filters (RFC 7644 §3.4.2.2) as Django queries. scim2-models parses the filter into its
syntax tree; this visitor turns the nodes it supports into Q objects over the users of one
organization (the caller scopes the queryset). Anything else is an invalidFilter error."""

import uuid

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _
from scim2_models import InvalidFilterException
from scim2_models.path import FilterVisitor
from scim2_models.path.expressions import (
    CompareOperator,
    Comparison,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)

from accounts.validators import normalize_login_id

from .models import ScimGroupMember, name_key
from .schema import MIITEL_USER

NOTHING = Q(pk__in=[])
EVERYTHING = ~NOTHING

# attribute (lowercase, with its sub-attribute) -> (column, how values compare)
USER_COLUMNS = {
    "username": ("login_id_key", "login_id"),
    "emails": ("login_id_key", "login_id"),
    "emails.value": ("login_id_key", "login_id"),
    "id": ("pk", "id"),
    "externalid": ("external_id", "exact"),
    "displayname": ("name", "iexact"),
    "name.formatted": ("name", "iexact"),
    "active": ("is_active", "bool"),
    f"{MIITEL_USER.lower()}:role": ("role", "exact"),
    f"{MIITEL_USER.lower()}:extensionnumber": ("extension", "exact"),
}

STRING_LOOKUPS = {
    CompareOperator.co: "contains",
    CompareOperator.sw: "startswith",
    CompareOperator.ew: "endswith",
}


def _unsupported(text: str) -> InvalidFilterException:
    return InvalidFilterException(detail=text)


class _QueryVisitor(FilterVisitor[Q]):
    """`not`, `and` and `or` of a filter as the same operators on Q objects."""

    def visit_not(self, node: Not) -> Q:
        return ~self.visit(node.expr)

    def visit_logical_expr(self, node: LogicalExpr) -> Q:
        terms = [self.visit(term) for term in node.terms]
        combined = terms[0]
        for term in terms[1:]:
            combined = combined & term if node.op == LogicalOperator.and_ else combined | term
        return combined


class UserQuery(_QueryVisitor):
    """A filter over users as a Q."""

    columns = USER_COLUMNS

    def _column(self, attr_path) -> tuple[str, str]:
        name = attr_path.attr.lower()
        if attr_path.uri:
            name = f"{attr_path.uri.lower()}:{name}"
        if attr_path.sub_attr:
            name = f"{name}.{attr_path.sub_attr.lower()}"
        if name not in self.columns:
            raise _unsupported(
                _("Filtering on “%(attribute)s” is not supported. Supported: %(supported)s.")
                % {"attribute": str(attr_path), "supported": self.supported()}
            )
        return self.columns[name]

    @classmethod
    def supported(cls) -> str:
        return "userName, externalId, id, displayName, active, emails.value"

    def visit_comparison(self, node: Comparison) -> Q:
        column, kind = self._column(node.attr_path)
        value = node.value
        if node.op in STRING_LOOKUPS:
            if kind in ("id", "bool") or not isinstance(value, str):
                raise self._operator(node)
            if kind == "login_id":
                return Q(**{f"{column}__{STRING_LOOKUPS[node.op]}": value.strip().lower()})
            lookup = STRING_LOOKUPS[node.op]
            return Q(**{f"{column}__{'i' if kind == 'iexact' else ''}{lookup}": value})
        if node.op not in (CompareOperator.eq, CompareOperator.ne):
            raise self._operator(node)
        q = self._equals(column, kind, value)
        return ~q if node.op == CompareOperator.ne else q

    def _operator(self, node: Comparison) -> InvalidFilterException:
        return _unsupported(
            _("The operator “%(op)s” is not supported on “%(attribute)s”.")
            % {"op": node.op.value, "attribute": str(node.attr_path)}
        )

    def _equals(self, column: str, kind: str, value) -> Q:
        if kind == "bool":
            if not isinstance(value, bool):
                raise _unsupported(_("Compare active with true or false."))
            return Q(**{column: value})
        if value is None:
            return NOTHING
        text = str(value)
        if kind == "login_id":
            return Q(**{column: normalize_login_id(text)})
        if kind == "id":
            return Q(pk=int(text)) if text.isdigit() and len(text) < 19 else NOTHING
        if kind == "iexact":
            return Q(**{f"{column}__iexact": text})
        return Q(**{column: text})

    def visit_present(self, node: Present) -> Q:
        column, kind = self._column(node.attr_path)
        if kind in ("id", "bool", "login_id") or column == "name" or column == "role":
            return EVERYTHING
        return ~Q(**{column: ""})

    def visit_value_path(self, node: ValuePath) -> Q:
        # emails[type eq "work" and value eq "x"]: the one email of a user is the work email.
        if node.attr_path.attr.lower() != "emails":
            raise _unsupported(
                _("Filtering on “%(attribute)s” is not supported. Supported: %(supported)s.")
                % {"attribute": str(node.attr_path), "supported": self.supported()}
            )
        return EmailQuery().visit(node.val_filter)


class EmailQuery(UserQuery):
    """The inside of emails[…]: value is the login ID, type is always work, primary true."""

    columns = {"value": ("login_id_key", "login_id")}

    def visit_comparison(self, node: Comparison) -> Q:
        attr = node.attr_path.attr.lower()
        if attr in ("type", "primary") and node.op in (CompareOperator.eq, CompareOperator.ne):
            matches = (attr == "type" and str(node.value).lower() == "work") or (
                attr == "primary" and node.value is True
            )
            q = EVERYTHING if matches else NOTHING
            return ~q if node.op == CompareOperator.ne else q
        return super().visit_comparison(node)

    def visit_present(self, node: Present) -> Q:
        return EVERYTHING


class GroupQuery(FilterVisitor[set[str] | None]):
    """A filter over groups (a handful per organization): evaluated on their ids and names."""

    def __init__(self, names: dict[str, str]):
        self.names = names

    def visit_comparison(self, node: Comparison) -> set[str]:
        attr = node.attr_path.attr.lower()
        if attr not in ("displayname", "id", "externalid") or node.op not in (
            CompareOperator.eq,
            CompareOperator.ne,
        ):
            raise _unsupported(_("Filter groups with displayName eq, id eq or externalId eq."))
        if attr == "externalid":
            found = set()
        elif attr == "id":
            found = {code for code in self.names if code == str(node.value)}
        else:
            found = {
                code for code, name in self.names.items() if name.lower() == str(node.value).lower()
            }
        return set(self.names) - found if node.op == CompareOperator.ne else found

    def visit_present(self, node: Present) -> set[str]:
        attr = node.attr_path.attr.lower()
        return set(self.names) if attr in ("displayname", "id", "members") else set()

    def visit_not(self, node: Not) -> set[str]:
        return set(self.names) - self.visit(node.expr)

    def visit_logical_expr(self, node: LogicalExpr) -> set[str]:
        sets = [self.visit(term) for term in node.terms]
        if node.op == LogicalOperator.and_:
            return set.intersection(*sets)
        return set.union(*sets)

    def visit_value_path(self, node: ValuePath) -> set[str]:
        raise _unsupported(_("Filter groups with displayName eq, id eq or externalId eq."))


class CustomGroupQuery(_QueryVisitor):
    """The same filters over the groups the identity provider created (scim.models.ScimGroup),
    as a Q (the caller scopes the queryset to the organization)."""

    def visit_comparison(self, node: Comparison) -> Q:
        attr = node.attr_path.attr.lower()
        if attr not in ("displayname", "id", "externalid") or node.op not in (
            CompareOperator.eq,
            CompareOperator.ne,
        ):
            raise _unsupported(_("Filter groups with displayName eq, id eq or externalId eq."))
        text = "" if node.value is None else str(node.value)
        if not text.isprintable():
            q = NOTHING
        elif attr == "id":
            try:
                q = Q(pk=uuid.UUID(text))
            except ValueError:
                q = NOTHING
        elif attr == "externalid":
            q = Q(external_id=text) if text else NOTHING
        else:
            q = Q(name_key=name_key(text))
        return ~q if node.op == CompareOperator.ne else q

    def visit_present(self, node: Present) -> Q:
        attr = node.attr_path.attr.lower()
        if attr in ("displayname", "id"):
            return EVERYTHING
        if attr == "externalid":
            return ~Q(external_id="")
        if attr == "members":
            return Q(Exists(ScimGroupMember.objects.filter(group=OuterRef("pk"))))
        return NOTHING

    def visit_value_path(self, node: ValuePath) -> Q:
        raise _unsupported(_("Filter groups with displayName eq, id eq or externalId eq."))
