"""An in-process Bot API stand-in: the bot talks to it exactly as it would to Telegram.

It sits at python-telegram-bot's HTTP boundary (a ``BaseRequest``), records every call with its
parameters and uploaded files, and answers with plausible Bot API results. ``bashgah shell`` uses
it to run the real Application with no token and no network; the tests use it to assert on what
the bot sent. Files a test puts in ``files`` (by file id) are served as Telegram serves them:
``getFile`` gives their path, and a GET of the bot's file URL with that path gives their bytes.
Like Telegram, it refuses a text longer than 4,096 characters or a caption longer than 1,024
(counted without the HTML tags, in UTF-16 code units): such a call is answered 400 and kept in
``refused``, not in ``calls``, as it was never sent.
"""

from __future__ import annotations

import html
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

from core.telegram_html import CAPTION_LIMIT, MESSAGE_LIMIT, size

BOT_USER = {
    "id": 7_000_000_001,
    "is_bot": True,
    "first_name": "Bashgah",
    "username": "bashgah_demo_bot",
}
_SENDS = {"sendMessage", "sendPhoto", "sendDocument"}
_FILE_PATH = "documents/"  # where getFile says a registered file lies, before its file id
_TRUE_METHODS = {
    "answerCallbackQuery",
    "setMyCommands",
    "deleteMyCommands",
    "deleteMessage",
    "setWebhook",
    "deleteWebhook",
    "setChatMenuButton",
    "sendChatAction",
}


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    file_names: dict[str, str] = field(default_factory=dict)  # as uploaded, by part name

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def markup(self) -> dict[str, Any]:
        markup = self.params.get("reply_markup") or {}
        return json.loads(markup) if isinstance(markup, str) else markup

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Every button, inline or reply keyboard, row after row."""
        rows = self.markup.get("inline_keyboard") or self.markup.get("keyboard") or []
        return [{"text": b} if isinstance(b, str) else b for row in rows for b in row]


class BotApiStandin(BaseRequest):
    """Records requests and answers them; ``chat_member_status`` drives ``getChatMember``."""

    def __init__(self) -> None:
        self.calls: list[ApiCall] = []
        self.refused: list[ApiCall] = []  # what Telegram would not take (too long)
        self.chat_member_status: dict[tuple[int, int], str] = {}
        self.messages: dict[int, dict[str, Any]] = {}  # as last sent or edited, by message id
        self.files: dict[str, bytes] = {}  # what getFile and a download serve, by file id
        self._next_message_id = 1

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if method == "GET":  # a file download (every Bot API method is a POST)
            return self._download(url)
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data else {}
        files, file_names = {}, {}
        if request_data and request_data.contains_files:
            for name, part in (request_data.multipart_data or {}).items():
                content = part[1] if isinstance(part, tuple) else part
                if hasattr(content, "read"):  # an upload streamed from a file, as httpx does
                    content.seek(0)
                    content = content.read()
                files[name] = content
                if isinstance(part, tuple) and part[0]:
                    file_names[name] = str(part[0])
        call = ApiCall(api_method, params, files, file_names)
        too_long = _too_long(params)
        if too_long:
            self.refused.append(call)
            return 400, json.dumps(
                {"ok": False, "error_code": 400, "description": f"Bad Request: {too_long}"}
            ).encode()
        self.calls.append(call)
        if api_method == "getFile" and str(params.get("file_id")) not in self.files:
            return 400, json.dumps(
                {"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"}
            ).encode()
        return 200, json.dumps({"ok": True, "result": self._result(call)}).encode()

    def _download(self, url: str) -> tuple[int, bytes]:
        """A GET of ``<base_file_url>/documents/<file_id>``, recorded as a ``download`` call."""
        self.calls.append(ApiCall("download", {"url": url}))
        head, _, file_id = url.rpartition("/")
        if not head.endswith(_FILE_PATH.rstrip("/")) or file_id not in self.files:
            return 404, b'{"ok": false, "error_code": 404, "description": "Not Found"}'
        return 200, self.files[file_id]

    def _result(self, call: ApiCall) -> Any:
        if call.method == "getMe":
            return BOT_USER
        if call.method in _TRUE_METHODS:
            return True
        if call.method in _SENDS or call.method.startswith("editMessage"):
            return self._message(call)
        if call.method == "getChatMember":
            chat_id, user_id = int(call.params["chat_id"]), int(call.params["user_id"])
            status = self.chat_member_status.get((chat_id, user_id), "left")
            member = {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": "U"}}
            if status == "administrator":
                member.update(_ADMIN_RIGHTS)
            elif status == "creator":  # the group's owner: a field of theirs alone
                member["is_anonymous"] = False
            return member
        if call.method == "getFile":
            file_id = str(call.params["file_id"])
            return {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(self.files[file_id]),
                "file_path": _FILE_PATH + file_id,
            }
        if call.method == "getUpdates":
            return []
        if call.method == "getMyCommands":
            return []
        return True

    def _message(self, call: ApiCall) -> dict[str, Any]:
        message_id = call.params.get("message_id")
        if message_id is None:
            message_id = self._next_message_id
            self._next_message_id += 1
        chat_id = int(call.params.get("chat_id", 0))
        message: dict[str, Any] = {
            "message_id": int(message_id),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
            "from": BOT_USER,
        }
        if "text" in call.params:
            message["text"] = call.params["text"]
        if "caption" in call.params:
            message["caption"] = call.params["caption"]
        if call.markup.get("inline_keyboard"):
            message["reply_markup"] = call.markup
        if call.method == "sendPhoto":
            message["photo"] = [
                {
                    "file_id": f"photo{message_id}",
                    "file_unique_id": f"p{message_id}",
                    "width": 1000,
                    "height": 600,
                }
            ]
        if call.method == "sendDocument":
            message["document"] = {
                "file_id": f"doc{message_id}",
                "file_unique_id": f"d{message_id}",
            }
        if call.method == "editMessageReplyMarkup":
            message = {**self.messages.get(int(message_id), message), "reply_markup": call.markup}
            if not call.markup:  # the buttons removed: a message without a keyboard
                del message["reply_markup"]
        self.messages[int(message_id)] = message
        return message

    def sent(self, since: int = 0) -> list[ApiCall]:
        """Messages and edits the bot made, in order (not the housekeeping calls)."""
        return [
            c
            for c in self.calls[since:]
            if c.method in _SENDS or c.method.startswith("editMessage")
        ]


def _too_long(params: dict[str, Any]) -> str | None:
    """Telegram's refusal of an over-long text or caption, if this call has one."""
    for name, limit, refusal in (
        ("text", MESSAGE_LIMIT, "message is too long"),
        ("caption", CAPTION_LIMIT, "message caption is too long"),
    ):
        value = params.get(name)
        if isinstance(value, str) and size(html.unescape(re.sub(r"<[^>]*>", "", value))) > limit:
            return refusal
    return None


_ADMIN_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": True,
    "can_restrict_members": True,
    "can_promote_members": False,
    "can_change_info": True,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}
