"""Write bcryptprimitives.dll for Wine 8, which has none (platforms/wine.sh calls this).

Every Rust >= 1.78 binary for Windows imports ``ProcessPrng`` from bcryptprimitives.dll
(Windows 10 and later have it; Wine has it from 9.0). Under Wine 8 such an extension
module does not load ("DLL load failed ... Module not found"): kosoku, the WebSocket
conformance client of the test suite, is one; wine.sh writes this DLL into its package
directory, where Windows looks for the DLLs an extension module imports.

The DLL written here holds no code: one export, ``ProcessPrng``, forwarded to
``advapi32.SystemFunction036`` (RtlGenRandom), which fills the buffer with random bytes
the same way (same arguments; both report success). A forwarder is an export whose
address lies inside the export directory and names ``dll.function`` there; the loader
resolves it as if the importer had asked for that function.

    python platforms/wine_bcryptprimitives.py OUTPUT.dll
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

DLL_NAME = b"bcryptprimitives.dll"
EXPORTS = {b"ProcessPrng": b"advapi32.SystemFunction036"}

FILE_ALIGNMENT = 0x200
SECTION_ALIGNMENT = 0x1000
SECTION_RVA = 0x1000
IMAGE_BASE = 0x7FF6_0000_0000


def export_section() -> tuple[bytes, int]:
    """The export directory at ``SECTION_RVA``: its bytes and the directory's size."""
    names = sorted(EXPORTS)  # the loader binary-searches the name table
    count = len(names)
    header_size = 40
    functions_rva = SECTION_RVA + header_size
    names_rva = functions_rva + 4 * count
    ordinals_rva = names_rva + 4 * count
    strings_rva = ordinals_rva + 2 * count
    strings = bytearray()

    def string(value: bytes) -> int:
        rva = strings_rva + len(strings)
        strings.extend(value + b"\0")
        return rva

    dll_name_rva = string(DLL_NAME)
    name_rvas = [string(name) for name in names]
    target_rvas = [string(EXPORTS[name]) for name in names]
    directory = struct.pack(
        "<IIHHIIIIIII",
        0,  # Characteristics
        0,  # TimeDateStamp
        0,  # MajorVersion
        0,  # MinorVersion
        dll_name_rva,
        1,  # Base (ordinal of the first function)
        count,  # NumberOfFunctions
        count,  # NumberOfNames
        functions_rva,
        names_rva,
        ordinals_rva,
    )
    body = (
        directory
        + struct.pack(f"<{count}I", *target_rvas)  # forwarders: inside the directory
        + struct.pack(f"<{count}I", *name_rvas)
        + struct.pack(f"<{count}H", *range(count))
        + bytes(strings)
    )
    return body, len(body)


def align(value: int, to: int) -> int:
    return (value + to - 1) // to * to


def dll() -> bytes:
    section, export_size = export_section()
    raw_size = align(len(section), FILE_ALIGNMENT)
    image_size = SECTION_RVA + align(len(section), SECTION_ALIGNMENT)

    dos = bytearray(64)
    dos[0:2] = b"MZ"
    struct.pack_into("<I", dos, 0x3C, 64)  # e_lfanew: the PE header follows at once
    coff = struct.pack(
        "<HHIIIHH",
        0x8664,  # Machine: AMD64
        1,  # NumberOfSections
        0,  # TimeDateStamp
        0,  # PointerToSymbolTable
        0,  # NumberOfSymbols
        240,  # SizeOfOptionalHeader (PE32+)
        0x2022,  # EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL
    )
    directories = [(0, 0)] * 16
    directories[0] = (SECTION_RVA, export_size)  # the export table
    optional = struct.pack(
        "<HBBIIIIIQIIHHHHHHIIIIHHQQQQII",
        0x20B,  # Magic: PE32+
        14,  # MajorLinkerVersion
        0,  # MinorLinkerVersion
        0,  # SizeOfCode
        raw_size,  # SizeOfInitializedData
        0,  # SizeOfUninitializedData
        0,  # AddressOfEntryPoint: none (no DllMain)
        0,  # BaseOfCode
        IMAGE_BASE,
        SECTION_ALIGNMENT,
        FILE_ALIGNMENT,
        6,  # MajorOperatingSystemVersion
        0,
        0,  # MajorImageVersion
        0,
        6,  # MajorSubsystemVersion
        0,
        0,  # Win32VersionValue
        image_size,  # SizeOfImage
        FILE_ALIGNMENT,  # SizeOfHeaders
        0,  # CheckSum
        3,  # Subsystem: console
        0x0140,  # DllCharacteristics: DYNAMIC_BASE | NX_COMPAT (nothing to relocate)
        0x100000,  # SizeOfStackReserve
        0x1000,  # SizeOfStackCommit
        0x100000,  # SizeOfHeapReserve
        0x1000,  # SizeOfHeapCommit
        0,  # LoaderFlags
        len(directories),  # NumberOfRvaAndSizes
    ) + b"".join(struct.pack("<II", rva, size) for rva, size in directories)
    section_header = struct.pack(
        "<8sIIIIIIHHI",
        b".edata",
        len(section),  # VirtualSize
        SECTION_RVA,
        raw_size,  # SizeOfRawData
        FILE_ALIGNMENT,  # PointerToRawData
        0,
        0,
        0,
        0,
        0x40000040,  # INITIALIZED_DATA | MEM_READ
    )
    headers = bytes(dos) + b"PE\0\0" + coff + optional + section_header
    assert len(headers) <= FILE_ALIGNMENT
    return headers.ljust(FILE_ALIGNMENT, b"\0") + section.ljust(raw_size, b"\0")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python platforms/wine_bcryptprimitives.py OUTPUT.dll", file=sys.stderr)
        return 2
    Path(argv[0]).write_bytes(dll())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
