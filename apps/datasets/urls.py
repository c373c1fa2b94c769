from django.urls import path

from apps.datasets import views

app_name = "datasets"

urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("upload/", views.dataset_upload, name="upload"),
    path("<int:pk>/", views.dataset_detail, name="detail"),
    path("<int:pk>/progress/", views.dataset_progress, name="progress"),
    path("<int:pk>/retry/", views.dataset_retry, name="retry"),
    path("<int:pk>/mapping/", views.dataset_mapping, name="mapping"),
    path("<int:pk>/quarantine.csv", views.dataset_quarantine, name="quarantine"),
]
