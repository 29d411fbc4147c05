import pytest
from django.urls import reverse

from tests.factories import PASSWORD, AdminFactory


@pytest.mark.django_db
def test_admin_signs_in_with_login_id_in_any_case(client, org_a):
    AdminFactory(organization=org_a, login_id="Taro.Yamada@Example.com")
    response = client.post(
        reverse("login"), {"username": "  taro.yamada@EXAMPLE.com ", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert client.get(reverse("users:list")).status_code == 200
