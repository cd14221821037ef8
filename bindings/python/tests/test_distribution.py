"""What scripts/test-python installed: the manylinux abi3 wheel it built (not a
source build), into a fresh virtualenv whose PATH has no Rust toolchain. The
script sets RUNTEL_WHEEL and RUNTEL_NO_TOOLCHAIN; without them (a pytest run
against some other install) these checks are skipped."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import List, Tuple

import pytest

import runtel
import runtel._runtel

WHEEL = os.environ.get("RUNTEL_WHEEL")
needs_wheel = pytest.mark.skipif(not WHEEL, reason="RUNTEL_WHEEL unset: scripts/test-python sets it")


def elf_sections(elf: bytes) -> List[str]:
    """The section names of a 64-bit little-endian ELF file."""
    assert elf[:6] == b"\x7fELF\x02\x01", "a 64-bit little-endian ELF file"
    (shoff,) = struct.unpack_from("<Q", elf, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)

    def header(i: int) -> Tuple[int, int]:
        base = shoff + i * shentsize
        (name,) = struct.unpack_from("<I", elf, base)
        (offset,) = struct.unpack_from("<Q", elf, base + 0x18)
        return name, offset

    strtab = header(shstrndx)[1]
    names = []
    for i in range(shnum):
        start = strtab + header(i)[0]
        names.append(elf[start : elf.index(b"\0", start)].decode())
    return names


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@needs_wheel
def test_the_installed_package_is_the_wheel_that_was_built() -> None:
    assert WHEEL is not None
    dist = metadata.distribution("runtel")
    tags = [line.split(": ", 1)[1] for line in (dist.read_text("WHEEL") or "").splitlines() if line.startswith("Tag: ")]
    assert tags and all(t.startswith("cp39-abi3-manylinux") for t in tags), tags
    # The file name carries the same tags (python-abi-platform, platforms joined by dots).
    name_tags = Path(WHEEL).name[: -len(".whl")].split("-")[-3:]
    assert {f"{name_tags[0]}-{name_tags[1]}-{p}" for p in name_tags[2].split(".")} == set(tags)
    # pip recorded that it installed this very file, and the module is its copy.
    direct = json.loads(dist.read_text("direct_url.json") or "{}")
    assert direct.get("url", "").endswith("/" + Path(WHEEL).name) and "archive_info" in direct, direct
    with zipfile.ZipFile(WHEEL) as whl:
        shipped = whl.read("runtel/_runtel.abi3.so")
        assert "runtel/testing.py" in whl.namelist()
    assert Path(runtel._runtel.__file__).name == "_runtel.abi3.so"
    assert digest(Path(runtel._runtel.__file__).read_bytes()) == digest(shipped)
    assert "site-packages" in Path(runtel.__file__).parts
    # Stripped (pyproject: strip = true): no symbol table, no debug sections.
    sections = elf_sections(shipped)
    assert ".text" in sections and ".dynsym" in sections, sections
    assert not [s for s in sections if s == ".symtab" or s.startswith(".debug")], sections


@pytest.mark.skipif(not os.environ.get("RUNTEL_NO_TOOLCHAIN"), reason="RUNTEL_NO_TOOLCHAIN unset")
def test_no_rust_toolchain_is_on_path() -> None:
    assert shutil.which("cargo") is None and shutil.which("rustc") is None, os.environ["PATH"]
    # Child processes (the tests start many) see the same PATH.
    child = "import shutil; print(shutil.which('cargo'), shutil.which('rustc'))"
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=30)
    assert run.stdout == "None None\n", run.stdout + run.stderr
