"""Files the bot uploads, kept under Telegram's limit and out of memory.

A bot may upload at most 50 MB a file; Telegram refuses anything larger. An export of a million
ledger rows is a CSV of about 48 MB (more with longer reasons and names), yet its text repeats
itself and zips to a fraction of that, so a file over the limit goes out zipped (the one archive
every shop owner's computer opens), and only a zip still over it is not sent at all: :func:`fitted`
says so with ``None``.

The file is handed to Telegram as an open file, never read into memory: the upload streams it
from disk, and :class:`bot.group_replies.Answer` closes it once sent.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import zipfile
from typing import IO

from telegram import InputFile

#: Telegram's limit on a bot's upload, 50 MB (decimal megabytes: the safe reading of "50 MB").
UPLOAD_LIMIT = 50 * 1000 * 1000


async def fitted(file: IO[bytes], name: str) -> InputFile | None:
    """The document to send for ``file`` (an open file, read from its start), which owns its
    file from now on: ``file`` itself if it fits in :data:`UPLOAD_LIMIT`, else a zip holding it
    as ``name`` (``file`` is then closed), or ``None`` if even the zip does not fit.

    Zipping runs in a worker thread: deflating 50 MB takes seconds, which the event loop spends
    on everyone else's updates meanwhile."""
    if _size(file) > UPLOAD_LIMIT:
        with file:
            file = await asyncio.to_thread(_zipped, file, name)
        name = name.rsplit(".", 1)[0] + ".zip"
        if _size(file) > UPLOAD_LIMIT:
            file.close()
            return None
    file.seek(0)
    return InputFile(file, filename=name, read_file_handle=False)


def _size(file: IO[bytes]) -> int:
    return file.seek(0, io.SEEK_END)


def _zipped(file: IO[bytes], name: str) -> IO[bytes]:
    """A temporary file holding a zip of ``file`` as ``name``, written a block at a time."""
    archive = tempfile.TemporaryFile()  # noqa: SIM115 (returned: the document closes it)
    file.seek(0)
    with (
        zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped,
        zipped.open(name, "w", force_zip64=True) as member,
    ):
        shutil.copyfileobj(file, member, 1024 * 1024)
    return archive
