from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from cases.views import agent_home
from cpm import views

admin.site.site_header = "CPM"

urlpatterns = [
    path("", agent_home, name="home"),
    path("search/", views.search, name="search"),
    path("health/", views.health, name="health"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("customers/", include("customers.urls")),
    path("cases/", include("cases.urls")),
    path("admin/", admin.site.urls),
]
