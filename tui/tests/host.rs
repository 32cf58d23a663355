//! `hotplug-lab host`: the running machine and captured trees (tests/hosts, see its README)
//! booted in the model and compared with it, the same machine in scripts and the REPL, and
//! the bad trees a user may hand it.

mod common;
use common::{bin, text, tmp};

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn hosts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hosts")
}

fn host(args: &[&str]) -> Output {
    bin()
        .arg("host")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn check(tree: &Path) -> Output {
    host(&["--sysroot", tree.to_str().unwrap(), "--check"])
}

/// A copy of a committed tree to change.
fn copy_tree(name: &str, to: &str) -> PathBuf {
    let d = tmp(to);
    let st = Command::new("cp")
        .arg("-r")
        .arg(hosts().join(name))
        .arg(d.join("t"))
        .status()
        .unwrap();
    assert!(st.success());
    d.join("t")
}

fn copy_dir(from: &Path, to: &Path) {
    assert!(Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success());
}

/// The "-field: value" / "+field: value" lines of a check.
fn differences(out: &str) -> Vec<&str> {
    out.lines()
        .filter(|l| {
            (l.starts_with('-') && !l.starts_with("---"))
                || (l.starts_with('+') && !l.starts_with("+++"))
        })
        .collect()
}

#[test]
fn every_captured_tree_agrees_with_the_model() {
    // Real kernels on five architectures and two versions, and this project's own machine:
    // block size, every block's state, valid_zones, removable and node, zone spanned and
    // present pages, auto_online_blocks, the memory_hotplug parameters and (6.12) the
    // nr_memmap counters all agree.
    for (tree, arch, kernel, at_least) in [
        ("oracle-x86_64", "x86_64", "6.12", 140),
        ("oracle-x86_64-6.1", "x86_64", "6.1", 80),
        ("oracle-arm64", "arm64", "6.12", 80),
        ("oracle-arm64-16k", "arm64-16k", "6.12", 80),
        // Debian's 6.1 arm64 config has no ZONE_DEVICE: neither has the model's 6.1 arm64.
        ("oracle-arm64-6.1", "arm64", "6.1", 79),
        ("oracle-powerpc", "powerpc", "6.12", 40),
        ("oracle-s390-6.1", "s390", "6.1", 30),
        ("firecracker-x86_64", "x86_64", "6.12", 780),
    ] {
        let out = check(&hosts().join(tree));
        let stdout = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{tree}:\n{stdout}{}",
            text(&out.stderr)
        );
        assert!(differences(&stdout).is_empty(), "{tree}:\n{stdout}");
        assert!(
            stdout.starts_with(&format!("--- model ({arch}, Linux {kernel})\n")),
            "{tree}:\n{stdout}"
        );
        let compared: usize = stdout
            .lines()
            .find_map(|l| {
                l.strip_prefix("# ")?
                    .split(" fields compared")
                    .next()?
                    .parse()
                    .ok()
            })
            .unwrap();
        assert!(
            compared >= at_least,
            "{tree}: only {compared} fields:\n{stdout}"
        );
        // What the model cannot know is said, not hidden: the kernel image and early
        // reservations make every real MemTotal smaller than the model's.
        assert!(stdout.contains("#   MemTotal: model "), "{tree}:\n{stdout}");
    }
}

