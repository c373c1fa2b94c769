"""The entity graph: who stands behind the records, how they are linked, and how each link was decided.

An ``Entity`` is a company, person, customs broker, bank account, phone, address or vehicle. Every record that
names one holds an ``EntityMention``; relationships are aggregated from mentions that share a record. Personal
values (a person's name, a РНОКПП, a phone) are masking tokens here as everywhere: an entity of a person is
named by the token of its most common spelling, and its matching keys are keyed hashes, never clear text.

Merging never deletes: the absorbed entity keeps its rows and points at the survivor (``merged_into``); mentions
move to the survivor and remember the entity they were first resolved to (``origin_entity``), so a split moves
exactly those back.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.core.models import OrganizationScopedModel, TimeStampedModel
from apps.datasets.models import RecordKind


class EntityKind(models.TextChoices):
    COMPANY = "company", _("Company")
    PERSON = "person", _("Person")
    BROKER = "broker", _("Customs broker")
    ACCOUNT = "account", _("Bank account")
    PHONE = "phone", _("Phone")
    ADDRESS = "address", _("Address")
    VEHICLE = "vehicle", _("Vessel or vehicle")


class IdentifierScheme(models.TextChoices):
    EDRPOU = "edrpou", _("ЄДРПОУ")
    RNOKPP = "rnokpp", _("РНОКПП (individual tax number)")
    IBAN = "iban", _("IBAN")
    PHONE = "phone", _("Phone (E.164)")
    IMO = "imo", _("IMO number")
    REGISTRATION = "registration", _("Vehicle registration")
    OTHER = "other", _("Other identifier")


class MentionRole(models.TextChoices):
    TRADER = "trader", _("Trader")
    DECLARANT = "declarant", _("Declarant")
    COUNTERPARTY = "counterparty", _("Foreign counterparty")
    SELLER = "seller", _("Seller")
    BUYER = "buyer", _("Buyer")
    COMPANY = "company", _("Registered company")
    DIRECTOR = "director", _("Director")
    FOUNDER = "founder", _("Founder")
    BENEFICIAL_OWNER = "beneficial_owner", _("Beneficial owner")
    PERSON = "person", _("Registered person")
    ADDRESS = "address", _("Address")
    AUTHOR = "author", _("Message author")
    MENTIONED = "mentioned", _("Mentioned")


class MatchMethod(models.TextChoices):
    IDENTIFIER = "identifier", _("Same identifier")
    NAME = "name", _("Same normalised name")
    FUZZY = "fuzzy", _("Similar name and details")
    REVIEW = "review", _("Confirmed in review")
    MANUAL = "manual", _("Merged by hand")
    NEW = "new", _("New entity")


class RelationshipKind(models.TextChoices):
    TRADES_WITH = "trades_with", _("trades with")
    DIRECTOR_OF = "director_of", _("director of")
    FOUNDER_OF = "founder_of", _("founder of")
    OWNER_OF = "owner_of", _("beneficial owner of")
    SHARES_ADDRESS = "shares_address", _("shares an address with")
    INVOICES = "invoices", pgettext_lazy("relationship", "invoices")
    BROKERED_FOR = "brokered_for", _("brokered for")
    MENTIONED_WITH = "mentioned_with", _("mentioned together with")
    LOCATED_AT = "located_at", _("registered at")


class ScorerKind(models.TextChoices):
    """The two match scorers: companies compare names and countries, people names, dates of birth, addresses."""

    COMPANY = "company", _("Companies")
    PERSON = "person", _("People")


class Entity(OrganizationScopedModel):
    kind = models.CharField(_("kind"), max_length=16, choices=EntityKind.choices)
    # The most common spelling; a masking token for personal kinds.
    name = models.CharField(_("name"), max_length=1000)
    country = models.CharField(_("country"), max_length=2, blank=True)
    is_pii = models.BooleanField(_("personal data"), default=False)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    merged_into = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="absorbed", verbose_name=_("merged into")
    )
    mention_count = models.PositiveIntegerField(_("records"), default=0)
    first_seen = models.DateField(_("first seen"), null=True, blank=True)
    last_seen = models.DateField(_("last seen"), null=True, blank=True)
    # Graph analytics (apps.entities.graph), refreshed by a Celery task.
    degree = models.PositiveIntegerField(_("degree"), default=0)
    betweenness = models.FloatField(_("betweenness"), default=0.0)
    pagerank = models.FloatField(_("PageRank"), default=0.0)
    community = models.IntegerField(_("community"), null=True, blank=True)

    class Meta:
        verbose_name = _("entity")
        verbose_name_plural = _("entities")
        ordering = ["-mention_count", "id"]
        indexes = [
            models.Index(fields=["organization", "kind", "-mention_count"]),
            models.Index(fields=["organization", "community"]),
        ]

    def __str__(self) -> str:
        return self.name


class EntityIdentifier(models.Model):
    """A strong identifier: two mentions with the same one are the same entity. Personal ones are tokens."""

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="identifiers")
    scheme = models.CharField(_("scheme"), max_length=16, choices=IdentifierScheme.choices)
    value = models.CharField(_("value"), max_length=64)
    is_valid = models.BooleanField(_("check digit valid"), default=True)

    class Meta:
        verbose_name = _("identifier")
        verbose_name_plural = _("identifiers")
        constraints = [
            models.UniqueConstraint(fields=["organization", "scheme", "value"], name="entities_identifier_unique"),
        ]
        indexes = [models.Index(fields=["entity"])]

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"


class EntityName(models.Model):
    """A spelling of an entity's name as the records write it.

    ``match_key`` is the normalised form that blocking (pg_trgm) and scoring compare; it is empty for personal
    names, which are blocked on ``block_keys`` (keyed hashes of their normalised parts) and compared only in
    memory, after the clear values are read from the privacy vault.
    """

    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="names")
    name = models.CharField(_("name"), max_length=1000)
    match_key = models.CharField(_("match key"), max_length=1000, blank=True)
    block_keys = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    mention_count = models.PositiveIntegerField(_("records"), default=0)

    class Meta:
        verbose_name = _("name")
        verbose_name_plural = _("names")
        constraints = [
            models.UniqueConstraint(fields=["entity", "name"], name="entities_name_unique"),
        ]
        indexes = [
            GinIndex(name="entities_name_key_trgm", fields=["match_key"], opclasses=["gin_trgm_ops"]),
            GinIndex(name="entities_name_block_keys", fields=["block_keys"]),
            models.Index(fields=["organization", "country"]),
        ]

    def __str__(self) -> str:
        return self.name


class EntityNameWord(models.Model):
    """One word of an entity's company-name keys (``EntityName.match_key``), for autocomplete: a typed prefix is
    one range of the ``(organization, word)`` index, not a scan of every spelling that contains it. Written with
    the names (``resolution.names_upsert``); ``mention_count`` is the records of the spellings that hold it."""

    # Both looked up through the two indexes below; no index of their own.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+", db_index=False)
    word = models.TextField(_("word"))
    mention_count = models.PositiveIntegerField(_("records"), default=0)

    class Meta:
        verbose_name = _("name word")
        verbose_name_plural = _("name words")
        constraints = [
            models.UniqueConstraint(fields=["entity", "word"], name="entities_nameword_unique"),
        ]
        indexes = [
            models.Index(
                fields=["organization", "word"],
                opclasses=["int8_ops", "text_pattern_ops"],
                include=["entity", "mention_count"],
                name="entities_nameword_prefix",
            ),
        ]

    def __str__(self) -> str:
        return self.word


class EntityMention(models.Model):
    """One party of one record. Written in bulk by the resolver; the links carry no database constraint for the
    same reason as the record tables' (Django still cascades), and no index of their own: every index costs
    the resolver a pass over a million mentions, so only the ones below exist."""

    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    dataset = models.ForeignKey(
        "datasets.Dataset", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    record_kind = models.CharField(_("record kind"), max_length=32, choices=RecordKind.choices)
    record_id = models.BigIntegerField(_("record"))
    role = models.CharField(_("role"), max_length=24, choices=MentionRole.choices)
    entity = models.ForeignKey(
        Entity, on_delete=models.CASCADE, related_name="mentions", db_constraint=False, db_index=False
    )
    origin_entity = models.ForeignKey(
        Entity,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
        verbose_name=_("first resolved to"),
    )
    name = models.CharField(_("name as written"), max_length=1000, blank=True)
    method = models.CharField(_("method"), max_length=16, choices=MatchMethod.choices)
    score = models.FloatField(_("score"), default=1.0)
    date = models.DateField(_("date"), null=True, blank=True)
    amount_uah = models.DecimalField(_("amount, UAH"), max_digits=20, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("mention")
        verbose_name_plural = _("mentions")
        indexes = [
            models.Index(fields=["entity", "date"]),
            # A split looks for the mentions a merge moved; the others (nearly all) stay out of the index.
            models.Index(
                fields=["origin_entity"], name="entities_mention_moved", condition=~Q(origin_entity=F("entity"))
            ),
            models.Index(fields=["record_kind", "record_id"]),
            models.Index(fields=["dataset"]),
        ]

    def __str__(self) -> str:
        return f"{self.record_kind}:{self.record_id} {self.role}"


class Relationship(models.Model):
    """A link between two entities, aggregated over the records that show it (mentions sharing a record)."""

    # No single-column indexes or constraints on the links: the unique constraint and the two (entity, kind)
    # indexes serve every lookup, and each extra index halves the speed of writing a million relationships.
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    kind = models.CharField(_("kind"), max_length=24, choices=RelationshipKind.choices)
    source = models.ForeignKey(
        Entity, on_delete=models.CASCADE, related_name="outgoing", db_constraint=False, db_index=False
    )
    target = models.ForeignKey(
        Entity, on_delete=models.CASCADE, related_name="incoming", db_constraint=False, db_index=False
    )
    first_date = models.DateField(_("from"), null=True, blank=True)
    last_date = models.DateField(_("to"), null=True, blank=True)
    record_count = models.PositiveIntegerField(_("records"), default=0)
    amount_uah = models.DecimalField(_("amount, UAH"), max_digits=22, decimal_places=2, null=True, blank=True)

    class Meta:
        verbose_name = _("relationship")
        verbose_name_plural = _("relationships")
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "kind", "source", "target"], name="entities_relationship_unique"
            ),
        ]
        indexes = [models.Index(fields=["source", "kind"]), models.Index(fields=["target", "kind"])]

    def __str__(self) -> str:
        return f"{self.source_id} {self.kind} {self.target_id}"


class MatchCandidate(OrganizationScopedModel):
    """A possible match below the automatic threshold, waiting for an investigator's decision."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for review")
        CONFIRMED = "confirmed", _("Confirmed: same entity")
        REJECTED = "rejected", _("Rejected: different entities")

    left = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(_("score"))
    kind = models.CharField(_("kind"), max_length=16, choices=ScorerKind.choices)
    # [{"field", "left", "right", "similarity", "weight", "contribution"}, …]: what agreed and what did not.
    explanation = models.JSONField(_("explanation"), default=list)
    features = models.JSONField(_("features"), default=dict)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("match candidate")
        verbose_name_plural = _("match candidates")
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["left", "right"], name="entities_candidate_unique_pair"),
            models.CheckConstraint(condition=models.Q(left__lt=models.F("right")), name="entities_candidate_ordered"),
        ]
        indexes = [models.Index(fields=["organization", "status", "-score"])]

    def __str__(self) -> str:
        return f"{self.left_id} ~ {self.right_id} ({self.score:.2f})"


