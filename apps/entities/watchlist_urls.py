from django.urls import path

from apps.entities import watchlist_views

urlpatterns = [
    path("", watchlist_views.watchlist_list, name="watchlist-list"),
    path("upload/", watchlist_views.watchlist_upload, name="watchlist-upload"),
    path("<int:pk>/", watchlist_views.watchlist_detail, name="watchlist-detail"),
    path("<int:pk>/screen/", watchlist_views.watchlist_screen_now, name="watchlist-screen"),
]
