"""Detectors that score every customs declaration: unit value against peers, split shipments, goods-code text,
isolation forest, and shell-company signals of the trader. All work on whole columns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
from django.utils.translation import gettext_lazy as _

# Imported here, not inside the detectors: the engine scores them on threads, and two threads importing
# scikit-learn for the first time at once can see it half-initialised (ImportError).
from sklearn.ensemble import IsolationForest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import RidgeClassifier

from apps.anomalies.columns import FrameColumns, chunked_rows
from apps.anomalies.detectors.base import (
    DetectionContext,
    Detector,
    Finding,
    FloatArray,
    Templates,
    factor,
    money,
    per_language,
    register,
)

# Scale that makes the median absolute deviation an estimate of the standard deviation of a normal sample.
MAD_TO_SIGMA = 1.4826


def _logistic(values: FloatArray, midpoint: float, scale: float) -> FloatArray:
    return np.asarray(1.0 / (1.0 + np.exp(-(values - midpoint) / scale)), dtype=np.float64)


def unit_basis(columns: FrameColumns) -> FloatArray:
    """Net mass where declared, else the quantity: value per kg, or per unit for goods counted in pieces."""
    mass = columns.floats("net_mass_kg")
    quantity = columns.floats("quantity")
    return np.where(mass > 0, mass, np.where(quantity > 0, quantity, np.nan))


@register
class UnitValueDetector(Detector):
    """Robust z-score of the log customs value per kg (or unit) within goods code, origin and month.

    Small peer groups fall back to goods code and month, then goods code alone. The median and the median absolute
    deviation ignore the outliers they are looking for, unlike a mean and a standard deviation.
    """

    name = "unit-value"
    label = _("Unit value far below peers")
    defaults = {"min_peers": 8, "z_midpoint": 3.5, "z_scale": 0.6, "mad_floor": 0.1, "threshold": 0.5}

    def statistics(self, context: DetectionContext) -> dict[str, FloatArray]:
        frame, columns = context.frame, context.columns
        value = columns.floats("customs_value_uah")
        basis = unit_basis(columns)
        valid = columns.is_import() & (value > 0) & (basis > 0)
        log_value = np.full(len(frame), np.nan)
        log_value[valid] = np.log(value[valid] / basis[valid])
        keys = pd.DataFrame(
            {
                "goods": columns.codes("goods_code"),
                "origin": columns.codes("origin_country"),
                "month": columns.months(),
                "x": log_value,
            }
        )
        median = np.full(len(frame), np.nan)
        spread = np.full(len(frame), np.nan)
        count = np.zeros(len(frame))
        for levels in (["goods", "origin", "month"], ["goods", "month"], ["goods"]):
            grouped = keys.groupby(levels, sort=False)["x"]
            level_median = grouped.transform("median").to_numpy()
            level_count = grouped.transform("count").to_numpy()
            deviation = np.abs(log_value - level_median)
            level_spread = keys.assign(x=deviation).groupby(levels, sort=False)["x"].transform("median").to_numpy()
            take = np.isnan(median) & (level_count >= int(self.params["min_peers"]))
            median[take] = level_median[take]
            spread[take] = level_spread[take]
            count[take] = level_count[take]
        sigma = np.maximum(spread * MAD_TO_SIGMA, float(self.params["mad_floor"]))
        z = (log_value - median) / sigma
        return {"log_value": log_value, "median": median, "z": z, "count": count}

    def score(self, context: DetectionContext) -> FloatArray:
        stats = self.statistics(context)
        self._stats = stats
        below = -stats["z"]
        scores = _logistic(below, float(self.params["z_midpoint"]), float(self.params["z_scale"]))
        return np.nan_to_num(scores, nan=0.0)

    def explain(self, context: DetectionContext, positions: npt.NDArray[np.int64], scores: FloatArray) -> list[Finding]:
        stats = self._stats
        frame = context.frame
        texts = Templates(
            text=_(
                "Customs value of %(value)s UAH per kg or unit is %(percent)s%% below the median of %(peer)s UAH "
                "among %(count)s declarations of goods %(code)s from %(origin)s in %(month)s (robust z-score "
                "%(z)s)."
            ),
            title=_("Unit value %(percent)s%% below peers: goods %(code)s from %(origin)s"),
        )
        findings = []
        for position in positions:
            unit_value = float(np.exp(stats["log_value"][position]))
            peer = float(np.exp(stats["median"][position]))
            row = frame.iloc[position]
            values = {
                "value": money(unit_value),
                "peer": money(peer),
                "percent": round(100 * (1 - unit_value / peer)),
                "count": int(stats["count"][position]),
                "code": row["goods_code"],
                "origin": row["origin_country"] or "—",
                "month": row["declaration_date"].strftime("%Y-%m"),
                "z": f"{stats['z'][position]:.1f}",
            }
            findings.append(
                self.row_finding(
                    context,
                    int(position),
                    scores[position],
                    title=texts.title("title", values),
                    explanation={
                        **texts.render("text", values),
                        "factors": [
                            factor("unit_value_uah", round(unit_value, 2), round(peer, 2), scores[position]),
                            factor("robust_z", round(float(stats["z"][position]), 2), 0.0, scores[position]),
                        ],
                    },
                )
            )
        return findings


@register
class SplitShipmentDetector(Detector):
    """Several consignments of one trader, goods code, partner country, post and day, each just under the limit
    of simplified postal formalities, together above it."""

    name = "split-shipment"
    label = _("Split shipments under the threshold")
    defaults = {"threshold_eur": 150.0, "eur_uah": 45.0, "near_share": 0.7, "min_parts": 3, "threshold": 0.6}

    def groups(self, context: DetectionContext) -> tuple[npt.NDArray[np.int64], FloatArray, npt.NDArray[np.bool_]]:
        columns = context.columns
        limit = float(self.params["threshold_eur"])
        invoice = columns.floats("invoice_value")
        customs = columns.floats("customs_value_uah")
        euro = columns.equals("invoice_currency", "EUR")
        value_eur = np.where(euro, invoice, customs / float(self.params["eur_uah"]))
        near = columns.is_import() & (value_eur < limit) & (value_eur >= limit * float(self.params["near_share"]))
        keys = pd.DataFrame(
            {
                "trader": columns.codes("trader_code"),
                "goods": columns.codes("goods_code"),
                "country": columns.codes("counterparty_country"),
                "office": columns.codes("customs_office_code"),
                "day": columns.days(),
                "value": np.where(near, value_eur, 0.0),
                "near": near.astype(np.int64),
            }
        )
        group = keys.groupby(["trader", "goods", "country", "office", "day"], sort=False).ngroup().to_numpy()
        parts = np.bincount(group, weights=keys["near"].to_numpy()).astype(np.int64)[group]
        total = np.bincount(group, weights=keys["value"].to_numpy())[group]
        self._group, self._value_eur = group, value_eur
        return parts, total, near

    def score(self, context: DetectionContext) -> FloatArray:
        parts, total, near = self.groups(context)
        self._parts, self._total, self._near = parts, total, near
        min_parts = int(self.params["min_parts"])
        split = near & (parts >= min_parts) & (total > float(self.params["threshold_eur"]))
        # Three parts are a strong sign, every further part makes it stronger.
        return np.where(split, np.minimum(1.0, 0.7 + 0.1 * (parts - min_parts)), 0.0)

    def findings(self, context: DetectionContext, scores: FloatArray | None) -> list[Finding]:
        """One finding per group of parts, not one per part."""
        if scores is None:
            return []
        flagged = np.flatnonzero(context.in_scope() & (scores >= float(self.params["threshold"])))
        if not len(flagged):
            return []
        groups = pd.Series(flagged).groupby(self._group[flagged]).agg(list)
        order = np.argsort(-scores[[members[0] for members in groups]], kind="stable")
        texts = Templates(
            text=_(
                "%(parts)s consignments of goods %(code)s from %(country)s by the same trader on %(date)s at post "
                "%(office)s, each under the %(limit)s EUR limit, together %(total)s EUR."
            ),
            title=_("Split shipment: %(parts)s parts under %(limit)s EUR, goods %(code)s"),
        )
        frame = context.frame
        findings = []
        for index in order[: int(self.params["max_findings"])]:
            members = groups.iloc[int(index)]
            first = members[0]
            row = frame.iloc[first]
            values = {
                "parts": int(self._parts[first]),
                "code": row["goods_code"],
                "country": row["counterparty_country"] or "—",
                "date": row["declaration_date"].strftime("%d.%m.%Y"),
                "office": row["customs_office_code"] or "—",
                "limit": money(float(self.params["threshold_eur"])),
                "total": money(float(self._total[first])),
            }
            finding = self.row_finding(
                context,
                int(first),
                scores[first],
                title=texts.title("title", values),
                explanation={
                    **texts.render("text", values),
                    "factors": [
                        factor("parts", int(self._parts[first]), 1, scores[first]),
                        factor(
                            "total_eur",
                            round(float(self._total[first]), 2),
                            float(self.params["threshold_eur"]),
                            scores[first],
                        ),
                    ],
                },
            )
            finding.record_ids = [int(frame["id"].iat[member]) for member in members]
            finding.dedup_key = f"{self.name}:{min(finding.record_ids)}"
            findings.append(finding)
        return findings


def _distinct(
    columns: FrameColumns, column: str, function: Callable[[pd.Series], pd.Series]
) -> tuple[npt.NDArray[np.int64], pd.Series]:
    """``function`` of a text column as (per row, a number of its distinct result, -1 if missing; the results)."""
    codes, uniques = columns.factorized(column)
    results = function(pd.Series(uniques, dtype=columns.frame[column].dtype))
    result_codes, result_values = pd.factorize(results, use_na_sentinel=True)
    per_row = np.where(codes >= 0, np.asarray(result_codes, dtype=np.int64).take(codes), -1)
    return per_row, pd.Series(result_values, dtype=results.dtype)


@register
class GoodsCodeTextDetector(Detector):
    """Goods description against the declared code: a TF-IDF + linear classifier learns from the organisation's
    own declarations which HS subheading each wording is declared under; a declaration whose code the wording
    hardly ever goes with is suspect (vodka described, vinegar declared)."""

    name = "goods-code-text"
    label = _("Goods code does not match the description")
    defaults = {
        "wordings_per_code": 8,
        "max_features": 30000,
        "alpha": 0.3,
        "temperature": 0.07,
        "min_rows": 200,
        "threshold": 0.8,
    }

    def score(self, context: DetectionContext) -> FloatArray:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        frame = context.frame
        scores = np.zeros(len(frame))
        # Each distinct wording (lower-cased) and HS6 subheading is classified once, however many rows carry it.
        description, texts = _distinct(context.columns, "goods_description", lambda values: values.str.lower())
        subheading, codes = _distinct(context.columns, "goods_code", lambda values: values.str.slice(0, 6))
        usable = (description >= 0) & (subheading >= 0)
        usable[usable] &= (texts.str.len().to_numpy()[description[usable]] > 0) & (
            codes.str.len().to_numpy()[subheading[usable]] == 6
        )
        if usable.sum() < int(self.params["min_rows"]):
            return scores
        # Numbered by first appearance among the usable rows, as factorising those rows' values would.
        text_index, text_order = pd.factorize(description[usable])
        code_index, code_order = pd.factorize(subheading[usable])
        texts, codes = texts.iloc[text_order].reset_index(drop=True), codes.iloc[code_order].reset_index(drop=True)
        pairs = pd.DataFrame({"text": text_index, "code": code_index})
        counted = pairs.value_counts().reset_index(name="rows")
        # The majority code of a wording is what it is trained on.
        majority = counted.drop_duplicates("text", keep="first")
        if majority["code"].nunique() < 2:
            return scores
        # A few of the most common wordings per code teach the classifier as much as all of them, at a fraction of
        # the time (the cost is per class and sample).
        majority = majority.groupby("code", sort=False).head(int(self.params["wordings_per_code"]))
        vectorizer = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 4), sublinear_tf=True, max_features=int(self.params["max_features"])
        )
        text_values = np.asarray(texts, dtype=object)
        code_values = np.asarray(codes, dtype=object)
        train = vectorizer.fit_transform(text_values[majority["text"].to_numpy()])
        # A ridge classifier solved in closed form (one Cholesky factorisation for every code at once) ranks as well
        # as stochastic gradient descent here and fits five times faster; a softmax turns its margins into shares.
        classifier = RidgeClassifier(alpha=float(self.params["alpha"]), solver="cholesky", fit_intercept=False)
        with threadpool_limits(limits=1):
            classifier.fit(
                train,
                code_values[majority["code"].to_numpy()],
                sample_weight=np.sqrt(majority["rows"].to_numpy()),
            )
            margins = classifier.decision_function(vectorizer.transform(text_values))
        if margins.ndim == 1:
            margins = np.column_stack([-margins, margins])
        exponent = np.exp((margins - margins.max(axis=1, keepdims=True)) / float(self.params["temperature"]))
        probability = exponent / exponent.sum(axis=1, keepdims=True)
        classes = {code: index for index, code in enumerate(classifier.classes_)}
        class_of_code = np.array([classes.get(code, -1) for code in code_values], dtype=np.int64)
        declared = class_of_code[code_index]
        inverse = text_index
        known = declared >= 0
        declared_probability = np.where(known, probability[inverse, np.maximum(declared, 0)], 1.0)
        best = probability.argmax(axis=1)
        usable_positions = np.flatnonzero(usable)
        scores[usable_positions] = np.clip(1.0 - declared_probability, 0.0, 1.0)
        self._declared_probability = np.full(len(frame), np.nan)
        self._declared_probability[usable_positions] = declared_probability
        self._best_code = np.full(len(frame), "", dtype=object)
        self._best_code[usable_positions] = classifier.classes_[best[inverse]]
        self._best_probability = np.full(len(frame), np.nan)
        self._best_probability[usable_positions] = probability[inverse, best[inverse]]
        return scores

    def explain(self, context: DetectionContext, positions: npt.NDArray[np.int64], scores: FloatArray) -> list[Finding]:
        texts = Templates(
            text=_(
                "The description “%(description)s” is declared under %(declared)s, but the organisation's "
                "declarations with this wording go under %(expected)s (%(expected_share)s%% likely) and only "
                "%(declared_share)s%% likely under the declared code."
            ),
            title=_("Goods code %(declared)s does not match the description (expected %(expected)s)"),
        )
        frame = context.frame
        findings = []
        for position in positions:
            row = frame.iloc[position]
            values = {
                "description": str(row["goods_description"])[:200],
                "declared": row["goods_code"],
                "expected": self._best_code[position],
                "expected_share": round(100 * float(self._best_probability[position])),
                "declared_share": round(100 * float(self._declared_probability[position])),
            }
            findings.append(
                self.row_finding(
                    context,
                    int(position),
                    scores[position],
                    title=texts.title("title", values),
                    explanation={
                        **texts.render("text", values),
                        "factors": [
                            factor(
                                "declared_code_probability",
                                round(float(self._declared_probability[position]), 3),
                                round(float(self._best_probability[position]), 3),
                                scores[position],
                            )
                        ],
                    },
                )
            )
        return findings


ISOLATION_FEATURES = ("log_value", "log_mass", "log_unit_value", "duty_rate", "vat_rate", "excise_rate")


def isolation_features(columns: FrameColumns) -> pd.DataFrame:
    value = columns.floats("customs_value_uah")
    mass = unit_basis(columns)
    safe_value = np.where(value > 0, value, np.nan)
    features = pd.DataFrame(
        {
            "log_value": np.log1p(np.nan_to_num(value, nan=0.0).clip(0)),
            "log_mass": np.log1p(np.nan_to_num(mass, nan=0.0).clip(0)),
            "log_unit_value": np.nan_to_num(np.log(safe_value / mass), nan=0.0),
            "duty_rate": np.nan_to_num(columns.floats("duty_uah") / safe_value),
            "vat_rate": np.nan_to_num(columns.floats("vat_uah") / safe_value),
            "excise_rate": np.nan_to_num(columns.floats("excise_uah") / safe_value),
        }
    )
    # A unit value only means something next to the same goods: centre it on the goods code's median.
    goods = columns.codes("goods_code")
    features["log_unit_value"] -= features.groupby(goods)["log_unit_value"].transform("median").to_numpy()
    return features


FEATURE_LABELS = {
    "log_value": _("customs value"),
    "log_mass": _("net mass"),
    "log_unit_value": _("unit value against the goods' median"),
    "duty_rate": _("duty as a share of the value"),
    "vat_rate": _("VAT as a share of the value"),
    "excise_rate": _("excise as a share of the value"),
}


@register
class IsolationForestDetector(Detector):
    """Unsupervised outliers over value, mass, unit value and tax rates (scikit-learn's IsolationForest).

    Each finding says how much each feature contributes: over the trees, the splits on that feature along the
    row's path, each weighing one over the path's length (a row isolated in few splits is isolated by them), less
    the same for a typical row (the medians).
    """

    name = "isolation-forest"
    label = _("Unusual declaration (isolation forest)")
    defaults = {"trees": 40, "sample_rows": 100000, "threshold": 0.7, "seed": 0}

    def score(self, context: DetectionContext) -> FloatArray:
        frame = context.frame
        if len(frame) < 50:
            return np.zeros(len(frame))
        features = isolation_features(context.columns).to_numpy(dtype=np.float32)
        rng = np.random.default_rng(int(self.params["seed"]))
        sample = features[rng.choice(len(features), min(len(features), int(self.params["sample_rows"])), False)]
        forest = IsolationForest(n_estimators=int(self.params["trees"]), random_state=int(self.params["seed"]))
        forest.fit(sample)
        self._forest, self._features = forest, features
        self._medians = np.median(sample, axis=0)
        # Scoring walks every row down every tree: compiled code without the GIL, so slices of rows go in parallel.
        return np.asarray(-chunked_rows(forest.score_samples, features, context.threads()), dtype=np.float64)

    def path_shares(self, rows: npt.NDArray[np.float32]) -> FloatArray:
        """Per row and feature: the average over trees of the share of the row's path that splits on it."""
        shares = np.zeros((len(rows), rows.shape[1]))
        for tree, features in zip(self._forest.estimators_, self._forest.estimators_features_, strict=True):
            paths = tree.decision_path(rows[:, features]).tocsr()
            split_feature = tree.tree_.feature
            lengths = np.diff(paths.indptr)
            for index in range(len(rows)):
                nodes = paths.indices[paths.indptr[index] : paths.indptr[index + 1]]
                used = split_feature[nodes]
                used = used[used >= 0]
                np.add.at(shares[index], features[used], 1.0 / max(int(lengths[index]), 1))
        return shares / len(self._forest.estimators_)

    def explain(self, context: DetectionContext, positions: npt.NDArray[np.int64], scores: FloatArray) -> list[Finding]:
        if not len(positions):
            return []
        rows = self._features[positions]
        contributions = self.path_shares(rows) - self.path_shares(self._medians[np.newaxis, :].astype(np.float32))
        texts = Templates(
            text=_(
                "This declaration is unlike the others (anomaly score %(score)s); what sets it apart most: %(top)s."
            ),
            title=_("Unusual declaration: goods %(code)s, anomaly score %(score)s"),
        )
        labels = per_language(FEATURE_LABELS)
        findings = []
        for index, position in enumerate(positions):
            order = np.argsort(-contributions[index])
            top = [ISOLATION_FEATURES[column] for column in order[:3] if contributions[index, column] > 0]
            values: dict[str, Any] = {
                "score": f"{scores[position]:.2f}",
                "code": context.frame["goods_code"].iat[position],
            }
            rendered = {}
            for language in ("en", "uk"):
                top_text = (
                    ", ".join(
                        f"{labels[language][name]} ({contributions[index, ISOLATION_FEATURES.index(name)]:+.3f})"
                        for name in top
                    )
                    or "—"
                )
                rendered[language] = texts.render("text", {**values, "top": top_text})[language]
            findings.append(
                self.row_finding(
                    context,
                    int(position),
                    scores[position],
                    title=texts.title("title", values),
                    explanation={
                        **rendered,
                        "factors": [
                            factor(
                                name,
                                round(float(rows[index, column]), 4),
                                round(float(self._medians[column]), 4),
                                contributions[index, column],
                            )
                            for column, name in enumerate(ISOLATION_FEATURES)
                        ],
                    },
                )
            )
        return findings


def _address_building(addresses: pd.Series) -> pd.Series:
    """The building of an address: the office or flat number dropped (mass registration addresses differ there)."""
    return (
        addresses.str.lower()
        .str.replace(r"[,\s]*(офіс|оф\.|кв\.|квартира|кімната|прим\.|приміщення)\s*[\w/-]+\s*$", "", regex=True)
        .str.strip()
    )


@register
class ShellCompanyDetector(Detector):
    """Signals of a shell importer: registered shortly before trading, trading far faster than ordinary traders,
    minimal capital, a mass registration address, a director who directs many companies. Needs the company
    register to be loaded; every declaration of the trader gets the trader's score."""

    name = "shell-company"
    label = _("Shell-company signals")
    defaults = {
        "fresh_days": 180,
        "volume_quantile": 0.8,
        "low_capital_uah": 10000.0,
        "mass_address_companies": 5,
        "shared_director_companies": 3,
        "threshold": 0.6,
        "max_records": 100,
    }
    WEIGHTS = {"fresh": 0.3, "volume": 0.2, "capital": 0.1, "mass_address": 0.2, "shared_director": 0.2}

    def prepare(self, context: DetectionContext) -> None:
        context.registry  # noqa: B018 - read from the database here, not in a scoring thread

    def trader_signals(self, context: DetectionContext) -> pd.DataFrame:
        frame, columns = context.frame, context.columns
        trader, codes = columns.factorized("trader_code")
        imports = columns.is_import() & (trader >= 0)
        traders = (
            pd.DataFrame({"trader": trader[imports], "date": frame["declaration_date"].to_numpy()[imports]})
            .groupby("trader", sort=False)["date"]
            .agg(first="min", last="max", rows="size")
        )
        traders.index = pd.Index(codes.take(traders.index.to_numpy()), name="trader_code")
        span = (traders["last"] - traders["first"]).dt.days.clip(lower=0) + 30
        traders["rate"] = traders["rows"] / span
        cut = traders["rate"].quantile(float(self.params["volume_quantile"])) if len(traders) else 0.0
        traders["volume"] = traders["rate"] >= cut
        registry = context.registry
        traders["fresh"] = False
        traders["capital"] = False
        traders["mass_address"] = False
        traders["shared_director"] = False
        traders["age_days"] = np.nan
        traders["address_companies"] = 0
        traders["director_companies"] = 0
        if registry is not None and len(registry):
            building = _address_building(registry["address"])
            address_count = building.map(building[building != ""].value_counts()).fillna(0)
            directors = registry["directors"].str.split(";").str[0].str.strip().str.lower()
            director_count = directors.map(directors[directors != ""].value_counts()).fillna(0)
            info = pd.DataFrame(
                {
                    "registered": registry["registration_date"].to_numpy(),
                    "capital_uah": registry["authorized_capital_uah"].to_numpy(),
                    "address_companies": address_count.to_numpy(),
                    "director_companies": director_count.to_numpy(),
                },
                index=registry["code"].to_numpy(),
            )
            joined = info.reindex(traders.index)
            traders["age_days"] = (traders["first"] - joined["registered"]).dt.days
            traders["fresh"] = (traders["age_days"] >= 0) & (traders["age_days"] <= int(self.params["fresh_days"]))
            traders["capital"] = joined["capital_uah"] < float(self.params["low_capital_uah"])
            traders["address_companies"] = joined["address_companies"].fillna(0).astype(int)
            traders["director_companies"] = joined["director_companies"].fillna(0).astype(int)
            traders["mass_address"] = traders["address_companies"] >= int(self.params["mass_address_companies"])
            traders["shared_director"] = traders["director_companies"] >= int(self.params["shared_director_companies"])
        traders["score"] = sum(traders[name].astype(float) * weight for name, weight in self.WEIGHTS.items())
        # Without a register nothing but volume is known: not enough to call anyone a shell.
        if registry is None or not len(registry):
            traders["score"] = 0.0
        return traders

    def score(self, context: DetectionContext) -> FloatArray:
        self._traders = traders = self.trader_signals(context)
        trader, codes = context.columns.factorized("trader_code")
        # A trader's score per distinct code, the last entry for rows without one.
        per_code = np.zeros(len(codes) + 1)
        per_code[codes.get_indexer(traders.index)] = np.nan_to_num(traders["score"].to_numpy(dtype=np.float64))
        return np.where(context.columns.is_import(), per_code.take(trader), 0.0)

    def findings(self, context: DetectionContext, scores: FloatArray | None) -> list[Finding]:
        if scores is None:
            return []
        frame = context.frame
        flagged = context.in_scope() & (scores >= float(self.params["threshold"]))
        if not flagged.any():
            return []
        traders = self._traders
        texts = Templates(
            text=_(
                "Trader %(trader)s shows shell-company signals: %(signals)s. It filed %(rows)s import declarations "
                "between %(first)s and %(last)s."
            ),
            title=_("Shell-company signals: trader %(trader)s"),
            fresh=_("registered %(days)s days before its first declaration"),
            volume=_("trades faster than %(share)s%% of importers (%(rate)s declarations a day)"),
            capital=_("authorised capital under %(capital)s UAH"),
            mass_address=_("its building is the registered address of %(count)s companies"),
            shared_director=_("its director directs %(count)s companies"),
        )
        positions = pd.Series(np.flatnonzero(flagged)).groupby(frame["trader_code"].to_numpy()[flagged]).agg(list)
        ranked = sorted(positions.index, key=lambda code: -float(traders.at[code, "score"]))
        findings = []
        for code in ranked[: int(self.params["max_findings"])]:
            signals = traders.loc[code]
            parts: dict[str, list[str]] = {"en": [], "uk": []}
            factors = []
            details: dict[str, dict[str, Any]] = {
                "fresh": {"days": int(signals["age_days"]) if not pd.isna(signals["age_days"]) else 0},
                "volume": {
                    "share": round(100 * float(self.params["volume_quantile"])),
                    "rate": f"{signals['rate']:.2f}",
                },
                "capital": {"capital": money(float(self.params["low_capital_uah"]))},
                "mass_address": {"count": int(signals["address_companies"])},
                "shared_director": {"count": int(signals["director_companies"])},
            }
            for name, weight in self.WEIGHTS.items():
                if bool(signals[name]):
                    for language, text in texts.render(name, details[name]).items():
                        parts[language].append(text)
                    factors.append(factor(name, True, False, weight))
            members = positions[code]
            first = members[0]
            values = {
                "trader": code,
                "rows": int(signals["rows"]),
                "first": signals["first"].strftime("%d.%m.%Y"),
                "last": signals["last"].strftime("%d.%m.%Y"),
            }
            rendered = {
                language: texts.render("text", {**values, "signals": "; ".join(parts[language])})[language]
                for language in ("en", "uk")
            }
            finding = self.row_finding(
                context,
                int(first),
                float(signals["score"]),
                title=texts.title("title", values),
                explanation={**rendered, "factors": factors},
            )
            finding.record_ids = [int(frame["id"].iat[member]) for member in members[: int(self.params["max_records"])]]
            finding.dedup_key = f"{self.name}:{code}"
            findings.append(finding)
        return findings
