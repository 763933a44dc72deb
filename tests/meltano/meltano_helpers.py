"""Helpers of the Meltano tests: a throw-away copy of the project driven by the real Meltano CLI.

Caching (the slow part is creating plugin virtualenvs):

- plugin venvs live in ``.cache/meltano-tests/<key>/`` of the repo (``MELTANO_SYS_DIR_ROOT``),
  where ``<key>`` hashes the plugins' ``pip_url`` lines, pyproject.toml and the Meltano binary;
  so the first ``make test`` on a machine installs them (uv, ~20 s) and later runs only re-check
  them (~4 s). Stale keys are deleted.
- tap-refiner and target-refiner are installed editable (``-e <repo>``), so code changes need
  no reinstall;
- Meltano's system database (state, run history) is per test session, in pytest's tmp dir, so
  every session starts with no state.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CACHE = ROOT / ".cache" / "meltano-tests"
RUN_TIMEOUT = 300

QUIET_ENV = {
    "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
    "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
    "NO_COLOR": "1",
}


def cache_key(meltano_yml: str, meltano_bin: str) -> str:
    """What, when changed, needs fresh plugin venvs."""
    digest = hashlib.sha256()
    for line in sorted(re.findall(r"^\s*pip_url:.*$", meltano_yml, re.MULTILINE)):
        digest.update(line.strip().encode())
    digest.update((ROOT / "pyproject.toml").read_bytes())
    digest.update(meltano_bin.encode())
    return digest.hexdigest()[:16]


def sys_dir(meltano_yml: str, meltano_bin: str) -> Path:
    """The cached ``.meltano`` directory for this key (older keys removed)."""
    key = cache_key(meltano_yml, meltano_bin)
    if CACHE.exists():
        for old in CACHE.iterdir():
            if old.name != key:
                shutil.rmtree(old, ignore_errors=True)
    path = CACHE / key
    path.mkdir(parents=True, exist_ok=True)
    return path


def project_meltano_yml() -> str:
    """The repo's meltano.yml with ``-e .`` pointing at the repo (the copy lives elsewhere)."""
    text = (ROOT / "meltano.yml").read_text(encoding="utf-8")
    return re.sub(r"pip_url: -e \.(\[\w+\])?\n", rf"pip_url: -e {ROOT}\1\n", text)


@dataclass
class MeltanoProject:
    """A copy of the project (meltano.yml, demo/, transform/) run by the real ``meltano``."""

    root: Path
    meltano_bin: str
    sys_dir: Path
    logs: list[str] = field(default_factory=list)
    install_seconds: float = 0.0

    @classmethod
    def create(cls, root: Path, meltano_bin: str) -> MeltanoProject:
        """Copy the project files into ``root``."""
        text = project_meltano_yml()
        root.mkdir(parents=True, exist_ok=True)
        (root / "meltano.yml").write_text(text, encoding="utf-8")
        shutil.copytree(ROOT / "demo", root / "demo", dirs_exist_ok=True)
        shutil.copytree(ROOT / "transform", root / "transform", dirs_exist_ok=True)
        (root / ".demo").mkdir(exist_ok=True)
        (root / "output").mkdir(exist_ok=True)
        return cls(root=root, meltano_bin=meltano_bin, sys_dir=sys_dir(text, meltano_bin))

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The process environment of every Meltano call (no settings from the caller's shell)."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("TAP_", "TARGET_", "MELTANO_", "REFINER_", "PG"))
        }
        env.update(QUIET_ENV)
        env["MELTANO_SYS_DIR_ROOT"] = str(self.sys_dir)
        env["MELTANO_DATABASE_URI"] = f"sqlite:///{self.root / 'meltano.db'}"
        env.update(extra or {})
        return env

    def run(
        self, *args: str, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``meltano ARGS`` in the project; on failure the assertion shows the log tail."""
        started = time.monotonic()
        result = subprocess.run(
            [self.meltano_bin, *args],
            cwd=self.root,
            env=self.env(env),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        took = time.monotonic() - started
        self.logs.append(f"meltano {' '.join(args)}: rc={result.returncode} in {took:.1f}s")
        if check and result.returncode != 0:
            tail = (result.stdout + result.stderr)[-6000:]
            msg = f"meltano {' '.join(args)} failed (rc={result.returncode}):\n{tail}"
            raise AssertionError(msg)
        return result


def summary_counts(output: str, stream: str) -> dict[str, int]:
    """target-refiner's per-stream summary: in / sent / skipped (unchanged, replays) / rejected."""
    pattern = (
        rf"Summary for stream '{re.escape(stream)}': (\d+) rows in, (\d+) sent, "
        r"(\d+) skipped unchanged, (\d+) skipped as replays, (\d+) rejected"
    )
    matches = re.findall(pattern, output)
    if not matches:
        return {}
    rows_in, sent, skipped, replayed, rejected = (int(v) for v in matches[-1])
    return {"in": rows_in, "sent": sent, "skipped": skipped + replayed, "rejected": rejected}


def tap_summary_records(output: str) -> dict[str, int]:
    """tap-refiner's closing summary: records per stream (the last run's line of each)."""
    found = re.findall(r"Summary for stream '(\w+)': (\d+) records?, \d+ requests?", output)
    return {stream: int(records) for stream, records in found}
