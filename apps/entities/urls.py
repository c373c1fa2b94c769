from django.urls import include, path

from apps.entities import views

app_name = "entities"

urlpatterns = [
    path("", views.entity_list, name="list"),
    path("review/", views.review_queue, name="review"),
    path("review/<int:pk>/decide/", views.review_decide, name="review-decide"),
    path("<int:pk>/", views.entity_detail, name="detail"),
    path("<int:pk>/timeline/", views.entity_timeline, name="timeline"),
    path("<int:pk>/related/", views.entity_related, name="related"),
    path("<int:pk>/graph.json", views.entity_graph, name="graph"),
    path("<int:pk>/merge/", views.entity_merge, name="merge"),
    path("<int:pk>/merges/<int:merge_pk>/split/", views.entity_split, name="split"),
    path("watchlists/", include("apps.entities.watchlist_urls")),
]
