"""Fixtures of the Meltano tests: real Meltano (``MELTANO_BIN``), a project copy, a Refiner stack.

``make test`` always sets ``MELTANO_BIN`` (it installs Meltano into .venv-meltano first); a bare
``pytest`` without it skips the ``meltano``-marked tests and says why.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from refiner_emulator.testing import EmulatorProcess
from refiner_webhooks.testing import ReceiverProcess
from tests.meltano.meltano_helpers import MeltanoProject

if TYPE_CHECKING:
    from collections.abc import Iterator

WEBHOOK_SECRET = "whsec-meltano-tests-0123456789"  # noqa: S105 - a test token
STACK_ARGS = ("--seed", "3", "--contacts", "150", "--responses", "400", "--forms", "4")


@pytest.fixture(scope="session")
def meltano_bin():
    path = os.environ.get("MELTANO_BIN")
    if not path:
        pytest.skip(
            "MELTANO_BIN is not set: run `make test` (it installs Meltano into .venv-meltano "
            "and sets MELTANO_BIN), or export MELTANO_BIN=/path/to/meltano"
        )
    if not Path(path).exists():
        pytest.fail(f"MELTANO_BIN={path} does not exist; run `make meltano`")
    return path


@pytest.fixture(scope="session")
def meltano_project(meltano_bin, tmp_path_factory):
    """One project copy per session; its plugins installed once (venvs cached across sessions)."""
    project = MeltanoProject.create(tmp_path_factory.mktemp("meltano-project"), meltano_bin)
    started = time.monotonic()
    project.run("install")
    project.install_seconds = time.monotonic() - started
    return project


class RefinerStack:
    """An emulator whose webhooks go to a real receiver, plus a client for the emulator API."""

    def __init__(self, emulator: EmulatorProcess, receiver: ReceiverProcess) -> None:
        self.emulator = emulator
        self.receiver = receiver
        self.client = emulator.api

    @property
    def store(self) -> Path:
        return self.receiver.store

    def post_response(self, user_id: str, nps: int) -> str:
        """Submit a completed NPS-like response to the first form (fires a webhook)."""
        form = self.client.items("/forms")[0]
        body = self.client.ok(
            "POST",
            "/responses",
            json={"form_uuid": form["uuid"], "id": user_id, "response_data": {"nps": nps}},
        )
        return str(body["uuid"])

    def trigger_webhooks(self, user_id: str) -> int:
        """A response, a tag on it and a manual segment entry: three webhooks."""
        response_uuid = self.post_response(user_id, 9)
        self.client.ok("POST", "/responses/tags", json={"uuid": response_uuid, "tags": ["meltano"]})
        segment = next(s for s in self.client.items("/segments") if s["is_manual"])
        self.client.ok(
            "POST", "/sync-segment", json={"segment_uuid": segment["uuid"], "id": user_id}
        )
        return 3

    def wait_for_webhooks(self, count: int) -> None:
        done = self.emulator.wait_for_webhooks(count, timeout=15)
        delivered = [d for d in done if d["delivered"]]
        assert len(delivered) >= count, f"webhooks not delivered: {done}"


@contextmanager
def running_stack(workdir: Path, *emulator_args: str) -> Iterator[RefinerStack]:
    """An emulator (``emulator_args``) sending its webhooks to a receiver storing in ``workdir``."""
    with (
        ReceiverProcess(workdir / "webhooks.sqlite", secret=WEBHOOK_SECRET) as receiver,
        EmulatorProcess(
            *emulator_args,
            "--webhook-url",
            receiver.url + "webhooks",
            "--webhook-secret",
            WEBHOOK_SECRET,
        ) as emulator,
    ):
        yield RefinerStack(emulator, receiver)


@pytest.fixture(scope="module")
def refiner_stack(tmp_path_factory):
    """A fresh emulator + webhook receiver per test module (modules mutate the data)."""
    with running_stack(tmp_path_factory.mktemp("refiner-stack"), *STACK_ARGS) as stack:
        yield stack
