"""Detectors over the entity graph and outside statistics: VAT carousels (invoice cycles found by the graph
analysis), import/export mirror mismatches (partner countries' figures), and watchlist hits."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from django.utils.translation import gettext_lazy as _

from apps.anomalies.detectors.base import (
    DetectionContext,
    Detector,
    Finding,
    FloatArray,
    Templates,
    factor,
    money,
    register,
)


@register
class VatCarouselDetector(Detector):
    """Every invoice cycle A → B → … → A of the organisation's latest graph analysis
    (``apps.entities.models.GraphCycle``), scored by how much money went round and how many invoices carried it."""

    name = "vat-carousel"
    label = _("VAT carousel (invoice cycle)")
    defaults = {"full_amount_uah": 5_000_000.0, "min_invoices": 3, "threshold": 0.3}

    def findings(self, context: DetectionContext, scores: FloatArray | None) -> list[Finding]:
        from apps.entities.models import Entity, GraphAnalysis, GraphCycle

        if context.organization_id is None:
            return []
        analysis = (
            GraphAnalysis.objects.filter(organization_id=context.organization_id, status=GraphAnalysis.Status.DONE)
            .order_by("-created_at")
            .first()
        )
        if analysis is None:
            return []
        cycles = list(GraphCycle.objects.filter(analysis=analysis, record_count__gte=int(self.params["min_invoices"])))
        names = dict(
            Entity.objects.filter(pk__in={pk for cycle in cycles for pk in cycle.entity_ids}).values_list("pk", "name")
        )
        texts = Templates(
            text=_(
                "Invoices go round a ring of %(length)s companies (%(ring)s) and back to the first: %(invoices)s "
                "invoices for %(amount)s UAH between %(first)s and %(last)s."
            ),
            title=_("VAT carousel: a ring of %(length)s companies, %(amount)s UAH"),
        )
        findings = []
        for cycle in cycles:
            amount = float(cycle.amount_uah or Decimal(0))
            score = min(1.0, 0.5 + 0.5 * min(amount / float(self.params["full_amount_uah"]), 1.0))
            if score < float(self.params["threshold"]):
                continue
            values = {
                "length": cycle.length,
                "ring": " → ".join(names.get(pk, str(pk)) for pk in [*cycle.entity_ids, cycle.entity_ids[0]]),
                "invoices": cycle.record_count,
                "amount": money(amount),
                "first": cycle.first_date.strftime("%d.%m.%Y") if cycle.first_date else "—",
                "last": cycle.last_date.strftime("%d.%m.%Y") if cycle.last_date else "—",
            }
            # The same ring found again by a later analysis is the same finding, whichever member it starts from.
            start = cycle.entity_ids.index(min(cycle.entity_ids))
            canonical = [*cycle.entity_ids[start:], *cycle.entity_ids[:start]]
            findings.append(
                Finding(
                    detector=self.name,
                    dedup_key=f"{self.name}:{'-'.join(str(pk) for pk in canonical)}",
                    score=round(score, 4),
                    title=texts.title("title", values),
                    explanation={
                        **texts.render("text", values),
                        "factors": [
                            factor("ring_length", cycle.length, 1, 0.0),
                            factor("amount_uah", round(amount, 2), float(self.params["full_amount_uah"]), score),
                            factor("invoices", cycle.record_count, int(self.params["min_invoices"]), 0.0),
                        ],
                    },
                    record_kind="tax_invoice",
                    entity_ids=list(cycle.entity_ids),
                    occurred_on=cycle.last_date,
                )
            )
        findings.sort(key=lambda finding: -finding.score)
        return findings[: int(self.params["max_findings"])]


@register
class MirrorMismatchDetector(Detector):
    """Ukraine's declared imports against the partner country's reported exports to Ukraine, per country of
    origin, HS6 subheading and month: a partner figure far above what was declared means goods arrived
    undeclared or under-declared. Reads the mirror statistics loaded for the organisation."""

    name = "mirror-mismatch"
    label = _("Import/export mirror mismatch")
    defaults = {"usd_uah": 40.0, "min_partner_usd": 50000.0, "min_ratio": 1.6, "full_ratio": 3.0, "threshold": 0.5}

    @staticmethod
    def country_numbers(country: pd.Series, countries: dict[str, int]) -> np.ndarray:
        return np.asarray(country.map(countries).fillna(-1).to_numpy(dtype=np.int64))

    @staticmethod
    def subheading_numbers(hs6: pd.Series) -> np.ndarray:
        return np.asarray(pd.to_numeric(hs6, errors="coerce").fillna(-1).to_numpy(dtype=np.int64))

    @staticmethod
    def cell_keys(country_code: np.ndarray, subheading: np.ndarray, month: np.ndarray) -> np.ndarray:
        """One integer per (country, HS6, month): cheap to group and look up on millions of rows."""
        return np.asarray((country_code * 1_000_000 + subheading) * 10_000 + month, dtype=np.int64)

    def cells(self, context: DetectionContext) -> tuple[pd.DataFrame, np.ndarray] | None:
        mirror = context.mirror
        columns = context.columns
        if mirror is None or not len(mirror):
            return None
        countries = {code: index for index, code in enumerate(sorted(set(mirror["country"])))}
        mirror_months = pd.to_datetime(mirror["month"] + "-01").to_numpy().astype("datetime64[M]").astype(np.int64)
        mirror_keys = self.cell_keys(
            self.country_numbers(mirror["country"], countries), self.subheading_numbers(mirror["hs6"]), mirror_months
        )
        # Per distinct origin and goods code, not per row.
        row_keys = self.cell_keys(
            columns.mapped("origin_country", lambda values: self.country_numbers(values, countries)),
            columns.per_value("goods_code", "hs6", lambda values: self.subheading_numbers(values.str.slice(0, 6))),
            columns.months(),
        )
        imports = columns.is_import()
        usd = columns.floats("customs_value_uah") / float(self.params["usd_uah"])
        declared = pd.Series(np.nan_to_num(usd[imports]), index=row_keys[imports]).groupby(level=0).sum()
        cells = (
            mirror.assign(key=mirror_keys)
            .groupby("key")
            .agg(
                country=("country", "first"),
                hs6=("hs6", "first"),
                month=("month", "first"),
                partner_usd=("partner_usd", "sum"),
            )
        )
        cells["declared_usd"] = declared.reindex(cells.index).fillna(0.0).to_numpy()
        cells["ratio"] = cells["partner_usd"] / cells["declared_usd"].clip(lower=1.0)
        low, full = float(self.params["min_ratio"]), float(self.params["full_ratio"])
        cells["score"] = np.where(
            (cells["partner_usd"] >= float(self.params["min_partner_usd"])) & (cells["ratio"] >= low),
            np.clip(0.5 + 0.5 * (cells["ratio"] - low) / max(full - low, 1e-9), 0.0, 1.0),
            0.0,
        )
        return cells, np.where(imports, row_keys, -1)

    def score(self, context: DetectionContext) -> FloatArray | None:
        computed = self.cells(context)
        self._computed = computed
        if computed is None:
            return np.zeros(len(context.frame))
        cells, row_keys = computed
        position = cells.index.get_indexer(row_keys)
        return np.where(position >= 0, cells["score"].to_numpy()[position], 0.0)

    def findings(self, context: DetectionContext, scores: FloatArray | None) -> list[Finding]:
        computed = getattr(self, "_computed", None)
        if computed is None:
            return []
        cells, row_keys = computed
        flagged = cells[cells["score"] >= float(self.params["threshold"])].sort_values("score", ascending=False)
        frame = context.frame
        in_scope = context.in_scope()
        texts = Templates(
            text=_(
                "%(country)s reports %(partner)s USD of exports to Ukraine of HS %(hs6)s in %(month)s; Ukrainian "
                "declarations of goods from %(country)s show %(declared)s USD, %(ratio)s times less."
            ),
            title=_("Mirror mismatch: HS %(hs6)s from %(country)s in %(month)s, %(ratio)s×"),
        )
        members_of = pd.Series(np.arange(len(frame))).groupby(row_keys).agg(list)
        findings = []
        for key, cell in flagged.head(int(self.params["max_findings"])).iterrows():
            members = np.asarray(members_of.get(key, []), dtype=np.int64)
            if len(members) and not in_scope[members].any():
                continue
            values = {
                "country": cell["country"],
                "hs6": cell["hs6"],
                "month": cell["month"],
                "partner": money(float(cell["partner_usd"])),
                "declared": money(float(cell["declared_usd"])),
                "ratio": f"{cell['ratio']:.1f}",
            }
            findings.append(
                Finding(
                    detector=self.name,
                    dedup_key=f"{self.name}:{cell['country']}:{cell['hs6']}:{cell['month']}",
                    score=round(float(cell["score"]), 4),
                    title=texts.title("title", values),
                    explanation={
                        **texts.render("text", values),
                        "factors": [
                            factor(
                                "declared_usd",
                                round(float(cell["declared_usd"]), 2),
                                round(float(cell["partner_usd"]), 2),
                                float(cell["score"]),
                            )
                        ],
                    },
                    record_ids=[int(frame["id"].iat[member]) for member in members[:100]],
                    goods_chapter=str(cell["hs6"])[:2],
                    country=str(cell["country"]),
                    occurred_on=pd.Timestamp(f"{cell['month']}-01").date(),
                )
            )
        return findings


@register
class WatchlistDetector(Detector):
    """Declarations of traders on a watchlist. The hits themselves are raised as anomalies by the screening
    (``apps.entities.watchlists``) as soon as a list is loaded; here they become a score of every declaration of
    the listed trader, for the risk model and the what-if simulator."""

    name = "watchlist"
    label = _("Watchlist hits")
    threaded = False

    def score(self, context: DetectionContext) -> FloatArray:
        from apps.entities.models import EntityIdentifier, WatchlistHit

        frame = context.frame
        if context.organization_id is None:
            return np.zeros(len(frame))
        best: dict[int, float] = {}
        for entity_id, score in WatchlistHit.objects.filter(
            entity__organization_id=context.organization_id
        ).values_list("entity_id", "score"):
            best[entity_id] = max(score, best.get(entity_id, 0.0))
        if not best:
            return np.zeros(len(frame))
        code_scores: dict[str, float] = {}
        for entity_id, value in EntityIdentifier.objects.filter(entity_id__in=best).values_list("entity_id", "value"):
            code_scores[value] = max(best[entity_id], code_scores.get(value, 0.0))
        scores = frame["trader_code"].map(code_scores).to_numpy(dtype=np.float64, na_value=0.0)
        return np.nan_to_num(scores)

    def findings(self, context: DetectionContext, scores: FloatArray | None) -> list[Finding]:
        """The screening raised each hit already, once per list entry and entity."""
        return []