class EntityMerge(OrganizationScopedModel):
    """One merge: ``absorbed`` was folded into ``survivor``; ``split_at`` is set when it was undone."""

    survivor = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    absorbed = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    method = models.CharField(_("method"), max_length=16, choices=MatchMethod.choices)
    score = models.FloatField(_("score"), null=True, blank=True)
    candidate = models.ForeignKey(MatchCandidate, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reason = models.TextField(_("reason"), blank=True)
    split_at = models.DateTimeField(_("split at"), null=True, blank=True)
    split_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    split_reason = models.TextField(_("split reason"), blank=True)

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.absorbed_id} → {self.survivor_id}"


class ScorerWeights(OrganizationScopedModel):
    """The match scorer's weights for one kind of party in an organisation, refitted from its review decisions."""

    kind = models.CharField(_("kind"), max_length=16, choices=ScorerKind.choices)
    weights = models.JSONField(_("weights"))
    intercept = models.FloatField(_("intercept"))
    decisions = models.PositiveIntegerField(_("decisions learned from"))
    metrics = models.JSONField(_("metrics"), default=dict, blank=True)

    class Meta:
        verbose_name = _("scorer weights")
        verbose_name_plural = _("scorer weights")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.kind} {self.created_at:%Y-%m-%d %H:%M}"


