"""Content type from magic bytes, and which names and MIME types each type may carry.

Only types with a reliable signature are known; anything else is ``""`` (unknown), which never
counts as a mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FileType:
    """A content type recognised by its magic bytes.

    Attributes:
        name: short type name (``"pe"``, ``"zip"``, ``"pdf"``).
        extensions: file extensions that legitimately carry this type.
        mimes: MIME types that legitimately carry this type.
        executable: running it is running code (PE, ELF, LNK...).
    """

    name: str
    extensions: frozenset[str]
    mimes: frozenset[str]
    executable: bool = False


def _t(name: str, exts: str, mimes: str, *, executable: bool = False) -> FileType:
    return FileType(name, frozenset(exts.split()), frozenset(mimes.split()), executable)


_OOXML = "docx docm dotx dotm xlsx xlsm xltx xltm xlam pptx pptm potx potm ppam ppsx ppsm sldx"
_ODF = "odt ods odp odg"
TYPES: dict[str, FileType] = {
    t.name: t
    for t in (
        _t(
            "pe",
            "exe dll scr sys com cpl ocx drv efi mui",
            "application/x-msdownload application/x-dosexec "
            "application/vnd.microsoft.portable-executable application/x-ms-dos-executable "
            "application/x-executable",
            executable=True,
        ),
        _t(
            "elf",
            "so elf",
            "application/x-executable application/x-elf application/x-sharedlib",
            executable=True,
        ),
        _t("macho", "dylib app", "application/x-mach-binary", executable=True),
        _t("lnk", "lnk", "application/x-ms-shortcut", executable=True),
        _t(
            "zip",
            f"zip jar apk war ear xpi {_OOXML} {_ODF} epub vsix appx msix nupkg whl kmz",
            "application/zip application/x-zip-compressed application/x-zip "
            "application/java-archive application/epub+zip "
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document "
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet "
            "application/vnd.openxmlformats-officedocument.presentationml.presentation "
            "application/vnd.ms-word.document.macroenabled.12 "
            "application/vnd.ms-excel.sheet.macroenabled.12 "
            "application/vnd.ms-powerpoint.presentation.macroenabled.12 "
            "application/vnd.oasis.opendocument.text "
            "application/vnd.oasis.opendocument.spreadsheet "
            "application/vnd.oasis.opendocument.presentation "
            "application/vnd.android.package-archive",
        ),
        _t(
            "gzip",
            "gz tgz gzip",
            "application/gzip application/x-gzip application/x-compressed-tar application/x-tgz",
        ),
        _t(
            "bzip2",
            "bz2 tbz tbz2",
            "application/x-bzip2 application/x-bzip application/x-bzip-compressed-tar",
        ),
        _t("xz", "xz txz", "application/x-xz application/x-xz-compressed-tar"),
        _t("7z", "7z", "application/x-7z-compressed"),
        _t("rar", "rar", "application/vnd.rar application/x-rar-compressed application/x-rar"),
        _t("tar", "tar", "application/x-tar"),
        _t("cab", "cab", "application/vnd.ms-cab-compressed"),
        _t("iso", "iso img", "application/x-iso9660-image application/x-cd-image"),
        _t(
            "ole",
            "doc dot xls xlt xla ppt pot pps msg msi msp vsd pub one",
            "application/msword application/vnd.ms-excel application/vnd.ms-powerpoint "
            "application/vnd.ms-outlook "
            "application/x-msi application/x-ole-storage application/vnd.visio "
            "application/x-msdownload",
        ),
        _t("tnef", "dat tnef", "application/ms-tnef application/vnd.ms-tnef"),
        _t("pdf", "pdf", "application/pdf application/x-pdf"),
        _t("rtf", "rtf doc", "application/rtf text/rtf application/msword"),
        _t("png", "png", "image/png"),
        _t("jpeg", "jpg jpeg jpe jfif", "image/jpeg image/pjpeg"),
        _t("gif", "gif", "image/gif"),
        _t("bmp", "bmp", "image/bmp image/x-bmp image/x-ms-bmp"),
        _t("webp", "webp", "image/webp"),
        _t("tiff", "tif tiff", "image/tiff"),
    )
}


def detect(data: bytes) -> str:
    """The :data:`TYPES` name of ``data`` from its first bytes, or ``""`` when unknown."""
    head = data[:64]
    if head.startswith(b"MZ"):
        return "pe"
    if head.startswith(b"\x7fELF"):
        return "elf"
    if head[:4] in (
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
    ):
        return "macho"
    if head.startswith(b"L\x00\x00\x00\x01\x14\x02\x00"):
        return "lnk"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"MSCF"):
        return "cab"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if head.startswith(b"\x78\x9f\x3e\x22"):
        return "tnef"  # Outlook's winmail.dat
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"{\\rtf"):
        return "rtf"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"BM") and len(data) > 14 and data[6:10] == b"\x00\x00\x00\x00":
        return "bmp"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if len(data) > 262 and data[257:262] == b"ustar":
        return "tar"
    if len(data) > 0x8006 and data[0x8001:0x8006] == b"CD001":
        return "iso"
    if "%PDF-" in data[:1024].decode("latin-1"):
        return "pdf"  # PDF readers accept a header anywhere in the first KiB
    return ""


def extension_of(name: str) -> str:
    """The lower-case last extension of ``name`` without the dot (``""`` when none)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().rstrip(". ")
    if "." not in base.lstrip("."):
        return ""
    return base.rsplit(".", 1)[-1].strip().lower()


def type_for_extension(ext: str) -> set[str]:
    """Type names that legitimately use extension ``ext``."""
    return {t.name for t in TYPES.values() if ext in t.extensions}


def type_for_mime(mime: str) -> set[str]:
    """Type names that legitimately use MIME type ``mime``."""
    mime = mime.split(";", 1)[0].strip().lower()
    return {t.name for t in TYPES.values() if mime in t.mimes}


__all__ = ["TYPES", "FileType", "detect", "extension_of", "type_for_extension", "type_for_mime"]
