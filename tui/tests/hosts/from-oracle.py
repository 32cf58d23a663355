#!/usr/bin/env python3
"""Write a captured tree (the files `hotplug-lab host --sysroot` reads) from one snapshot of a
real-kernel oracle fixture (mm/tests/fixtures/oracle-*.txt, printed by ../shared/oracle).

    tui/tests/hosts/from-oracle.py FIXTURE SNAPSHOT OUTDIR

The oracle prints uname -r, /proc/cmdline, block_size_bytes, auto_online_blocks, the
memory_hotplug parameters, every block (name state phys_index removable [valid_zones] node),
/proc/iomem, /proc/meminfo, /proc/zoneinfo and /proc/vmstat's memmap counters; those become
the files a capture holds. It does not print uname -m or the page size: they are written from
the kernel package the fixture names (its release suffix), into proc/sys/kernel/arch and a
one-line proc/self/smaps, and on powerpc the MMU line of proc/cpuinfo (the guests run radix).
"""
import os
import sys

fixture, snap, out = sys.argv[1:4]
sections, cur, in_snap = {}, None, False
for line in open(fixture):
    line = line.rstrip("\n")
    if line.startswith("=== SNAP "):
        in_snap = line[len("=== SNAP "):] == snap
        cur = None
        continue
    if not in_snap or line.startswith("=== END"):
        continue
    if line.startswith("--- "):
        cur = line[4:]
        sections[cur] = []
    elif cur is not None:
        sections[cur].append(line)
if not sections:
    sys.exit(f"{fixture}: no snapshot {snap!r}")

release = sections["uname"][0].strip()
if release.endswith("amd64"):
    machine, page_kb = "x86_64", 4
elif release.endswith("arm64-16k"):
    machine, page_kb = "aarch64", 16
elif release.endswith("arm64"):
    machine, page_kb = "aarch64", 4
elif release.endswith("powerpc64le-64k"):
    machine, page_kb = "ppc64le", 64
elif release.endswith("s390x"):
    machine, page_kb = "s390x", 4
else:
    sys.exit(f"{release}: which architecture?")


def put(rel, text):
    path = os.path.join(out, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def lines(name):
    return "".join(l + "\n" for l in sections.get(name, []))


put("proc/sys/kernel/osrelease", release + "\n")
put("proc/sys/kernel/arch", machine + "\n")
put("proc/self/smaps", f"KernelPageSize:       {page_kb} kB\n")
if machine == "ppc64le":
    put("proc/cpuinfo", "MMU\t\t: Radix\n")
put("proc/cmdline", lines("cmdline"))
put("proc/iomem", lines("iomem"))
put("proc/meminfo", lines("meminfo"))
put("proc/zoneinfo", lines("zoneinfo"))
put("proc/vmstat", lines("vmstat"))
mem = "sys/devices/system/memory"
put(f"{mem}/block_size_bytes", lines("block_size_bytes"))
put(f"{mem}/auto_online_blocks", lines("auto_online_blocks"))
for p in sections.get("params", []):
    name, value = p.split("=", 1)
    put(f"sys/module/memory_hotplug/parameters/{name}", value + "\n")
for b in sections["blocks"]:
    head, rest = b.split("[", 1)
    zones, node = rest.split("]", 1)
    name, state, phys_index, removable = head.split()
    d = f"{mem}/{name}"
    put(f"{d}/state", state + "\n")
    put(f"{d}/online", ("1" if state == "online" else "0") + "\n")
    put(f"{d}/phys_index", phys_index + "\n")
    put(f"{d}/removable", removable + "\n")
    put(f"{d}/valid_zones", zones + "\n")
    put(f"{d}/phys_device", "0\n")
    # As in sysfs: memoryN/nodeM -> ../../node/nodeM (a link git keeps; an empty directory
    # it would drop).
    if node.strip():  # s390 blocks have no node link
        os.symlink(f"../../node/{node.strip()}", os.path.join(out, d, node.strip()))
