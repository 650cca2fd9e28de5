"""Rule expressions from `rgt` blocks, evaluated with simpleeval over one flat fact dict.

The language is the safe subset of Python expressions: names, numbers, strings, lists, `and`,
`or`, `not`, comparisons, `in`, and arithmetic. No calls, no attributes, no indexing. A name the
facts do not hold (a probe that did not run, a duration the user did not say) makes its part of
the expression undecided rather than false, and `and` / `or` / `not` combine undecided parts by
three-valued logic: rgt never rules a cause out on missing evidence, and one decisive
observation is enough.
"""
from __future__ import annotations

import ast
from functools import cache
from typing import Any

CONFIRMED, RULED_OUT, POSSIBLE = "confirmed", "ruled_out", "possible"

_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Compare, ast.Eq, ast.NotEq,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Name, ast.Load, ast.Constant,
    ast.List, ast.Tuple,
)


class RuleSyntaxError(ValueError):
    pass


@cache
def parse(text: str) -> ast.Expression:
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise RuleSyntaxError(f"{e.msg} at column {e.offset}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise RuleSyntaxError(f"`{type(node).__name__}` is not allowed (only names, literals, "
                                  "and/or/not, comparisons, `in` and arithmetic)")
    return tree


@cache
def symbols(text: str) -> frozenset[str]:
    """Every name an expression reads."""
    return frozenset(n.id for n in ast.walk(parse(text)) if isinstance(n, ast.Name))


def names_read(*exprs: str | None) -> frozenset[str]:
    """Names read by any of the expressions; one that does not parse reads nothing (lint reports it)."""
    found: set[str] = set()
    for expr in exprs:
        if expr:
            try:
                found |= symbols(expr)
            except RuleSyntaxError:
                pass
    return frozenset(found)


def evaluate(text: str | None, facts: dict[str, Any]) -> bool | None:
    """True / False, or None when the facts cannot decide it. `and`, `or` and `not` follow
    three-valued logic: `a or b` is true as soon as `a` is, whatever `b` is (the probe behind `b`
    may not have run); any other part that reads a name the facts lack, or is ill-typed, is None."""
    if not text:
        return None
    return _kleene(parse(text).body, facts)


def witnesses(text: str | None, facts: dict[str, Any]) -> frozenset[str]:
    """The names whose values made `text` true (or false, when it is false): for an `or` that
    holds, only the parts that hold; an `and` needs all of them. Evidence quotes these and not
    every operand (a confirmed OOM does not quote `gpu_fell_off_bus = False`)."""
    if not text:
        return frozenset()
    tree = parse(text).body
    return frozenset(_witness(tree, facts, _kleene(tree, facts)))


def _witness(node: ast.AST, facts: dict[str, Any], value: bool | None) -> set[str]:
    if value is None:
        return set()
    if isinstance(node, ast.BoolOp):
        parts = [(v, _kleene(v, facts)) for v in node.values]
        decisive = isinstance(node.op, ast.Or)  # a true `or` rests on its true parts, a false `and` on its false ones
        chosen = [v for v, r in parts if r is value] if value is decisive else [v for v, _ in parts]
        return set().union(*(_witness(v, facts, value) for v in chosen))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return _witness(node.operand, facts, not value)
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _kleene(node: ast.AST, facts: dict[str, Any]) -> bool | None:
    if isinstance(node, ast.BoolOp):
        values = [_kleene(v, facts) for v in node.values]
        decisive = isinstance(node.op, ast.Or)  # True decides an `or`, False an `and`
        if decisive in values:
            return decisive
        return None if None in values else not decisive
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        value = _kleene(node.operand, facts)
        return None if value is None else not value
    names = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}
    if any(facts.get(name) is None for name in names):
        return None
    from simpleeval import EvalWithCompoundTypes  # list literals: `kind in ["a", "b"]`

    evaluator = EvalWithCompoundTypes(names={n: facts[n] for n in names}, functions={})
    try:
        return bool(evaluator.eval("", previously_parsed=node))
    except (TypeError, ValueError, ZeroDivisionError):
        return None


def verdict(confirm: str | None, rule_out: str | None, told: dict[str, Any],
            seen: dict[str, Any] | None = None) -> str:
    """CONFIRMED only when the box proved it: `confirm` holds with what was seen (probe readings,
    pasted log lines) and would not hold on what was told alone (the user's words, platform facts).
    When the readings prove it and rule it out at once they disagree, and it stays POSSIBLE."""
    facts = {**told, **(seen or {})}
    holds, out = evaluate(confirm, facts), evaluate(rule_out, facts)
    if holds and not evaluate(confirm, told):
        return POSSIBLE if out else CONFIRMED
    return RULED_OUT if out else POSSIBLE
