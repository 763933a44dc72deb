"""Every README command block marked ``<!-- README test: NAME -->`` runs here, as written.

The servers are started from the README's own command lines (only the port is swapped for a free
one), and each block runs in bash against them, with ``127.0.0.1:8088`` / ``127.0.0.1:8090``
replaced by their real addresses. The tests then check what the emulator, the receiver's store
and the output files hold, not just exit codes. The Meltano blocks need ``MELTANO_BIN``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from refiner_emulator.testing import EmulatorProcess
from refiner_webhooks.testing import ReceiverProcess
from scripts.hub_definitions import BIN
from target_refiner.ledger.sqlite import project_ledger_path
from target_refiner.sync_log.sqlite import SqliteSyncLog
from tests.docs.sync_log_runs import SEGMENT_ACTIONS, log_two_runs
from tests.meltano.meltano_helpers import ROOT, MeltanoProject

README = ROOT / "README.md"
MARKER = re.compile(r"<!-- README test: ([\w-]+) -->\n```sh\n(.*?)\n```", re.DOTALL)
EMULATOR_ADDRESS = "127.0.0.1:8088"
RECEIVER_ADDRESS = "127.0.0.1:8090"
TESTED = {
    "start-emulator",
    "standalone-tap",
    "standalone-target",
    "start-receiver",
    "webhook-post",
    "meltano-config",
    "meltano-select",
    "meltano-logs",
    "sync-log-queries",
}


def readme_blocks() -> dict[str, str]:
    return dict(MARKER.findall(README.read_text(encoding="utf-8")))


def command_lines(name: str) -> list[list[str]]:
    """The block's commands as argument lists (comments and a trailing ``&`` dropped)."""
    lines = [shlex.split(line, comments=True) for line in readme_blocks()[name].splitlines()]
    return [[word for word in words if word != "&"] for words in lines if words]


def without_option(words: list[str], option: str) -> tuple[list[str], str]:
    """``words`` minus ``option VALUE``, and that value."""
    at = words.index(option)
    return words[:at] + words[at + 2 :], words[at + 1]


def host_port(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[0]


class ReadmeServers:
    """The emulator and the receiver, started as the README starts them."""

    def __init__(self, workdir: Path) -> None:
        [emulator_words] = command_lines("start-emulator")
        assert emulator_words[0] == "refiner-emulator"
        emulator_args, port = without_option(emulator_words[1:], "--port")
        assert port == EMULATOR_ADDRESS.rsplit(":", 1)[1]
        self.emulator = EmulatorProcess(*emulator_args)
        [secret_words], serve_words = (
            [w for w in command_lines("start-receiver") if w[0] == "export"],
            next(w for w in command_lines("start-receiver") if w[0] == "refiner-webhooks"),
        )
        self.secret = secret_words[1].split("=", 1)[1]
        serve_args, port = without_option(serve_words[2:], "--port")
        assert serve_words[1] == "serve"
        assert port == RECEIVER_ADDRESS.rsplit(":", 1)[1]
        serve_args, store = without_option(serve_args, "--store")
        self.store = workdir / store
        self.store.parent.mkdir(parents=True, exist_ok=True)
        self.receiver = ReceiverProcess(self.store, *serve_args, secret=self.secret)

    def addresses(self) -> dict[str, str]:
        return {
            EMULATOR_ADDRESS: host_port(self.emulator.api_url),
            RECEIVER_ADDRESS: host_port(self.receiver.url),
        }


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    started = ReadmeServers(tmp_path_factory.mktemp("readme-servers"))
    with started.receiver, started.emulator:
        yield started


def shell_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A clean environment with our console scripts (and Meltano, when given) on PATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_", "TARGET_", "MELTANO_", "REFINER_API", "REFINER_WEBHOOK", "PG"))
    }
    env.update(extra or {})
    meltano_dir = str(Path(os.environ.get("MELTANO_BIN", BIN / "meltano")).parent)
    env["PATH"] = os.pathsep.join([str(BIN), meltano_dir, env.get("PATH", "")])
    return env