#[test]
fn a_zone_the_model_has_and_the_machine_not_is_a_difference() {
    // What --check showed before the model followed Debian's 6.1 arm64 config: the real
    // guest has no Device zone; modelled as 6.12, the model has one.
    let out = host(&[
        "--sysroot",
        hosts().join("oracle-arm64-6.1").to_str().unwrap(),
        "--check",
        "--kernel",
        "6.12",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        differences(&stdout).starts_with(&[
            "-zone Node 0 Device: present",
            "+zone Node 0 Device: (none)"
        ]),
        "{stdout}"
    );
}

#[test]
fn this_machine_agrees_on_blocks_states_and_zones() {
    if !Path::new("/sys/devices/system/memory/block_size_bytes").exists() {
        eprintln!("note: /sys/devices/system/memory does not exist here; nothing to check");
        return;
    }
    let out = host(&["--check"]);
    let stdout = text(&out.stdout);
    assert_ne!(out.status.code(), Some(2), "{stdout}{}", text(&out.stderr));
    for l in differences(&stdout) {
        let field = l[1..].split(':').next().unwrap();
        let essential = field == "block_size_bytes"
            || field == "blocks"
            || field.ends_with("/state")
            || field.ends_with("/valid_zones");
        assert!(!essential, "this machine and the model differ:\n{stdout}");
    }
}

#[test]
fn the_capture_command_captures_what_host_reads() {
    // README's command, run here, gives a tree that reads as the live system does.
    if !Path::new("/sys/devices/system/memory/block_size_bytes").exists() {
        eprintln!("note: /sys/devices/system/memory does not exist here; nothing to capture");
        return;
    }
    let cmd = text(&host(&["--capture-command"]).stdout);
    let d = tmp("capture");
    let st = Command::new("sh")
        .arg("-c")
        .arg(cmd.trim())
        .current_dir(&d)
        .status()
        .unwrap();
    assert!(st.success());
    let tree = d.join("host-tree");
    for f in [
        "proc/sys/kernel/osrelease",
        "proc/sys/kernel/arch",
        "proc/self/smaps",
        "sys/devices/system/memory/block_size_bytes",
        "sys/devices/system/memory/auto_online_blocks",
    ] {
        assert!(tree.join(f).is_file(), "{f} not captured");
    }
    let live = text(&host(&[]).stdout);
    let captured = text(&host(&["--sysroot", tree.to_str().unwrap()]).stdout);
    // The same summary but for the first word (this machine / the tree) and the next step.
    let body = |s: &str| -> Vec<String> {
        s.lines()
            .skip(1)
            .filter(|l| !l.starts_with("next:"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(body(&live), body(&captured), "{live}\n{captured}");
    // The real lsmem reads the same tree (.ci/run requires util-linux).
    let out = Command::new("lsmem")
        .arg("--sysroot")
        .arg(&tree)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("Memory block size:"));
}

#[test]
fn blocks_offlined_or_onlined_movable_at_run_time_are_restored() {
    let tree = copy_tree("oracle-x86_64", "restore");
    let mem = tree.join("sys/devices/system/memory");
    // memory40 was offlined, memory41 offlined and onlined movable, on the machine (the
    // zones' pages moved with them; this tree's zoneinfo is left out rather than made up).
    std::fs::write(mem.join("memory40/state"), "offline\n").unwrap();
    std::fs::write(mem.join("memory40/online"), "0\n").unwrap();
    std::fs::write(mem.join("memory40/valid_zones"), "Normal Movable\n").unwrap();
    std::fs::write(mem.join("memory41/valid_zones"), "Movable\n").unwrap();
    std::fs::remove_file(tree.join("proc/zoneinfo")).unwrap();
    let out = check(&tree);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("#   zone pages: the tree has no proc/zoneinfo"),
        "{stdout}"
    );
    // The script sees the same machine.
    let src = "let m = boot(#{ sysroot: SYSROOT });\n\
               [m.read(\"/sys/devices/system/memory/memory40/state\"),\n\
                m.read(\"/sys/devices/system/memory/memory41/valid_zones\"), m.arch, m.kernel]";
    let script = tree.parent().unwrap().join("s.rhai");
    std::fs::write(
        &script,
        src.replace("SYSROOT", &format!("{:?}", tree.to_str().unwrap())),
    )
    .unwrap();
    let out = bin().args(["run", "--json"]).arg(&script).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v[0]["result"],
        serde_json::json!(["offline\n", "Movable\n", "x86_64", "6.12"]),
        "{}",
        text(&out.stderr)
    );
    // A difference the model did not make is found: memory42, online high in Normal, says
    // its zone is DMA32.
    std::fs::write(mem.join("memory42/valid_zones"), "DMA32\n").unwrap();
    let out = check(&tree);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        differences(&text(&out.stdout)),
        [
            "-memory42/valid_zones: Normal",
            "+memory42/valid_zones: DMA32"
        ]
    );
}

