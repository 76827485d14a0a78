"""The host bug in Django: URLs and a cookie Domain built from the Host the app received.

    python host_django.py runserver 127.0.0.1:PORT --noreload

Behind Azure Front Door (or Application Gateway) in front of App Service, Host is the origin's name
(myapp.azurewebsites.net) and the public host the browser is at arrives in X-Forwarded-Host (App Gateway:
X-Original-Host). request.build_absolute_uri() and request.get_host() read Host unless USE_X_FORWARDED_HOST is set,
so the app redirects to the origin's name, sets a cookie for a domain the browser rejects and links past the front
end (https://learn.microsoft.com/azure/architecture/best-practices/host-name-preservation).

The scheme is trusted correctly in both modes: SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https').
HOST_FIX=1: USE_X_FORWARDED_HOST = True, the fix offload advises (Django then reads X-Forwarded-Host; it does not
read App Gateway's X-Original-Host).

Routes: /login   302 to request.build_absolute_uri('/home'), Set-Cookie sid=<random>; Domain=<host without port>
        /home    an HTML page with an absolute link to request.build_absolute_uri('/profile')
        /whoami  what the app believes: {"ip", "scheme", "host"} (JSON)
"""

import os
import secrets
import sys

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.request import split_domain_port
from django.urls import path

settings.configure(
    DEBUG=False,
    SECRET_KEY="offload-test-only",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=["django.middleware.security.SecurityMiddleware"],
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    USE_X_FORWARDED_HOST=os.environ.get("HOST_FIX") == "1",
    USE_TZ=True,
)


def login(request):
    response = HttpResponseRedirect(request.build_absolute_uri("/home"))
    domain, _ = split_domain_port(request.get_host())
    response.set_cookie("sid", secrets.token_hex(16), domain=domain, path="/", secure=True, httponly=True,
                        samesite="Lax")
    return response


def home(request):
    return HttpResponse(f'<p>Welcome. <a href="{request.build_absolute_uri("/profile")}">profile</a></p>')


def profile(request):
    return HttpResponse("<p>your profile</p>")


def whoami(request):
    return JsonResponse({"ip": request.META.get("REMOTE_ADDR"), "scheme": request.scheme, "host": request.get_host()})


urlpatterns = [path("login", login), path("home", home), path("profile", profile), path("whoami", whoami)]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
