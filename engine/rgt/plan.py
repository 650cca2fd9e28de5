"""Preflight: before money is spent, what will end this job, what a stop destroys and still bills,
and how often to checkpoint (Young/Daly, references/spot-resilience.md)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from . import rules
from .errors import UsageError
from .kb.index import Index
from .kb.model import Profile
from .numbers import out_of_range

# Assumed when the user gives none; printed as assumptions, never hidden.
DEFAULT_CHECKPOINT_COST_S = 60.0
DEFAULT_MTBF_H = 24.0
DAYS_PER_MONTH = 30.0


@dataclass
class JobPlan:
    hours: float
    spot: bool = False
    checkpoint_cost_s: float | None = None
    mtbf_h: float | None = None
    disk_gb: float | None = None
    rental_left_h: float | None = None  # hours until this rental's host-set end date

    def __post_init__(self) -> None:
        # the CLI checks these as it parses; an agent calling through MCP meets them here
        for name, inclusive in (("hours", False), ("checkpoint_cost_s", False), ("mtbf_h", False),
                                ("disk_gb", False), ("rental_left_h", True)):
            value = getattr(self, name)
            if value is not None and (problem := out_of_range(value, inclusive=inclusive)):
                raise UsageError(f"{name}: {problem}", hint="give it as a number of the unit its name says")


def young_daly_seconds(mtbf_s: float, cost_s: float) -> float:
    """Optimal interval between checkpoints, W = sqrt(2·μ·C) (Young 1974; Daly 2006's first term)."""
    return math.sqrt(2 * mtbf_s * cost_s)


def clocks(facts: dict, job: JobPlan) -> list[dict]:
    """Each clock that applies to this job: when it fires and whether it ends the run."""
    out = []
    cap = facts.get("session_cap_h")
    if cap:
        out.append({"clock": "session_cap_h", "hours": cap, "ends_run": job.hours > cap, "can_raise": False,
                    "says": f"hard session cap of {cap:g} h" + (f": the {job.hours:g} h job will be cut at {cap:g} h"
                                                                if job.hours > cap else ": the job fits")})
    auto, top = facts.get("auto_shutdown_h"), facts.get("auto_shutdown_max_h")
    if auto:
        can = top is None or job.hours <= top
        says = f"auto-shutdown after {auto:g} h by default"
        if job.hours > auto:
            says += (f": raise it above {job.hours:g} h before launch" + (f" (the most allowed is {top:g} h)" if top else " or turn it off")
                     if can else f": it cannot be raised past {top:g} h, so split the job into sessions under {top:g} h")
        out.append({"clock": "auto_shutdown_h", "hours": auto, "ends_run": job.hours > auto and not can,
                    "can_raise": can, "says": says})
    idle = facts.get("idle_timeout_h")
    if idle:
        out.append({"clock": "idle_timeout_h", "hours": idle, "ends_run": False, "can_raise": False,
                    "says": f"the session ends after {idle:g} h without interaction; "
                            "an unattended run needs a keep-alive the platform allows, or another platform"})
    release = facts.get("auto_release_h")
    if release:
        out.append({"clock": "auto_release_h", "hours": release, "ends_run": False, "can_raise": False,
                    "says": f"a stopped box and its disks are deleted {release:g} h ({release / 24:g} days) after the stop"})
    if facts.get("rental_end") == "host-set":
        left = job.rental_left_h
        ends = left is not None and job.hours > left
        says = ("every rental has an end date set by the host, and the box stops there; "
                + ("check how long yours has left and pass --rental-left-h" if left is None else
                   f"yours ends in {left:g} h: the {job.hours:g} h job will be cut, rent a box whose end date lies past it"
                   if ends else f"yours ends in {left:g} h: the job fits"))
        out.append({"clock": "rental_end", "hours": left, "ends_run": ends, "can_raise": False, "says": says})
    if job.spot:
        grace = facts.get("spot_grace")
        if facts.get("spot_available"):
            out.append({"clock": "spot", "hours": None, "ends_run": False, "can_raise": False,
                        "says": f"a spot run can be interrupted at any moment with {grace if grace is not None else 'unknown'} s "
                                "of notice; checkpoint on the cadence below"})
        else:
            out.append({"clock": "spot", "hours": None, "ends_run": False, "can_raise": False,
                        "says": "this platform has no spot tier; the job runs on demand"})
    return out


_PARAM = re.compile(r"\$\{(?P<name>[A-Za-z_]\w*)(?:(?P<op>:?[-?=+])(?P<word>[^}]*))?\}|\$(?P<bare>[A-Za-z_]\w*)")


def readable_shell_value(value: str) -> tuple[str, list[dict]]:
    """A section-8 value such as `/home/ubuntu/${LAMBDA_FS:?export LAMBDA_FS=…}/rgt` is shell, read
    on the box; for a person it reads `/home/ubuntu/<LAMBDA_FS>/rgt`, with each variable named,
    whether it must be set (`:?`) and its default (`:-`)."""
    env: list[dict] = []

    def placeholder(m: re.Match) -> str:
        name = m.group("name") or m.group("bare")
        op = (m.group("op") or "").lstrip(":")
        env.append({"name": name, "required": op == "?", "default": m.group("word") if op in ("-", "=") else None})
        return f"<{name}>"

    return _PARAM.sub(placeholder, value), env


def reversible_stop(facts: dict) -> dict:
    """The stop that keeps the data, which is not always the meter stop (vast.ai: `stop` keeps the
    disk and bills its storage, `destroy` ends billing and the disk)."""
    verb, bills = facts.get("stop_verb"), facts.get("stop_verb_bills") or []
    if not verb:
        says = f"no reversible stop: `{facts.get('meter_stop_verb')}` is the only way to stop the meter"
    else:
        says = f"`{verb}` keeps the data; while stopped " + (f"these still bill: {', '.join(bills)}" if bills
                                                             else "nothing bills")
    return {"verb": verb, "still_bills": bills, "says": says}


def preflight(index: Index, profile: Profile, variant: str | None, job: JobPlan) -> dict:
    facts = profile.facts_for(variant)
    cost = job.checkpoint_cost_s or DEFAULT_CHECKPOINT_COST_S
    mtbf_h = job.mtbf_h or DEFAULT_MTBF_H
    assumptions = []
    if job.checkpoint_cost_s is None:
        assumptions.append(f"checkpoint cost {cost:g} s (pass --checkpoint-cost-s)")
    if job.mtbf_h is None:
        assumptions.append(f"mean time between interruptions {mtbf_h:g} h (pass --mtbf-h)")
    unverified = profile.unverified_facts()
    the_clocks = mark_unverified(clocks(facts, job), unverified)
    # a known clock bounds the interval too: the last checkpoint must land before it fires
    bound_h = min([c["hours"] for c in the_clocks if c["clock"] in ("session_cap_h", "auto_shutdown_h", "rental_end")
                   and c["hours"]] + [mtbf_h])
    interval = min(young_daly_seconds(mtbf_h * 3600, cost), bound_h * 3600)
    overrides = profile.overrides.get(variant or profile.variant_names()[0], {})
    durable, durable_env = readable_shell_value(overrides["DURABLE_DIR"].value if "DURABLE_DIR" in overrides else "")
    from_env = "; ".join(f"{v['name']} comes from the environment variable of that name"
                         + (", which must be set" if v["required"] else f", default {v['default']}" if v["default"] else "")
                         for v in durable_env)
    irreversible = bool(facts.get("meter_stop_irreversible"))
    stop = {
        "verb": facts.get("meter_stop_verb"), "irreversible": irreversible,
        "reversible_stop_exists": facts.get("stop_verb_exists"),
        "durable_dir": durable, "durable_dir_env": durable_env,
        "destroys_only_copy": irreversible and not durable,
        "says": (f"`{facts.get('meter_stop_verb')}` deletes the box's disks and nothing on the box survives it: "
                 "copy checkpoints off and verify them (scripts/verify_local.py) before you run it"
                 if irreversible and not durable else
                 f"`{facts.get('meter_stop_verb')}` deletes the disks; only {durable} survives"
                 + (f" ({from_env})" if from_env else "")
                 if irreversible else f"`{facts.get('meter_stop_verb')}` keeps the disks"),
    }
    stop["reversible_stop"] = reversible_stop(facts)
    price, currency = facts.get("stopped_storage_per_gb_month"), facts.get("currency")
    still = facts.get("stop_still_bills") or []
    per_day = None
    if isinstance(price, (int, float)):
        gb = job.disk_gb or 100.0
        per_day = round(price * gb / DAYS_PER_MONTH, 4)
    billing = {
        "still_bills": still, "stopped_storage_per_gb_month": price, "currency": currency,
        "disk_gb": job.disk_gb or (100.0 if per_day is not None else None), "stopped_per_day": per_day,
        "says": (f"after `{facts.get('meter_stop_verb')}` these still bill: {', '.join(still)}" if still
                 else f"after `{facts.get('meter_stop_verb')}` nothing keeps billing"),
    }
    related = []
    for g in index.gotchas():
        if g.platform != profile.slug:
            continue
        if rules.names_read(g.confirm, g.rule_out) & {"said_hours_near_clock", "auto_shutdown_h", "session_cap_h", "auto_release_h", "idle_timeout_h"} \
                or "clock" in g.tags or "billing" in g.tags:
            related.append({"id": g.id, "title": g.title})
    return {
        "platform": profile.slug, "variant": variant, "hours": job.hours,
        "spot": job.spot, "ends_run": [c for c in the_clocks if c["ends_run"]], "clocks": the_clocks,
        "stop": stop, "billing": billing,
        "checkpoint": {"interval_s": int(interval), "interval_min": round(interval / 60, 1),
                       "cost_s": cost, "mtbf_h": mtbf_h,
                       "formula": "W = sqrt(2 * mtbf * cost), capped by the nearest clock",
                       "assumptions": assumptions},
        "related": related, "unverified": unverified,
    }


# The facts each clock rests on.
CLOCK_FACTS = {
    "session_cap_h": ("session_cap_h",), "auto_shutdown_h": ("auto_shutdown_h", "auto_shutdown_max_h"),
    "idle_timeout_h": ("idle_timeout_h",), "auto_release_h": ("auto_release_h",), "rental_end": ("rental_end",),
    "spot": ("spot_available", "spot_grace"),
}


def mark_unverified(the_clocks: list[dict], unverified: dict[str, str]) -> list[dict]:
    """A clock resting on a fact no official page confirms says so, and why."""
    for c in the_clocks:
        whys = [(k, unverified[k]) for k in CLOCK_FACTS.get(c["clock"], ()) if k in unverified]
        c["unverified"] = "; ".join(f"{k}: {why}" for k, why in whys) or None
        if whys:
            c["says"] += f" (unverified: {'; '.join(why for _, why in whys)})"
    return the_clocks


def preflight_each(index: Index, profile: Profile, job: JobPlan) -> dict:
    """No variant named on a platform that has several: every variant's plan, its clocks labelled
    with the variant and whom it applies to, instead of a guess or a refusal. The run is said to
    end only where it ends on every variant; `ends_run` lists each clock that ends it on one."""
    plans = {v: preflight(index, profile, v, job) for v in profile.variant_names()}
    whom_of = {v: str(profile.variants.get(v, {}).get("description", v)) for v in plans}
    labelled = []
    for v, plan in plans.items():
        whom = whom_of[v]
        for c in plan["clocks"]:
            labelled.append({**c, "variant": v, "applies_to": whom, "says": f"{v}: {c['says']}"})
    every = all(plan["ends_run"] for plan in plans.values())
    return {
        "platform": profile.slug, "variant": None, "hours": job.hours, "spot": job.spot,
        "variants": plans, "applies_to": whom_of, "clocks": labelled,
        "ends_run": [c for c in labelled if c["ends_run"]] if every else [],
        "ends_run_on": [v for v, plan in plans.items() if plan["ends_run"]],
        "says": "no --variant given: each variant's clocks are listed with whom they apply to; "
                "pass --variant for its stop verb, billing and checkpoint cadence",
        "related": next(iter(plans.values()))["related"], "unverified": profile.unverified_facts(),
    }
