#!/usr/bin/env python3
"""memscan.py PID HEXNEEDLE... - search a live process's memory for byte strings.

Reads /proc/PID/maps and, for every readable mapping, /proc/PID/mem (needs
root or ptrace rights). Prints one line per needle, "found HEX" or
"absent HEX", then "scanned N bytes in M mappings". Exits 0 when every
mapping it could see was read, 2 when the process vanished or nothing was
readable (the caller then cannot conclude anything). A test tool only.
"""
import sys

def main():
    pid = sys.argv[1]
    needles = [bytes.fromhex(h) for h in sys.argv[2:]]
    found = [False] * len(needles)
    total = maps = 0
    keep = max(len(n) for n in needles) - 1
    try:
        with open(f"/proc/{pid}/maps") as f:
            regions = [l.split() for l in f]
        mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
    except OSError as e:
        print(f"cannot open process {pid}: {e}")
        return 2
    for r in regions:
        lo, hi = (int(x, 16) for x in r[0].split("-"))
        name = r[5] if len(r) > 5 else ""
        if r[1][0] != "r" or name in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
            continue
        tail = b""
        pos = lo
        ok = True
        while pos < hi:
            n = min(1 << 20, hi - pos)
            try:
                mem.seek(pos)
                chunk = mem.read(n)
            except OSError:
                ok = False
                break
            if not chunk:
                break
            buf = tail + chunk
            for i, nd in enumerate(needles):
                if not found[i] and nd in buf:
                    found[i] = True
                    print(f"# {nd.hex()[:8]} at {pos - len(tail) + buf.index(nd):#x} in {r[0]} {name}")
            tail = buf[-keep:] if keep else b""
            total += len(chunk)
            pos += len(chunk)
        if ok:
            maps += 1
    for i, nd in enumerate(needles):
        print(("found " if found[i] else "absent ") + nd.hex())
    print(f"scanned {total} bytes in {maps} mappings")
    try:
        open(f"/proc/{pid}/maps").close()
    except OSError:
        return 2
    return 0 if total else 2

sys.exit(main())
