from django.urls import path
from rest_framework.routers import SimpleRouter

from apps.search.api import views

router = SimpleRouter()
router.register("saved-searches", views.SavedSearchViewSet, basename="saved-search")

urlpatterns = [
    path("search/", views.SearchView.as_view(), name="search"),
    path("search/autocomplete/", views.AutocompleteView.as_view(), name="search-autocomplete"),
    *router.urls,
]
