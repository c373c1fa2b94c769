"""ZIP archives (uploads, and XLSX workbooks, which are ZIP archives too) unpacked within limits.

A ZIP bomb is refused while it streams, on the bytes it actually produces: the sizes in a ZIP header are written by
whoever made the file, so they are checked first (cheap) but never trusted alone. Members are unpacked one at a
time into a private directory under names we choose, so a member's own name (``../../etc/passwd``, a symlink)
never reaches the file system.
"""

from __future__ import annotations

import shutil
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from apps.datasets.ingest.limits import DEFAULT_LIMITS, ReadLimits
from apps.datasets.ingest.types import IngestError

COPY_BYTES = 1 << 20
_UTF8_NAMES = 0x800
_ENCRYPTED = 0x1


@dataclass(frozen=True)
class Member:
    info: zipfile.ZipInfo
    # The member's path as its author saw it (Windows archivers write Cyrillic names in cp866).
    name: str

    @property
    def encrypted(self) -> bool:
        return bool(self.info.flag_bits & _ENCRYPTED)


def _display_name(info: zipfile.ZipInfo) -> str:
    if info.flag_bits & _UTF8_NAMES or info.filename.isascii():
        return info.filename
    try:
        return info.filename.encode("cp437").decode("cp866")
    except UnicodeError:
        return info.filename


def zip_bomb(detail: str) -> IngestError:
    return IngestError(
        "zip_bomb",
        _("The archive was not unpacked: %(detail)s. Archives built to exhaust the server (ZIP bombs) are refused.")
        % {"detail": detail},
    )


class Archive:
    """An open ZIP archive whose members are read through the limits; a context manager."""

    def __init__(self, path: Path, *, limits: ReadLimits = DEFAULT_LIMITS, corrupt: IngestError | None = None) -> None:
        self.limits = limits
        self._corrupt = corrupt or IngestError(
            "corrupt_zip", _("The ZIP archive is damaged or incomplete. Pack the files again and upload it.")
        )
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise self._corrupt from None
        self._unpacked = 0
        infos = self._zip.infolist()
        if len(infos) > limits.max_members:
            self._zip.close()
            raise zip_bomb(_("it holds more than %(count)d files") % {"count": limits.max_members})
        # The sizes a ZIP declares are checked before anything is inflated. zipfile never inflates a member past
        # its declared size (and then checks its CRC), so a header that understates is a damaged archive, and the
        # counts kept while members stream (``_count``) hold the same limits on what is actually produced.
        declared = 0
        for info in infos:
            declared += info.file_size
            problem = self._excess(Member(info=info, name=_display_name(info)), info.file_size)
            if problem is not None:
                self._zip.close()
                raise problem
        if declared > limits.max_total_bytes:
            self._zip.close()
            raise self._total_too_big()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def names(self) -> set[str]:
        return set(self._zip.namelist())

    def members(self) -> list[Member]:
        """Files in archive order; folders and the metadata macOS and Windows Explorer add are left out."""
        members = []
        for info in self._zip.infolist():
            name = _display_name(info)
            leaf = name.rstrip("/").rsplit("/", 1)[-1]
            if info.is_dir() or name.startswith("__MACOSX/") or leaf.startswith(".") or leaf == "Thumbs.db":
                continue
            members.append(Member(info=info, name=name))
        return members

    def member(self, name: str) -> Member:
        info = self._zip.getinfo(name)
        return Member(info=info, name=_display_name(info))

    def open(self, member: Member) -> MemberStream:
        try:
            handle = self._zip.open(member.info)
        except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, ValueError, EOFError):
            raise self._corrupt from None
        return MemberStream(self, member, handle)

    def extract(self, member: Member, directory: Path, filename: str) -> Path:
        """Unpack one member into ``directory/filename``, within the limits."""
        target = directory / filename
        with self.open(member) as source, target.open("wb") as sink:
            shutil.copyfileobj(source, sink, COPY_BYTES)
        return target

    def _count(self, member: Member, produced: int, added: int) -> None:
        self._unpacked += added
        problem = self._excess(member, produced)
        if problem is not None:
            raise problem
        if self._unpacked > self.limits.max_total_bytes:
            raise self._total_too_big()

    def _excess(self, member: Member, size: int) -> IngestError | None:
        """The limit a member breaks by unpacking to ``size`` bytes, if any."""
        limits = self.limits
        if size > limits.max_member_bytes:
            return self._member_too_big(member.name)
        if size > limits.ratio_floor_bytes and size > max(member.info.compress_size, 1) * limits.max_ratio:
            return zip_bomb(
                _("“%(name)s” expands more than %(ratio)d times") % {"name": member.name, "ratio": limits.max_ratio}
            )
        return None

    def _member_too_big(self, name: str) -> IngestError:
        return zip_bomb(
            _("“%(name)s” unpacks to more than %(size)s")
            % {"name": name, "size": filesizeformat(self.limits.max_member_bytes)}
        )

    def _total_too_big(self) -> IngestError:
        return zip_bomb(
            _("its files unpack to more than %(size)s") % {"size": filesizeformat(self.limits.max_total_bytes)}
        )


class MemberStream:
    """A member's bytes as they inflate, counted against the limits; a damaged member is the archive's error."""

    def __init__(self, archive: Archive, member: Member, handle: IO[bytes]) -> None:
        self._archive = archive
        self._member = member
        self._handle = handle
        self._produced = 0
        self.closed = False

    def __enter__(self) -> MemberStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, size: int = -1) -> bytes:
        # Never an unbounded read: the point is to look at the bytes before there are too many of them.
        size = COPY_BYTES if size is None or size < 0 else min(size, 64 * COPY_BYTES)
        try:
            data = self._handle.read(size)
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError):
            raise self._archive._corrupt from None
        self._produced += len(data)
        self._archive._count(self._member, self._produced, len(data))
        return data

    def close(self) -> None:
        self.closed = True
        self._handle.close()
