//! The scripting API's documentation: what `help()` lists and `help("name")` explains.

/// One entry of the API.
pub struct Doc {
    pub name: &'static str,
    pub signature: &'static str,
    pub summary: &'static str,
    pub example: &'static str,
}

/// Every function and global of the scripting API, in the order help() lists them.
pub const DOCS: &[Doc] = &[
    Doc {
        name: "boot",
        signature: "boot() | boot(arch) | boot(arch, cmdline) | boot(#{ KEYS }) -> Machine",
        summary: "Boot a machine. With no arguments it uses ARCH, CMDLINE, IOMEM, RAM and KERNEL (the runner's flags). \
                  kernel is the version modelled: {VERSIONS} (hotplug-lab kernels lists \
                  what differs); m.kernel says which. \
                  ram is the boot RAM (\"2G\" or bytes, default 2G) laid out like the arch's default QEMU \
                  machine; iomem is /proc/iomem text whose \"System RAM\" lines become the boot memory; \
                  hypervisor (default true) is X86_FEATURE_HYPERVISOR; gbpages (default true, as on \
                  every x86_64 server CPU and QEMU's -cpu max or host; false for QEMU's qemu64) is \
                  X86_FEATURE_GBPAGES, which 1 GiB HugeTLB pages and the DirectMap1G line need (the \
                  nogbpages parameter keeps the 1 GiB pages but maps RAM without them). design (or hotplug_lab.design= in \
                  the command line) picks a design variant: mainline (default), rfc-2018 (seed 000: the \
                  memmap of every hot-add on one altmap at the range's start, a refcount in the head page), \
                  v3-2019 (seed 001: head/tail layout, remove only as added), legacy-64m and section-only \
                  (seed 004: ZONE_DEVICE activated in 64 MiB units or whole sections); m.design says which. \
                  The command line's memory parameters it reads: mem=, memmap= (x86), \
                  memory_hotplug.*, memhp_default_state=, movable_node, kernelcore= and movablecore= \
                  (sizes or nn%: ZONE_MOVABLE at boot), cma= (arm64, whose kernel reserves 64M by \
                  default), hugepagesz=, hugepages=, default_hugepagesz=, hugetlb_free_vmemmap=, \
                  gbpages and nogbpages; the kernel hands others to init, and so does the model. \
                  A known parameter with a bad value (memhp_default_state=onlin) boots as the kernel \
                  boots, keeping the default, with the kernel's log line and a warning; strict: true \
                  (or --strict) makes it an error. standby (s390) is the standby memory the LPAR or \
                  z/VM reports: the SCLP driver adds it after the boot RAM as offline blocks (\"sclp_cmd: \
                  Standby memory at ...\"; mem= cuts it), which m.plug onlines as chmem -e does. \
                  host: true boots this machine as it is (its arch, \
                  kernel version, RAM, memory parameters and block states; see hotplug-lab host), and \
                  sysroot: \"DIR\" a tree captured from one (a relative DIR is from the current directory); cmdline then adds to the machine's own. \
                  With --host or --sysroot, boot() and boot(ARCH) are that machine.",
        example: "let m = boot(#{ arch: \"x86_64\", ram: \"4G\", cmdline: \"memory_hotplug.memmap_on_memory=1\" });",
    },
    Doc {
        name: "add_memory",
        signature: "m.add_memory(start, size) | m.add_memory(start, size, #{ KEYS }) -> map",
        summary: "The kernel's add_memory() of [start, start+size) as System RAM, as a driver calls it, \
                  the same on every arch: one resource, block aligned, memmap_on_memory (MHP_MEMMAP_ON_MEMORY, \
                  asked for unless memmap_on_memory: false) where the parameter and the arch allow it, \
                  onlined if auto_online_blocks says so. How a user adds memory, with the platform's \
                  driver, is m.plug. Returns what happened: blocks (a range of \
                  block ids: r.blocks.start, for b in r.blocks), memmap_on_memory (and why not), memmap \
                  pages by origin, page-table pages, onlined (runs of #{ first, count, zone }).",
        example: "let r = m.add_memory(4 * GiB, 1 * GiB); print(r.memmap_buddy_pages);",
    },
    Doc {
        name: "remove_memory",
        signature: "m.remove_memory(start, size)",
        summary: "The kernel's remove_memory() (try_remove_memory()), the same on every arch: every block \
                  of the range must be offline, else EBUSY (\"removing memory fails, because memory [...] \
                  is onlined\"). A platform's own removal, which offlines first, is m.unplug; no s390 \
                  driver ever calls remove_memory().",
        example: "m.offline(4 * GiB, 1 * GiB); m.remove_memory(4 * GiB, 1 * GiB);",
    },
    Doc {
        name: "offline_and_remove_memory",
        signature: "m.offline_and_remove_memory(start, size)",
        summary: "The kernel's offline_and_remove_memory(), which virtio-mem and dax/kmem call: offline \
                  every online block of the range, then remove it; if one will not offline, all go back \
                  online as they were and the error is that block's.",
        example: "m.offline_and_remove_memory(4 * GiB, 1 * GiB);",
    },
    Doc {
        name: "plug",
        signature: "m.plug(size) | m.plug(size, #{ KEYS }) -> device",
        summary: "Plug memory the way the platform does, through its driver: x86_64 an ACPI DIMM \
                  (QEMU device_add pc-dimm; acpi_memhotplug.c adds it, auto_online_blocks onlines it); \
                  powerpc DLPAR LMBs (by indexed count at the first free place, as QEMU does; count alone \
                  adds by count, as drmgr -c mem -a -q N; index alone one LMB by DRC index; each LMB onlined); \
                  arm64 a virtio-mem device plugged to size (its region: region, default size); s390 \
                  chmem -e: online size of the standby memory boot(#{ standby }) reported. driver picks \
                  another the arch has (hotplug-lab archs lists them; an ACPI DIMM on arm64 is refused: \
                  Debian's kernel cannot see one). Returns the device: #{ id, driver, start, size, node, \
                  blocks } (a list of block ids), which m.unplug takes.",
        example: "let d = m.plug(1 * GiB); print(d.blocks); m.unplug(d);",
    },
    Doc {
        name: "unplug",
        signature: "m.unplug(device) | m.unplug(#{ driver, count })",
        summary: "Unplug a device as its driver does. An ACPI eject offlines every block of the DIMM first \
                  (two passes), and if one will not go (unmovable pages: set_allocations, the kernel's own \
                  allocations) warns \"memory memoryN: Offline failed.\", onlines again the blocks it \
                  offlined (device_online(): the zone follows the online policy) and fails with EBUSY, the \
                  DIMM kept; otherwise the DIMM is removed. DLPAR removes the device's LMBs by indexed \
                  count (each offlined by the driver; on failure those removed are added back, EINVAL); \
                  #{ driver: \"dlpar\", count: N } removes by count, the lowest LMBs DLPAR added first. \
                  virtio-mem asks the device for 0 (it unplugs what it can, with \
                  offline_and_remove_memory()). sclp offlines the blocks again (chmem -d); #{ driver: \
                  \"sclp\", count: N } offlines N standby blocks, highest first.",
        example: "let d = m.plug(1 * GiB); m.unplug(d);",
    },
    Doc {
        name: "devices",
        signature: "m.devices() -> array",
        summary: "The platform devices plug made (ACPI DIMMs, DLPAR LMB sets, chmem'd standby memory) \
                  and the virtio-mem devices, as plug returns them.",
        example: "for d in m.devices() { print(`${d.driver} ${d.id}: ${d.blocks}`); }",
    },
    Doc {
        name: "online",
        signature: "m.online(start, size) | m.online(start, size, \"online\" | \"online_kernel\" | \"online_movable\") -> array",
        summary: "Write the online type to the state of every memory block in the range (all must be \
                  offline). Returns runs of consecutive blocks that went to one zone: #{ first, count, zone }.",
        example: "m.online(4 * GiB, 1 * GiB, \"online_movable\");",
    },
    Doc {
        name: "offline",
        signature: "m.offline(start, size)",
        summary: "Write \"offline\" to the state of every memory block in the range.",
        example: "m.offline(4 * GiB, 128 * MiB);",
    },
    Doc {
        name: "memremap_pages",
        signature: "m.memremap_pages(start, size) | m.memremap_pages(start, size, #{ KEYS }) -> id",
        summary: "Map a persistent-memory namespace [start, start+size) into ZONE_DEVICE as the nvdimm \
                  pfn device and device-dax do with memremap_pages(): start on a memremap_compat_align() \
                  boundary (2 MiB; 16 MiB on powerpc-hash), the end cut back to the alignment, sections \
                  activated a 2 MiB sub-section at a time (sharing sections with System RAM or other \
                  namespaces). map \"dev\" (default) puts the memmap in the namespace through an altmap, \
                  \"mem\" takes it from System RAM. mode \"fsdax\" (default, as ndctl create-namespace: a struct page for every page) or \
                  \"devdax\". align (PAGE_SIZE, PMD size or, with PUD THP on x86_64 and powerpc radix, \
                  1G; default PMD size) makes a devdax namespace's memmap compound pages, whose tail \
                  vmemmap pages are shared on x86_64 and powerpc radix (1G only there) when the memmap is in RAM. Errors: EINVAL (misaligned, bad align, out of range), EBUSY (overlaps \
                  another namespace), ENXIO (System RAM, or no room for the data), EOPNOTSUPP (s390).",
        example: "let id = m.memremap_pages(8 * GiB, 4032 * MiB, #{ map: \"mem\", mode: \"fsdax\" }); print(m.pgmap(id).memmap_pages);",
    },
    Doc {
        name: "memunmap_pages",
        signature: "m.memunmap_pages(id)",
        summary: "Undo a memremap_pages(): deactivate the sub-sections it activated and give its memmap \
                  back (ZONE_DEVICE keeps its span, as in the kernel).",
        example: "m.memunmap_pages(id);",
    },
    Doc {
        name: "pgmap",
        signature: "m.pgmap(id) -> map",
        summary: "A mapped namespace: its range, layout (data_offset, npfns, end_trunc), mode, map, align, \
                  vmemmap_shift and pages_per_compound_page (1 << vmemmap_shift: the pages in each \
                  compound page; compound_pages is its old name), whether its vmemmap is deduplicated, \
                  memmap pages by origin, page-table pages, and the altmap (base_pfn, reserve, free, \
                  align, alloc) with map \"dev\".",
        example: "let p = m.pgmap(id); print(`${p.namespace}: ${p.memmap_pages} memmap pages`);",
    },
    Doc {
        name: "len contains is_empty",
        signature: "range.len() -> integer, range.contains(id) -> bool, range.is_empty() -> bool",
        summary: "How many ids a range holds. An add's r.blocks is a run of block ids, [start, end): \
                  for b in r.blocks, r.blocks.start, r.blocks.end, r.blocks.contains(id); it prints as \
                  lsmem writes a run, 32-39.",
        example: "let r = m.add_memory(m.hotplug_base, 1 * GiB); print(r.blocks.len());",
    },
    Doc {
        name: "vmemmap_head",
        signature: "m.vmemmap_head(start) -> map",
        summary: "The head vmemmap page's bookkeeping for hot-added memory at start: its pfn and, by \
                  design, refcount (rfc-2018), vmemmap_pages and vmemmap_sections (v3-2019), or the \
                  memory block's nr_vmemmap_pages (mainline).",
        example: "let m = boot(#{ design: \"v3-2019\" }); m.add_memory(4 * GiB, 1 * GiB); print(m.vmemmap_head(4 * GiB));",
    },
    Doc {
        name: "virtio_mem_add",
        signature: "m.virtio_mem_add(#{ KEYS }) -> id",
        summary: "A virtio-mem device with its region (whole memory blocks) and device block size \
                  (default 2 MiB); nothing plugged yet. The driver picks Sub Block Mode when sub-blocks \
                  (max(pageblock, device block)) are smaller than a memory block, Big Block Mode otherwise.",
        example: "let v = m.virtio_mem_add(#{ start: m.hotplug_base, region_size: 8 * GiB });",
    },
    Doc {
        name: "virtio_mem_resize",
        signature: "m.virtio_mem_resize(id, requested_size) -> map",
        summary: "The host's requested size changes: the driver plugs (adding memory blocks as \
                  \"System RAM (virtio_mem)\", at most the offline threshold of them not yet online) or \
                  unplugs (removing whole blocks where it can, fake-offlining sub-blocks where not) and \
                  says what it waits for; onlining memory lets a waiting device go on. Returns the device.",
        example: "print(m.virtio_mem_resize(v, 4 * GiB).plugged_size);",
    },
    Doc {
        name: "virtio_mem_devices",
        signature: "m.virtio_mem_devices() -> array",
        summary: "Every virtio-mem device: region, block sizes, mode, requested and plugged sizes, \
                  offline threshold, what it waits for.",
        example: "for d in m.virtio_mem_devices() { print(`${human(d.plugged_size)} of ${human(d.requested_size)}`); }",
    },
    Doc {
        name: "dax_kmem",
        signature: "m.dax_kmem(pgmap_id) | m.dax_kmem(pgmap_id, #{ KEYS }) -> map",
        summary: "Give a device-dax namespace to the page allocator as \"System RAM (kmem)\" (daxctl \
                  reconfigure-device --mode=system-ram): its ZONE_DEVICE mapping goes, its data range \
                  trimmed to whole memory blocks is hot-added in a static memory group, with the memmap \
                  on the device if memmap_on_memory (and memory_hotplug.memmap_on_memory) allow it. \
                  online: \"online_movable\" (default, as daxctl), \"online\", \"online_kernel\" or false.",
        example: "let d = m.memremap_pages(256 * GiB, 256 * GiB, #{ mode: \"devdax\" }); print(m.dax_kmem(d, #{ memmap_on_memory: true }));",
    },
    Doc {
        name: "kmem_devices",
        signature: "m.kmem_devices() -> array",
        summary: "The dax devices kmem added, as m.dax_kmem returned them.",
        example: "for d in m.kmem_devices() { print(`${hex(d.start)}: ${human(d.size)}`); }",
    },
    Doc {
        name: "pgmaps",
        signature: "m.pgmaps() -> array",
        summary: "Every mapped namespace, as m.pgmap(id) describes it.",
        example: "for p in m.pgmaps() { print(`${p.namespace}: ${p.memmap_pages} memmap pages`); }",
    },
    Doc {
        name: "hugepages",
        signature: "m.hugepages() -> array",
        summary: "The HugeTLB hstates: size, nr_hugepages, surplus, how many are vmemmap-optimised, \
                  vmemmap pages per huge page and how many HVO frees of them. Allocate with \
                  m.write(\"/proc/sys/vm/nr_hugepages\", n) or the hugepages-*kB/nr_hugepages files; \
                  optimisation needs hugetlb_free_vmemmap=on (or vm.hugetlb_optimize_vmemmap).",
        example: "let m = boot(\"x86_64\", \"hugetlb_free_vmemmap=on\"); m.write(\"/proc/sys/vm/nr_hugepages\", 512); print(m.stats().hvo_freed_pages);",
    },
    Doc {
        name: "read",
        signature: "m.read(path) -> string",
        summary: "Read a sysfs or procfs file, byte for byte as the kernel prints it. Files that \
                  this machine lacks (a HugeTLB size its arch has not, the HVO sysctl where HVO \
                  frees nothing) are ENOENT.",
        example: "print(m.read(\"/sys/devices/system/memory/memory32/valid_zones\"));",
    },
    Doc {
        name: "write",
        signature: "m.write(path, value)",
        summary: "Write a sysfs or procfs file as `echo value > path` does; a read-only sysfs or \
                  sysctl file is EACCES, a /proc file without a write handler EIO.",
        example: "m.write(\"/sys/devices/system/memory/memory33/state\", \"online_movable\");",
    },
    Doc {
        name: "pfn_valid",
        signature: "m.pfn_valid(pfn) -> bool",
        summary: "pfn_valid(): whether the pfn has a memmap (an early section counts whole; otherwise \
                  its sub-section must be active).",
        example: "print(m.pfn_valid(0x100000));",
    },
    Doc {
        name: "section",
        signature: "m.section(nr) -> map",
        summary: "A memory section: flags, node, the sub-section map, where its struct pages live.",
        example: "print(m.section(32));",
    },
    Doc {
        name: "block",
        signature: "m.block(id) -> map",
        summary: "A memory block (memoryN): state, zone, valid_zones, its altmap, allocations.",
        example: "print(m.block(32).valid_zones);",
    },
    Doc {
        name: "blocks",
        signature: "m.blocks() -> array",
        summary: "The ids of every memory block, ascending.",
        example: "for id in m.blocks() { print(id); }",
    },
    Doc {
        name: "stats",
        signature: "m.stats() -> map",
        summary: "The model's numbers, one key each (listed below with their units): sizes, \
                  sections and blocks, zone pages, MemTotal and MemFree, the memmap as /proc/vmstat \
                  counts it (memmap_boot_pages is nr_memmap_boot_pages; memmap_buddy_pages, \
                  memmap_altmap_pages and memmap_device_pages add up to nr_memmap_pages), the pages that \
                  actually back the vmemmap, its page tables and mappings, HugeTLB and ZONE_DEVICE.",
        example: "let s = m.stats(); print(s.mem_free_kb);",
    },
    Doc {
        name: "dmesg",
        signature: "m.dmesg() -> array",
        summary: "The kernel log, oldest first.",
        example: "for l in m.dmesg() { print(l); }",
    },
    Doc {
        name: "set_allocations",
        signature: "m.set_allocations(block, #{ KEYS })",
        summary: "Pretend pages of an online block are allocated: unmovable kernel allocations make \
                  offlining fail with EBUSY in a kernel zone; movable ones are migrated away.",
        example: "m.set_allocations(32, #{ unmovable: 1 });",
    },
    Doc {
        name: "inject_fault",
        signature: "m.inject_fault(point, count) | m.inject_fault(point, skip, count)",
        summary: "Make calls at a point fail, like notifier error injection and fail-page-alloc: \
                  \"going_online\", \"going_offline\" (the MEM_GOING_* notifiers), \"memmap_alloc\" (buddy \
                  allocations for the memmap), \"altmap_alloc\". With skip, that many calls pass first.",
        example: "m.inject_fault(\"going_online\", 1);",
    },
    Doc {
        name: "export_sysfs",
        signature: "m.export_sysfs(dir)",
        summary: "Write the sysfs tree `lsmem --sysroot` reads, into a directory under the one given \
                  with --sysfs-out (scripts have no other file access).",
        example: "m.export_sysfs(\"after-add\");",
    },
    Doc {
        name: "svg",
        signature: "m.svg(#{ view, start, size })",
        summary: "A picture of this machine as SVG text: view \"map\" (the default: the physical \
                  address map, sections coloured by state and zone, memory blocks outlined and \
                  numbered as lsmem numbers them, devices, totals and a legend; start and size \
                  draw one range, to sub-section resolution when it is a few sections) or \
                  \"vmemmap\" (the struct pages of [start, start+size): where their backing pages \
                  come from, PMD leaves, shared pages as vmemmap_dedup.rst draws them, page \
                  tables). save() keeps it.",
        example: "save(\"map.svg\", m.svg());\nsave(\"dax.svg\", m.svg(#{ view: \"vmemmap\", start: 64 * GiB, size: 2 * MiB }));",
    },
    Doc {
        name: "chart",
        signature: "chart(#{ title, x_label, y_label, kind, series, x_unit, y_unit })",
        summary: "A line (kind \"line\", the default) or bar (\"bar\") chart of what the script \
                  computed, as SVG text: series is #{ NAME: [[x, y], ...] }, one line or one group \
                  of bars per name, told apart by colour and marker; x_unit or y_unit \"bytes\" \
                  plots that axis in the binary unit its values reach (MiB, GiB).",
        example: "save(\"cost.svg\", chart(#{ title: \"memmap\", x_label: \"hot-add\", y_label: \"memmap\", x_unit: \"bytes\", y_unit: \"bytes\", series: #{ x86_64: [[1 * GiB, 16 * MiB], [2 * GiB, 32 * MiB]] } }));",
    },
    Doc {
        name: "save",
        signature: "save(name, text)",
        summary: "Write text (a picture) to a plain file name under the directory --svg-out names \
                  (DIR/<arch>/ with several architectures); no link is followed and each file \
                  counts against --max-export-files. Without --svg-out it writes nothing and says \
                  so once.",
        example: "save(\"map.svg\", m.svg());",
    },
    Doc {
        name: "check",
        signature: "m.check()",
        summary: "Run the model's invariant checker (sections, vmemmap, zones, blocks, counters agree); \
                  throws EINVAL naming what is broken.",
        example: "m.check();",
    },
    Doc {
        name: "clone",
        signature: "m.clone() -> Machine",
        summary: "A copy of the machine (plain assignment shares it).",
        example: "let before = m.clone();",
    },
    Doc {
        name: "arch",
        signature: "m.arch, m.kernel, m.design, m.hotplug_driver, m.page_size, m.section_size, m.block_size, m.hotplug_base, m.boot_ram, m.boot_ram_end, m.pmd_size, m.dax_alignments",
        summary: "The machine's architecture name, the Linux version it models ({VERSIONS}), \
                  its design variant, the driver m.plug uses by default (\"ACPI memory device\", \
                  \"virtio-mem\", \"pseries DLPAR\", \"SCLP standby memory\"), page, section and \
                  memory block sizes, where its platform puts hot-pluggable memory (block aligned), \
                  its boot RAM and where it ends (max_pfn), its PMD size, and the alignments a device-dax namespace may have. \
                  Properties are read without ().",
        example: "m.add_memory(m.hotplug_base, 8 * m.block_size);",
    },
    Doc {
        name: "size",
        signature: "size(string) -> int",
        summary: "Parse a size the way the kernel's memparse() does: \"4G\", \"0x8000000\", \"512M\".",
        example: "m.add_memory(size(\"4G\"), size(\"1G\"));",
    },
    Doc {
        name: "human",
        signature: "human(bytes) -> string",
        summary: "Format a byte count: 128M, 2G, 0x1801.",
        example: "print(human(m.stats().section_size));",
    },
    Doc {
        name: "hex",
        signature: "hex(n) -> string",
        summary: "Format a number as 0x... .",
        example: "print(hex(4 * GiB));",
    },
    Doc {
        name: "KiB MiB GiB TiB",
        signature: "KiB, MiB, GiB, TiB",
        summary: "1024, 1024^2, 1024^3, 1024^4.",
        example: "m.add_memory(4 * GiB, 512 * MiB);",
    },
    Doc {
        name: "ARCH CMDLINE IOMEM KERNEL RAM HOST",
        signature: "ARCH, CMDLINE, IOMEM, KERNEL, RAM, HOST",
        summary: "The runner's --arch, --cmdline and --iomem (file contents), empty strings when not \
                  given, --kernel (the Linux version boot() models: {DEFAULT} unless given) and --ram \
                  (bytes; 0 when not given, and boot() boots 2 GiB). boot(), boot(ARCH) and \
                  boot(ARCH, CMDLINE) take them; a boot key names another. HOST is the system \
                  --host or --sysroot names (\"this machine\", \"the tree DIR\"), empty without them.",
        example: "let m = boot(ARCH, CMDLINE);",
    },
    Doc {
        name: "warn",
        signature: "warn(text)",
        summary: "Say something to the user apart from the output: on standard error (`run`, `repl`), \
                  on the status line (the TUI); --json and snapshots keep only what print() says.",
        example: "if HOST == \"\" { warn(\"this answers for the default guest, not your machine\"); }",
    },
    Doc {
        name: "help",
        signature: "help() | help(name)",
        summary: "List the API, or explain one call.",
        example: "help(\"add_memory\")",
    },
];

