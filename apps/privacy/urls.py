from django.urls import path

from apps.privacy import views

app_name = "privacy"

urlpatterns = [
    path("unlock/<str:target_type>/<str:object_id>/", views.pii_unlock_view, name="unlock"),
    path("lock/<str:target_type>/<str:object_id>/", views.pii_lock_view, name="lock"),
]
