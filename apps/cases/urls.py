from django.urls import path

from apps.cases import views

app_name = "cases"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("bulk/", views.case_bulk, name="bulk"),
    path("new/", views.case_create, name="case-create"),
    path("add/", views.case_add_items, name="case-add-items"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/edit/", views.case_edit, name="edit"),
    path("<int:pk>/assign/", views.case_assign, name="assign"),
    path("<int:pk>/status/", views.case_status, name="status"),
    path("<int:pk>/notes/", views.case_note_add, name="note-add"),
    path("<int:pk>/tasks/", views.case_task_add, name="task-add"),
    path("<int:pk>/tasks/<int:task_pk>/done/", views.case_task_done, name="task-done"),
    path("<int:pk>/evidence/", views.case_evidence_add, name="evidence-add"),
    path("<int:pk>/evidence/<int:evidence_pk>/", views.case_evidence_download, name="evidence-download"),
    path("<int:pk>/reports/", views.case_export_request, name="export-request"),
    path("reports/<str:token>/", views.case_export_download, name="export-download"),
]
