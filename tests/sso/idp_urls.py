"""The console's URLs plus a test identity provider's sign-in page, for the browser round trip:
the page reads the AuthnRequest, and offers a form that posts a response signed by the test IdP
(tests/sso/idp.py) for the login ID the test chose, to the ACS the request named."""

from html import escape

from django.http import HttpResponse
from django.urls import include, path
from saml2 import BINDING_HTTP_REDIRECT
from saml2.server import Server

from .idp import TestIdp, encoded

# Set by the test: the IdP, and who signs in at it.
CURRENT: dict = {}


def idp_sign_in(request):
    idp: TestIdp = CURRENT["idp"]
    server = Server(config=idp._config(idp.signer))
    authn = server.parse_authn_request(request.GET["SAMLRequest"], BINDING_HTTP_REDIRECT).message
    acs_url = authn.assertion_consumer_service_url
    xml = idp.response(
        sp_entity_id=authn.issuer.text,
        acs_url=acs_url,
        name_id=CURRENT["login_id"],
        in_response_to=authn.id,
    )
    return HttpResponse(
        "<!DOCTYPE html><html lang='en'><head><title>Test IdP</title></head><body><main>"
        "<h1>Test IdP</h1>"
        f"<form method='post' action='{escape(acs_url)}'>"
        f"<input type='hidden' name='SAMLResponse' value='{encoded(xml)}'>"
        "<button type='submit'>Send to the service</button></form></main></body></html>"
    )


urlpatterns = [
    path("test-idp/sso", idp_sign_in),
    path("", include("miitel_admin.urls")),
]
