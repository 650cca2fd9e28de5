"""The typed schema: values are checked, variants override, and the author page matches the code."""
from __future__ import annotations

import re

import pytest

from rgt.kb import schema
from rgt.kb.model import Profile


@pytest.mark.parametrize("key,value", [
    ("meter_stop_irreversible", "yes"), ("spot_grace", "~0s"), ("inode_cap", "200K"),
    ("auto_shutdown_h", "6h"), ("kind", "cloud"), ("local_nvme", "relative/path"), ("currency", "EUR"),
])
def test_bad_values_are_refused(key, value):
    with pytest.raises(schema.SchemaError):
        schema.FRONTMATTER[key].check(value)


@pytest.mark.parametrize("key,value", [
    ("inode_cap", 200000), ("inode_cap", None), ("inode_cap", "host-dependent"), ("spot_grace", 0),
    ("free_egress", "host-dependent"), ("local_nvme", False), ("local_nvme", "/root/autodl-tmp"),
    ("host_driver_cuda_max", "12.4"), ("stopped_storage_per_gb_month", 0.2),
])
def test_good_values_pass(key, value):
    assert schema.FRONTMATTER[key].check(value) == value


def test_sources_need_a_date_and_an_address():
    assert schema.check_source({"url": "https://a.b/c", "checked": "2026-11-22"})["checked"] == "2026-11-22"
    for bad in ({"url": "https://a.b"}, {"checked": "2026-11-22"}, {"url": "ftp.x", "checked": "2026-11-22"}, "https://a.b"):
        with pytest.raises(schema.SchemaError):
            schema.check_source(bad)


def test_variant_overrides_apply_on_top_of_base_facts():
    p = Profile(slug="x", name="X", file="f", line=1, kind="cloud-api", prefixes=["PS"],
                facts={"auto_shutdown_h": 12, "shared_fs": True},
                variants={"core": {"description": "vm", "auto_shutdown_h": None}}, sources=[], sections=[], overrides={})
    assert p.facts_for("core") == {"auto_shutdown_h": None, "shared_fs": True}
    assert p.facts_for(None)["auto_shutdown_h"] == 12
    assert p.variant_names() == ["core"]


def test_author_page_lists_exactly_the_schema_keys(repo):
    page = (repo / "profiles" / "_schema.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", page, re.M))
    gotcha_keys = set(schema.GOTCHA_BLOCK)
    override_keys = set(re.findall(r"^\| `([A-Z_]+)` \|", page, re.M))
    assert (documented - gotcha_keys) | {"sources"} == set(schema.FRONTMATTER)
    assert gotcha_keys <= documented
    assert override_keys == set(schema.OVERRIDE_KEYS)


def test_author_page_names_the_sections_in_order(repo):
    page = (repo / "profiles" / "_schema.md").read_text()
    listed = re.findall(r"^## (\d)\. ([A-Z /+]+)$", page, re.M)
    assert [t for _, t in listed] == list(schema.SECTIONS)
