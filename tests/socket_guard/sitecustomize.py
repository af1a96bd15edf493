"""A socket guard for the app's offline test (tests/test_app_server.py): with this folder
on PYTHONPATH, Python imports it at start-up, and from then on the process may talk to
loopback addresses (and Unix sockets) only.

Connecting to any other address, sending a datagram to one, or resolving any name but
localhost fails with ConnectionRefusedError / socket.gaierror, and each attempt is logged
as one line in the file COLORGAN_SOCKET_GUARD names ("armed PID" first). DNS goes through
socket.getaddrinfo in Python's libraries (httpx, urllib, asyncio), so refusing names there
refuses lookups too.
"""

import ipaddress
import os
import socket

_LOG = os.environ.get("COLORGAN_SOCKET_GUARD")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _log(line: str) -> None:
    with open(_LOG, "a") as f:
        f.write(line + "\n")


def _loopback(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    host = str(host).split("%")[0]
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed(sock, address) -> bool:
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return True  # Unix sockets and the like stay on this machine
    return _loopback(address[0])


if _LOG:
    _connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
    _sendto, _getaddrinfo = socket.socket.sendto, socket.getaddrinfo

    def connect(self, address):
        if not _allowed(self, address):
            _log(f"refused connect {address!r}")
            raise ConnectionRefusedError(f"socket guard: {address!r} is not loopback")
        return _connect(self, address)

    def connect_ex(self, address):
        if not _allowed(self, address):
            _log(f"refused connect_ex {address!r}")
            return 111  # ECONNREFUSED
        return _connect_ex(self, address)

    def sendto(self, data, *args):
        address = args[-1]
        if not _allowed(self, address):
            _log(f"refused sendto {address!r}")
            raise ConnectionRefusedError(f"socket guard: {address!r} is not loopback")
        return _sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not _loopback(host):
            _log(f"refused getaddrinfo {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"socket guard: {host!r} is not loopback")
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    socket.socket.sendto, socket.getaddrinfo = sendto, getaddrinfo
    _log(f"armed {os.getpid()}")
