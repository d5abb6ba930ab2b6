from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from cases.api import api_urls
from cases.views import agent_home
from cpm import views

admin.site.site_header = "CPM"

urlpatterns = [
    # The intake API first: gateways call it hundreds of times a second (cases/api.py); it
    # is authenticated per channel key, not by session.
    path("api/v1/", api_urls()),
    path("", agent_home, name="home"),
    path("search/", views.search, name="search"),
    path("health/", views.health, name="health"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The language can be chosen on the log-in page too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("customers/", include("customers.urls")),
    path("cases/", include("cases.urls")),
    path("processes/", include("guidance.urls")),
    path("admin/", admin.site.urls),
]
