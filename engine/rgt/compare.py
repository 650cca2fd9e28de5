"""What stands behind each row of `rgt compare`: the platform's gotchas about that fact, and a hint
where the value alone says too little (`host-dependent`, or a null price that means "no stop")."""
from __future__ import annotations

from . import rules
from .kb import schema
from .kb.model import Gotcha, Profile

_STOP = ({"cost"}, {"lifecycle"}, {"teardown"})
# fact key -> tag sets; a gotcha is behind the row when its tags hold one of the sets whole
TOPICS: dict[str, tuple[set[str], ...]] = {
    **{k: _STOP for k in ("meter_stop_verb", "meter_stop_irreversible", "stop_verb_exists", "stop_verb",
                          "stop_verb_bills", "stop_still_bills", "stopped_storage_per_gb_month")},
    **{k: ({"clock"},) for k in (*schema.CLOCK_KEYS, "auto_shutdown_max_h", "rental_end", "ends_a_run")},
    "spot_available": ({"spot"},), "spot_grace": ({"spot"},),
    "free_egress": ({"cost", "network"}, {"xfer"}, {"cost", "transfer"}),
    "egress_per_gb": ({"cost", "network"}, {"xfer"}, {"cost", "transfer"}),
    "china_mirror_needed": ({"china"}, {"hf"}, {"huggingface"}),
    "inode_cap": ({"disk"}, {"quota"}), "local_nvme": ({"disk"}, {"io"}),
    "shared_fs": ({"storage"}, {"multinode"}),
    "host_driver_cuda_max": ({"cuda"},),
    "detach_primitive": ({"proc"}, {"launch"}), "onstart_limit_bytes": ({"launch"}, {"startup"}),
}


def behind(gotchas: list[Gotcha], key: str) -> list[str]:
    """IDs of the gotchas whose tags are about KEY or whose rules read it."""
    topics = TOPICS.get(key, ())
    return [g.id for g in gotchas
            if any(t <= set(g.tags) for t in topics) or key in rules.names_read(g.confirm, g.rule_out)]


def see(profile: Profile, gotchas: list[Gotcha], keys: list[str]) -> dict[str, list[str]]:
    own = [g for g in gotchas if g.platform == profile.slug]
    return {k: ids for k in keys if (ids := behind(own, k))}


def hints(facts: dict, rows: dict[str, list[str]]) -> dict[str, str]:
    """Words for values that do not answer by themselves, naming the gotchas to read."""
    out = {}
    for key, value in facts.items():
        ids = rows.get(key, [])
        read = f"; read {', '.join(ids)}" if ids else ""
        if value in schema.VARIES:
            who = value.removesuffix("-dependent")
            out[key] = f"set by each {who}, not by the platform: check the {who}'s own figure before renting{read}"
        elif key == "stopped_storage_per_gb_month" and value is None:
            out[key] = (f"no reversible stop: `{facts.get('meter_stop_verb')}` deletes the box; after it these "
                        f"still bill: {', '.join(facts.get('stop_still_bills') or []) or 'nothing'}{read}"
                        if not facts.get("stop_verb") else f"a stopped box's storage costs nothing{read}")
    return out
