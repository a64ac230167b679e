"""A small IMAP4rev1 server on loopback for the tests of the IMAP poller: one mailbox with its
messages, flags and UIDs, the commands a polling client uses, and ways to fail.

It answers as RFC 3501 (IMAP4rev1, and RFC 9051 which keeps these shapes) says a server does:
the greeting "* OK [CAPABILITY ...]" (7.1.1), LOGIN with quoted strings (6.2.3; a wrong
password is "NO [AUTHENTICATIONFAILED]", RFC 5530), SELECT with "* n EXISTS", "* OK
[UIDVALIDITY v]", "* OK [UIDNEXT n]" and "OK [READ-WRITE]" (6.3.1), UID SEARCH answering
"* SEARCH uid ..." (6.4.4, 6.4.8), UID FETCH with RFC822.SIZE and BODY.PEEK[] sent as a
literal "{n}\\r\\n<bytes>" in "* seq FETCH (UID u ...)" (6.4.5, 7.4.2; PEEK sets no \\Seen),
UID STORE +FLAGS(.SILENT) (6.4.6), NOOP and LOGOUT ("* BYE", 6.1.3).
"""

from __future__ import annotations

import asyncio
import re
import ssl
from dataclasses import dataclass, field


@dataclass
class StoredMail:
    uid: int
    content: bytes
    flags: set[str] = field(default_factory=set)


@dataclass
class Mailbox:
    user: str = "reply@shop.example"
    password: str = "imap-secret"
    folder: str = "INBOX"
    uid_validity: int = 1_700_000_001
    messages: list[StoredMail] = field(default_factory=list)
    next_uid: int = 101
    # Ways to fail, as real servers and networks do.
    drop_on_store: int = 0  # close the connection instead of answering this many STOREs
    logins: int = 0
    commands: list[str] = field(default_factory=list)

    def deliver(self, content: bytes, *flags: str) -> int:
        uid = self.next_uid
        self.next_uid += 1
        self.messages.append(StoredMail(uid, content, set(flags)))
        return uid

    def flags(self, uid: int) -> set[str]:
        return next(m.flags for m in self.messages if m.uid == uid)


_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\S+)')


def _arguments(text: bytes) -> list[str]:
    """Atoms and quoted strings (RFC 3501 4.1-4.3), unquoted."""
    found = []
    for match in _QUOTED.finditer(text):
        quoted, atom = match.group(1), match.group(2)
        if quoted is not None:
            atom = re.sub(rb"\\(.)", rb"\1", quoted)
        found.append(atom.decode())
    return found


class ImapServer:
    def __init__(self, mailbox: Mailbox, *, ssl_context: ssl.SSLContext | None = None):
        self.mailbox = mailbox
        self._ssl = ssl_context
        self._server: asyncio.base_events.Server | None = None
        self.port = 0

    async def start(self) -> ImapServer:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0, ssl=self._ssl)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        box = self.mailbox
        authenticated = selected = False

        def send(line: bytes) -> None:
            writer.write(line + b"\r\n")

        send(b"* OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE] ShopBot test IMAP ready")
        try:
            while line := await reader.readline():
                tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
                command, _, args = rest.partition(b" ")
                name = command.upper().decode(errors="replace")
                box.commands.append(name if name != "UID" else f"UID {args.split()[0].decode()}")
                if name == "CAPABILITY":
                    send(b"* CAPABILITY IMAP4rev1 UIDPLUS MOVE")
                    send(tag + b" OK CAPABILITY completed")
                elif name == "NOOP":
                    send(tag + b" OK NOOP completed")
                elif name == "LOGOUT":
                    send(b"* BYE logging out")
                    send(tag + b" OK LOGOUT completed")
                    break
                elif name == "LOGIN":
                    user, password = [*_arguments(args), "", ""][:2]
                    box.logins += 1
                    if (user, password) == (box.user, box.password):
                        authenticated = True
                        send(tag + b" OK [CAPABILITY IMAP4rev1 UIDPLUS MOVE] LOGIN completed")
                    else:
                        send(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials")
                elif name in ("SELECT", "EXAMINE") and authenticated:
                    [folder] = _arguments(args)[:1] or [""]
                    if folder.upper() != box.folder.upper():
                        send(tag + b" NO [NONEXISTENT] No such mailbox")
                        continue
                    selected = True
                    send(f"* {len(box.messages)} EXISTS".encode())
                    send(b"* 0 RECENT")
                    send(b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
                    send(f"* OK [UIDVALIDITY {box.uid_validity}] UIDs valid".encode())
                    send(f"* OK [UIDNEXT {box.next_uid}] Predicted next UID".encode())
                    send(tag + b" OK [READ-WRITE] SELECT completed")
                elif name == "UID" and selected:
                    if not await self._uid(tag, args, send, writer):
                        return
                else:
                    send(tag + b" BAD Command unknown or not allowed now")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _uid(self, tag: bytes, args: bytes, send, writer) -> bool:
        box = self.mailbox
        command, _, rest = args.partition(b" ")
        command = command.upper()
        if command == b"SEARCH":
            criteria = rest.upper().split()
            if b"CHARSET" in criteria:  # "CHARSET utf-8 ..."
                criteria = criteria[criteria.index(b"CHARSET") + 2 :]
            if criteria == [b"UNSEEN"]:
                uids = [m.uid for m in box.messages if "\\Seen" not in m.flags]
            elif criteria == [b"ALL"]:
                uids = [m.uid for m in box.messages]
            else:
                send(tag + b" BAD Search criteria not supported here")
                return True
            send(b"* SEARCH" + b"".join(f" {u}".encode() for u in uids))
            send(tag + b" OK SEARCH completed")
            return True
        sequence, _, items = rest.partition(b" ")
        found = [
            (index, m)
            for index, m in enumerate(box.messages, 1)
            if sequence.isdigit() and m.uid == int(sequence)
        ]
        if command == b"FETCH":
            for index, message in found:
                head = f"* {index} FETCH (UID {message.uid}".encode()
                if b"RFC822.SIZE" in items.upper():
                    send(head + f" RFC822.SIZE {len(message.content)})".encode())
                elif b"BODY.PEEK[]" in items.upper():
                    writer.write(head + f" BODY[] {{{len(message.content)}}}\r\n".encode())
                    writer.write(message.content)
                    send(b")")
            send(tag + b" OK FETCH completed")
            return True
        if command == b"STORE":
            if box.drop_on_store:
                box.drop_on_store -= 1
                writer.close()  # the network gives way before the answer
                return False
            silent = b".SILENT" in items.upper()
            flags = set(re.findall(r"\\\w+", items.decode()))
            for index, message in found:
                message.flags |= flags
                if not silent:
                    shown = " ".join(sorted(message.flags))
                    send(f"* {index} FETCH (UID {message.uid} FLAGS ({shown}))".encode())
            send(tag + b" OK STORE completed")
            return True
        send(tag + b" BAD UID command not supported here")
        return True
