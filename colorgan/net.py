"""Is the download host reachable? Asked before anything that would otherwise hang offline."""

from __future__ import annotations

import socket
import threading

# Google's storage host: TFDS's mirror of prepared datasets and Keras's application weights
# (ResNet50V2's ImageNet weights) both download from it.
DOWNLOAD_HOST = ("storage.googleapis.com", 443)


def host_reachable(host: tuple[str, int], timeout: float = 3.0) -> bool:
    """True if a TCP connection to (name, port) opens within `timeout` seconds, DNS included."""
    result = []

    def probe():
        try:
            socket.create_connection(host, timeout=timeout).close()
            result.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)  # getaddrinfo has no timeout of its own
    thread.start()
    thread.join(timeout + 1)
    return bool(result)
