"""The case pages: the list with its filters and bulk actions, opening a case (in one click from an anomaly, an
entity or a search result, ``?anomaly=<id>&entity=<id>&record=<kind>:<id>``), adding to an existing case, and a
case's page with its tabs (overview, links, notes, tasks, evidence, timeline, reports).

Every case is read through ``apps.cases.selectors``: a case the user may not see is a 404 on every page and
fragment, whatever the reason (another organisation, or not on the team). Writes go through ``apps.cases.services``;
a refused one is shown as a message on the page it came from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apps.accounts.tiers import QuotaExceeded
from apps.anomalies.models import Anomaly
from apps.cases import selectors, services
from apps.cases.filtersets import CaseFilterSet
from apps.cases.forms import (
    BulkAction,
    CaseAssignForm,
    CaseBulkForm,
    CaseChoiceForm,
    CaseCreateForm,
    CaseEditForm,
    CaseEvidenceForm,
    CaseExportForm,
    CaseNoteForm,
    CaseStatusForm,
    CaseTaskForm,
    LinkedItemsForm,
)
from apps.cases.links import export_link_max_age, export_link_read, export_link_sign
from apps.cases.models import Case, CaseExport, CaseStatus, ExportStatus
from apps.cases.reports import CONTENT_TYPES
from apps.core.errors import DomainError
from apps.entities.models import Entity

if TYPE_CHECKING:
    from apps.accounts.models import User

PAGE_SIZE = 25
TABS = {
    "overview": gettext_lazy("Overview"),
    "links": gettext_lazy("Linked items"),
    "notes": gettext_lazy("Notes"),
    "tasks": gettext_lazy("Tasks"),
    "evidence": gettext_lazy("Evidence"),
    "timeline": gettext_lazy("Timeline"),
    "reports": gettext_lazy("Reports"),
}


def _is_htmx(request: HttpRequest) -> bool:
    return bool(request.htmx)  # type: ignore[attr-defined]


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _case_or_404(request: HttpRequest, pk: int, action: str = "view") -> Case:
    try:
        return selectors.case_get(user=request.user, pk=pk, action=action)
    except Case.DoesNotExist:
        raise Http404(_("No such case.")) from None


def _case_to_change(request: HttpRequest, pk: int) -> Case:
    """The case for a write: a 404 if the user may not see it, a 403 if they may see but not change it."""
    case = _case_or_404(request, pk)
    if not services.case_visible_to(user=_user(request), case=case, action="change"):
        raise PermissionDenied
    return case


def _tab_url(case: Case, tab: str) -> str:
    return f"{reverse('cases:detail', args=[case.pk])}?tab={tab}#tab"


def _form_errors(form: Any) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


# --- list and bulk actions ---------------------------------------------------------------------------------------


def _list_context(request: HttpRequest) -> dict[str, Any]:
    filterset = CaseFilterSet(request.GET, user=request.user)
    cases = filterset.filter(selectors.case_list(user=request.user))
    page_obj = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    user = _user(request)
    bulk_form = CaseBulkForm(
        case_ids=[case.pk for case in page_obj.object_list],
        assignable=selectors.case_assignable_users(organization_id=user.organization_id or 0),
        may_assign=user.has_perm("cases.assign_case"),
        auto_id="id_bulk_%s",
    )
    return {
        "filterset": filterset,
        "page_obj": page_obj,
        "query_without_page": f"{query.urlencode()}&" if query else "",
        "bulk_form": bulk_form,
        "query": request.GET.urlencode(),
    }


@require_safe
@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    template = "cases/partials/case_table.html" if _is_htmx(request) else "cases/case_list.html"
    return render(request, template, _list_context(request))


@require_POST
@login_required
def case_bulk(request: HttpRequest) -> HttpResponse:
    """Change status, add tags or assign a lead on the ticked cases the user may change; each refusal is told."""
    user = _user(request)
    changeable = selectors.case_list(user=user, action="change")
    ids = [int(pk) for pk in request.POST.getlist("cases") if pk.isdigit() and len(pk) < 19]
    form = CaseBulkForm(
        request.POST,
        case_ids=list(changeable.filter(pk__in=ids).values_list("pk", flat=True)),
        assignable=selectors.case_assignable_users(organization_id=user.organization_id or 0),
        may_assign=user.has_perm("cases.assign_case"),
    )
    # The list's filters, read and written again rather than echoed, so the redirect stays a plain query string.
    back = f"{reverse('cases:list')}?{QueryDict(request.POST.get('query', '')).urlencode()}"
    if not form.is_valid():
        messages.error(request, _("Nothing was changed: %(errors)s") % {"errors": _form_errors(form)})
        return redirect(back)
    cases = list(changeable.filter(pk__in=form.cleaned_data["cases"]))
    action = form.cleaned_data["action"]
    done, refused = 0, []
    if action == BulkAction.TAG:
        try:
            done = services.case_tags_add(actor=user, cases=cases, tags=form.cleaned_data["tags"])
        except DomainError as error:
            refused.append(str(error))
    else:
        for case in cases:
            try:
                if action == BulkAction.STATUS:
                    services.case_status_set(actor=user, case=case, status=form.cleaned_data["status"])
                else:
                    lead = form.cleaned_data["lead"]
                    services.case_assign(actor=user, case=case, lead=lead, team=[*case.team.all(), lead])
                done += 1
            except (DomainError, PermissionDenied) as error:
                refused.append(f"#{case.pk}: {error}")
    if done:
        messages.success(request, _("Cases changed: %(count)d.") % {"count": done})
    if refused:
        messages.error(request, _("Not changed: %(reasons)s") % {"reasons": " ".join(refused)})
    return redirect(back)


# --- opening a case, adding to one -------------------------------------------------------------------------------


def _linked_items(request: HttpRequest, form: LinkedItemsForm) -> tuple[list[Anomaly], list[Entity]]:
    """The anomalies and entities named by the form that the user may see; others are silently left out."""
    anomalies = list(Anomaly.objects.restrict(request.user, "view").filter(pk__in=form.cleaned_data["anomalies"]))
    entities = list(Entity.objects.restrict(request.user, "view").filter(pk__in=form.cleaned_data["entities"]))
    return anomalies, entities


def _initial_items(request: HttpRequest) -> dict[str, str]:
    return {
        "anomalies": ",".join(request.GET.getlist("anomaly")),
        "entities": ",".join(request.GET.getlist("entity")),
        "records": " ".join(request.GET.getlist("record")),
    }


def _suggested_title(anomalies: list[Anomaly], entities: list[Entity]) -> str:
    if anomalies:
        return anomalies[0].title[:300]
    if entities:
        return _("Investigation of %(name)s") % {"name": entities[0].name}
    return ""


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
@permission_required("cases.add_case", raise_exception=True)
def case_create(request: HttpRequest) -> HttpResponse:
    """GET shows the form prefilled from ``?anomaly=…&entity=…&record=kind:id``; POST opens the case."""
    user = _user(request)
    assignable = (
        selectors.case_assignable_users(organization_id=user.organization_id or 0)
        if user.has_perm("cases.assign_case")
        else None
    )
    posted = request.method == "POST"
    items = LinkedItemsForm(request.POST if posted else _initial_items(request))
    anomalies, entities = _linked_items(request, items) if items.is_valid() else ([], [])
    if posted:
        form = CaseCreateForm(request.POST, assignable=assignable)
        if form.is_valid() and user.organization is not None:
            data = form.cleaned_data
            try:
                case = services.case_create(
                    actor=user,
                    organization=user.organization,
                    title=data["title"],
                    description=data["description"],
                    priority=data["priority"],
                    due_date=data["due_date"],
                    lead=data.get("lead"),
                    team=list(data.get("team") or []),
                    tags=data["tags"],
                    anomalies=anomalies,
                    entities=entities,
                    records=data["records"],
                )
            except DomainError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Case #%(number)s is open.") % {"number": case.pk})
                return redirect("cases:detail", pk=case.pk)
    else:
        initial = {**_initial_items(request), "title": _suggested_title(anomalies, entities)}
        form = CaseCreateForm(initial=initial, assignable=assignable)
    records = items.cleaned_data["records"] if items.is_valid() else []
    context = {"form": form, "anomalies": anomalies, "entities": entities, "records": records}
    return render(request, "cases/case_form.html", context, status=400 if posted else 200)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def case_add_items(request: HttpRequest) -> HttpResponse:
    """Add anomalies, entities or records (named as for opening a case) to an open case the user works on."""
    user = _user(request)
    open_cases = selectors.case_list(user=user, action="change").exclude(status=CaseStatus.CLOSED).order_by("due_date")
    posted = request.method == "POST"
    items = LinkedItemsForm(request.POST if posted else _initial_items(request))
    if not items.is_valid():
        raise Http404(_("No such item."))
    anomalies, entities = _linked_items(request, items)
    choice = CaseChoiceForm(request.POST if posted else None, cases=open_cases)
    if posted and choice.is_valid():
        case = choice.cleaned_data["case"]
        try:
            added = services.case_items_add(
                actor=user, case=case, anomalies=anomalies, entities=entities, records=items.cleaned_data["records"]
            )
        except DomainError as error:
            choice.add_error(None, str(error))
        else:
            messages.success(
                request, _("Added to case #%(number)s: %(count)d.") % {"number": case.pk, "count": added.total}
            )
            return redirect(_tab_url(case, "links"))
    context = {
        "choice_form": choice,
        "items_form": items,
        "anomalies": anomalies,
        "entities": entities,
        "records": items.cleaned_data["records"],
        "has_open_cases": open_cases.exists(),
    }
    return render(request, "cases/case_add_items.html", context, status=400 if choice.errors else 200)


# --- the case page -----------------------------------------------------------------------------------------------


def _tab_context(request: HttpRequest, case: Case, tab: str) -> dict[str, Any]:
    user = _user(request)
    may_change = services.case_visible_to(user=user, case=case, action="change")
    context: dict[str, Any] = {"case": case, "tab": tab, "tabs": TABS, "may_change": may_change}
    if tab == "overview":
        context["team"] = case.team.order_by("username")
        context["transitions"] = services.case_transitions(user=user, case=case) if may_change else []
        context["may_close_now"] = any(target == CaseStatus.CLOSED for target, _label in context["transitions"])
        context["status_form"] = CaseStatusForm(auto_id="id_status_%s")
        context["edit_form"] = CaseEditForm(
            initial={
                "title": case.title,
                "description": case.description,
                "priority": case.priority,
                "due_date": case.due_date,
                "tags": case.tags,
            },
            auto_id="id_edit_%s",
        )
        if user.has_perm("cases.assign_case"):
            context["assign_form"] = CaseAssignForm(
                initial={"lead": case.lead_id, "team": list(case.team.values_list("pk", flat=True))},
                assignable=selectors.case_assignable_users(organization_id=case.organization_id),
                auto_id="id_assign_%s",
            )
    elif tab == "links":
        context["anomalies"] = selectors.case_anomalies(user=user, case=case)
        context["entities"] = selectors.case_entities(user=user, case=case)
        context["records"] = selectors.case_records(case=case)
    elif tab == "notes":
        context["notes"] = selectors.case_notes(case=case)
        context["note_form"] = CaseNoteForm()
    elif tab == "tasks":
        context["tasks"] = selectors.case_tasks(case=case)
        context["task_form"] = CaseTaskForm(
            people=selectors.case_assignable_users(organization_id=case.organization_id)
        )
    elif tab == "evidence":
        context["evidence"] = selectors.case_evidence(case=case)
        context["evidence_form"] = CaseEvidenceForm()
    elif tab == "timeline":
        context["timeline"] = selectors.case_timeline(case=case)
    elif tab == "reports":
        exports = list(selectors.case_exports(user=user, case=case)[:20])
        context["exports"] = [
            (export, export_link_sign(export=export, user_id=user.pk) if export.status == ExportStatus.READY else "")
            for export in exports
        ]
        context["export_form"] = CaseExportForm()
        context["link_minutes"] = export_link_max_age() // 60
    return context


@require_safe
@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    tab = request.GET.get("tab", "overview")
    if tab not in TABS:
        tab = "overview"
    context = _tab_context(request, case, tab)
    template = f"cases/partials/tab_{tab}.html" if _is_htmx(request) else "cases/case_detail.html"
    return render(request, template, context)


def _done(request: HttpRequest, case: Case, tab: str, error: str | None, success: str) -> HttpResponse:
    if error:
        messages.error(request, error)
    else:
        messages.success(request, success)
    return redirect(_tab_url(case, tab))


@require_POST
@login_required
def case_edit(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_to_change(request, pk)
    form = CaseEditForm(request.POST)
    error = None
    if not form.is_valid():
        error = _form_errors(form)
    else:
        try:
            services.case_update(actor=_user(request), case=case, **form.cleaned_data)
        except DomainError as exc:
            error = str(exc)
    return _done(request, case, "overview", error, _("The case is saved."))


@require_POST
@login_required
@permission_required("cases.assign_case", raise_exception=True)
def case_assign(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    form = CaseAssignForm(
        request.POST, assignable=selectors.case_assignable_users(organization_id=case.organization_id)
    )
    error = None
    if not form.is_valid():
        error = _form_errors(form)
    else:
        try:
            services.case_assign(
                actor=_user(request), case=case, lead=form.cleaned_data["lead"], team=list(form.cleaned_data["team"])
            )
        except DomainError as exc:
            error = str(exc)
    return _done(request, case, "overview", error, _("The team is saved."))


@require_POST
@login_required
def case_status(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_to_change(request, pk)
    form = CaseStatusForm(request.POST)
    error = None
    if not form.is_valid():
        error = _form_errors(form)
    else:
        data = form.cleaned_data
        duplicate_of = None
        if data["duplicate_of"]:
            duplicate_of = selectors.case_list(user=request.user).filter(pk=data["duplicate_of"]).first()
        try:
            services.case_status_set(
                actor=_user(request),
                case=case,
                status=data["status"],
                classification=data["classification"],
                amount_assessed=data["amount_assessed"],
                reason=data["reason"],
                duplicate_of=duplicate_of,
            )
        except DomainError as exc:
            error = str(exc)
    return _done(request, case, "overview", error, _("The status is changed."))


@require_POST
@login_required
def case_note_add(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_to_change(request, pk)
    form = CaseNoteForm(request.POST)
    error = None
    if not form.is_valid():
        error = _form_errors(form)
    else:
        try:
            services.case_note_add(actor=_user(request), case=case, body=form.cleaned_data["body"])
        except DomainError as exc:
            error = str(exc)
    return _done(request, case, "notes", error, _("The note is added."))


@require_POST
@login_required
def case_task_add(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_to_change(request, pk)
    form = CaseTaskForm(request.POST, people=selectors.case_assignable_users(organization_id=case.organization_id))
    error = None
    if not form.is_valid():
        error = _form_errors(form)
    else:
        try:
            services.case_task_add(actor=_user(request), case=case, **form.cleaned_data)
        except DomainError as exc:
            error = str(exc)
    return _done(request, case, "tasks", error, _("The task is added."))


@require_POST
@login_required
def case_task_done(request: HttpRequest, pk: int, task_pk: int) -> HttpResponse:
    case = _case_to_change(request, pk)
    task = case.tasks.filter(pk=task_pk).first()
    if task is None:
        raise Http404(_("No such task."))
    services.case_task_done_set(actor=_user(request), task=task, done=request.POST.get("done") == "1")
    return _done(request, case, "tasks", None, _("The task is updated."))


@require_POST
@login_required
def case_evidence_add(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_to_change(request, pk)
    form = CaseEvidenceForm(request.POST, request.FILES)
    error = None
    if not form.is_valid():
        error = _form_errors(form)
    else:
        try:
            services.case_evidence_add(
                actor=_user(request),
                case=case,
                file=form.cleaned_data["file"],
                description=form.cleaned_data["description"],
            )
        except DomainError as exc:
            error = str(exc)
    return _done(request, case, "evidence", error, _("The file is added to the evidence."))


@require_safe
@login_required
def case_evidence_download(request: HttpRequest, pk: int, evidence_pk: int) -> FileResponse:
    case = _case_or_404(request, pk)
    evidence = case.evidence.filter(pk=evidence_pk).first()
    if evidence is None:
        raise Http404(_("No such file."))
    response = FileResponse(evidence.file.open("rb"), as_attachment=True, filename=evidence.original_filename)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
@login_required
def case_export_request(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    form = CaseExportForm(request.POST)
    error = None
    if not form.is_valid():
        error = _form_errors(form)
    else:
        try:
            services.case_export_request(actor=_user(request), case=case, fmt=form.cleaned_data["fmt"])
        except QuotaExceeded:
            # The tier gate's friendly page (``TierQuotaMiddleware``), as for any page over the quota.
            raise
        except DomainError as exc:
            error = str(exc)
    return _done(
        request,
        case,
        "reports",
        error,
        _("The report is being prepared; its download link appears here when it is ready."),
    )


@require_safe
def case_export_download(request: HttpRequest, token: str) -> FileResponse:
    """A report through its signed link: refused (404) once expired or changed, or if its user lost the case."""
    try:
        link = export_link_read(token)
    except signing.BadSignature:
        raise Http404(_("This download link has expired or is not valid; ask for a new one on the case.")) from None
    export = CaseExport.objects.select_related("case", "requested_by").filter(pk=link.export_id).first()
    if (
        export is None
        or export.status != ExportStatus.READY
        or export.requested_by is None
        or export.requested_by.pk != link.user_id
        or not services.case_visible_to(user=export.requested_by, case=export.case)
    ):
        raise Http404(_("This download link has expired or is not valid; ask for a new one on the case."))
    response = FileResponse(
        export.file.open("rb"),
        as_attachment=True,
        filename=f"case-{export.case_id}.{export.fmt}",
        content_type=CONTENT_TYPES[export.fmt],
    )
    response["Cache-Control"] = "private, no-store"
    return response
