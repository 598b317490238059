"""Rules against an image's Metrics: PASS, FAIL or SKIP each, generic over the rule table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from layerscope.check.config import CiConfig, RuleSetting
from layerscope.check.rules import Rule, Threshold, get
from layerscope.engine.metrics import Metrics

NO_DIVE = "dive's numbers could not be computed"


@dataclass(slots=True, frozen=True)
class RuleResult:
    key: str
    status: str  # PASS, FAIL, SKIP
    value: Any  # the metric: a number, or a text or list for the portability rules
    threshold: Threshold | None
    configured: str
    message: str


def evaluate(config: CiConfig, metrics: Metrics) -> list[RuleResult]:
    return [_one(get(s.key), s, metrics) for s in config.rules]


def _one(rule: Rule, setting: RuleSetting, metrics: Metrics) -> RuleResult:
    value: Any = getattr(metrics, rule.metric)
    threshold = setting.threshold
    if threshold is None:
        return RuleResult(rule.key, "SKIP", value, None, setting.configured, "disabled")
    if value is None:
        # efficiency is None exactly when the analysis could not compute dive's numbers
        why = NO_DIVE if rule.dive and metrics.efficiency is None else rule.unavailable
        return RuleResult(rule.key, "SKIP", None, threshold, setting.configured, why)
    cut: str | None = getattr(metrics, rule.incomplete) if rule.incomplete else None
    if cut is not None:
        message = f"incomplete: {cut}"
        return RuleResult(rule.key, "FAIL", value, threshold, setting.configured, message)
    failed = rule.fails.failed(value, threshold)
    show = rule.kind.show
    shown = f"{value:.4f}" if isinstance(value, float) else show(value)
    message = f"{rule.label} {shown} {rule.fails.operator(failed)} {show(threshold)}"
    status = "FAIL" if failed else "PASS"
    return RuleResult(rule.key, status, value, threshold, setting.configured, message)