/// A summary with the modelled versions filled in: `{VERSIONS}` (`"6.12" (default) or
/// "6.1"`) and `{DEFAULT}`, from arch's one list of them.
fn fill(text: &str) -> String {
    let names: Vec<String> = arch::KERNELS
        .iter()
        .map(|k| {
            if std::ptr::eq(*k, arch::default_kernel()) {
                format!("\"{}\" (default)", k.name)
            } else {
                format!("\"{}\"", k.name)
            }
        })
        .collect();
    let versions = match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    };
    text.replace("{VERSIONS}", &versions)
        .replace("{DEFAULT}", &format!("\"{}\"", arch::default_kernel().name))
}

/// help(): one line per entry.
pub fn list() -> String {
    let w = DOCS.iter().map(|d| d.name.len()).max().unwrap_or(0);
    let mut out = String::from("hotplug-lab scripting API (help(\"name\") for one call):\n");
    for d in DOCS {
        let summary = fill(d.summary);
        let first = summary.split(". ").next().unwrap_or(&summary);
        out.push_str(&format!(
            "  {:w$}  {}\n",
            d.name,
            first.trim_end_matches('.')
        ));
    }
    out
}

/// help(name) for a name help has no entry of: the near names, if any.
pub fn missing(name: &str) -> String {
    let names: Vec<&str> = DOCS
        .iter()
        .flat_map(|d| d.name.split(' '))
        .chain(super::complete::machine_members())
        .collect();
    let shown = mm::error::quote(name);
    match arch::did_you_mean(name, names.iter().copied()) {
        Some(n) => {
            format!("no help for {shown}: did you mean help(\"{n}\")? help() lists everything\n")
        }
        None => format!("no help for {shown}; help() lists everything\n"),
    }
}

