from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=False)
def csp_configured(app_configs, **kwargs):
    """Django warns about many missing headers, but not about a missing Content-Security-Policy."""
    errors = []
    csp = getattr(settings, "SECURE_CSP", None) or {}
    if not csp:
        errors.append(
            Error(
                "SECURE_CSP is empty: no Content-Security-Policy header would be sent.",
                id="miitel.E001",
            )
        )
    elif "django.middleware.csp.ContentSecurityPolicyMiddleware" not in settings.MIDDLEWARE:
        errors.append(Error("ContentSecurityPolicyMiddleware is not installed.", id="miitel.E002"))
    else:
        for directive in ("default-src", "object-src", "base-uri", "frame-ancestors"):
            if directive not in csp:
                errors.append(
                    Error(f"SECURE_CSP lacks the {directive} directive.", id="miitel.E003")
                )
    return errors
