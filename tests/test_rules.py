"""Rule expressions: three-valued logic, so one decisive observation decides and a missing one
never rules a cause out."""
from __future__ import annotations

import pytest

from rgt import rules


@pytest.mark.parametrize("expr, facts, expected", [
    ("cgroup_oom_kills > 0 or oom_kills > 0", {"oom_kills": 2}, True),        # one branch suffices
    ("cgroup_oom_kills > 0 or oom_kills > 0", {"oom_kills": 0}, None),        # the other is unknown
    ("cgroup_oom_kills > 0 or oom_kills > 0", {"oom_kills": 0, "cgroup_oom_kills": 0}, False),
    ("kernel_log_readable and oom_kills == 0", {"oom_kills": 0}, None),       # never a ruling on absence
    ("kernel_log_readable and oom_kills == 0", {"oom_kills": 3}, False),
    ("not (probe_missing or oom_kills > 0)", {"oom_kills": 1}, False),
    ("not probe_missing", {}, None),
    ('kind in ["notebook", "scheduler"]', {"kind": "notebook"}, True),
    ("uptime_h < said_hours", {"uptime_h": 2.0, "said_hours": 6.0}, True),
    ("uptime_h < said_hours", {"uptime_h": "n/a", "said_hours": 6.0}, None),  # ill-typed is undecided
    ("gpu_mem_used_mib / gpu_mem_total_mib > 0.9", {"gpu_mem_used_mib": 1, "gpu_mem_total_mib": 0}, None),
])
def test_three_valued_evaluation(expr, facts, expected):
    assert rules.evaluate(expr, facts) is expected


def test_a_verdict_needs_a_decision_not_a_gap():
    confirm, rule_out = "oom_kills > 0 or cgroup_oom_kills > 0", "kernel_log_readable and oom_kills == 0"
    assert rules.verdict(confirm, rule_out, {}, {"oom_kills": 1}) == rules.CONFIRMED
    assert rules.verdict(confirm, rule_out, {}, {"oom_kills": 0}) == rules.POSSIBLE
    assert rules.verdict(confirm, rule_out, {}, {"oom_kills": 0, "cgroup_oom_kills": 0,
                                                 "kernel_log_readable": True}) == rules.RULED_OUT


def test_only_what_the_box_showed_confirms():
    """The user's words can rule a cause out but never confirm it; readings that both prove and
    rule out a cause disagree, and it stays possible."""
    confirm, rule_out = "said_hours_near_clock and said_hours > 10", "python_oom_kills > 0"
    assert rules.verdict(confirm, rule_out, {"said_hours": 12, "said_hours_near_clock": True}) == rules.POSSIBLE
    assert rules.verdict(confirm, rule_out, {"said_hours": 12, "said_hours_near_clock": True},
                         {"python_oom_kills": 1}) == rules.RULED_OUT
    both = ("python_oom_kills > 0", "run_alive")
    assert rules.verdict(*both, {}, {"python_oom_kills": 1}) == rules.CONFIRMED
    assert rules.verdict(*both, {}, {"python_oom_kills": 1, "run_alive": True}) == rules.POSSIBLE
