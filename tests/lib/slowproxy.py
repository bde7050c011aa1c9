#!/usr/bin/env python3
# tests/lib/slowproxy.py - a TCP relay that forwards client-to-server bytes
# at a fixed rate, so scenario tests can watch a transfer in flight on
# loopback (where it would otherwise finish in under a second). Server-to-
# client bytes pass at full speed. Test helper only; never used by shipd.
#
#   slowproxy.py LISTEN_PORT TARGET_PORT BYTES_PER_SECOND
import socket
import sys
import threading
import time

CHUNK = 16384


def pump(src, dst, rate):
    start, sent = time.monotonic(), 0
    try:
        while True:
            data = src.recv(CHUNK)
            if not data:
                break
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


def serve(conn, target, rate):
    try:
        up = socket.create_connection(("127.0.0.1", target))
    except OSError:
        conn.close()
        return
    threading.Thread(target=pump, args=(conn, up, rate), daemon=True).start()
    threading.Thread(target=pump, args=(up, conn, 0), daemon=True).start()


def main():
    port, target, rate = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("listening", flush=True)
    while True:
        conn, _ = ls.accept()
        serve(conn, target, rate)


main()
