"""The partner REST API, version 1: one include per app."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("apps.accounts.api.urls")),
    path("", include("apps.privacy.api.urls")),
    path("", include("apps.datasets.api.urls")),
    path("", include("apps.entities.api.urls")),
    path("", include("apps.search.api.urls")),
    path("", include("apps.cases.api.urls")),
]
