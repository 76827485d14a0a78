"""A one-file Django project: the SSL redirect loop and the CSRF Origin check behind a front end [frameworks.md 2.5].

    python django_app.py runserver 127.0.0.1:PORT --noreload

Environment: SSL_REDIRECT=1 turns on SECURE_SSL_REDIRECT; SEED_FIX=1 adds the fix for an x-arr-ssl-only front end
(a first middleware mapping x-arr-ssl to X-Forwarded-Proto, read through SECURE_PROXY_SSL_HEADER); ASSUME_HTTPS=1
makes that middleware treat every request without X-Forwarded-Proto as HTTPS (an HTTPS-only deployment, as Rails'
assume_ssl); CSRF_TRUSTED_ORIGINS is a comma-separated list (needed where the front end rewrites Host);
PROXY_SSL_HEADER=0 leaves SECURE_PROXY_SSL_HEADER at Django's default (None): the app trusts no front end at all.
"""

import os
import sys

from django.conf import settings
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.urls import path

FIXED = os.environ.get("SEED_FIX") == "1"
ASSUME_HTTPS = os.environ.get("ASSUME_HTTPS") == "1"

settings.configure(
    DEBUG=False,
    SECRET_KEY="offload-test-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=([f"{__name__}.arr_ssl_middleware"] if FIXED or ASSUME_HTTPS else []) + [
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    SECURE_PROXY_SSL_HEADER=None if os.environ.get("PROXY_SSL_HEADER") == "0" else ("HTTP_X_FORWARDED_PROTO", "https"),
    SECURE_SSL_REDIRECT=os.environ.get("SSL_REDIRECT") == "1",
    CSRF_COOKIE_SECURE=True,
    CSRF_TRUSTED_ORIGINS=[o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o],
    SESSION_COOKIE_SECURE=True,
    USE_TZ=True,
)


def arr_ssl_middleware(get_response):
    """The fix: the front end says HTTPS only with x-arr-ssl, whose value SECURE_PROXY_SSL_HEADER cannot match."""
    def middleware(request):
        if "HTTP_X_FORWARDED_PROTO" not in request.META and ("HTTP_X_ARR_SSL" in request.META or ASSUME_HTTPS):
            request.META["HTTP_X_FORWARDED_PROTO"] = "https"
        return get_response(request)
    return middleware


def form(request):
    token = get_token(request)
    return HttpResponse(f'<form method="post" action="/submit"><input type="hidden" name="csrfmiddlewaretoken" '
                        f'value="{token}"><button>Send</button></form>')


def submit(request):
    return HttpResponse("thanks" if request.method == "POST" else "post here")


def account(request):
    return HttpResponse("your account")


urlpatterns = [path("form", form), path("submit", submit), path("account", account)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