/// help(name): the signature, the description and an example. A machine's property
/// (`hotplug_base`) finds the entry whose signature shows it.
pub fn one(name: &str) -> Option<String> {
    let member = format!("m.{name}");
    let d = DOCS
        .iter()
        .find(|d| d.name == name || d.name.split(' ').any(|n| n == name))
        .or_else(|| {
            DOCS.iter().find(|d| {
                d.signature.match_indices(&member).any(|(i, _)| {
                    let after = d.signature[i + member.len()..].chars().next();
                    !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                })
            })
        })?;
    let files = match d.name {
        "read" => files(false),
        "write" => files(true),
        "stats" => stats(),
        _ => String::new(),
    };
    // The options map's keys, from the table its decoder uses.
    let (signature, options) = match super::options::TABLES.iter().find(|(n, _)| *n == d.name) {
        Some((_, keys)) => {
            let names: Vec<&str> = keys.iter().map(|k| k.name).collect();
            let w = names.iter().map(|n| n.len()).max().unwrap_or(0);
            let mut o = String::from("\nOptions:\n");
            for k in *keys {
                o.push_str(&format!("  {:w$}  {}\n", k.name, k.takes));
            }
            (
                d.signature
                    .replace("#{ KEYS }", &format!("#{{ {} }}", names.join(", "))),
                o,
            )
        }
        None => (d.signature.to_string(), String::new()),
    };
    Some(format!(
        "{signature}\n\n{}\n{options}{files}\nExample:\n  {}\n",
        wrap(&fill(d.summary), 90),
        d.example
    ))
}

