#!/usr/bin/env python3
# tests/lib/slowproxy.py - a TCP relay that forwards client-to-server bytes
# at a fixed rate, so scenario tests can watch a transfer in flight on
# loopback (where it would otherwise finish in under a second). Server-to-
# client bytes pass at full speed. Test helper only; never used by shipd.
#
#   slowproxy.py LISTEN_PORT TARGET_PORT BYTES_PER_SECOND [FLIP_OFFSET]
#
# BYTES_PER_SECOND 0: full speed. With FLIP_OFFSET, the client-to-server
# byte at that stream offset of the first connection is XORed with 0x04
# (said on stdout as "flipped at N"): tampering on the wire, for a test
# that a changed byte means a retry, never a delivered bad file.
import socket
import sys
import threading
import time

CHUNK = 16384


def pump(src, dst, rate, flip_at=None):
    start, sent = time.monotonic(), 0
    try:
        while True:
            data = src.recv(CHUNK)
            if not data:
                break
            if flip_at is not None and sent <= flip_at < sent + len(data):
                b = bytearray(data)
                b[flip_at - sent] ^= 0x04
                data = bytes(b)
                print("flipped at %d" % flip_at, flush=True)
            dst.sendall(data)
            sent += len(data)
            if rate:
                ahead = sent / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(conn, target, rate, flip_at):
    try:
        up = socket.create_connection(("127.0.0.1", target))
    except OSError:
        conn.close()
        return
    threading.Thread(target=pump, args=(conn, up, rate, flip_at), daemon=True).start()
    threading.Thread(target=pump, args=(up, conn, 0), daemon=True).start()


def main():
    port, target, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    flip_at = int(sys.argv[4]) if len(sys.argv) > 4 else None
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("listening", flush=True)
    while True:
        conn, _ = ls.accept()
        serve(conn, target, rate, flip_at)
        flip_at = None		# the first connection only


main()
