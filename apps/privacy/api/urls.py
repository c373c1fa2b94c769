from rest_framework.routers import SimpleRouter

from apps.privacy.api import views

router = SimpleRouter()
router.register("pii-disclosures", views.PIIDisclosureViewSet, basename="pii-disclosure")

urlpatterns = router.urls