/// The files m.read (or, `writable`, m.write) serves, from mm's one table of them.
fn files(writable: bool) -> String {
    let mut out = String::from("\nFiles:\n");
    for f in mm::files::patterns() {
        if (writable && f.writable) || (!writable && f.readable) {
            out.push_str(&format!("  {}\n", f.path));
        }
    }
    out
}

/// Every statistic with its unit and what it is, from mm's one table of them.
fn stats() -> String {
    let w = mm::stats::STATS
        .iter()
        .map(|d| d.name.len())
        .max()
        .unwrap_or(0);
    let mut out = String::from("\nStatistics:\n");
    for d in mm::stats::STATS {
        let unit = match d.unit {
            mm::stats::Unit::Bytes => "bytes",
            mm::stats::Unit::Kb => "kB",
            mm::stats::Unit::Pages => "pages",
            mm::stats::Unit::Count => "",
        };
        let text = if unit.is_empty() {
            d.meaning.to_string()
        } else {
            format!("{}, in {unit}", d.meaning)
        };
        let pad = " ".repeat(w + 4);
        for (i, l) in wrap(&text, 90usize.saturating_sub(w + 4))
            .lines()
            .enumerate()
        {
            if i == 0 {
                out.push_str(&format!("  {:w$}  {l}\n", d.name));
            } else {
                out.push_str(&format!("{pad}{l}\n"));
            }
        }
    }
    out
}

fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out
}
