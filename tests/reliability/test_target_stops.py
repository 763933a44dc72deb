"""Failures that are not about a row stop the run: bad key or URL, broken routes, the reject
ratio, SIGTERM. Each runs the real target CLI against the real emulator (through a proxy that
breaks routes where needed) and checks what Refiner ends up holding and which STATE came out."""

from __future__ import annotations

import signal
import time

from tests.reliability.target_processes import (
    BreakingProxy,
    last_error_line,
    run_target,
    singer_lines,
    start_target,
    states_of,
)

USERS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "users",
    "key_properties": ["id"],
    "schema": {"type": "object", "properties": {"id": {"type": "string"}, "plan": {}}},
}


def users(count: int, start: int = 1, plan: str = "pro") -> list[dict]:
    """``count`` identify rows, each followed by a STATE naming its number."""
    messages: list[dict] = [USERS_SCHEMA]
    for n in range(start, start + count):
        messages.append(
            {"type": "RECORD", "stream": "users", "record": {"id": f"r{n}", "plan": plan}}
        )
        messages.append({"type": "STATE", "value": {"n": n}})
    return messages


def identified(emu) -> set[str]:
    return {c["params"]["id"] for c in emu.calls(path="/v1/identify-user") if c["status"] == 200}


def test_wrong_key_stops_before_reading_with_one_line(emu, config, tmp_path):
    result = run_target(
        {**config, "api_key": "0f8fad5b-d9cb-469f-a165-70867728950e"}, users(3), tmp_path
    )
    assert result.returncode == 1
    assert "API key not valid or does not exist" in last_error_line(result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert identified(emu) == set()


def test_api_url_without_version_stops_with_one_line(emu, config, tmp_path):
    bad_url = emu.api_url.removesuffix("/v1")
    result = run_target({**config, "api_url": bad_url}, users(3), tmp_path)
    assert result.returncode == 1
    line = last_error_line(result.stderr)
    assert f"Cannot use `api_url` {bad_url}" in line
    assert "/v1" in line
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert identified(emu) == set()


def test_a_proxy_page_is_not_refiner(emu, config, tmp_path):
    html = (200, "text/html", "<html><body>Welcome to our gateway</body></html>")
    with BreakingProxy(emu.base_url, lambda *_: html) as proxy:
        result = run_target({**config, "api_url": proxy.url + "/v1"}, users(3), tmp_path)
    assert result.returncode == 1
    assert "not JSON" in last_error_line(result.stderr)
    assert result.stdout == ""
    assert identified(emu) == set()


def route_breaks_after(calls: int, answer):
    """Answer ``answer`` for /identify-user once ``calls`` requests have gone through."""

    def rule(_method, path, n):
        if path.endswith("/identify-user") and n > calls:
            return answer
        return None

    return rule


def test_a_broken_route_mid_run_stops_and_a_rerun_sends_the_rest(emu, config, tmp_path):
    answers = [
        (404, "application/json", '{"error": "Not found"}'),
        (405, "application/json", '{"error": "Method not allowed"}'),
        (404, "text/html", "<h1>404</h1>"),
        (200, "text/html", "<h1>maintenance</h1>"),
        (403, "application/json", '{"error": "Forbidden"}'),
    ]
    for answer in answers:
        emu.reset(data=True)
        state_dir = tmp_path / f"state-{answer[0]}-{answer[1].replace('/', '-')}"
        cfg = {**config, "state_dir": str(state_dir), "max_concurrency": 1}
        with BreakingProxy(emu.base_url, route_breaks_after(6, answer)) as proxy:
            result = run_target({**cfg, "api_url": proxy.url + "/v1"}, users(20), tmp_path)
        assert result.returncode == 1, (answer, result.stderr[-2000:])
        assert "Traceback" not in result.stderr
        assert not list(state_dir.glob("dead-letter*")), answer  # nothing blamed on the rows
        sent = identified(emu)
        states = states_of(result.stdout)
        # every STATE emitted covers only rows Refiner holds
        covered = max((s["n"] for s in states), default=0)
        assert {f"r{n}" for n in range(1, covered + 1)} <= sent, answer
        assert 0 < len(sent) < 20, answer  # it failed mid-run, not at the key check
        # the rerun from that STATE sends what did not arrive; nothing is missing
        rest = users(20 - covered, start=covered + 1)
        again = run_target(cfg, rest, tmp_path)
        assert again.returncode == 0, again.stderr[-2000:]
        assert identified(emu) == {f"r{n}" for n in range(1, 21)}, answer


def test_delete_404_counts_as_done_only_when_the_contact_is_gone(emu, config, tmp_path):
    delete_schema = {**USERS_SCHEMA, "stream": "gone"}
    rows = [
        delete_schema,
        {"type": "RECORD", "stream": "gone", "record": {"id": "never-existed"}},
        {"type": "STATE", "value": {"gone": 1}},
    ]
    cfg = {**config, "mappings": {"gone": {"action": "delete_contact", "user_id": "id"}}}
    result = run_target(cfg, rows, tmp_path)  # the emulator says "Contact not found"
    assert result.returncode == 0, result.stderr[-2000:]
    assert states_of(result.stdout)[-1] == {"gone": 1}

    route_gone = (404, "application/json", '{"error": "Not found"}')

    def rule(method, _path, _n):
        return route_gone if method == "DELETE" else None

    cfg["state_dir"] = str(tmp_path / "other")
    with BreakingProxy(emu.base_url, rule) as proxy:
        broken = run_target({**cfg, "api_url": proxy.url + "/v1"}, rows, tmp_path)
    assert broken.returncode == 1
    assert "Not found" in last_error_line(broken.stderr)
    assert broken.stdout == ""


def test_reject_ratio_failure_never_moves_the_bookmark(emu, config, tmp_path):
    messages = [USERS_SCHEMA]
    for n in range(1, 41):
        row = {"id": f"r{n}", "plan": "x" * 300 if n % 2 else "ok"}  # half are too long
        messages += [
            {"type": "RECORD", "stream": "users", "record": row},
            {"type": "STATE", "value": {"n": n}},
        ]
    result = run_target({**config, "max_reject_ratio": 0.2}, messages, tmp_path)
    assert result.returncode == 1
    assert "max_reject_ratio" in last_error_line(result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # no STATE at all: the bookmark stays where it was
    assert len(identified(emu)) == 20  # the good rows were applied, the bad ones dead-lettered
    dead = (tmp_path / "state" / "dead-letter.jsonl").read_text().splitlines()
    assert len(dead) == 20

    passing = run_target(
        {**config, "max_reject_ratio": 0.6, "state_dir": str(tmp_path / "s2")}, messages, tmp_path
    )
    assert passing.returncode == 0, passing.stderr[-2000:]
    assert states_of(passing.stdout) == [{"n": 40}]


def test_sigterm_finishes_in_flight_emits_the_safe_state_and_exits_143(emu, config, tmp_path):
    emu.configure(latency_ms=150)
    proc = start_target({**config, "max_concurrency": 4}, tmp_path / "config.json")
    assert proc.stdin is not None
    proc.stdin.write(singer_lines(users(200)))
    proc.stdin.flush()  # the pipe stays open: the target is still reading when it is told to stop
    while len(identified(emu)) < 10:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "Interrupted by SIGTERM" in last_error_line(err)
    states = states_of(out)
    assert states, "the last safe STATE is emitted"
    covered = states[-1]["n"]
    sent = identified(emu)
    assert {f"r{n}" for n in range(1, covered + 1)} <= sent
    assert len(sent) < 200  # it stopped rather than draining everything

    emu.configure(latency_ms=0)
    again = run_target(config, users(200 - covered, start=covered + 1), tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert identified(emu) == {f"r{n}" for n in range(1, 201)}


def test_a_settings_error_is_one_line_naming_the_setting(emu, config, tmp_path):
    bad = {**config, "mappings": {"users": {"action": "track", "user_id": "id"}}}
    result = run_target(bad, users(1), tmp_path)
    assert result.returncode == 1
    line = last_error_line(result.stderr)
    assert "Invalid configuration:" in line
    assert "mappings.users" in line
    assert "Traceback" not in result.stderr
    assert identified(emu) == set()
