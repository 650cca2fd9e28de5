"""MCP tools are the CLI commands again: same names, same JSON, honest annotations."""
from __future__ import annotations

import asyncio
import json

from rgt.cli import cli
from rgt.mcp_server import TOOLS, server

from helpers import run


def call(name: str, **args) -> dict:
    result = asyncio.run(server().call_tool(name, args))
    if getattr(result, "structured_content", None) is not None:
        data = result.structured_content
        return data.get("result", data) if set(data) == {"result"} else data
    return json.loads(result.content[0].text)


def test_every_json_command_has_a_tool_and_back():
    json_commands = {name for name, cmd in cli.commands.items() if any(p.name == "as_json" for p in cmd.params)}
    tools = {name.removeprefix("rgt_") for name in TOOLS}
    assert json_commands - {"render"} <= tools, json_commands - tools
    assert tools <= set(cli.commands)


def test_tools_are_listed_with_annotations():
    listed = {t.name: t for t in asyncio.run(server().list_tools())}
    assert set(listed) == set(TOOLS)
    assert listed["rgt_show"].annotations.read_only_hint is True
    assert listed["rgt_diagnose"].annotations.open_world_hint is True
    assert listed["rgt_diagnose"].annotations.destructive_hint is False


def test_show_tool_returns_what_the_cli_prints(capsys):
    assert call("rgt_show", node_id="PS2") == run(capsys, "show", "PS2", "--json").json()


def test_diagnose_tool_returns_what_the_cli_prints(capsys):
    cli_json = run(capsys, "diagnose", "run vanished at 6h", "--platform", "paperspace", "--json").json()
    assert call("rgt_diagnose", text="run vanished at 6h", platform="paperspace") == cli_json


def test_errors_come_back_in_the_result_with_the_next_step():
    out = call("rgt_show", node_id="U999")
    assert out["exit_code"] == 2 and "try `rgt search TEXT`" in out["error"]
