from rest_framework.routers import SimpleRouter

from apps.entities.api import views

router = SimpleRouter()
router.register("entities", views.EntityViewSet, basename="entity")
router.register("entity-merges", views.EntityMergeViewSet, basename="merge")
router.register("match-candidates", views.MatchCandidateViewSet, basename="match-candidate")

urlpatterns = router.urls