class GraphAnalysis(OrganizationScopedModel):
    """One run of the graph analytics: what was computed, over how much, and how long it took."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RUNNING)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    stats = models.JSONField(_("statistics"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("graph analysis")
        verbose_name_plural = _("graph analyses")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.created_at:%Y-%m-%d %H:%M} {self.status}"


class GraphCycle(OrganizationScopedModel):
    """A directed cycle of invoices (A → B → … → A): the signature of a VAT carousel."""

    analysis = models.ForeignKey(GraphAnalysis, on_delete=models.CASCADE, related_name="cycles")
    entity_ids = ArrayField(models.BigIntegerField(), verbose_name=_("entities in order"))
    length = models.PositiveSmallIntegerField(_("length"))
    amount_uah = models.DecimalField(_("amount, UAH"), max_digits=22, decimal_places=2, null=True, blank=True)
    record_count = models.PositiveIntegerField(_("invoices"), default=0)
    first_date = models.DateField(_("from"), null=True, blank=True)
    last_date = models.DateField(_("to"), null=True, blank=True)

    class Meta:
        verbose_name = _("invoice cycle")
        verbose_name_plural = _("invoice cycles")
        ordering = ["-amount_uah", "id"]
        indexes = [GinIndex(name="entities_cycle_entities", fields=["entity_ids"])]

    def __str__(self) -> str:
        return " → ".join(str(entity_id) for entity_id in self.entity_ids)


class Watchlist(OrganizationScopedModel):
    """A sanctions or watch list an organisation screens its entities against."""

    class Format(models.TextChoices):
        CSV = "csv", _("CSV")
        FTM = "ftm", _("FollowTheMoney JSON lines")

    name = models.CharField(_("name"), max_length=255)
    file_format = models.CharField(_("format"), max_length=8, choices=Format.choices)
    original_filename = models.CharField(_("original file name"), max_length=255, blank=True)
    entry_count = models.PositiveIntegerField(_("entries"), default=0)
    screened_at = models.DateTimeField(_("last screened"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("watchlist")
        verbose_name_plural = _("watchlists")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WatchlistEntry(models.Model):
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="entries")
    external_id = models.CharField(_("list id"), max_length=255, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=EntityKind.choices)
    name = models.CharField(_("name"), max_length=1000)
    aliases = ArrayField(models.CharField(max_length=1000), default=list, blank=True)
    match_keys = ArrayField(models.CharField(max_length=1000), default=list, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    identifiers = models.JSONField(_("identifiers"), default=dict, blank=True)
    birth_date = models.CharField(_("date of birth"), max_length=32, blank=True)
    reason = models.TextField(_("listed for"), blank=True)

    class Meta:
        verbose_name = _("watchlist entry")
        verbose_name_plural = _("watchlist entries")
        indexes = [models.Index(fields=["watchlist"])]

    def __str__(self) -> str:
        return self.name


class WatchlistHit(TimeStampedModel):
    organization = models.ForeignKey("accounts.Organization", on_delete=models.CASCADE, related_name="+")
    entry = models.ForeignKey(WatchlistEntry, on_delete=models.CASCADE, related_name="hits")
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="watchlist_hits")
    score = models.FloatField(_("score"))
    explanation = models.JSONField(_("explanation"), default=list)

    class Meta:
        verbose_name = _("watchlist hit")
        verbose_name_plural = _("watchlist hits")
        ordering = ["-score", "id"]
        constraints = [models.UniqueConstraint(fields=["entry", "entity"], name="entities_hit_unique")]

    def __str__(self) -> str:
        return f"{self.entry_id} ~ {self.entity_id}"
