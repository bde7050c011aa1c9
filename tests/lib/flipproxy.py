#!/usr/bin/env python3
# tests/lib/flipproxy.py - a TCP relay that changes one byte on the wire:
# in the first connection it relays, the client-to-server byte at stream
# offset OFFSET is XORed with 0x04 (said on stdout as "flipped at N");
# every other byte, and every later connection, passes as it is. Lets a
# scenario test show that tampering on a hop means a retry, never a
# delivered bad file. Test helper only; never used by shipd.
#
#   flipproxy.py LISTEN_PORT TARGET_PORT OFFSET
import socket
import sys
import threading

CHUNK = 65536


def pump(src, dst, flip_at):
    seen = 0
    try:
        while True:
            data = src.recv(CHUNK)
            if not data:
                break
            if flip_at is not None and seen <= flip_at < seen + len(data):
                b = bytearray(data)
                b[flip_at - seen] ^= 0x04
                data = bytes(b)
                print("flipped at %d" % flip_at, flush=True)
            seen += len(data)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    port, target, offset = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    print("listening", flush=True)
    first = True
    while True:
        conn, _ = ls.accept()
        try:
            up = socket.create_connection(("127.0.0.1", target))
        except OSError:
            conn.close()
            continue
        threading.Thread(target=pump, args=(conn, up, offset if first else None),
                         daemon=True).start()
        threading.Thread(target=pump, args=(up, conn, None), daemon=True).start()
        first = False


main()
