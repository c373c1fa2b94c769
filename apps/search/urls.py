from django.urls import path

from apps.search import views

app_name = "search"

urlpatterns = [
    path("", views.search, name="search"),
    path("autocomplete/", views.autocomplete, name="autocomplete"),
    path("saved/", views.saved_search_list, name="saved"),
    path("saved/new/", views.saved_search_create, name="saved-create"),
    path("saved/<int:pk>/delete/", views.saved_search_delete, name="saved-delete"),
]
