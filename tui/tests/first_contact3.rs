//! First contact, round 3, driven through the binary: comparisons over kernel versions and
//! sizes one flag away, help that suggests, and every number a script or the REPL prints
//! explained right (addresses in hex, block runs as lsmem writes them, statistics with their
//! units, the machine a table describes).

mod common;
use common::{bin, text, tmp};

use std::io::Write;
use std::process::{Output, Stdio};

fn run(src: &str, flags: &[&str]) -> Output {
    let d = tmp("fc3");
    let p = d.join("s.rhai");
    std::fs::write(&p, src).unwrap();
    let out = bin()
        .arg("run")
        .arg(&p)
        .args(flags)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&d);
    out
}

fn repl(input: &str, flags: &[&str]) -> Output {
    let mut child = bin()
        .arg("repl")
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn script(name: &str) -> String {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scripts")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// `--kernel all` with `--arch` runs every pair: output grouped under `arch@kernel`, JSON
/// objects carrying both, and an export per pair.
#[test]
fn every_architecture_on_every_kernel() {
    let src = "let m = boot(); print(`${m.arch} ${m.kernel}`); m.stats().blocks";
    let out = run(src, &["--arch", "x86_64,s390", "--kernel", "all"]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (label, line) in [
        ("== x86_64@6.12 ==", "x86_64 6.12"),
        ("== x86_64@6.1 ==", "x86_64 6.1"),
        ("== s390@6.12 ==", "s390 6.12"),
        ("== s390@6.1 ==", "s390 6.1"),
    ] {
        let at = s.find(label).unwrap_or_else(|| panic!("{label} in {s}"));
        assert!(s[at..].lines().nth(1) == Some(line), "{label}: {s}");
    }
    let out = run(src, &["--arch", "x86_64", "--kernel", "6.12,6.1", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pairs: Vec<(String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["arch"].to_string(), o["kernel"].to_string()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("\"x86_64\"".into(), "\"6.12\"".into()),
            ("\"x86_64\"".into(), "\"6.1\"".into())
        ]
    );
    let d = tmp("kernels-out");
    let out = run(
        src,
        &["--kernel", "all", "--sysfs-out", d.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for k in ["x86_64@6.12", "x86_64@6.1"] {
        assert!(
            d.join(k)
                .join("sys/devices/system/memory/block_size_bytes")
                .exists(),
            "{k}"
        );
    }
}

/// `--ram` sets the boot RAM of boot(), boot(ARCH) and boot(ARCH, CMDLINE), as RAM in
/// scripts; a boot key overrides it; it cannot be given with a system's own RAM.
#[test]
fn ram_flag_and_global() {
    let src = "let a = boot(); let b = boot(ARCH, CMDLINE); let c = boot(#{ ram: \"4G\" });\n\
               print(`${RAM / GiB} ${a.boot_ram_end / GiB} ${b.boot_ram_end / GiB} ${c.boot_ram_end / GiB}`);";
    let out = run(src, &["--ram", "16G", "--arch", "arm64"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // arm64's QEMU virt puts RAM at 1 GiB: 16 GiB ends at 17 GiB.
    assert_eq!(text(&out.stdout).trim(), "16 17 17 5");
    let out = run("print(RAM);", &[]);
    assert_eq!(text(&out.stdout).trim(), "0");
    for other in [
        &["--iomem", "/dev/null"][..],
        &["--host"],
        &["--sysroot", "/"],
    ] {
        let mut flags = vec!["--ram", "8G"];
        flags.extend_from_slice(other);
        let out = run("1", &flags);
        assert_eq!(out.status.code(), Some(2), "{other:?}");
        assert!(
            text(&out.stderr).contains("cannot be used with"),
            "{other:?}"
        );
    }
    let out = run("boot(#{ ram: \"1G\" });", &["--ram", "8G"]);
    assert!(
        text(&out.stderr).contains("--ram was not used"),
        "{}",
        text(&out.stderr)
    );
    // The flag is in every subcommand's help that boots.
    for sub in ["run", "repl", "tui"] {
        let h = text(&bin().args([sub, "--help"]).output().unwrap().stdout);
        assert!(h.contains("--ram <SIZE>"), "{sub}: {h}");
    }
}

/// help() suggests the near name, and finds a machine's property in the entry that shows
/// it.
#[test]
fn help_suggests_and_finds_properties() {
    let out = run(
        "print(help(\"add_memroy\")); print(help(\"hotplug_base\"));",
        &[],
    );
    let s = text(&out.stdout);
    assert!(s.contains("did you mean help(\"add_memory\")?"), "{s}");
    assert!(s.contains("m.hotplug_base"), "{s}");
    let out = run("let m = boot(); m.online_movable(0, 1)", &[]);
    assert!(
        text(&out.stderr).contains("m.online(start, size, \"online_movable\")"),
        "{}",
        text(&out.stderr)
    );
    // help("stats") says what every statistic is, in which unit.
    let out = run("print(help(\"stats\"));", &[]);
    let s = text(&out.stdout);
    for line in [
        "memmap_buddy_pages",
        "vmemmap_backing_buddy_pages",
        "section_size",
        "zone_device_pages",
    ] {
        assert!(
            s.lines().any(|l| l.trim_start().starts_with(line)),
            "{line}: {s}"
        );
    }
    assert!(!s.contains("and more"), "{s}");
}

/// hot-add.rhai with memmap_on_memory says what each block holds and what all of them do.
#[test]
fn hot_add_says_per_block_and_in_all() {
    let out = bin()
        .args(["run", &script("hot-add.rhai")])
        .args(["--cmdline", "memory_hotplug.memmap_on_memory=1"])
        .output()
        .unwrap();
    let s = text(&out.stdout);
    assert!(
        s.contains("struct pages: 512 pages at the start of each block, 4096 in all"),
        "{s}"
    );
}

/// A pgmap's pages_per_compound_page is 1 << vmemmap_shift (512 for 2 MiB of 4 KiB pages),
/// and compound_pages is the same number under its old name.
#[test]
fn pages_per_compound_page() {
    let out = run(
        "let m = boot(); let p = m.pgmap(m.memremap_pages(64 * GiB, 2 * GiB, #{ mode: \"devdax\", align: \"2M\" }));\n\
         print(`${p.pages_per_compound_page} ${p.compound_pages} ${1 << p.vmemmap_shift}`);",
        &[],
    );
    assert_eq!(
        text(&out.stdout).trim(),
        "512 512 512",
        "{}",
        text(&out.stderr)
    );
}

/// The side-by-side table: sizes beside the raw numbers, and which machine it describes.
#[test]
fn the_summary_table_has_units_and_names_its_machine() {
    let src = "let a = boot(#{ arch: ARCH }); let m = boot(ARCH, CMDLINE); m.add_memory(m.hotplug_base, m.block_size);";
    let out = run(src, &["--arch", "x86_64,arm64-64k"]);
    let s = text(&out.stdout);
    assert!(
        s.contains("the last of the 2 machines each run booted"),
        "{s}"
    );
    let row = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .unwrap_or_else(|| panic!("{k} in {s}"))
            .to_string()
    };
    assert!(row("section_size").contains("134217728 (128M)"), "{s}");
    assert!(row("section_size").contains("536870912 (512M)"), "{s}");
    assert!(row("memmap_buddy_pages").contains("(2 MiB)"), "{s}");
}

/// Addresses read in hex wherever the value is shown to a person: the REPL's echo of an
/// address property, a result, print() of a map. The values stay integers.
#[test]
fn addresses_in_hex() {
    let out = repl(
        "m.hotplug_base\nm.hotplug_base / GiB\nlet r = m.add_memory(m.hotplug_base, GiB)\nr\nprint(ans)\nans.blocks.len()\n",
        &["--cmdline", "memhp_default_state=offline"],
    );
    let s = text(&out.stdout);
    let lines: Vec<&str> = s.lines().collect();
    assert!(lines.contains(&"0x100000000 (4294967296)"), "{s}");
    assert!(lines.contains(&"4"), "{s}");
    assert!(
        s.contains("#{start: 0x100000000, size: 1G, blocks: 32-39, "),
        "{s}"
    );
    assert!(s.contains("(print(ans) shows it whole)"), "{s}");
    assert!(s.contains("\"start\": 0x100000000"), "{s}");
    assert!(s.contains("\"blocks\": 32-39"), "{s}");
    assert!(lines.contains(&"8"), "{s}");
}

/// `archs` says what its 2 GiB rows are about; your-machine.rhai without a system says it
/// answers for the default guest; cloud-sizing says what it adds before what it found.
#[test]
fn tables_and_scenarios_say_their_inputs() {
    let s = text(&bin().arg("archs").output().unwrap().stdout);
    assert!(s.contains("block on a 2 GiB guest"), "{s}");
    assert!(s.contains("RAM on a 2 GiB guest"), "{s}");
    let out = bin()
        .args(["run", &script("your-machine.rhai")])
        .output()
        .unwrap();
    assert!(
        text(&out.stderr)
            .contains("no --host or --sysroot: this answers for a default x86_64 guest"),
        "{}",
        text(&out.stderr)
    );
    let out = bin()
        .args(["run", &script("cloud-sizing.rhai")])
        .output()
        .unwrap();
    let first = text(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        first.contains("hot-adding 64 GiB at 0x280000000"),
        "{first}"
    );
}

/// A size without a unit is refused where it is clearly a forgotten one; Debian's names
/// for the architectures are accepted; a prefix gets a suggestion.
#[test]
fn tired_user_input() {
    let out = run("1", &["--ram", "16"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("\"16\" is 16 bytes: give a unit, as in 16G or 16M"));
    let out = run("print(ARCH)", &["--arch", "amd64"]);
    assert_eq!(text(&out.stdout).trim(), "x86_64", "{}", text(&out.stderr));
    let out = run("print(ARCH)", &["--arch", "ppc64el"]);
    assert_eq!(text(&out.stdout).trim(), "powerpc", "{}", text(&out.stderr));
    let out = run("1", &["--arch", "x86"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean x86_64?"),
        "{}",
        text(&out.stderr)
    );
    // A failed run is marked in the table.
    let out = run(
        "let m = boot(); if ARCH == \"s390\" { throw \"no\" }",
        &["--arch", "x86_64,s390"],
    );
    assert!(
        text(&out.stdout).contains("s390 (failed)"),
        "{}",
        text(&out.stdout)
    );
}
