"""MCP tools are the CLI commands again: same names, same JSON, honest annotations."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from rgt.cli import commands
from rgt.mcp_server import TOOLS, server

from helpers import run


def call(name: str, **args) -> dict:
    result = asyncio.run(server().call_tool(name, args))
    if getattr(result, "structured_content", None) is not None:
        data = result.structured_content
        return data.get("result", data) if set(data) == {"result"} else data
    return json.loads(result.content[0].text)


def test_every_json_command_has_a_tool_and_back():
    json_commands = {name for name, cmd in commands().items() if any(p.name == "as_json" for p in cmd.params)}
    tools = {name.removeprefix("rgt_") for name in TOOLS}
    assert json_commands <= tools, json_commands - tools
    assert tools <= set(commands())


def test_tools_are_listed_with_annotations():
    listed = {t.name: t for t in asyncio.run(server().list_tools())}
    assert set(listed) == set(TOOLS)
    assert listed["rgt_show"].annotations.read_only_hint is True
    assert listed["rgt_diagnose"].annotations.open_world_hint is True
    assert listed["rgt_diagnose"].annotations.destructive_hint is False
    # pull writes the local copy, never the box, and never destroys anything
    assert listed["rgt_pull"].annotations.read_only_hint is False
    assert listed["rgt_pull"].annotations.destructive_hint is False


def test_show_tool_returns_what_the_cli_prints(capsys):
    assert call("rgt_show", node_id="PS2") == run(capsys, "show", "PS2", "--json").json()


CLEAN_KB = str(Path(__file__).parent / "fixtures" / "lint" / "clean")
BROKEN_KB = Path(__file__).parent / "fixtures" / "lint" / "LNK001.md"

# tool -> requests, each as (the tool's arguments, the same request on the command line).
# A tool missing here fails the parity test: every tool answers as its command does.
PARITY: dict[str, list[tuple[dict, list[str]]]] = {
    "rgt_platforms": [({}, ["platforms"])],
    "rgt_show": [({"node_id": "PS2"}, ["show", "PS2"]), ({"node_id": "RP8", "brief": True}, ["show", "RP8", "--brief"]), ({"node_id": "uptime"}, ["show", "uptime"]),
                 ({"node_id": "paperspace"}, ["show", "paperspace"]), ({"node_id": "U999"}, ["show", "U999"])],
    "rgt_search": [({"text": "run vanished at 6h", "limit": 3}, ["search", "run vanished at 6h", "--limit", "3"])],
    "rgt_facts": [({"platform": "paperspace", "variant": "core"}, ["facts", "paperspace", "--variant", "core"]),
                  ({"platform": "nowhere"}, ["facts", "nowhere"])],
    "rgt_compare": [({"platforms": ["vastai", "paperspace:core"]}, ["compare", "vastai", "paperspace:core"])],
    "rgt_plan": [({"platform": "vastai", "hours": 20}, ["plan", "-p", "vastai", "--hours", "20"]),
                 ({"platform": "paperspace", "variant": "gradient", "hours": 20},
                  ["plan", "-p", "paperspace", "--variant", "gradient", "--hours", "20"]),
                 ({"platform": "paperspace", "hours": 20}, ["plan", "-p", "paperspace", "--hours", "20"])],
    "rgt_diagnose": [({"text": "run vanished at 6h", "platform": "paperspace"},
                      ["diagnose", "run vanished at 6h", "--platform", "paperspace"]),
                     ({"text": "run vanished at 6h", "variant": "core"}, ["diagnose", "run vanished at 6h", "--variant", "core"]),
                     ({"text": "run vanished at 6h", "platform": "paperspace", "capture": "{capture}"},
                      ["diagnose", "run vanished at 6h", "--platform", "paperspace", "--capture", "{capture}"]),
                     ({"text": "the run crashed", "logs": ["{log}"]}, ["diagnose", "the run crashed", "--log", "{log}"])],
    # the CLI call writes the same files into the same directory again, so both answers match
    "rgt_render": [({"platform": "runpod", "variant": "secure", "job": "{job}", "out": "{out}"},
                    ["render", "--platform", "runpod", "--variant", "secure", "--job", "{job}", "--out", "{out}"]),
                   ({"platform": "paperspace", "job": "{job}", "out": "{out}"},
                    ["render", "--platform", "paperspace", "--job", "{job}", "--out", "{out}"])],
    "rgt_watch": [({"pid": 5}, ["watch", "--pid", "5"]),
                  ({"capture": "{capture}", "match": "train.py"}, ["watch", "--capture", "{capture}", "--match", "train.py"])],
    "rgt_lint": [({"kb": CLEAN_KB}, ["lint", "--kb", CLEAN_KB]), ({"kb": "{broken}"}, ["lint", "--kb", "{broken}"])],
    "rgt_pull": [({"remote_dir": "{pullsrc}", "local_dir": "{pullto}", "local": True, "platform": "vastai"},
                  ["pull", "--local", "{pullsrc}", "{pullto}", "--platform", "vastai"]),
                 ({"remote_dir": "{pullsrc}", "local_dir": "{pullto}", "local": True},
                  ["pull", "--local", "{pullsrc}", "{pullto}"]),
                 ({"remote_dir": "{nowhere}", "local_dir": "{pullto}", "local": True},
                  ["pull", "--local", "{nowhere}", "{pullto}"])],
}


def _tool_answer(name: str, args: dict) -> tuple[int, object]:
    """(exit code, JSON) as an agent sees it: an error is its one line and the exit it stands for."""
    from mcp.server.mcpserver.exceptions import ToolError
    try:
        return 0, call(name, **args)
    except ToolError as e:
        body = json.loads(str(e).partition(": ")[2])
        return body["exit_code"], body["error"]


def _cli_answer(capsys, argv: list[str]) -> tuple[int, object]:
    r = run(capsys, *argv, "--json")
    if r.code >= 2:
        assert r.out == "" and r.err.startswith("rgt: "), r
        return r.code, r.err.strip().removeprefix("rgt: ")
    return 0, r.json()  # exit 1 (findings) carries the same JSON as exit 0


def test_every_tool_returns_what_its_command_prints(capsys, tmp_path):
    import shutil
    from test_diagnose import PROBES, capture
    assert set(PARITY) == set(TOOLS), "every tool needs a parity case"
    broken = tmp_path / "broken"
    shutil.copytree(CLEAN_KB, broken)
    shutil.copy(BROKEN_KB, broken / "profiles" / "sample.md")
    cap = capture(tmp_path / "cap.json", {"kernel_log": (PROBES / "kernel_log--memcg-oom_python3_this-machine.out").read_text()})
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"weights")
    fill = {"{capture}": str(cap), "{broken}": str(broken), "{log}": str(PROBES.parent / "logs" / "rank--this-machine.log"),
            "{job}": str(Path(__file__).parent.parent / "examples" / "job.yaml"), "{out}": str(tmp_path / "rendered"),
            "{pullsrc}": str(tmp_path / "run"), "{pullto}": str(tmp_path / "copy"), "{nowhere}": str(tmp_path / "nowhere")}

    def filled(v):
        if isinstance(v, list):
            return [filled(x) for x in v]
        return fill.get(v, v) if isinstance(v, str) else v
    for name, cases in PARITY.items():
        for args, argv in cases:
            args = {k: filled(v) for k, v in args.items()}
            tool, cli = _tool_answer(name, args), _cli_answer(capsys, [filled(a) for a in argv])
            assert tool == cli, (name, args)
            assert tool[0] or tool[1]["version"] >= 1, (name, args)


def _over_stdio(*calls: tuple[str, dict], args: tuple[str, ...] = ()) -> list:
    """Tool calls through the installed `rgt mcp` binary, as an agent makes them."""
    import os
    import sys
    from pathlib import Path

    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    params = StdioServerParameters(command=str(Path(sys.executable).parent / "rgt"), args=["mcp", *args],
                                   env={**os.environ})

    async def go():
        async with Client(params) as client:
            return [await client.call_tool(name, arguments) for name, arguments in calls]
    return asyncio.run(go())


def test_errors_come_back_as_tool_errors_with_the_next_step():
    (out,) = _over_stdio(("rgt_show", {"node_id": "U999"}))
    assert out.is_error is True
    body = json.loads(out.content[0].text.partition(": ")[2])
    assert body["exit_code"] == 2 and "try `rgt search TEXT`" in body["error"]


def test_plan_tool_rejects_numbers_out_of_range_by_name():
    bad = [("rgt_plan", {"platform": "vastai", "hours": -5}),
           ("rgt_plan", {"platform": "vastai", "hours": 20, "mtbf_h": -1}),
           ("rgt_plan", {"platform": "vastai", "hours": 20, "rental_left_h": -1})]
    for (_, args), out in zip(bad, _over_stdio(*bad)):
        assert out.is_error is True, args
        body = json.loads(out.content[0].text.partition(": ")[2])
        field = [k for k in args if k != "platform" and (k != "hours" or args[k] < 0)][0]
        assert body["exit_code"] == 2 and field in body["error"], body


def test_mcp_takes_kb_like_every_other_command(tmp_path):
    import shutil
    from pathlib import Path
    kb = tmp_path / "kb"
    shutil.copytree(Path(__file__).parent / "fixtures" / "lint" / "clean", kb)
    (out,) = _over_stdio(("rgt_platforms", {}), args=("--kb", str(kb)))
    assert out.is_error is False
    assert [p["platform"] for p in out.structured_content["platforms"]] == ["sample"]