#[test]
fn run_repl_and_scripts_start_from_the_same_tree() {
    let tree = hosts().join("oracle-powerpc");
    let t = tree.to_str().unwrap();
    // --sysroot on run: ARCH is the tree's, and boot() is its machine.
    let out = bin()
        .args(["run", "-", "--json", "--sysroot", t])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"let m = boot(); m.add_memory(m.hotplug_base, 1 * GiB); [ARCH, m.block_size, m.stats().blocks]")?;
            c.wait_with_output()
        })
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["arch"], "powerpc");
    // 8 boot blocks of 256 MiB, and 4 hot-added.
    assert_eq!(
        v[0]["result"],
        serde_json::json!(["powerpc", 268435456, 12])
    );
    // The REPL binds m to it.
    let out = bin()
        .args(["repl", "--sysroot", t])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"m.arch + \" \" + m.stats().blocks\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        text(&out.stdout).contains("powerpc 8"),
        "{}",
        text(&out.stdout)
    );
    // --host and --arch name two machines.
    let out = bin()
        .args(["run", "-", "--host", "--arch", "arm64"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn bad_trees_are_named_with_what_was_expected() {
    /// A name, how the tree is spoilt, and what the error must say.
    type Case = (&'static str, fn(&Path), &'static str);
    let cases: &[Case] = &[
        (
            "missing",
            |t| std::fs::remove_dir_all(t).unwrap(),
            "t: does not exist",
        ),
        (
            "file-for-tree",
            |t| {
                std::fs::remove_dir_all(t).unwrap();
                std::fs::write(t, "not a tree").unwrap()
            },
            "t: is not a directory",
        ),
        (
            "no-block-size",
            |t| std::fs::remove_file(t.join("sys/devices/system/memory/block_size_bytes")).unwrap(),
            "block_size_bytes: missing; it gives the memory block size",
        ),
        (
            "garbled-block-size",
            |t| {
                std::fs::write(
                    t.join("sys/devices/system/memory/block_size_bytes"),
                    "lots\n",
                )
                .unwrap()
            },
            "block_size_bytes: \"lots\" is not a block size in hex",
        ),
        (
            "bad-state",
            |t| {
                std::fs::write(
                    t.join("sys/devices/system/memory/memory8/state"),
                    "sleeping\n",
                )
                .unwrap()
            },
            "memory8/state: \"sleeping\" is not online, offline or going-offline",
        ),
        (
            "riscv",
            |t| std::fs::write(t.join("proc/sys/kernel/arch"), "riscv64\n").unwrap(),
            "\"riscv64\" is not a modelled architecture",
        ),
        (
            "old-kernel",
            |t| std::fs::write(t.join("proc/sys/kernel/osrelease"), "5.10.0-32-arm64\n").unwrap(),
            "Linux \"5.10.0-32-arm64\" is not near a modelled version",
        ),
        (
            "no-page-size",
            |t| std::fs::remove_file(t.join("proc/self/smaps")).unwrap(),
            "smaps: missing; it gives the page size",
        ),
        (
            "bad-zoneinfo",
            |t| std::fs::write(t.join("proc/zoneinfo"), "Node zero, zone DMA\n").unwrap(),
            "zoneinfo: \"Node zero, zone DMA\" is not a \"Node N, zone NAME\" line",
        ),
        (
            "junk-param",
            |t| {
                std::fs::write(
                    t.join("sys/module/memory_hotplug/parameters/memmap_on_memory"),
                    "junk\n",
                )
                .unwrap()
            },
            "memmap_on_memory: \"junk\" is not what the kernel prints (Y, N or force)",
        ),
        (
            "junk-zones",
            |t| {
                std::fs::write(
                    t.join("sys/devices/system/memory/memory8/valid_zones"),
                    "Banana Movable\n",
                )
                .unwrap()
            },
            "memory8/valid_zones: \"Banana Movable\" is not \"none\" or zone names",
        ),
        (
            "leading-zero",
            |t| {
                copy_dir(
                    &t.join("sys/devices/system/memory/memory8"),
                    &t.join("sys/devices/system/memory/memory08"),
                )
            },
            "memory08: is not a name the kernel gives a block",
        ),
        (
            "far-block",
            |t| {
                copy_dir(
                    &t.join("sys/devices/system/memory/memory8"),
                    &t.join("sys/devices/system/memory/memory99999999999999999999"),
                )
            },
            "block 99999999999999999999 of 128 MiB lies beyond",
        ),
        (
            "tiny-block",
            |t| {
                std::fs::write(
                    t.join("sys/devices/system/memory/block_size_bytes"),
                    "1000\n",
                )
                .unwrap()
            },
            "4 KiB is not a memory block size arm64 has",
        ),
        (
            "odd-page",
            |t| std::fs::write(t.join("proc/self/smaps"), "KernelPageSize:   12345 kB\n").unwrap(),
            "smaps: KernelPageSize 12345 kB is not a base page size",
        ),
        (
            "garbage-zoneinfo",
            |t| std::fs::write(t.join("proc/zoneinfo"), "hello\n").unwrap(),
            "zoneinfo: has no \"Node N, zone NAME\" line",
        ),
        (
            "zone-without-spanned",
            |t| {
                let z = std::fs::read_to_string(t.join("proc/zoneinfo")).unwrap();
                let z: String = z
                    .lines()
                    .filter(|l| !l.contains("spanned"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                std::fs::write(t.join("proc/zoneinfo"), z).unwrap()
            },
            "Node 0, zone DMA lacks one of its spanned, present and managed lines",
        ),
        (
            "dir-for-file",
            |t| {
                std::fs::remove_file(t.join("proc/meminfo")).unwrap();
                std::fs::create_dir(t.join("proc/meminfo")).unwrap()
            },
            "meminfo: is a directory where the kernel has a file",
        ),
        (
            "no-blocks",
            |t| {
                for e in std::fs::read_dir(t.join("sys/devices/system/memory")).unwrap() {
                    let p = e.unwrap().path();
                    if p.is_dir() {
                        std::fs::remove_dir_all(p).unwrap();
                    }
                }
            },
            "holds no memoryN block directories",
        ),
    ];
    for (name, spoil, want) in cases {
        let tree = copy_tree("oracle-arm64", name);
        spoil(&tree);
        for args in [vec!["--check"], vec![]] {
            let mut a = vec!["--sysroot", tree.to_str().unwrap()];
            a.extend(args);
            let out = host(&a);
            let stderr = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
            assert!(stderr.contains(want), "{name}: {stderr}");
            assert!(out.stdout.is_empty(), "{name}: a guess on stdout");
        }
    }
}

#[cfg(unix)]
#[test]
fn a_fifo_in_a_tree_is_refused_not_waited_on() {
    let tree = copy_tree("oracle-arm64", "fifo");
    let f = tree.join("proc/meminfo");
    std::fs::remove_file(&f).unwrap();
    let st = Command::new("mkfifo").arg(&f).status().unwrap();
    assert!(st.success());
    let out = host(&["--sysroot", tree.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("meminfo: is not a regular file"));
}

#[test]
fn a_release_the_model_does_not_have_is_said_aloud() {
    let out = check(&hosts().join("firecracker-x86_64"));
    assert!(text(&out.stdout).contains(
        "# Linux 6.18.44-fc-v1045, which is not modelled: modelled as 6.12, the nearest"
    ));
    // --kernel picks another.
    let out = host(&[
        "--sysroot",
        hosts().join("oracle-x86_64").to_str().unwrap(),
        "--kernel",
        "6.1",
    ]);
    assert!(
        text(&out.stdout).contains("modelled as 6.1"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_command_line_the_kernel_shrugged_off_is_noted_not_fatal() {
    // The machine booted with these, so its kernel ignored the malformed one; movablecore
    // sizes ZONE_MOVABLE at boot, as the model does too.
    let tree = copy_tree("oracle-x86_64", "cmdline");
    std::fs::write(
        tree.join("proc/cmdline"),
        "console=ttyS0 mem=junk movablecore=50% memhp_default_state=online\n",
    )
    .unwrap();
    let out = host(&["--sysroot", tree.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        stdout.contains(
            "memory parameters on the command line: movablecore=50% memhp_default_state=online"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("mem=junk is malformed"), "{stdout}");
    assert!(!stdout.contains("not modelled"), "{stdout}");
}

#[cfg(target_os = "linux")]
#[test]
fn an_answer_that_cannot_be_written_is_not_an_agreement() {
    let full = std::fs::File::create("/dev/full").unwrap();
    let out = bin()
        .args(["host", "--check", "--sysroot"])
        .arg(hosts().join("oracle-arm64"))
        .stdout(full)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("standard output"));
}

#[test]
fn the_page_size_and_mmu_tell_the_configurations_apart() {
    // /proc/cpuinfo's MMU line (arch/powerpc/kernel/setup-common.c show_cpuinfo) names hash
    // or radix, its address sizes 5-level paging (which no5lvl turns off); KernelPageSize in
    // smaps gives the base page size, the smallest when a HugeTLB mapping is listed first.
    const LA57: &str =
        "flags\t\t: fpu pdpe1gb la57\naddress sizes\t: 52 bits physical, 57 bits virtual\n";
    /// A tree, the files written into it, and what the summary must say.
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
    );
    let cases: [Case; 4] = [
        (
            "oracle-powerpc",
            &[("proc/cpuinfo", "cpu\t\t: POWER9\nMMU\t\t: Hash\n")],
            ": powerpc-hash (ppc64le with 64K pages)",
        ),
        (
            "oracle-x86_64",
            &[("proc/cpuinfo", LA57)],
            ": x86_64-la57 (x86_64 with 4K pages)",
        ),
        (
            "oracle-x86_64",
            &[
                ("proc/cpuinfo", LA57),
                ("proc/cmdline", "console=ttyS0 no5lvl\n"),
            ],
            ": x86_64 (x86_64 with 4K pages)",
        ),
        (
            "oracle-arm64-16k",
            &[(
                "proc/self/smaps",
                "KernelPageSize:     2048 kB\nKernelPageSize:       16 kB\n",
            )],
            ": arm64-16k (aarch64 with 16K pages)",
        ),
    ];
    for (n, (tree, files, want)) in cases.into_iter().enumerate() {
        let t = copy_tree(tree, &format!("config-{n}"));
        for (file, content) in files {
            std::fs::write(t.join(file), content).unwrap();
        }
        let out = text(&host(&["--sysroot", t.to_str().unwrap()]).stdout);
        assert!(out.contains(want), "{tree} {files:?}: {out}");
    }
}

#[test]
fn reading_a_tree_keeps_to_a_deadline() {
    // boot(#{ sysroot }) reads within the run's --max-time: a reader past its deadline stops
    // at the next file and names it.
    let past = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let e = hotplug_lab::host::read_by(&hosts().join("oracle-arm64"), 1 << 24, None, Some(past))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("osrelease: reached after the run's --max-time"),
        "{e}"
    );
    let later = std::time::Instant::now() + std::time::Duration::from_secs(60);
    assert!(
        hotplug_lab::host::read_by(&hosts().join("oracle-arm64"), 1 << 24, None, Some(later))
            .is_ok()
    );
}

#[cfg(unix)]
#[test]
fn blocks_on_other_nodes_are_said_to_differ() {
    // The model boots all memory on node 0: a machine with memory on node 1 is told so, and
    // --check shows those blocks' nodes; node 1 exists in the model for hot-adds.
    let tree = copy_tree("oracle-arm64", "numa");
    let mem = tree.join("sys/devices/system/memory");
    std::fs::remove_file(mem.join("memory23/node0")).unwrap();
    std::os::unix::fs::symlink("../../node/node1", mem.join("memory23/node1")).unwrap();
    let out = check(&tree);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        differences(&stdout),
        ["-memory23/node: node0", "+memory23/node: node1"]
    );
    assert!(
        stdout.contains("# 1 blocks are on nodes other than 0"),
        "{stdout}"
    );
    let src = format!(
        "let m = boot(#{{ sysroot: {:?} }}); m.add_memory(m.hotplug_base, m.block_size, #{{ node: 1 }}); m.block(24).nid",
        tree.to_str().unwrap()
    );
    let script = tree.parent().unwrap().join("numa.rhai");
    std::fs::write(&script, src).unwrap();
    let out = bin().args(["run", "--json"]).arg(&script).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["result"], 1, "{}", text(&out.stderr));
}