def run_block(name: str, cwd: Path, env: dict[str, str], addresses: dict[str, str]) -> str:
    """Run one README block in bash (``-euo pipefail``); its output, after asserting success."""
    script = readme_blocks()[name]
    for old, new in addresses.items():
        script = script.replace(old, new)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"README block {name} failed:\n{output[-6000:]}"
    return output


def messages(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_marked_block_is_run_here():
    assert set(readme_blocks()) == TESTED


def test_standalone_tap_reads_the_two_selected_streams(servers, tmp_path):
    api = servers.emulator.api
    contacts = servers.emulator.stats()["contacts"]
    forms = len(api.items("/forms", list="all_with_archived"))  # archived ones too
    run_block("standalone-tap", tmp_path, shell_env(), servers.addresses())
    records = [m for m in messages(tmp_path / "tap-output.jsonl") if m["type"] == "RECORD"]
    by_stream = {
        s: [m for m in records if m["stream"] == s] for s in {m["stream"] for m in records}
    }
    assert set(by_stream) == {"contacts", "forms"}
    assert len(by_stream["contacts"]) == contacts
    assert len(by_stream["forms"]) == forms
    assert any(m["type"] == "STATE" for m in messages(tmp_path / "tap-output.jsonl"))


def test_standalone_target_sends_the_five_lines_once(servers, tmp_path):
    emulator = servers.emulator
    before = emulator.calls()[-1]["seq"] if emulator.calls() else 0
    run_block("standalone-target", tmp_path, shell_env(), servers.addresses())
    sent = [(c["path"], c["params"]) for c in emulator.calls(since_seq=before)]
    writes = [(path, params) for path, params in sent if path != "/v1/"]
    assert sorted(p for p, _ in writes) == ["/v1/identify-user"] * 2 + ["/v1/track-event"]
    assert emulator.contact("user-1")["email"] == "ada@example.com"
    assert emulator.contact("user-2")["attributes"]["plan"] == "free"
    track = next(params for path, params in writes if path == "/v1/track-event")
    assert (track["id"], track["event"]) == ("user-1", "Exported CSV")

    again = emulator.calls()[-1]["seq"]
    run_block("standalone-target", tmp_path, shell_env(), servers.addresses())
    assert [c for c in emulator.calls(since_seq=again) if c["path"] != "/v1/"] == []


def test_sample_webhook_is_stored_with_its_contact(servers, tmp_path):
    env = shell_env({"REFINER_WEBHOOK_SECRET": servers.secret})
    output = run_block("webhook-post", tmp_path, env, servers.addresses())
    sample = json.loads((tmp_path / "webhook.json").read_text(encoding="utf-8"))
    uri = f"{servers.store.resolve().as_uri()}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        rows = db.execute(
            "SELECT triggered_event, contact_uuid, remote_id, email, form_uuid, response_uuid "
            "FROM events"
        ).fetchall()
    assert rows == [
        (
            "Completed Survey",
            sample["uuid"],
            sample["remote_id"],
            sample["email"],
            sample["form"]["uuid"],
            sample["response"]["uuid"],
        )
    ]
    assert servers.secret not in output


@pytest.mark.meltano
def test_meltano_config_shows_what_a_demo_run_gets(meltano_project):
    env = shell_env(meltano_project.env())
    output = run_block("meltano-config", meltano_project.root, env, {})
    demo_url = "current value: 'http://127.0.0.1:8088/v1' (from the active environment"
    assert (
        f"api_url [env: TAP_REFINER_API_URL] (default: 'https://api.refiner.io/v1') {demo_url}"
        in output
    )
    assert '"api_key": "*****"' in output
    assert "demo-key" not in output


