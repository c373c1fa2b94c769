from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CasesConfig(AppConfig):
    name = "apps.cases"
    label = "cases"
    verbose_name = _("Cases")

    def ready(self) -> None:
        from auditlog.registry import auditlog

        from apps.accounts.choices import Role
        from apps.accounts.roles import ROLE_PERMISSIONS
        from apps.cases import models, selectors
        from apps.privacy.targets import pii_target_register

        # Reminder stamps are bookkeeping of the beat task, not a change anybody made.
        auditlog.register(
            models.Case, exclude_fields=["due_soon_notified_at", "overdue_notified_at"], m2m_fields={"team"}
        )
        for child in (models.CaseNote, models.CaseTask, models.CaseEvidence, models.CaseExport):
            auditlog.register(child)
        for link in (models.CaseAnomaly, models.CaseEntity, models.CaseRecord):
            auditlog.register(link)

        pii_target_register(models.Case, selectors.case_pii_tokens)

        # An investigator opens cases and works the ones whose team they are on (object permissions, granted by
        # apps.cases.services); supervisors and administrators see, assign and close every case of the organisation.
        ROLE_PERMISSIONS[Role.INVESTIGATOR] |= {"cases.add_case"}
        for role in (Role.SUPERVISOR, Role.ADMIN):
            ROLE_PERMISSIONS[role] |= {
                "cases.add_case",
                "cases.view_case",
                "cases.change_case",
                "cases.assign_case",
                "cases.close_case",
            }
