"""trainer.provenance: UTC times, the commit and dirty flag of a checkout (None outside one), the command."""

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from trainer import provenance
from trainer.provenance import code_commit, read_provenance, run_provenance, utc_now, write_provenance


def git(folder, *arguments):
    return subprocess.run(["git", "-C", str(folder), *arguments], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def checkout(tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q")
    (folder / "__init__.py").write_text("VERSION = 1\n")
    git(folder, "add", "__init__.py")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    return folder


def test_commit_and_dirty_flag_of_a_checkout(checkout):
    head = git(checkout, "rev-parse", "HEAD").strip()
    assert code_commit(checkout) == {"commit": head, "dirty": False}
    (checkout / "notes.txt").write_text("untracked files do not count")
    assert code_commit(checkout) == {"commit": head, "dirty": False}
    (checkout / "__init__.py").write_text("VERSION = 2\n")
    assert code_commit(checkout) == {"commit": head, "dirty": True}


def test_no_checkout_or_no_git_gives_none_and_never_fails(checkout, tmp_path, monkeypatch):
    plain = tmp_path / "plain"
    plain.mkdir()
    assert code_commit(plain) == {"commit": None, "dirty": None}
    copied = checkout / "site-packages" / "trainer"  # a copy inside another checkout, not tracked there
    copied.mkdir(parents=True)
    (copied / "__init__.py").write_text("")
    assert code_commit(copied) == {"commit": None, "dirty": None}

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(provenance.subprocess, "run", no_git)
    assert code_commit(checkout) == {"commit": None, "dirty": None}


def test_run_provenance_records_utc_times_this_checkout_and_the_command(tmp_path):
    started = utc_now()
    record = run_provenance(started)
    assert set(record) == {"started", "finished", "commit", "dirty", "command"}
    begin, end = datetime.fromisoformat(record["started"]), datetime.fromisoformat(record["finished"])
    assert begin.utcoffset() == timedelta(0) and begin <= end <= datetime.now(timezone.utc)
    assert record["command"] == sys.argv
    head = subprocess.run(["git", "-C", str(provenance.PACKAGE_DIR), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=False)
    if head.returncode == 0:  # the tests run from a checkout
        assert record["commit"] == head.stdout.strip() and isinstance(record["dirty"], bool)
    write_provenance(tmp_path, record)
    assert read_provenance(tmp_path) == record
    assert read_provenance(tmp_path / "nothing") is None
