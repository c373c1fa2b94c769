from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.core.views import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("nexus.api_urls")),
    path("oidc/", include("mozilla_django_oidc.urls")),
]

urlpatterns += i18n_patterns(
    path("", include("apps.core.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("privacy/", include("apps.privacy.urls")),
    path("datasets/", include("apps.datasets.urls")),
    path("entities/", include("apps.entities.urls")),
    path("anomalies/", include("apps.anomalies.urls")),
    path("insights/", include("apps.insights.urls")),
    path("search/", include("apps.search.urls")),
    path("cases/", include("apps.cases.urls")),
    path("admin/", admin.site.urls),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    prefix_default_language=False,
)
