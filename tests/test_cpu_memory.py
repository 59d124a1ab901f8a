"""trainer.cpu_memory: freed CPU memory is reused without new page faults; the training option and its guards."""

import logging
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import HfArgumentParser

from data_processing.cli import parse_cli
from trainer import cpu_memory
from trainer.arguments import DataArguments, ModelArguments, MSMixTrainingArguments

REPO = Path(__file__).resolve().parent.parent

# Allocate, fill and free a 64 MB tensor 3 times (as training steps do), then 3 more times; print the minor page
# faults of the last 3 allocations and fills.
REALLOCATE = """
import resource, sys, torch
if sys.argv[1] == "on":
    from trainer.cpu_memory import keep_freed_cpu_memory
    assert keep_freed_cpu_memory()
elements = 64 * 2**20 // 4
for cycle in range(6):
    if cycle == 3:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    tensor = torch.empty(elements)
    tensor.fill_(1.0)
    del tensor
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def reallocation_faults(setting: str) -> int:
    done = subprocess.run([sys.executable, "-c", REALLOCATE, setting], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    return int(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(cpu_memory.unavailable_reason() is not None, reason=str(cpu_memory.unavailable_reason()))
def test_freed_memory_is_reused_without_new_page_faults():
    without, kept = reallocation_faults("off"), reallocation_faults("on")
    assert without >= 20 * max(kept, 1), (
        f"3 re-allocations of 64 MB took {without} minor page faults without the setting and {kept} with it: "
        "above glibc's mmap threshold each allocation is a fresh mapping that the kernel zeroes page by page "
        "(16384 faults of 4 KB each), while with M_MMAP_MAX=0 and trimming off the freed block is reused from the heap"
    )


def parse_training_arguments(argv: list[str]) -> MSMixTrainingArguments:
    return parse_cli(HfArgumentParser((DataArguments, ModelArguments, MSMixTrainingArguments)), argv)[2]


def test_option_is_on_by_default_and_off_with_the_flag_or_a_config_file(tmp_path):
    assert parse_training_arguments([]).keep_freed_cpu_memory is True
    assert parse_training_arguments(["--keep_freed_cpu_memory", "false"]).keep_freed_cpu_memory is False
    assert parse_training_arguments(["--no_keep_freed_cpu_memory"]).keep_freed_cpu_memory is False
    (tmp_path / "run.yaml").write_text("keep_freed_cpu_memory: false\n")
    (tmp_path / "run.json").write_text('{"keep_freed_cpu_memory": false}')
    assert parse_training_arguments([str(tmp_path / "run.yaml")]).keep_freed_cpu_memory is False
    assert parse_training_arguments([str(tmp_path / "run.json")]).keep_freed_cpu_memory is False
    assert parse_training_arguments([str(tmp_path / "run.yaml"), "--keep_freed_cpu_memory", "true"]
                                    ).keep_freed_cpu_memory is True


def refuse_mallopt(*args, **kwargs):
    raise AssertionError("mallopt must not be reached here")


@pytest.mark.parametrize("platform, confstr, preload, reason", [
    ("darwin", None, "", "not Linux"),
    ("linux", "", "", "not glibc"),
    ("linux", "glibc 2.36", "/usr/lib/libjemalloc.so.2", "jemalloc"),
])
def test_does_nothing_without_glibc(monkeypatch, platform, confstr, preload, reason):
    monkeypatch.setattr(cpu_memory.sys, "platform", platform)
    if confstr is not None:
        monkeypatch.setattr(cpu_memory.os, "confstr", lambda name: confstr)
    monkeypatch.setenv("LD_PRELOAD", preload)
    monkeypatch.setattr(cpu_memory.ctypes, "CDLL", refuse_mallopt)
    assert reason in cpu_memory.unavailable_reason()
    assert cpu_memory.keep_freed_cpu_memory() is False


def test_training_applies_it_once_on_cpu_runs_with_the_option_only(monkeypatch, caplog):
    calls = []
    monkeypatch.setattr(cpu_memory, "keep_freed_cpu_memory", lambda: calls.append(1) or True)
    monkeypatch.setattr(cpu_memory, "_applied_for_training", None)
    caplog.set_level(logging.INFO, logger=cpu_memory.__name__)
    cuda_run = SimpleNamespace(keep_freed_cpu_memory=True, device=torch.device("cuda"))
    option_off = SimpleNamespace(keep_freed_cpu_memory=False, device=torch.device("cpu"))
    assert not cpu_memory.keep_freed_cpu_memory_for_training(cuda_run)
    assert not cpu_memory.keep_freed_cpu_memory_for_training(option_off)
    assert calls == []
    cpu_run = SimpleNamespace(keep_freed_cpu_memory=True, device=torch.device("cpu"))
    assert cpu_memory.keep_freed_cpu_memory_for_training(cpu_run)
    assert cpu_memory.keep_freed_cpu_memory_for_training(cpu_run)
    assert calls == [1]
    assert [record.levelno for record in caplog.records] == [logging.INFO]
    assert "stays in the process heap" in caplog.records[0].getMessage()


def test_training_logs_why_it_was_not_applied(monkeypatch, caplog):
    monkeypatch.setattr(cpu_memory.sys, "platform", "darwin")
    monkeypatch.setattr(cpu_memory, "_applied_for_training", None)
    caplog.set_level(logging.INFO, logger=cpu_memory.__name__)
    args = SimpleNamespace(keep_freed_cpu_memory=True, device=torch.device("cpu"))
    assert cpu_memory.keep_freed_cpu_memory_for_training(args) is False
    assert "not applied, the platform is darwin, not Linux" in caplog.text
