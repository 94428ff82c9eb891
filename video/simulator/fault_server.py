"""A misbehaving "camera" for fault tests: it hangs, or it answers with garbage.

* ``hang``: accepts every TCP connection and never says a word, like a camera whose RTSP task
  is wedged while its kernel still completes handshakes. A reader without a timeout waits
  forever; the relay must not.
* ``garbage``: reads the request and answers with random bytes, then closes, like a port that
  is not RTSP at all (a web UI, a wrong port in the registry).

Standard library only; run as its own process by the controller so that it can be killed like
any camera. The bound port is written to ``--port-file`` when ready.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import threading
import time
from pathlib import Path

GARBAGE_BYTES = 4096
HOLD_SECONDS = 3600  # a hung connection is held until the client gives up (or we are killed)


def _serve_hang(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(HOLD_SECONDS)
        try:
            while conn.recv(4096):  # swallow whatever the client sends, answer nothing
                pass
        except OSError:
            pass


def _serve_garbage(conn: socket.socket) -> None:
    with conn:
        conn.settimeout(2)
        try:
            conn.recv(4096)
            conn.sendall(os.urandom(GARBAGE_BYTES))
        except OSError:
            pass


def _parent_watch(parent_pid: int) -> None:
    while Path(f"/proc/{parent_pid}").exists():
        time.sleep(1)
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    """Entry point: bind, announce the port, serve connections in threads until killed."""
    p = argparse.ArgumentParser(description="A hanging or garbage-speaking TCP server.")
    p.add_argument("mode", choices=("hang", "garbage"))
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--parent-pid", type=int, default=0)
    args = p.parse_args(sys.argv[1:] if argv is None else argv)

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(64)
    if args.port_file:
        tmp = f"{args.port_file}.tmp"
        Path(tmp).write_text(str(listener.getsockname()[1]), encoding="utf-8")
        os.replace(tmp, args.port_file)
    if args.parent_pid:
        threading.Thread(target=_parent_watch, args=(args.parent_pid,), daemon=True).start()
    handler = _serve_hang if args.mode == "hang" else _serve_garbage
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=handler, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
