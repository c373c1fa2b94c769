"""The match scorer: a logistic model over field agreements that says which fields agreed and by how much.

A pair of companies is compared on the name (similarity of the normalised keys) and the country; a pair of
people on the surname, given name, patronymic, date of birth, tax number, address, and whether both are tied to
the same company. Each feature is a number in [-1, 1] (agrees 1, unknown 0, disagrees -1, or a similarity); the
score is ``sigmoid(intercept + Σ weight × feature)``, and the explanation lists every term, so an investigator
sees why two names were matched.

The weights start from the defaults below and are refitted from the organisation's review decisions (a logistic
regression over the features of confirmed and rejected candidates, ``scorer_refit``) once there are enough of
both; the refit is stored in ``ScorerWeights`` and used for every later match.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from apps.entities.models import MatchCandidate, ScorerKind, ScorerWeights

# Probability at or above which a match is merged without review, and from which it is queued for review.
AUTO_MERGE = 0.9
REVIEW = 0.5
# The score (log-odds) at the review threshold: a pair whose best possible score is below it is not worth scoring.
REVIEW_LOGIT = math.log(REVIEW / (1.0 - REVIEW))
# A refit needs at least this many decisions, with both outcomes represented.
MIN_DECISIONS = 20
MIN_EACH_OUTCOME = 5

FEATURE_LABELS = {
    "name": _("name"),
    "spelling": _("spelling"),
    "country": _("country"),
    "surname": _("surname"),
    "given_name": _("given name"),
    "patronymic": _("patronymic"),
    "birth_date": _("date of birth"),
    "tax_number": _("tax number"),
    "address": _("address"),
    "shared_company": _("same company"),
}

DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    # A company pair must agree on the name almost exactly: one keying error merges, two make a candidate for
    # review, a different word keeps them apart.
    ScorerKind.COMPANY: {"intercept": -40.0, "name": 40.0, "country": 4.0, "spelling": 4.0},
    # People: the surname carries most, a date of birth or a tax number that differs vetoes; a full name alone
    # only reaches review (namesakes are common), a date of birth, an address or a company in common confirms it.
    ScorerKind.PERSON: {
        "intercept": -11.0,
        "surname": 7.0,
        "given_name": 3.0,
        "patronymic": 2.0,
        "birth_date": 6.0,
        "tax_number": 10.0,
        "address": 3.0,
        "shared_company": 4.0,
    },
}


@dataclass(frozen=True)
class Weights:
    kind: str
    intercept: float
    coefficients: dict[str, float]


@dataclass(frozen=True)
class Score:
    probability: float
    features: dict[str, float]
    explanation: list[dict[str, Any]] = field(default_factory=list)


def weights_for(*, organization_id: int, kind: str) -> Weights:
    """The organisation's latest refitted weights of a kind, or the defaults."""
    stored = ScorerWeights.objects.filter(organization_id=organization_id, kind=kind).order_by("-created_at").first()
    if stored is not None:
        return Weights(kind=kind, intercept=stored.intercept, coefficients=dict(stored.weights))
    return weights_for_defaults(kind)


def probability(weights: Weights, features: dict[str, float]) -> float:
    """The match probability alone: what the matcher needs for the many pairs it does not keep."""
    total = weights.intercept + sum(weights.coefficients.get(name, 0.0) * value for name, value in features.items())
    return 1.0 / (1.0 + math.exp(-total))


def score(weights: Weights, features: dict[str, float], values: dict[str, tuple[str, str]] | None = None) -> Score:
    """The match probability and one explanation line per feature.

    ``values`` holds what each side had for a feature, as it may be shown: a masked field's token, never its
    clear value.
    """
    values = values or {}
    explanation: list[dict[str, Any]] = []
    for name, value in features.items():
        weight = weights.coefficients.get(name, 0.0)
        contribution = weight * value
        left, right = values.get(name, ("", ""))
        explanation.append(
            {
                "field": name,
                "left": left,
                "right": right,
                "similarity": round(value, 3),
                "weight": round(weight, 3),
                "contribution": round(contribution, 3),
            }
        )
    explanation.sort(key=lambda line: -abs(float(line["contribution"])))
    return Score(probability=probability(weights, features), features=features, explanation=explanation)


def scorer_refit(*, organization_id: int, kind: str) -> ScorerWeights | None:
    """Refit the weights from the organisation's decided candidates; ``None`` while there are too few decisions."""
    from sklearn.linear_model import LogisticRegression

    decided = MatchCandidate.objects.filter(
        organization_id=organization_id,
        kind=kind,
        status__in=[MatchCandidate.Status.CONFIRMED, MatchCandidate.Status.REJECTED],
    ).values_list("features", "status")
    rows = [(features, status == MatchCandidate.Status.CONFIRMED) for features, status in decided if features]
    confirmed = sum(1 for _, label in rows if label)
    if len(rows) < MIN_DECISIONS or min(confirmed, len(rows) - confirmed) < MIN_EACH_OUTCOME:
        return None
    names = [name for name in DEFAULT_WEIGHTS[kind] if name != "intercept"]
    matrix = [[float(features.get(name, 0.0)) for name in names] for features, _ in rows]
    labels = [label for _, label in rows]
    # Regularised towards small weights: review decisions are few, and the defaults must not be thrown away on
    # a handful of them. The prior is kept by fitting on the default model's logit as an offset feature.
    defaults = weights_for_defaults(kind)
    offsets = [
        defaults.intercept + sum(defaults.coefficients[n] * row[i] for i, n in enumerate(names)) for row in matrix
    ]
    model = LogisticRegression(C=1.0)
    model.fit([[offset, *row] for offset, row in zip(offsets, matrix, strict=True)], labels)
    scale = float(model.coef_[0][0])
    coefficients = {
        name: round(scale * defaults.coefficients[name] + float(model.coef_[0][i + 1]), 4)
        for i, name in enumerate(names)
    }
    intercept = round(scale * defaults.intercept + float(model.intercept_[0]), 4)
    accuracy = float(model.score([[offset, *row] for offset, row in zip(offsets, matrix, strict=True)], labels))
    return ScorerWeights.objects.create(
        organization_id=organization_id,
        kind=kind,
        weights=coefficients,
        intercept=intercept,
        decisions=len(rows),
        metrics={"training_accuracy": round(accuracy, 4), "confirmed": confirmed, "rejected": len(rows) - confirmed},
    )


def weights_for_defaults(kind: str) -> Weights:
    defaults = dict(DEFAULT_WEIGHTS[kind])
    intercept = defaults.pop("intercept")
    return Weights(kind=kind, intercept=intercept, coefficients=defaults)
