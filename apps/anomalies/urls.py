from django.urls import path

from apps.anomalies import views

app_name = "anomalies"

urlpatterns = [
    path("", views.feed, name="feed"),
    path("<int:pk>/", views.anomaly_detail, name="detail"),
    path("<int:pk>/verdict/", views.anomaly_verdict, name="verdict"),
    path("models/", views.model_list, name="models"),
]
