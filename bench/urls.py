from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from accounts.models import User
from miitel_admin.urls import urlpatterns as app_urls

from .admin import site

_TEMPLATE = engines["django"].from_string(
    "<!DOCTYPE html><html><body><table>{% for u in users %}<tr><td>{{ u.name }}</td>"
    "<td>{{ u.login_id }}</td><td>{{ u.role }}</td><td>{{ u.is_active }}</td>"
    "<td>{{ u.extension }}</td><td>{{ u.last_login }}</td></tr>{% endfor %}</table></body></html>"
)


def naive_list(request):
    """The bare list: one query, no count, no features (the floor of what a page costs)."""
    org_id = int(request.GET.get("org", 0))
    users = User.objects.filter(organization_id=org_id).order_by("name", "id")[:50]
    return HttpResponse(_TEMPLATE.render({"users": users}))


urlpatterns = [
    path("bench/naive-list/", naive_list),
    path("bench/admin/", site.urls),
    path("", include(app_urls)),
]
