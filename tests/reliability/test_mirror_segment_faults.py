"""mirror_segment when things go wrong: a run killed mid-diff, SIGTERM, and the worst
combination (rate limits with a small per-user limit, 429s while reading the members and while
applying the diff, untidy paging of a segment of several pages, members that cannot be named).
"""

from __future__ import annotations

import signal
import time

import pytest

from refiner_emulator.testing import EmulatorProcess
from tests.reliability import target_processes
from tests.reliability.audiences import (
    AUDIENCE,
    audience,
    by_method,
    last_seq,
    member_ids,
    members,
    mirror_config,
    sync_calls,
)
from tests.reliability.target_processes import BreakingProxy, last_error_line, run_target, states_of

USERS = range(1, 401)


def start_mirror(config, tmp_path, name):
    """The target reading the whole audience, its input closed: it is diffing when this returns."""
    proc = target_processes.start_target(config, tmp_path / f"{name}.json")
    assert proc.stdin is not None
    proc.stdin.write(target_processes.singer_lines(audience(USERS)))
    proc.stdin.close()
    return proc


def wait_for_adds(emu, seq, count, proc):
    deadline = time.monotonic() + 60
    while len(sync_calls(emu, seq)) < count:
        assert proc.poll() is None, "the target ended before the test could stop it"
        assert time.monotonic() < deadline, "the mirror's calls did not start"
        time.sleep(0.02)


@pytest.mark.parametrize("stop", ["kill", "sigterm"])
def test_a_run_stopped_mid_diff_converges_on_the_next(emu, config, tmp_path, stop):
    segment = emu.add_segment("Churn risk")
    cfg = mirror_config(config, segment)
    seq = last_seq(emu)
    with start_mirror(cfg, tmp_path, stop) as proc:
        wait_for_adds(emu, seq, 100, proc)
        proc.send_signal(signal.SIGKILL if stop == "kill" else signal.SIGTERM)
        proc.wait(timeout=60)
        assert proc.stdout is not None
        assert proc.stderr is not None
        out, err = proc.stdout.read(), proc.stderr.read()
    time.sleep(0.2)  # let requests already on the wire land in the call log
    assert states_of(out) == []  # the mirror's rows were never covered by a STATE
    if stop == "kill":
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == 143
        assert f"The mirror of '{AUDIENCE}' was not finished" in last_error_line(err)
    first = member_ids(emu, segment)
    assert 100 <= len(first) < len(USERS)
    assert first <= set(USERS)

    seq = last_seq(emu)
    result = run_target(cfg, audience(USERS), tmp_path, "again")
    assert result.returncode == 0
    assert by_method(sync_calls(emu, seq)) == {"POST": len(USERS) - len(first)}
    assert member_ids(emu, segment) == set(USERS)
    assert states_of(result.stdout) == [{AUDIENCE: len(USERS)}]


def answer_429_sometimes(counts: dict[str, int]):
    """A gateway answering 429 (no Retry-After) to some reads of the members and some calls."""
    too_often = (429, "application/json", '{"error": "You are doing this too often."}')

    def rule(_method, path, _n):
        for name, hits in (("/v1/contacts", {2, 3, 6}), ("/v1/sync-segment", {20, 21, 150})):
            if path == name:
                counts[name] = counts.get(name, 0) + 1
                return too_often if counts[name] in hits else None
        return None

    return rule


def audience_rows(segment_members):
    """The members the rows keep (every fifth by email only, in another case), and who leaves."""
    named = [m for m in segment_members if m["remote_id"] or m["email"]]
    leaving, staying = named[:250], named[250:]
    rows = []
    for n, member in enumerate(staying):
        if member["remote_id"] and (n % 5 or not member["email"]):
            rows.append({"user_id": member["remote_id"]})
        else:
            rows.append({"email": f"  {member['email'].upper()} "})
    return rows, staying, leaving


def test_worst_combination(tmp_path):
    """Rate limits (4 per user per minute), 429s from Refiner and from a gateway while reading the
    members and while applying the diff, untidy paging, ~1500 members, some nobody can name."""
    with EmulatorProcess("--seed", "11", "--contacts", "12000", "--responses", "0") as emu:
        emu.configure(rate_limit=True, per_user_per_minute=4, empty_pages=True, no_last_page=True)
        segment = next(s for s in emu.api.items("/segments") if s["is_manual"])["uuid"]
        before = members(emu, segment)
        assert len(before) > 1000  # two pages of members, each followed by an empty one
        unnamed = {m["uuid"] for m in before if not m["remote_id"] and not m["email"]}
        assert unnamed
        rows, staying, leaving = audience_rows(before)
        newcomers = [{"user_id": f"new-{i}"} for i in range(150)]
        messages = audience([], rows=[*rows, *newcomers, *rows[:10]])
        # The emulator's own 429s (with Retry-After), on top of the gateway's (without).
        emu.fault(429, count=1, retry_after=1, path="/v1/contacts")
        emu.fault(429, count=2, retry_after=1, path="/v1/sync-segment")
        counts: dict[str, int] = {}
        with BreakingProxy(emu.base_url, answer_429_sometimes(counts)) as proxy:
            config = {
                "api_key": emu.api_key,
                "api_url": proxy.url + "/v1",
                "state_dir": str(tmp_path / "state"),
                "progress_interval_seconds": 0,
                "max_requests_per_user_per_minute": 4,
            }
            cfg = mirror_config(config, segment)
            seq = last_seq(emu)
            result = run_target(cfg, messages, tmp_path, "worst")
            assert result.returncode == 0, result.stderr[-3000:]
            calls = sync_calls(emu, seq)
            assert counts["/v1/contacts"] >= 6  # pages, empty pages and the 429s retried
            assert counts["/v1/sync-segment"] == 400 + 3 + 2  # every 429 retried
            assert emu.stats()["rate_limited"] == 3  # the injected ones: paced under the limits
            after = {m["uuid"]: m for m in members(emu, segment)}
            assert {m["uuid"] for m in staying} <= set(after)
            assert {f"new-{i}" for i in range(150)} <= {m["remote_id"] for m in after.values()}
            assert not ({m["uuid"] for m in leaving} & set(after))
            assert unnamed <= set(after)  # no call can name them: left in place, reported
            assert len(after) == len(staying) + 150 + len(unnamed)
            assert by_method([c for c in calls if c["status"] == 200]) == {
                "POST": 150,
                "DELETE": 250,
            }
            assert "150 added, 250 removed" in result.stderr
            assert "10 duplicate rows" in result.stderr
            assert f"{len(unnamed)} members without user id or email" in result.stderr

            # Converged: the same rows again cost no sync-segment call.
            seq = last_seq(emu)
            again = run_target(cfg, messages, tmp_path, "again")
            assert again.returncode == 0, again.stderr[-3000:]
            assert sync_calls(emu, seq) == []
