from django.contrib.auth import views as auth_views
from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("api-keys/", views.api_key_list, name="api-keys"),
    path("api-keys/new/", views.api_key_create_view, name="api-key-create"),
    path("api-keys/<int:pk>/revoke/", views.api_key_revoke_view, name="api-key-revoke"),
    path("usage/", views.usage_view, name="usage"),
    path("plans/", views.upgrade_view, name="upgrade"),
    path("password/", auth_views.PasswordChangeView.as_view(success_url="/"), name="password-change"),
]
