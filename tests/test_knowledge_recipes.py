"""Shell recipes the knowledge base tells users to run, run here as written: real bash, real rsync,
real OpenSSH on 127.0.0.1. A recipe that does not do what its page says fails here."""
from __future__ import annotations

import netrc
import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest

import sshd

REPO = Path(__file__).resolve().parent.parent
TRANSPORT = REPO / "references" / "ssh-transport.md"


def bash_block(page: Path, marker: str) -> str:
    """The fenced bash block of `page` that contains `marker`."""
    blocks = re.findall(r"^```bash\n(.*?)^```", page.read_text(), flags=re.S | re.M)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"{page.name}: expected one bash block with {marker!r}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def box(tmp_path_factory):
    """An sshd whose sessions get their own HOME, so a recipe that writes ~/.netrc on the box
    writes into a throwaway directory; `gpu1` is the alias the recipes use."""
    base = tmp_path_factory.mktemp("box")
    home = base / "home"
    home.mkdir()
    server = sshd.start(base / "sshd", extra_config=f"SetEnv HOME={home}\n")
    cfg = base / "ssh_config"
    cfg.write_text(server.config.read_text().replace("Host rgt-box", "Host gpu1") + "  BatchMode yes\n")
    yield cfg, home
    sshd.stop(server)


def run_bash(script: str, env_extra: dict[str, str]) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=120)


# --- pulling a run directory: a checkpoint saved again at the same size must arrive -----------

def test_pull_takes_a_checkpoint_rewritten_at_the_same_size(box, tmp_path):
    cfg, _ = box
    func = bash_block(TRANSPORT, "pull_dir()").split("\nfor d in")[0]
    run, local = tmp_path / "run", tmp_path / "local"
    run.mkdir()

    def save_epoch():
        (run / "last.pt").write_bytes(os.urandom(1 << 20))
        digest = subprocess.run(["sha256sum", "last.pt"], cwd=run, capture_output=True, text=True, check=True).stdout
        (run / "MANIFEST.sha256").write_text(digest)

    def pull():
        r = run_bash(func + f'\npull_dir "{run}" "{local}"', {"RSYNC_RSH": f"ssh -F {cfg}"})
        assert r.returncode == 0, r.stderr

    save_epoch()
    pull()
    time.sleep(1.1)  # the next epoch's save gets a later modification time, as in a real run
    save_epoch()
    pull()
    for name in ("last.pt", "MANIFEST.sha256"):
        assert (local / name).read_bytes() == (run / name).read_bytes(), f"{name} stayed stale after the pull"


# --- copying the api.wandb.ai entry of a .netrc to the box ----------------------------------

ONE_LINE = """machine a.example login u1 password SECRET_A
machine api.wandb.ai login user password KEY123
machine b.example login u2 password SECRET_B
"""
SPREAD = """machine a.example
  login u1
  password SECRET_A
machine api.wandb.ai
  login user
  password KEY123
machine b.example
  login u2
  password SECRET_B
"""
ON_THE_BOX = """machine c.example login u3 password KEEP_C
machine api.wandb.ai
  login user
  password OLDKEY
default login anonymous password guest
"""


@pytest.mark.parametrize("layout", [ONE_LINE, SPREAD], ids=["one-line", "one-token-per-line"])
@pytest.mark.parametrize("existing", [None, ON_THE_BOX], ids=["fresh-box", "box-with-netrc"])
def test_netrc_recipe_sends_one_entry_and_keeps_the_box_entries(box, tmp_path, layout, existing):
    cfg, box_home = box
    box_netrc = box_home / ".netrc"
    box_netrc.unlink(missing_ok=True)
    if existing is not None:
        box_netrc.write_text(existing)
        box_netrc.chmod(0o644)
    here = tmp_path / "here"
    here.mkdir()
    (here / ".netrc").write_text(layout)
    recipe = bash_block(TRANSPORT, "netrc_pick()")
    # the recipe says `ssh gpu1`; route it to the test server without changing its text
    r = run_bash(f'ssh() {{ command ssh -F "{cfg}" "$@"; }}\n' + recipe, {"HOME": str(here)})
    assert r.returncode == 0, r.stderr

    text = box_netrc.read_text()
    assert "SECRET_A" not in text and "SECRET_B" not in text, "another host's password reached the box"
    assert "OLDKEY" not in text
    assert stat.S_IMODE(box_netrc.stat().st_mode) == 0o600
    parsed = netrc.netrc(str(box_netrc))
    assert parsed.authenticators("api.wandb.ai")[2] == "KEY123"
    if existing is not None:
        assert parsed.hosts["c.example"][2] == "KEEP_C"
        assert parsed.authenticators("unknown.example") == ("anonymous", "", "guest")


def test_netrc_recipe_sends_nothing_when_there_is_no_wandb_entry(box, tmp_path):
    cfg, box_home = box
    box_netrc = box_home / ".netrc"
    box_netrc.write_text(ON_THE_BOX)
    here = tmp_path / "here"
    here.mkdir()
    (here / ".netrc").write_text("machine a.example login u1 password SECRET_A\n")
    recipe = bash_block(TRANSPORT, "netrc_pick()")
    r = run_bash(f'ssh() {{ command ssh -F "{cfg}" "$@"; }}\n' + recipe, {"HOME": str(here)})
    assert r.returncode != 0 and "no entry for api.wandb.ai" in r.stderr
    assert box_netrc.read_text() == ON_THE_BOX
