"""layerscope.check: CI rules as a table (rules), the `.dive-ci` reader (config, over
dive_yaml) and their evaluation against an analysis's Metrics (evaluate)."""

from layerscope.check.config import (
    DEFAULT_FILE,
    CiConfig,
    RuleSetting,
    build_config,
    load_ci_config,
    parse_overrides,
)
from layerscope.check.evaluate import RuleResult, evaluate
from layerscope.check.rules import RULES, Rule, rules_help

__all__ = [
    "DEFAULT_FILE",
    "RULES",
    "CiConfig",
    "Rule",
    "RuleResult",
    "RuleSetting",
    "build_config",
    "evaluate",
    "load_ci_config",
    "parse_overrides",
    "rules_help",
]
