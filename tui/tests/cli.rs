//! The `hotplug-lab` binary: `run` (exit codes, JSON, stdin, several architectures, the
//! sysfs export lsmem reads), `repl`, and hostile scripts that the sandbox stops.

mod common;
use common::{bin, text, tmp};

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn script(name: &str, text: &str) -> std::path::PathBuf {
    let p = tmp(name).join(format!("{name}.rhai"));
    std::fs::write(&p, text).unwrap();
    p
}

fn run(args: &[&str], stdin: Option<&str>) -> (Output, Duration) {
    let t = Instant::now();
    let mut c = bin();
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (out, t.elapsed())
}

#[test]
fn run_prints_and_exits_0() {
    let p = script("ok", "let m = boot(ARCH, CMDLINE);\nlet r = m.add_memory(4 * GiB, GiB);\nprint(`buddy ${r.memmap_buddy_pages}`);\nprint(CMDLINE);\n");
    let (out, _) = run(
        &[
            "run",
            p.to_str().unwrap(),
            "--cmdline",
            "memhp_default_state=offline",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "buddy 4096\nmemhp_default_state=offline\n"
    );
}

#[test]
fn an_uncaught_error_exits_1_with_line_and_column() {
    let p = script(
        "err",
        "let m = boot(\"x86_64\");\n\nm.add_memory(4 * GiB + 4096, GiB);\n",
    );
    let (out, _) = run(&["run", p.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("err.rhai:3:3: EINVAL: Block size [0x8000000] unaligned hotplug range"),
        "{err}"
    );
    // Caught errors carry errno, code and message, and print as "EINVAL: ...".
    let p = script(
        "caught",
        "let m = boot();\ntry { m.remove_memory(0, 128 * MiB); } catch (e) { print(e); print(`${e.errno} ${e.code}`); print(e.message.len() > 0); }",
    );
    let (out, _) = run(&["run", p.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert!(
        lines[0].starts_with("EINVAL: memory0 is boot memory"),
        "{lines:?}"
    );
    assert_eq!(lines[1], "EINVAL -22");
    assert_eq!(lines[2], "true");
}

/// `hotplug-lab run ... | head -1`: once the reader is gone the run goes on quietly and ends
/// with the script's own exit code (print! would panic on the closed pipe).
#[test]
fn a_closed_stdout_is_not_an_error() {
    let p = script(
        "closed",
        "for i in 0..200 { print(`line ${i}`); }\nlet m = boot(); m.add_memory(m.hotplug_base, m.block_size);",
    );
    for args in [
        vec!["run", p.to_str().unwrap()],
        vec!["run", p.to_str().unwrap(), "--arch", "all"],
        vec!["run", p.to_str().unwrap(), "--json"],
        vec!["archs"],
    ] {
        let mut child = bin()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes before the first line is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn bad_usage_exits_2() {
    let p = script("usage", "1");
    for args in [
        vec!["run", p.to_str().unwrap(), "--arch", "vax"],
        vec!["run", "/nonexistent/script.rhai"],
        vec!["run"],
        vec!["frobnicate"],
        vec!["run", p.to_str().unwrap(), "--iomem", "/nonexistent/iomem"],
    ] {
        let (out, _) = run(&args, None);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn script_from_stdin_and_json() {
    let src = "let m = boot(ARCH);\nm.add_memory(m.hotplug_base, m.block_size);\nprint(`added on ${m.arch}`);\nm.stats().blocks";
    let (out, _) = run(
        &["run", "-", "--arch", "x86_64,arm64-64k", "--json"],
        Some(src),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 2);
    assert_eq!(arr[0]["arch"], "x86_64");
    assert_eq!(arr[0]["output"], serde_json::json!(["added on x86_64"]));
    assert_eq!(arr[0]["result"], 17);
    assert_eq!(arr[0]["stats"]["blocks"], 17);
    assert_eq!(arr[1]["stats"]["page_size"], 65536);
    assert!(arr[1]["dmesg"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l.as_str().unwrap().contains("Memory:")));
}

#[test]
fn all_architectures_side_by_side() {
    let p = script(
        "all",
        "let m = boot(ARCH);\nprint(`${m.arch}: ${human(m.section_size)}`);",
    );
    let wide = bin()
        .env("COLUMNS", "1000")
        .args(["run", p.to_str().unwrap(), "--arch", "all"])
        .output()
        .unwrap();
    assert_eq!(wide.status.code(), Some(0), "{}", text(&wide.stderr));
    let s = text(&wide.stdout);
    // Each architecture's output first, then the table of what differs.
    assert!(s.starts_with("== x86_64 ==\n"), "{s}");
    let header = s
        .lines()
        .skip_while(|l| !l.contains("the stats that differ"))
        .nth(1)
        .unwrap();
    for a in arch::Config::all().map(|c| c.name) {
        assert!(header.contains(a), "{header}");
        assert!(s.contains(&format!("== {a} ==")));
    }
    assert!(s.lines().any(|l| l.starts_with("page_size ")), "{s}");
    assert!(s.contains("powerpc: 16M") && s.contains("arm64-64k: 512M"));
    // In 80 columns the table goes on below itself: no line wider, every run still there.
    let narrow = bin()
        .env("COLUMNS", "80")
        .args(["run", p.to_str().unwrap(), "--arch", "all"])
        .output()
        .unwrap();
    let s = text(&narrow.stdout);
    let table = &s[s.find("the stats that differ").unwrap()..];
    let body: Vec<&str> = table.lines().skip(1).collect();
    assert!(body.iter().all(|l| l.len() <= 80), "{table}");
    for a in arch::Config::all().map(|c| c.name) {
        assert!(
            body.iter().any(|l| l.split_whitespace().any(|w| w == a)),
            "{a}: {table}"
        );
    }
    assert!(
        body.iter().filter(|l| l.starts_with("page_size ")).count() > 1,
        "{table}"
    );
}

#[test]
fn sysfs_out_is_read_by_lsmem() {
    let dir = tmp("sysfs");
    let p = script("sysfs", "let m = boot(ARCH, \"memhp_default_state=offline\");\nm.add_memory(4 * GiB, 512 * MiB);\nm.online(4 * GiB, 256 * MiB, \"online_movable\");\nm.export_sysfs(\"inside\");");
    let (out, _) = run(
        &[
            "run",
            p.to_str().unwrap(),
            "--sysfs-out",
            dir.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for d in [dir.clone(), dir.join("inside")] {
        let l = Command::new("lsmem")
            .arg("--sysroot")
            .arg(&d)
            .args(["-o", "RANGE,STATE,BLOCK,ZONES"])
            .output()
            .unwrap();
        assert!(l.status.success(), "{}", text(&l.stderr));
        let s = text(&l.stdout);
        let row = |range: &str| -> Vec<String> {
            s.lines()
                .find(|l| l.starts_with(range))
                .unwrap_or_else(|| panic!("{range} in {s}"))
                .split_whitespace()
                .map(String::from)
                .collect()
        };
        assert_eq!(
            row("0x0000000100000000-0x000000010fffffff")[1..],
            ["online", "32-33", "Movable"]
        );
        assert_eq!(
            row("0x0000000110000000-0x000000011fffffff")[1..],
            ["offline", "34-35", "Normal/Movable"]
        );
    }
    // Outside the directory given, scripts may not write.
    let p = script("escape", "let m = boot();\nm.export_sysfs(\"../escaped\");");
    let (out, _) = run(
        &[
            "run",
            p.to_str().unwrap(),
            "--sysfs-out",
            dir.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let p = script("nodir", "let m = boot();\nm.export_sysfs(\"x\");");
    let (out, _) = run(&["run", p.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("EPERM"), "{}", text(&out.stderr));
}

#[test]
fn hostile_scripts_stop_cleanly_and_fast() {
    let cases = [
        ("loop { }", "too many operations"),
        ("let i = 0; while true { i += 1; }", "too many operations"),
        ("fn f(x) { f(x + 1) } f(0)", "stack overflow"),
        ("let a = []; a.pad(1000000000, 0); a.len()", "E2BIG: pad: 1000000000 array entries"),
        ("let s = \"x\"; loop { s += s; }", "E2BIG: variable `s`"),
        ("let m = #{}; for i in 0..70000 { m[`${i}`] = 0 } m.len()", "map entries, over the sandbox's 65536 (--max-map-size"),
        ("let m = boot(); m.add_memory(-1, 128 * MiB)", "EINVAL: start must not be negative"),
        ("let m = boot(); m.remove_memory(9223372036854775807, 128 * MiB)", "EINVAL"),
        ("let m = boot(); m.online(0, 0x7fffffffffffffff)", "EINVAL"),
        ("let m = boot(); m.pfn_valid(-5)", "EINVAL"),
        ("let m = boot(); m.section(9223372036854775807)", "EINVAL"),
        ("let m = boot(); m.block(-1)", "EINVAL"),
        ("boot(#{ ram: \"1P\" })", "E"),
        ("boot(#{ arch: \"x86_64\", ram: -1 })", "EINVAL"),
        ("boot(#{ iomem: \"garbage\" })", "EINVAL"),
        ("import \"/etc/passwd\" as x;", ""),
        ("let m = boot(); m.write(\"/sys/devices/system/memory/memory0/state\", \"offline\\u0000\")", "EINVAL"),
        ("size(\"99999999999999999999G\")", "EINVAL"),
    ];
    for (src, want) in cases {
        let (out, took) = run(&["run", "-"], Some(src));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{src}: {err}");
        assert!(err.contains(want), "{src}: {err}");
        assert!(!err.contains("panicked"), "{src}: {err}");
        // A hang guard only (the sandbox's own limits end each of these in milliseconds;
        // tui/benches/sandbox.rs measures how fast): a loaded CI machine must not fail it.
        assert!(took < Duration::from_secs(30), "{src} took {took:?}");
    }
}

#[test]
fn repl_evaluates_lines_with_m_bound() {
    let input = "m.add_memory(4 * GiB, GiB).memmap_buddy_pages\nlet x = [\n  1,\n  2\n];\nx.len()\nm.offline(0, 1)\nhelp(\"add_memory\")\n";
    let (out, _) = run(&["repl", "--arch", "x86_64"], Some(input));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("4096"), "{s}");
    assert!(s.contains("\n2\n"), "multi-line input: {s}");
    assert!(s.contains("m.add_memory(start, size)"), "{s}");
    assert!(
        text(&out.stderr).contains("EINVAL"),
        "{}",
        text(&out.stderr)
    );
}

/// A malformed value of a known parameter boots as the kernel boots: the default stays,
/// parse_args() logs "`2' invalid for parameter" (kernel/params.c), stderr warns; --strict
/// (and the boot key) makes it an error.
#[test]
fn malformed_parameters_boot_as_the_kernel_does_unless_strict() {
    let p = script(
        "malformed",
        "let m = boot();\nprint(m.read(\"/sys/module/memory_hotplug/parameters/memmap_on_memory\"));\nfor l in m.dmesg() { if l.contains(\"invalid for\") { print(l); } }",
    );
    let args = [
        "run",
        p.to_str().unwrap(),
        "--cmdline",
        "memory_hotplug.memmap_on_memory=2 memhp_default_state=onlin",
    ];
    let (out, _) = run(&args, None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("N\n"), "{stdout}");
    assert!(
        stdout.contains(
            "Booting kernel: `2' invalid for parameter `memory_hotplug.memmap_on_memory'"
        ),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(stderr.contains("\"memhp_default_state=onlin\""), "{stderr}");
    assert!(stderr.contains("without a word"), "{stderr}");
    let mut strict = args.to_vec();
    strict.push("--strict");
    let (out, _) = run(&strict, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("EINVAL"),
        "{}",
        text(&out.stderr)
    );
    let p = script(
        "malformed-key",
        "let m = boot(#{ cmdline: \"memhp_default_state=onlin\", strict: true });",
    );
    let (out, _) = run(&["run", p.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--strict"),
        "{}",
        text(&out.stderr)
    );
}
