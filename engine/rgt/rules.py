"""Rule expressions from `rgt` blocks, evaluated with rule-engine over one flat fact dict.

A name the facts do not hold (a probe that did not run, a duration the user did not say) makes the
expression undecided rather than false: rgt never rules a cause out on missing evidence.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import rule_engine
import rule_engine.ast as ast

_CONTEXT = rule_engine.Context(default_value=None)

CONFIRMED, RULED_OUT, POSSIBLE = "confirmed", "ruled_out", "possible"


class RuleSyntaxError(ValueError):
    pass


@lru_cache(maxsize=None)
def compile_rule(text: str) -> rule_engine.Rule:
    try:
        return rule_engine.Rule(text, context=_CONTEXT)
    except rule_engine.errors.EngineError as e:
        raise RuleSyntaxError(getattr(e, "message", str(e))) from None


@lru_cache(maxsize=None)
def symbols(text: str) -> frozenset[str]:
    """Every name an expression reads."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, ast.SymbolExpression):
            found.add(node.name)
            return
        for value in _children(node):
            for child in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(child, ast.ASTNodeBase):
                    walk(child)

    walk(compile_rule(text).statement.expression)
    return frozenset(found)


def _children(node: Any) -> list[Any]:
    # AST classes mix __dict__ and __slots__, so read both
    names = set(getattr(node, "__dict__", {}))
    for cls in type(node).__mro__:
        names.update(getattr(cls, "__slots__", ()))
    return [getattr(node, n, None) for n in names if n != "context"]


def evaluate(text: str | None, facts: dict[str, Any]) -> bool | None:
    """True / False, or None when the expression reads a name the facts lack or is ill-typed."""
    if not text:
        return None
    if any(facts.get(name) is None for name in symbols(text)):
        return None
    try:
        return bool(compile_rule(text).matches({k: _plain(v) for k, v in facts.items()}))
    except rule_engine.errors.EvaluationError:
        return None


def verdict(confirm: str | None, rule_out: str | None, facts: dict[str, Any]) -> str:
    if evaluate(confirm, facts):
        return CONFIRMED
    if evaluate(rule_out, facts):
        return RULED_OUT
    return POSSIBLE


def _plain(value: Any) -> Any:
    # rule-engine wants tuples for arrays and has no notion of our sentinel strings
    return tuple(value) if isinstance(value, list) else value
