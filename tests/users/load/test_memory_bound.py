"""The users x --max-message-bytes bound against the machine's memory: values in, one warning line out."""

from __future__ import annotations

from pathlib import Path

from users.load.memory_bound import machine_memory, memory_warning

MIB = 2**20


def test_a_bound_over_the_machines_memory_is_one_line_naming_both() -> None:
    warning = memory_warning(100, 16 * MIB, 1024 * MIB)
    assert warning is not None and "\n" not in warning
    assert warning.startswith("100 users x --max-message-bytes 16777216 = 1.6 GiB") and "1.0 GiB" in warning


def test_a_bound_within_memory_or_unknown_says_nothing() -> None:
    assert memory_warning(64, 16 * MIB, 1024 * MIB) is None  # exactly the memory: fits
    assert memory_warning(65, 16 * MIB, 1024 * MIB) is not None
    assert memory_warning(None, 16 * MIB, 1024 * MIB) is None  # the web UI: users not chosen yet
    assert memory_warning(100, 16 * MIB, None) is None


def test_machine_memory_reads_memtotal_in_kb(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16318480 kB\nMemFree:          123 kB\n")
    assert machine_memory(meminfo) == 16318480 * 1024
    fallback = machine_memory(tmp_path / "missing")  # os.sysconf's answer on this machine
    assert fallback is None or fallback > 64 * MIB
