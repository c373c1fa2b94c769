"""Datasets, their runs and quarantined rows, saved column mappings, and the typed record tables.

Record tables are written only by the loader (COPY, one transaction per dataset) and read only through
``restrict()``, which also hides the rows of datasets that are not ``ready``. Personal values are stored as
masking tokens (``apps.privacy.masking``); the clear values live only in the privacy vault.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.models import OrganizationScopedModel
from apps.core.querysets import RestrictedQuerySet


class RecordKind(models.TextChoices):
    CUSTOMS_DECLARATION = "customs_declaration", _("Customs declarations")
    TAX_INVOICE = "tax_invoice", _("Tax invoices")
    REGISTRY_COMPANY = "registry_company", _("Registry companies")
    REGISTRY_PERSON = "registry_person", _("Registry persons")
    TELEGRAM_MESSAGE = "telegram_message", _("Telegram messages")
    DOCUMENT = "document", _("Documents")


class DatasetSource(models.TextChoices):
    UPLOAD = "upload", _("Web upload")
    API = "api", _("API")
    COMMAND = "command", _("Command line")
    CONNECTOR = "connector", _("Connector")


class DatasetStatus(models.TextChoices):
    NEEDS_MAPPING = "needs_mapping", _("Needs column mapping")
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Loading")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")


class DatasetStage(models.TextChoices):
    DETECT = "detect", _("Detecting format")
    PARSE = "parse", _("Parsing and validating")
    ARCHIVE = "archive", _("Archiving")
    LOAD = "load", _("Loading")
    HOOKS = "hooks", _("Resolving, indexing and scoring")
    DONE = "done", _("Done")


class ColumnMapping(OrganizationScopedModel):
    """An investigator's saved mapping of a file's headers to a record kind's fields, reused for the same headers."""

    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("record kind"), max_length=32, choices=RecordKind.choices)
    # Normalised source headers in file order; a file with the same headers gets this mapping offered.
    headers = models.JSONField(_("headers"))
    # {source header: field name}; unmapped headers are ignored.
    columns = models.JSONField(_("columns"))
    # How to read the mapped values (``apps.datasets.ingest.mapping.MappingOptions``): party codes that are
    # anonymised identifiers, fixed values of fields the file has no column for.
    options = models.JSONField(_("options"), default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("column mapping")
        verbose_name_plural = _("column mappings")
        constraints = [
            models.UniqueConstraint(fields=["organization", "kind", "name"], name="columnmapping_unique_name"),
        ]

    def __str__(self) -> str:
        return self.name


class Dataset(OrganizationScopedModel):
    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(_("record kind"), max_length=32, choices=RecordKind.choices)
    source = models.CharField(_("source"), max_length=16, choices=DatasetSource.choices)
    # The upload as received, kept until the dataset is loaded (a failed run retries from it), then deleted: it
    # holds personal data in clear, and the records, the Parquet archive and the PII vault hold what was loaded.
    file = models.FileField(_("file"), upload_to="datasets/%Y/%m/", max_length=500, blank=True)
    original_filename = models.CharField(_("original file name"), max_length=255)
    size_bytes = models.BigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    file_format = models.CharField(_("format"), max_length=16, blank=True)
    encoding = models.CharField(_("encoding"), max_length=32, blank=True)
    delimiter = models.CharField(_("delimiter"), max_length=4, blank=True)
    column_mapping = models.ForeignKey(
        ColumnMapping, on_delete=models.SET_NULL, null=True, blank=True, related_name="datasets"
    )
    # The mapping actually applied ({source header: field}), kept even if the saved mapping changes later.
    mapping_used = models.JSONField(_("mapping used"), default=dict, blank=True)
    # The options applied with it (``apps.datasets.ingest.mapping.MappingOptions``).
    mapping_options = models.JSONField(_("mapping options"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=DatasetStatus.choices, default=DatasetStatus.QUEUED, db_index=True
    )
    stage = models.CharField(_("stage"), max_length=16, choices=DatasetStage.choices, blank=True)
    rows_total = models.BigIntegerField(_("rows read"), default=0)
    rows_loaded = models.BigIntegerField(_("rows loaded"), default=0)
    rows_quarantined = models.BigIntegerField(_("rows quarantined"), default=0)
    # Counts per validation rule and field, shown on the dataset page.
    validation_report = models.JSONField(_("validation report"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    parquet_file = models.FileField(_("Parquet archive"), upload_to="datasets/parquet/", max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ready_at = models.DateTimeField(_("ready at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("dataset")
        verbose_name_plural = _("datasets")
        constraints = [
            # The same file is loaded once per organisation; a second upload points at the first dataset.
            models.UniqueConstraint(fields=["organization", "sha256"], name="dataset_unique_content"),
        ]

    def __str__(self) -> str:
        return self.name


class DatasetRun(models.Model):
    """One attempt to load a dataset: the run history on the dataset page."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="runs")
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=DatasetStatus.choices)
    error = models.TextField(_("error"), blank=True)
    # Timings per stage (seconds) and counts.
    stats = models.JSONField(_("statistics"), default=dict, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("dataset run")
        verbose_name_plural = _("dataset runs")

    def __str__(self) -> str:
        return f"{self.dataset} @ {self.started_at:%Y-%m-%d %H:%M}"


class QuarantinedRow(models.Model):
    """A row that failed validation, with the rule and the reason; never loaded, downloadable from the dataset page."""

    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="quarantined_rows")
    row_number = models.BigIntegerField(_("row"))
    rule = models.CharField(_("rule"), max_length=64)
    field = models.CharField(_("field"), max_length=64, blank=True)
    reason = models.TextField(_("reason"))
    # The raw row as read (PII masked), truncated to a safe length.
    raw = models.TextField(_("raw row"), blank=True)

    class Meta:
        ordering = ["dataset", "row_number"]
        verbose_name = _("quarantined row")
        verbose_name_plural = _("quarantined rows")
        indexes = [models.Index(fields=["dataset", "row_number"])]

    def __str__(self) -> str:
        return f"{self.dataset_id}:{self.row_number} {self.rule}"


class RecordQuerySet(RestrictedQuerySet):
    def restrict(self, user, action="view"):  # type: ignore[no-untyped-def]
        """Records of the user's organisation, and only of datasets that finished loading."""
        return super().restrict(user, action).filter(dataset__status=DatasetStatus.READY)


class RecordManager(models.Manager.from_queryset(RecordQuerySet)):  # type: ignore[misc]
    pass


class Record(models.Model):
    """A typed row of a dataset. Written by the loader with COPY; ``row_number`` is the line in the source file.

    The links to the dataset and the organisation carry no foreign-key constraint in PostgreSQL: rows are written
    only by the loader, in the transaction that holds the dataset's run lock, and a constraint would make
    PostgreSQL check both links of every row at commit (about 10 s of the 40 s a 600 MB file takes, see
    docs/performance.md). Deleting a dataset or an organisation still deletes its rows (Django's cascade).
    """

    organization_field = "organization"

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    row_number = models.BigIntegerField(_("row"))

    objects = RecordManager()

    class Meta:
        abstract = True


class CustomsDeclaration(Record):
    class Direction(models.TextChoices):
        IMPORT = "import", _("Import")
        EXPORT = "export", _("Export")

    declaration_number = models.CharField(_("declaration number"), max_length=64)
    declaration_date = models.DateField(_("date"))
    direction = models.CharField(_("direction"), max_length=8, choices=Direction.choices)
    customs_office_code = models.CharField(_("customs office code"), max_length=16, blank=True)
    customs_office = models.CharField(_("customs office"), max_length=255, blank=True)
    declarant_code = models.CharField(_("declarant code"), max_length=64, blank=True)
    declarant_name = models.CharField(_("declarant"), max_length=500, blank=True)
    trader_code = models.CharField(_("trader code"), max_length=64)
    trader_name = models.CharField(_("trader"), max_length=500, blank=True)
    counterparty_name = models.CharField(_("foreign counterparty"), max_length=500, blank=True)
    counterparty_country = models.CharField(_("counterparty country"), max_length=2, blank=True)
    origin_country = models.CharField(_("country of origin"), max_length=2, blank=True)
    departure_country = models.CharField(_("country of departure"), max_length=2, blank=True)
    goods_code = models.CharField(_("goods code"), max_length=10)
    goods_description = models.TextField(_("goods description"), blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=20, decimal_places=4, null=True)
    unit = models.CharField(_("unit"), max_length=32, blank=True)
    net_mass_kg = models.DecimalField(_("net mass, kg"), max_digits=20, decimal_places=4, null=True)
    gross_mass_kg = models.DecimalField(_("gross mass, kg"), max_digits=20, decimal_places=4, null=True)
    invoice_value = models.DecimalField(_("invoice value"), max_digits=20, decimal_places=2, null=True)
    invoice_currency = models.CharField(_("currency"), max_length=3, blank=True)
    customs_value_uah = models.DecimalField(_("customs value, UAH"), max_digits=20, decimal_places=2, null=True)
    duty_uah = models.DecimalField(_("duty, UAH"), max_digits=20, decimal_places=2, null=True)
    vat_uah = models.DecimalField(_("VAT, UAH"), max_digits=20, decimal_places=2, null=True)
    excise_uah = models.DecimalField(_("excise, UAH"), max_digits=20, decimal_places=2, null=True)
    transport_mode = models.CharField(_("transport mode"), max_length=64, blank=True)
    incoterms = models.CharField(_("incoterms"), max_length=8, blank=True)
    fraud_found = models.BooleanField(_("violation found"), null=True)
    additional_revenue_uah = models.DecimalField(
        _("additional revenue assessed, UAH"), max_digits=20, decimal_places=2, null=True
    )

    class Meta:
        verbose_name = _("customs declaration")
        verbose_name_plural = _("customs declarations")
        indexes = [
            models.Index(fields=["dataset"]),
            models.Index(fields=["organization", "declaration_date"]),
            models.Index(fields=["organization", "trader_code"]),
            models.Index(fields=["organization", "goods_code"]),
        ]

    def __str__(self) -> str:
        return self.declaration_number


class TaxInvoice(Record):
    registration_number = models.CharField(_("registration number"), max_length=64, blank=True)
    invoice_number = models.CharField(_("invoice number"), max_length=64)
    invoice_date = models.DateField(_("date"))
    seller_code = models.CharField(_("seller tax number"), max_length=64)
    seller_name = models.CharField(_("seller"), max_length=500, blank=True)
    buyer_code = models.CharField(_("buyer tax number"), max_length=64)
    buyer_name = models.CharField(_("buyer"), max_length=500, blank=True)
    goods_code = models.CharField(_("goods code"), max_length=10, blank=True)
    goods_description = models.TextField(_("goods description"), blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=20, decimal_places=4, null=True)
    unit = models.CharField(_("unit"), max_length=32, blank=True)
    amount_uah = models.DecimalField(_("amount without VAT, UAH"), max_digits=20, decimal_places=2)
    vat_rate = models.DecimalField(_("VAT rate, %"), max_digits=5, decimal_places=2, null=True)
    vat_uah = models.DecimalField(_("VAT, UAH"), max_digits=20, decimal_places=2, null=True)
    total_uah = models.DecimalField(_("amount with VAT, UAH"), max_digits=20, decimal_places=2, null=True)

    class Meta:
        verbose_name = _("tax invoice")
        verbose_name_plural = _("tax invoices")
        indexes = [
            models.Index(fields=["dataset"]),
            models.Index(fields=["organization", "seller_code"]),
            models.Index(fields=["organization", "buyer_code"]),
        ]

    def __str__(self) -> str:
        return self.invoice_number


class RegistryCompany(Record):
    code = models.CharField(_("code"), max_length=64)
    name = models.CharField(_("name"), max_length=1000)
    short_name = models.CharField(_("short name"), max_length=500, blank=True)
    legal_form = models.CharField(_("legal form"), max_length=255, blank=True)
    status = models.CharField(_("status"), max_length=255, blank=True)
    registration_date = models.DateField(_("registration date"), null=True)
    address = models.TextField(_("address"), blank=True)
    activity_codes = models.TextField(_("activity codes"), blank=True)
    authorized_capital_uah = models.DecimalField(
        _("authorised capital, UAH"), max_digits=20, decimal_places=2, null=True
    )
    # People are personal data: these hold masking tokens, separated by "; ".
    directors = models.TextField(_("directors"), blank=True)
    founders = models.TextField(_("founders"), blank=True)
    beneficial_owners = models.TextField(_("beneficial owners"), blank=True)

    class Meta:
        verbose_name = _("registry company")
        verbose_name_plural = _("registry companies")
        indexes = [models.Index(fields=["dataset"]), models.Index(fields=["organization", "code"])]

    def __str__(self) -> str:
        return self.name


class RegistryPerson(Record):
    record_number = models.CharField(_("record number"), max_length=64, blank=True)
    source_name = models.CharField(_("source"), max_length=255, blank=True)
    # Every field below is personal data and holds a masking token.
    full_name = models.CharField(_("full name"), max_length=64)
    birth_date = models.CharField(_("date of birth"), max_length=64, blank=True)
    tax_number = models.CharField(_("tax number"), max_length=64, blank=True)
    address = models.CharField(_("address"), max_length=64, blank=True)
    roles = models.TextField(_("roles"), blank=True)

    class Meta:
        verbose_name = _("registry person")
        verbose_name_plural = _("registry persons")
        indexes = [models.Index(fields=["dataset"]), models.Index(fields=["organization", "tax_number"])]

    def __str__(self) -> str:
        return self.full_name


class TelegramMessage(Record):
    channel = models.CharField(_("channel"), max_length=255)
    message_id = models.BigIntegerField(_("message id"))
    sent_at = models.DateTimeField(_("sent at"))
    author = models.CharField(_("author"), max_length=255, blank=True)
    text = models.TextField(_("text"), blank=True)
    forwarded_from = models.CharField(_("forwarded from"), max_length=255, blank=True)
    links = models.JSONField(_("links"), default=list)
    # Phones are personal data (tokens); company codes are public.
    phones = models.JSONField(_("phones"), default=list)
    codes = models.JSONField(_("company codes"), default=list)

    class Meta:
        verbose_name = _("Telegram message")
        verbose_name_plural = _("Telegram messages")
        indexes = [models.Index(fields=["dataset"]), models.Index(fields=["organization", "sent_at"])]

    def __str__(self) -> str:
        return f"{self.channel}#{self.message_id}"


class Document(Record):
    filename = models.CharField(_("file name"), max_length=500)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    page_count = models.PositiveIntegerField(_("pages"), null=True)
    text = models.TextField(_("text"), blank=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        indexes = [models.Index(fields=["dataset"]), models.Index(fields=["organization", "sha256"])]

    def __str__(self) -> str:
        return self.filename


RECORD_MODELS: dict[str, type[Record]] = {
    RecordKind.CUSTOMS_DECLARATION: CustomsDeclaration,
    RecordKind.TAX_INVOICE: TaxInvoice,
    RecordKind.REGISTRY_COMPANY: RegistryCompany,
    RecordKind.REGISTRY_PERSON: RegistryPerson,
    RecordKind.TELEGRAM_MESSAGE: TelegramMessage,
    RecordKind.DOCUMENT: Document,
}