@pytest.mark.meltano
def test_meltano_select_reads_two_streams_and_the_run_log_can_be_shown(
    meltano_project, servers, tmp_path
):
    # A project of its own: the run writes state and a log; the demo points at the emulator.
    project = MeltanoProject.create(tmp_path / "project", meltano_project.meltano_bin)
    yml = project.root / "meltano.yml"
    emulator_address = servers.addresses()[EMULATOR_ADDRESS]
    yml.write_text(yml.read_text().replace(EMULATOR_ADDRESS, emulator_address))
    env = shell_env(project.env())
    contacts = servers.emulator.stats()["contacts"]
    forms = len(servers.emulator.api.items("/forms", list="all_with_archived"))

    output = run_block("meltano-select", project.root, env, {})
    assert "Enabled patterns:\n\tcontacts.*\n\tforms.*" in output
    written = {p.name: len(p.read_text().splitlines()) for p in (project.root / "output").iterdir()}
    assert written == {"contacts.jsonl": contacts, "forms.jsonl": forms}

    runs = json.loads(project.run("logs", "list", "--format", "json").stdout)["runs"]
    [run] = [r for r in runs if r["job_name"] == "demo:tap-refiner-to-target-jsonl"]
    shown = run_block("meltano-logs", project.root, {**env, "LOG_ID": run["log_id"]}, {})
    assert f"Run ID: {run['log_id']}" in shown
    assert "State: SUCCESS" in shown
    assert "Block run completed" in shown


def write_sync_log(state_dir: Path, now: dt.datetime) -> Path:
    """The README's two runs (``sync_log_runs``) in a project's ledger file under ``state_dir``."""
    state_dir.mkdir()
    store = SqliteSyncLog(project_ledger_path(state_dir, "0d8759d0-401c-11ed-8ded-9757c4929b55"))
    try:
        log_two_runs(store, store.path.name, now)
    finally:
        store.close()
    return store.path


def query_sections(output: str) -> list[list[list[str]]]:
    """The rows of each query the block printed (``sqlite3 -header``: a header line, then rows)."""
    sections: list[list[list[str]]] = []
    for line in output.splitlines():
        if line.startswith(("stream|", "logged_at|")):
            sections.append([])
        else:
            sections[-1].append(line.split("|"))
    return sections


def text(*values: object) -> list[str]:
    """Values as ``sqlite3`` prints them (NULL as nothing)."""
    return ["" if value is None else str(value) for value in values]


def test_sync_log_queries_answer_from_the_store(tmp_path):
    assert shutil.which("sqlite3"), "the README's sync-log queries need the sqlite3 shell"
    now = dt.datetime.now(dt.timezone.utc)
    path = write_sync_log(tmp_path / ".target-refiner", now)
    with closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        changes = db.execute("SELECT * FROM refiner_sync_changelog ORDER BY seq").fetchall()
        runs = db.execute("SELECT run_id, started_at FROM refiner_sync_runs").fetchall()
    last_run = max(runs, key=lambda run: run["started_at"])["run_id"]
    today = now.date().isoformat()

    output = run_block("sync-log-queries", tmp_path, shell_env(), {})

    failed, history, segment_changes = query_sections(output)
    assert failed == [
        text(
            *(c[k] for k in ("stream", "row_key", "user_id", "email", "action", "outcome")),
            c["http_status"],
            c["message"],
        )
        for c in changes
        if c["run_id"] == last_run and c["outcome"] in {"rejected", "failed"}
    ]
    assert [row[3] for row in failed] == ["user-3@example.com", "user-4@example.com"]
    assert history == [
        text(c["logged_at"], c["run_id"], c["stream"], c["action"], c["outcome"], c["message"])
        for c in reversed(changes)
        if c["user_id"] == "user-1"
    ]
    assert len(history) == 3
    assert segment_changes == [
        text(*(c[k] for k in ("logged_at", "stream", "user_id", "email", "action", "outcome")))
        for c in changes
        if c["action"] in SEGMENT_ACTIONS and c["logged_at"].startswith(today)
    ]
    assert [row[2] for row in segment_changes] == ["user-1", "user-5", "user-6"]
