//! Hostile input, one test per class of attack: scripts that would escape the export
//! directory, hang, exhaust memory or the stack, input files and streams without end, a
//! closed stderr, and boot input that used to give a broken machine. Each must end with the
//! documented exit code and message, within its time bound, without a panic or an abort, and
//! (where it bears on memory) under its bound of peak memory. The binary is the debug build
//! CI tests (overflow checks on); the release figures are in README, measured by
//! `cargo bench -p hotplug-lab --bench sandbox`.

mod common;
use common::{bin, tmp};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run gave: exit code, stdout, stderr, wall time and peak RSS (VmHWM, polled).
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
    peak_kb: u64,
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

fn run_with(args: &[&str], stdin: Stdio, input: Option<&[u8]>) -> Ran {
    let t = Instant::now();
    let mut child = bin()
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(i) = input {
        let mut w = child.stdin.take().unwrap();
        let i = i.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&i);
        });
    }
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let o = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut s);
        s
    });
    let e = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kb) = vm_hwm(pid) {
            peak = peak.max(kb);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "{args:?} still runs after 2 minutes"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    Ran {
        code: status.code(),
        stdout: o.join().unwrap(),
        stderr: e.join().unwrap(),
        took: t.elapsed(),
        peak_kb: peak,
    }
}

fn run(args: &[&str]) -> Ran {
    run_with(args, Stdio::null(), None)
}

/// Run a script given as text.
fn script(src: &str, extra: &[&str]) -> Ran {
    let d = tmp("script");
    let p = d.join(format!("s{}.rhai", src.len()));
    std::fs::write(&p, src).unwrap();
    let mut args = vec!["run", p.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = run(&args);
    let _ = std::fs::remove_dir_all(&d);
    r
}

/// A script that the sandbox must stop: exit 1, the message, in time, without a panic.
fn stopped(src: &str, extra: &[&str], want: &[&str], within: Duration, max_mib: u64) {
    let r = script(src, extra);
    assert_eq!(r.code, Some(1), "{src}: {}", r.stderr);
    for w in want {
        assert!(r.stderr.contains(w), "{src}: wanted {w:?} in: {}", r.stderr);
    }
    assert!(!r.stderr.contains("panicked"), "{src}: {}", r.stderr);
    assert!(r.took < within, "{src} took {:?}", r.took);
    assert!(
        r.peak_kb < max_mib << 10,
        "{src}: peak RSS {} MiB",
        r.peak_kb >> 10
    );
}

#[test]
fn sleep_is_not_available() {
    for src in ["sleep(1e18);", "sleep(1000000000)", "let f = sleep; f(1)"] {
        let r = script(src, &[]);
        assert_eq!(r.code, Some(1), "{src}: {}", r.stderr);
        // A hang guard: sleep(1e18) would never return.
        assert!(r.took < Duration::from_secs(30), "{src} took {:?}", r.took);
    }
    let r = script("sleep(1e18);", &[]);
    assert!(
        r.stderr.contains("EPERM: sleep() is not available"),
        "{}",
        r.stderr
    );
}

#[test]
fn limits_of_zero_or_nonsense_are_usage_errors() {
    let d = tmp("zero");
    let p = d.join("one.rhai");
    std::fs::write(&p, "1").unwrap();
    let p = p.to_str().unwrap();
    for flags in [
        ["--max-time=-1", ""],
        ["--max-operations", "0"],
        ["--max-time", "0"],
        ["--max-time", "inf"],
        ["--max-memory", "0"],
        ["--max-memory", "lots"],
        ["--max-string-size", "0"],
        ["--max-array-size", "0"],
        ["--max-map-size", "0"],
        ["--max-depth", "0"],
        ["--max-call-depth", "0"],
        ["--max-input-size", "0"],
    ] {
        let mut args = vec!["run", p];
        args.extend(flags.iter().filter(|f| !f.is_empty()));
        let r = run(&args);
        assert_eq!(r.code, Some(2), "{flags:?}: {}", r.stderr);
        let flag = flags[0].split('=').next().unwrap();
        assert!(r.stderr.contains(flag), "{flags:?}: {}", r.stderr);
    }
    // The REPL and the UI take the same flags.
    for cmd in ["repl", "tui"] {
        let r = run(&[cmd, "--max-operations", "0"]);
        assert_eq!(r.code, Some(2), "{cmd}: {}", r.stderr);
    }
}

#[test]
fn every_limit_names_its_flag() {
    let t = Duration::from_secs(10);
    stopped(
        "loop { }",
        &[],
        &["too many operations", "--max-operations"],
        t,
        512,
    );
    stopped(
        "fn f(x) { f(x + 1) } f(0)",
        &[],
        &["--max-call-depth"],
        t,
        512,
    );
    stopped(
        "let i = 0; loop { i += 1; }",
        &["--max-operations", "1000000000000", "--max-time", "1"],
        &["ETIMEDOUT", "--max-time"],
        Duration::from_secs(5),
        512,
    );
    stopped(
        "let s = \"x\"; loop { s += s; }",
        &[],
        &["E2BIG", "string bytes", "--max-string-size"],
        t,
        512,
    );
    stopped(
        "let a = [0]; loop { a += a; }",
        &[],
        &["E2BIG", "array entries", "--max-array-size"],
        t,
        512,
    );
    stopped(
        "let m = #{}; for i in 0..100000 { m[`${i}`] = 0 }",
        &[],
        &["E2BIG", "map entries", "--max-map-size"],
        t,
        512,
    );
    stopped(
        "let a = []; for i in 0..50000 { a = [a]; }",
        &[],
        &["E2BIG", "nested deeper than 64", "--max-depth"],
        t,
        512,
    );
    // Raised limits are kept to.
    let r = script(
        "let a = []; for i in 0..100 { a = [a]; } 1",
        &["--max-depth", "200"],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

/// The bombs of the sandbox issue: each stopped with exit 1 in time and under 1 GiB.
#[test]
fn memory_and_time_bombs_stop() {
    let t = Duration::from_secs(20);
    // Values that double without counting entries.
    stopped(
        "let f = |x| x; loop { f = f.curry(f); }",
        &[],
        &["ENOMEM", "--max-memory"],
        t,
        1024,
    );
    // Machines kept alive: the budget counts the model. (A debug build boots 64 TiB slowly;
    // 4 TiB machines against a 128 MiB budget are the same attack.)
    stopped(
        "let a = []; loop { a.push(boot(#{ arch: \"x86_64\", ram: \"4T\" })); }",
        &["--max-memory", "128M"],
        &["ENOMEM", "booting 4.0 TiB of RAM", "--max-memory"],
        t,
        1024,
    );
    stopped(
        "let a = []; loop { a.push(boot(#{ arch: \"x86_64-la57\", ram: \"64T\" })); }",
        &[],
        &["ENOMEM", "--max-memory"],
        Duration::from_secs(60),
        1024,
    );
    // Nesting built without copying.
    stopped(
        "let a = []; loop { a = [take(a)]; }",
        &[],
        &["E2BIG", "nested deeper"],
        t,
        1024,
    );
    stopped(
        "let a = #{}; loop { a = #{ x: take(a) }; }",
        &[],
        &["E2BIG", "nested deeper"],
        t,
        1024,
    );
    // A method that only changes `this` reads no variable.
    stopped(
        "fn g() { loop { this += this; } } let a = \"xy\"; a.g();",
        &[],
        &["ENOMEM", "since the sandbox last measured them"],
        t,
        1024,
    );
    // Functions whose result is many times their arguments.
    for (src, want) in [
        (
            "let s = \"\"; s.pad(1 << 40, \"x\");",
            ["E2BIG", "string bytes"],
        ),
        (
            "let s = \"\"; s.pad(1 << 40, 'x');",
            ["E2BIG", "string bytes"],
        ),
        ("let a = []; a.pad(1 << 40, 0);", ["E2BIG", "array entries"]),
        (
            "let a = []; let b = [0]; b.pad(100000, 0); a.pad(100000, b);",
            ["ENOMEM", "pad to 100000 copies"],
        ),
        ("blob(1 << 40)", ["E2BIG", "array entries"]),
        (
            "let b = blob(10); b.pad(1 << 40, 0);",
            ["E2BIG", "array entries"],
        ),
        (
            "let s = \"ab\"; s.pad(3000000, \"ab\"); s.split(\"\")",
            ["E2BIG", "split"],
        ),
        (
            "let s = \"ab\"; s.pad(3000000, \"ab\"); s.to_chars()",
            ["E2BIG", "to_chars"],
        ),
        (
            "let s = \"a\"; s.pad(4000000, \"a\"); s.replace(\"a\", \"bbbb\"); s",
            ["E2BIG", "replace"],
        ),
        (
            "let b = blob(1000000); b += b; b += b; b.to_array()",
            ["E2BIG", "array entries"],
        ),
    ] {
        stopped(src, &[], &want, t, 1024);
    }
    // Pad with an empty string used to loop for ever.
    let r = script("let s = \"x\"; s.pad(10, \"\"); s", &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

/// Growing an array costs O(1) per push: 300,000 pushes are not quadratic even in a debug
/// build (they took 57 s in a release build when every push re-measured the array).
#[test]
fn pushes_are_linear() {
    let r = script(
        "let a = []; for i in 0..300000 { a.push(#{ block: i }); } a.len()",
        &["--json"],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("\"result\": 300000"), "{}", r.stdout);
    assert!(r.took < Duration::from_secs(20), "took {:?}", r.took);
}

/// --json output of a deep value, and dropping one, stay off the end of the stack.
#[test]
fn deep_values_in_json_and_drop() {
    let r = script(
        "let a = []; for i in 0..100 { a = [a]; } [[[[[[[[a]]]]]]]]",
        &["--json", "--max-depth", "120"],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v[0]["result"].is_array());
    // The script's last value is held to the limit too.
    let r = script(
        "let a = []; for i in 0..60 { a = [a]; } [[[[[[[[a]]]]]]]]",
        &[],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("the script's last value"), "{}", r.stderr);
}

fn lsmem_reads(dir: &Path) {
    let l = Command::new("lsmem")
        .arg("--sysroot")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        l.status.success(),
        "lsmem: {}",
        String::from_utf8_lossy(&l.stderr)
    );
}

/// Everything under `dir`, with file contents, to see that nothing changed.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                stack.push(p.clone());
                out.push((p, None));
            } else {
                out.push((p.clone(), std::fs::read(&p).ok()));
            }
        }
    }
    out.sort();
    out
}

#[cfg(unix)]
#[test]
fn export_follows_no_link() {
    use std::os::unix::fs::symlink;
    let base = tmp("links");
    let out = base.join("out");
    let elsewhere = base.join("elsewhere");
    // A tree that looks like an earlier export, outside the export directory.
    let victim = elsewhere.join("sys/devices/system/memory");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("precious"), "keep me").unwrap();
    std::fs::write(elsewhere.join("file"), "keep me too").unwrap();
    let before = snapshot(&elsewhere);
    std::fs::create_dir_all(&out).unwrap();
    type Plant<'a> = Box<dyn Fn() + 'a>;
    let cases: Vec<(&str, Plant)> = vec![
        // The target itself is a link.
        (
            "link",
            Box::new(|| symlink(&elsewhere, out.join("link")).unwrap()),
        ),
        // A parent of the target is a link.
        (
            "p/sub",
            Box::new(|| symlink(&elsewhere, out.join("p")).unwrap()),
        ),
        // sys inside the tree is a link.
        (
            "t1",
            Box::new(|| {
                std::fs::create_dir_all(out.join("t1")).unwrap();
                symlink(elsewhere.join("sys"), out.join("t1/sys")).unwrap()
            }),
        ),
        // An existing sys/devices/system/memory is a link.
        (
            "t2",
            Box::new(|| {
                std::fs::create_dir_all(out.join("t2/sys/devices/system")).unwrap();
                symlink(&victim, out.join("t2/sys/devices/system/memory")).unwrap()
            }),
        ),
        // A file the export writes is a link.
        (
            "t3",
            Box::new(|| {
                std::fs::create_dir_all(out.join("t3/proc")).unwrap();
                symlink(elsewhere.join("file"), out.join("t3/proc/iomem")).unwrap()
            }),
        ),
        // So is a node directory.
        (
            "t4",
            Box::new(|| {
                std::fs::create_dir_all(out.join("t4/sys/devices/system/node")).unwrap();
                symlink(&elsewhere, out.join("t4/sys/devices/system/node/node0")).unwrap()
            }),
        ),
    ];
    for (target, plant) in cases {
        plant();
        let src = format!("let m = boot(); m.export_sysfs(\"{target}\");");
        let r = script(&src, &["--sysfs-out", out.to_str().unwrap()]);
        assert_eq!(r.code, Some(1), "{target}: {}", r.stderr);
        assert!(
            r.stderr.contains("EPERM") && r.stderr.contains("symbolic link"),
            "{target}: {}",
            r.stderr
        );
        assert_eq!(snapshot(&elsewhere), before, "{target}: changed outside");
    }
    // The run's own export into a directory whose sys is a link: refused, exit 1.
    let dir = base.join("final");
    std::fs::create_dir_all(&dir).unwrap();
    symlink(elsewhere.join("sys"), dir.join("sys")).unwrap();
    let r = script("boot()", &["--sysfs-out", dir.to_str().unwrap()]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("EPERM"), "{}", r.stderr);
    // With several architectures, DIR/<arch> may not be a link either.
    let dir = base.join("several");
    std::fs::create_dir_all(&dir).unwrap();
    symlink(&elsewhere, dir.join("arm64")).unwrap();
    let r = script(
        "let m = boot(ARCH); m.export_sysfs(\"x\");",
        &[
            "--sysfs-out",
            dir.to_str().unwrap(),
            "--arch",
            "x86_64,arm64",
        ],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("arm64: "), "{}", r.stderr);
    assert!(r.stderr.contains("--sysfs-out"), "{}", r.stderr);
    assert!(r.stderr.contains("EPERM"), "{}", r.stderr);
    assert_eq!(snapshot(&elsewhere), before);
    // A fresh tree, and one exported before, still work; lsmem reads both.
    let fresh = base.join("fresh");
    for _ in 0..2 {
        let r = script(
            "let m = boot(); m.add_memory(m.hotplug_base, 256 * MiB); m.export_sysfs(\"in\");",
            &["--sysfs-out", fresh.to_str().unwrap()],
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        lsmem_reads(&fresh);
        lsmem_reads(&fresh.join("in"));
    }
    // I/O errors carry their own errno: a file where a directory goes is ENOTDIR.
    std::fs::create_dir_all(fresh.join("f")).unwrap();
    std::fs::write(fresh.join("f/sys"), "").unwrap();
    let r = script(
        "let m = boot(); m.export_sysfs(\"f\");",
        &["--sysfs-out", fresh.to_str().unwrap()],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("ENOTDIR"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&base);
}

#[test]
fn endless_input_is_refused() {
    let d = tmp("input");
    let one = d.join("one.rhai");
    std::fs::write(&one, "1").unwrap();
    for args in [
        vec!["run", "/dev/zero"],
        vec!["run", one.to_str().unwrap(), "--iomem", "/dev/zero"],
        vec!["tui", "/dev/zero"],
        vec!["repl", "--iomem", "/dev/zero"],
    ] {
        let r = run(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("file too large"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("--max-input-size"),
            "{args:?}: {}",
            r.stderr
        );
        assert!(r.took < Duration::from_secs(10), "{args:?}: {:?}", r.took);
        assert!(r.peak_kb < 256 << 10, "{args:?}: {} MiB", r.peak_kb >> 10);
    }
    let zero = std::fs::File::open("/dev/zero").unwrap();
    let r = run_with(&["run", "-"], Stdio::from(zero), None);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("standard input: file too large"),
        "{}",
        r.stderr
    );
    // The limit is a flag.
    let r = run(&["run", one.to_str().unwrap(), "--max-input-size", "1"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = run(&["run", one.to_str().unwrap(), "--max-input-size", "0x0"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    // Binary input is not a script.
    std::fs::write(d.join("bin.rhai"), [0xff, 0xfe, 0x00]).unwrap();
    let r = run(&["run", d.join("bin.rhai").to_str().unwrap()]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("not UTF-8"), "{}", r.stderr);
}

#[test]
fn a_long_line_is_quoted_short() {
    let d = tmp("longline");
    let io = d.join("iomem");
    let line = format!("00000000-{} : System RAM\n", "f".repeat(30 << 20));
    std::fs::write(&io, line).unwrap();
    let one = d.join("one.rhai");
    std::fs::write(&one, "boot(#{ iomem: IOMEM })").unwrap();
    let r = run(&[
        "run",
        one.to_str().unwrap(),
        "--iomem",
        io.to_str().unwrap(),
        "--max-input-size",
        "64M",
    ]);
    assert_eq!(r.code, Some(1), "{}", &r.stderr[..r.stderr.len().min(500)]);
    assert!(
        r.stderr.len() < 400,
        "{} bytes: {}",
        r.stderr.len(),
        &r.stderr[..400]
    );
    assert!(r.stderr.contains("iomem line 1"), "{}", r.stderr);
    assert!(r.stderr.contains("(31457302 bytes)"), "{}", r.stderr);
}

/// An error written to a closed stderr ends the run with its exit code, not a panic (101).
#[test]
fn a_closed_stderr_is_not_a_panic() {
    let d = tmp("stderr");
    let p = d.join("err.rhai");
    std::fs::write(&p, "let m = boot(); m.add_memory(1, 1)").unwrap();
    for args in [
        vec!["run", p.to_str().unwrap()],
        vec!["run", p.to_str().unwrap(), "--arch", "x86_64,arm64"],
        vec!["run", "/nonexistent.rhai"],
    ] {
        let mut child = bin()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let st = child.wait().unwrap();
        assert!(
            matches!(st.code(), Some(1) | Some(2)),
            "{args:?}: exit {:?}",
            st.code()
        );
    }
}

#[test]
fn boot_input_that_gave_a_broken_machine() {
    let d = tmp("boot");
    let check = d.join("check.rhai");
    std::fs::write(
        &check,
        "let m = boot(#{ iomem: IOMEM }); m.check(); print(m.hotplug_base); print(m.stats().mem_total_kb);",
    )
    .unwrap();
    let boot_iomem = |text: &str| {
        let io = d.join("iomem");
        std::fs::write(&io, text).unwrap();
        run(&[
            "run",
            check.to_str().unwrap(),
            "--iomem",
            io.to_str().unwrap(),
        ])
    };
    // RAM too small for its own memmap: refused with the minimum, never a machine with
    // saturated counters.
    for ram in [
        "00000000-00000fff",
        "00000000-001fffff",
        "00100000-002fffff",
    ] {
        let r = boot_iomem(&format!("{ram} : System RAM\n"));
        assert_eq!(r.code, Some(1), "{ram}: {} {}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains("EINVAL") && r.stderr.contains("cannot hold its own memmap"),
            "{ram}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("at least"), "{}", r.stderr);
    }
    // A line ending at the top of the address space.
    for text in [
        "ffffffff000-ffffffffffffffff : System RAM\n",
        "00100000-7fffffff : System RAM\nffffffff000-ffffffffffffffff : System RAM\n",
    ] {
        let r = boot_iomem(text);
        assert_eq!(r.code, Some(1), "{text}: {}", r.stderr);
        assert!(r.stderr.contains("ERANGE"), "{text}: {}", r.stderr);
    }
    // RAM nested in another resource: hot-plug starts above it, not at 0.
    let r = boot_iomem("00000000-ffffffff : PCI Bus 0000:00\n  00100000-3fffffff : System RAM\n");
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout.lines().next(), Some("4294967296"), "{}", r.stdout);
    // memmap= ranges that wrap past 2^64.
    for arg in [
        "memmap=0x100000!0xfffffffffff00001",
        "memmap=0x1000$0xffffffffffffffff",
        "memmap=16E@0x1000",
        "memmap=0x8000000000000000@0x8000000000000000",
    ] {
        let r = run(&["run", check.to_str().unwrap(), "--cmdline", arg]);
        assert_eq!(r.code, Some(1), "{arg}: {}", r.stderr);
        assert!(
            r.stderr.contains("ERANGE") || r.stderr.contains("EINVAL"),
            "{arg}: {}",
            r.stderr
        );
        assert!(r.stderr.contains("memmap="), "{arg}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{arg}: {}", r.stderr);
    }
}

#[test]
fn messages_quote_the_input_as_given() {
    let r = script(
        "let m = boot(); m.write(\"/sys/devices/system/memory/memory0/state\", \"online \")",
        &[],
    );
    assert!(
        r.stderr.contains("\"online \" is not one of"),
        "{}",
        r.stderr
    );
    let r = script("size(\"99999999T\")", &[]);
    assert!(r.stderr.contains("overflows"), "{}", r.stderr);
    let r = script("size(\"4Q\")", &[]);
    assert!(r.stderr.contains("is not a size"), "{}", r.stderr);
}

#[test]
fn paths_resolve_as_the_vfs_does() {
    for (path, want) in [
        ("/sys/devices/system/memory/memory0/state/", "ENOTDIR"),
        ("/", "EISDIR: \"/\": Is a directory"),
        ("/sys/devices/system/memory", "EISDIR"),
        ("/sys/devices/system/memory/memory0", "EISDIR"),
        ("", "ENOENT"),
        ("sys/devices/system/memory/block_size_bytes", "ENOENT"),
        ("/sys/devices/system/memory/memory999999/state", "ENOENT"),
    ] {
        let r = script(&format!("let m = boot(); m.read(\"{path}\")"), &[]);
        assert_eq!(r.code, Some(1), "{path}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{path}: {}", r.stderr);
    }
    let r = script(
        "let m = boot(); print(m.read(\"//sys/devices/./system/memory/../memory//block_size_bytes\"));",
        &[],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.stdout, "8000000\n\n");
}

#[test]
fn virtio_mem_and_pmem_do_not_overlap() {
    for src in [
        "let m = boot(#{ arch: \"x86_64\", ram: \"2G\" }); m.virtio_mem_add(#{ start: 8 * GiB, region_size: 4 * GiB }); m.memremap_pages(9 * GiB, 1 * GiB)",
        "let m = boot(#{ arch: \"x86_64\", ram: \"2G\" }); m.memremap_pages(9 * GiB, 1 * GiB); m.virtio_mem_add(#{ start: 8 * GiB, region_size: 4 * GiB })",
        "let m = boot(#{ arch: \"x86_64\", ram: \"2G\", cmdline: \"memmap=1G!9G\" }); m.virtio_mem_add(#{ start: 8 * GiB, region_size: 4 * GiB })",
    ] {
        let r = script(src, &[]);
        assert_eq!(r.code, Some(1), "{src}: {}", r.stderr);
        assert!(r.stderr.contains("EBUSY"), "{src}: {}", r.stderr);
    }
}

/// Copies of one string cost the heap 16 bytes each: printing, interpolating, comparing or
/// turning into JSON a value of many copies is measured first, not built.
#[test]
fn shared_strings_do_not_multiply() {
    let t = Duration::from_secs(20);
    let build = "let s = \"ab\"; s.pad(4000000, \"a\"); let a = [s, s, s, s, s, s, s, s, s, s]; \
                 let b = [a, a, a, a, a, a, a, a, a, a]; let c = [b, b, b];";
    for tail in [
        "let t = c.to_string();",
        "print(c);",
        "debug(c);",
        "let t = `${c}`;",
        "let d = #{ x: c }; let t = d.to_json();",
    ] {
        stopped(&format!("{build} {tail}"), &[], &["E2BIG"], t, 1024);
    }
    // Comparing is refused past sixteen times --max-string-size, and quick below it.
    stopped(
        &format!("{build} c == c"),
        &[],
        &["E2BIG", "compared"],
        t,
        1024,
    );
    stopped(
        "let s = \"ab\"; s.pad(4000000, \"a\"); let a = [s, s, s, s, s, s, s, s, s, s]; a == a",
        &[],
        &["E2BIG", "comparing values this big"],
        t,
        1024,
    );
    let r = script(
        "[1, \"x\", #{ y: [2] }] == [1, \"x\", #{ y: [2] }]",
        &["--json"],
    );
    assert!(r.stdout.contains("\"result\": true"), "{}", r.stdout);
    // What Rhai prints is unchanged.
    let r = script(
        "let m = boot(); print([1, \"x\", #{y: [2, 'c']}, ()]); print(`${#{k: m}}`)",
        &[],
    );
    assert_eq!(
        r.stdout,
        "[1, \"x\", #{\"y\": [2, c]}, ()]\n#{\"k\": Machine(x86_64)}\n"
    );
}

/// Printed lines are written as they come and not kept, unless --json needs them at the
/// end; what --json keeps is bounded.
#[test]
fn printing_is_not_kept_without_json() {
    let src = "let s = \"ab\"; s.pad(4000000, \"a\"); for i in 0..200 { print(s); }";
    let r = script(src, &[]);
    assert_eq!(r.code, Some(0), "{}", &r.stderr);
    assert!(r.peak_kb < 300 << 10, "peak {} MiB", r.peak_kb >> 10);
    let r = script(src, &["--json"]);
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr.contains("a quarter of --max-memory"),
        "{}",
        r.stderr
    );
}

/// Reading the script counts against --max-time: a FIFO nobody writes to does not hang.
#[cfg(unix)]
#[test]
fn a_fifo_nobody_writes_to() {
    let d = tmp("fifo");
    let fifo = d.join("script.rhai");
    let st = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(st.success());
    let r = run(&["run", fifo.to_str().unwrap(), "--max-time", "1"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("--max-time"), "{}", r.stderr);
    assert!(r.took < Duration::from_secs(10), "{:?}", r.took);
}

/// A range the model refuses gets the model's error, not a memory-budget one.
#[test]
fn impossible_ranges_get_their_own_error() {
    for (src, want) in [
        (
            "let m = boot(); let big = 9223372036854775807; m.add_memory(big, big)",
            "E2BIG: [0x",
        ),
        (
            "let m = boot(); m.add_memory(m.hotplug_base, 1 << 62)",
            "E2BIG: [0x",
        ),
        (
            "let m = boot(); m.virtio_mem_resize(0, 9223372036854775807)",
            "ENODEV",
        ),
        (
            "let m = boot(); m.virtio_mem_resize(9223372036854775807, 1)",
            "ENODEV",
        ),
    ] {
        let r = script(src, &[]);
        assert_eq!(r.code, Some(1), "{src}");
        assert!(r.stderr.contains(want), "{src}: {}", r.stderr);
        assert!(!r.stderr.contains("--max-memory"), "{src}: {}", r.stderr);
    }
}

// ---- Round 2 of the sandbox (issue 27): each class the second attack found. ----

/// A copy of a captured tree (its nodeN links kept) to plant links in.
#[cfg(unix)]
fn tree_copy(name: &str) -> PathBuf {
    let d = tmp(name);
    let st = Command::new("cp")
        .arg("-a")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hosts/oracle-x86_64"))
        .arg(d.join("tree"))
        .status()
        .unwrap();
    assert!(st.success());
    d
}

/// A host tree is read only inside itself: a link that leads out is refused with EPERM,
/// naming the link, and nothing of its target reaches any message (the whole target file
/// was printed); a link that stays inside is followed, as captured trees need.
#[cfg(unix)]
#[test]
fn a_link_out_of_a_host_tree_is_refused() {
    use std::os::unix::fs::symlink;
    let d = tree_copy("hostlink");
    let tree = d.join("tree");
    let secret = d.join("secret");
    std::fs::write(&secret, format!("SECRET-{}\n", "x".repeat(200))).unwrap();
    let state = tree.join("sys/devices/system/memory/memory0/state");
    let script = d.join("boot.rhai");
    std::fs::write(
        &script,
        format!(
            "try {{ boot(#{{ sysroot: \"{}\" }}); }} catch (e) {{ print(e.errno); print(e.message); }}",
            tree.display()
        ),
    )
    .unwrap();
    for target in [secret.clone(), PathBuf::from("../../../../../../../secret")] {
        let _ = std::fs::remove_file(&state);
        symlink(&target, &state).unwrap();
        let r = run(&["host", "--sysroot", tree.to_str().unwrap()]);
        assert_eq!(r.code, Some(2), "{target:?}: {}", r.stderr);
        assert!(r.stderr.contains("EPERM"), "{}", r.stderr);
        assert!(r.stderr.contains("memory0/state"), "{}", r.stderr);
        assert!(r.stderr.contains("outside the tree"), "{}", r.stderr);
        assert!(!r.stderr.contains("SECRET"), "{}", r.stderr);
        // A script can catch the error and print it: still nothing of the file.
        let r = run(&["run", script.to_str().unwrap()]);
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert!(r.stdout.starts_with("EPERM\n"), "{}", r.stdout);
        assert!(!r.stdout.contains("SECRET"), "{}", r.stdout);
        let r = run(&["repl", "--sysroot", tree.to_str().unwrap()]);
        assert_eq!(r.code, Some(2), "{}", r.stderr);
        assert!(!r.stderr.contains("SECRET"), "{}", r.stderr);
    }
    // A link inside the tree is followed.
    let _ = std::fs::remove_file(&state);
    symlink("../memory1/state", &state).unwrap();
    let r = run(&["host", "--sysroot", tree.to_str().unwrap(), "--check"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // A bad value in a file is quoted short.
    let _ = std::fs::remove_file(&state);
    std::fs::write(&state, "y".repeat(1 << 20)).unwrap();
    let r = run(&["host", "--sysroot", tree.to_str().unwrap()]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.len() < 400, "{} bytes", r.stderr.len());
}

/// eval() is not in the sandbox: nested eval used to overflow the stack and abort
/// (exit 134), leaving the TUI's terminal raw. Nothing a script does ends in an abort.
#[test]
fn eval_is_refused_and_nothing_aborts() {
    for src in [
        "let code = \"eval(code)\"; eval(code);",
        "eval(\"1 + 1\")",
        "fn f(x) { f(x + 1) } f(0)",
        "fn f(x) { [f(x + 1)] } f(0)",
    ] {
        let r = script(src, &["--max-call-depth", "256"]);
        assert_eq!(r.code, Some(1), "{src}: {}", r.stderr);
        assert!(!r.stderr.contains("overflow, aborting"), "{}", r.stderr);
    }
    let r = script("eval(\"1\")", &[]);
    assert!(
        r.stderr.contains("EPERM: eval() is not available"),
        "{}",
        r.stderr
    );
    let r = run_with(
        &["repl"],
        Stdio::piped(),
        Some(b"let code = \"eval(code)\"; eval(code);\n40 + 2\n"),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stdout.contains("\n42\n"), "{}", r.stdout);
}

/// --max-time is held inside model calls and at the end of a run: a 64 TiB export (229,000
/// files) under two seconds stops part way (it ran to its end), leaving no partial tree; a
/// run whose time is up before it starts does nothing.
#[test]
fn the_deadline_reaches_inside_model_calls() {
    let d = tmp("deadline");
    let r = script(
        "let m = boot(#{ arch: \"x86_64-la57\", ram: \"64T\" }); m.export_sysfs(\"a\"); m.export_sysfs(\"b\");",
        &[
            "--sysfs-out",
            d.to_str().unwrap(),
            "--max-export-files",
            "100000000",
            "--max-time",
            "2",
        ],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("ETIMEDOUT"), "{}", r.stderr);
    assert!(r.stderr.contains("--max-time"), "{}", r.stderr);
    // A hang guard only: the export stops within a step of its deadline.
    assert!(r.took < Duration::from_secs(60), "took {:?}", r.took);
    for sub in ["a", "b"] {
        let sys = d.join(sub).join("sys/devices/system");
        let left: Vec<_> = std::fs::read_dir(&sys)
            .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(
            !left.iter().any(|n| n.to_string_lossy().contains("memory")),
            "{sub}: {left:?}"
        );
    }
    let r = script("1", &["--arch", "every", "--max-time", "0.001"]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(r.stderr.matches("ETIMEDOUT").count(), 8, "{}", r.stderr);
}

/// The parser cannot be stopped once it runs, and takes time with the square of the names
/// in the text: a script is held to --max-names before it is parsed (100,000 lets parsed
/// for 169 s; 20,000 closure parameters on one line for a second, 100,000 for minutes).
#[test]
fn a_script_is_bounded_before_it_is_parsed() {
    let lets: String = (0..100_000).map(|i| format!("let a{i} = {i};\n")).collect();
    let one_line: String = (0..100_000).map(|i| format!("let a{i} = {i}; ")).collect();
    let hidden = format!("if false {{\n{}}}", &lets[..lets.len() / 5]);
    let params = format!(
        "let f = |{}| 0;",
        (0..100_000)
            .map(|i| format!("p{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let keys = format!(
        "let m = #{{ {} }};",
        (0..100_000)
            .map(|i| format!("k{i}: 0"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    // Quoted keys are compared with each other as the parser reads them (100,000 took 32 s).
    let quoted = format!(
        "let m = #{{ {} }};",
        (0..100_000)
            .map(|i| format!("\"k{i}\": 0"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for src in [&lets, &one_line, &hidden, &params, &keys, &quoted] {
        let r = script(src, &[]);
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert!(
            r.stderr.contains("E2BIG") && r.stderr.contains("--max-names"),
            "{}",
            r.stderr
        );
        assert!(r.took < Duration::from_secs(30), "took {:?}", r.took);
    }
    // Names in strings and comments are not the parser's; 2,500 lets are well within.
    let prose = format!(
        "// {}\nprint(\"{}\");",
        "word ".repeat(50_000),
        "word ".repeat(50_000)
    );
    for src in [&prose, &lets[..lets.len() / 40].to_string()] {
        let r = script(src, &[]);
        assert!(!r.stderr.contains("--max-names"), "{}", r.stderr);
    }
    // One REPL input is held to it too, and the session goes on.
    let input = format!("{{\n{}}}\n40 + 2\n", &lets[..lets.len() / 5]);
    let r = run_with(&["repl"], Stdio::piped(), Some(input.as_bytes()));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("--max-names"), "{}", r.stderr);
    assert!(r.stdout.contains("\n42\n"), "{}", r.stdout);
}

/// What a run exports is bounded: a 64 TiB machine's export (229,000 files, 1.8 GB on
/// disk) is over the default and refused before a file is written.
#[test]
fn exports_are_bounded() {
    let d = tmp("exportcap");
    let r = script(
        "let m = boot(#{ arch: \"x86_64-la57\", ram: \"64T\" }); m.export_sysfs(\"a\");",
        &["--sysfs-out", d.to_str().unwrap()],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains("E2BIG") && r.stderr.contains("--max-export-files"),
        "{}",
        r.stderr
    );
    assert!(!d.join("a").exists());
    // Several small exports add up.
    let r = script(
        "let m = boot(); for i in 0..100 { m.export_sysfs(`e${i}`); }",
        &[
            "--sysfs-out",
            d.to_str().unwrap(),
            "--max-export-files",
            "1000",
        ],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("after the"), "{}", r.stderr);
}

/// An export replaces only a tree an export wrote (the marker), never the user's files,
/// and a run that failed exports nothing (the error was said once).
#[test]
fn an_export_replaces_only_its_own_tree() {
    let d = tmp("marker");
    let mine = d.join("u/sys/devices/system/memory");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("notes"), "mine").unwrap();
    let out = d.to_str().unwrap();
    let r = script(
        "let m = boot(); m.export_sysfs(\"u\");",
        &["--sysfs-out", out],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("EEXIST"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(mine.join("notes")).unwrap(), "mine");
    for _ in 0..2 {
        let r = script(
            "let m = boot(); m.export_sysfs(\"e\");",
            &["--sysfs-out", out],
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        lsmem_reads(&d.join("e"));
    }
    assert!(d
        .join("e/sys/devices/system/memory/.hotplug-lab-export")
        .exists());
    // Files added to an export's tree, at its top or in a block: a new export leaves them
    // and says which one is in its way (it replaced the tree and took them with it).
    let mem = d.join("e/sys/devices/system/memory");
    for added in ["mine2", "memory0/mine"] {
        std::fs::write(mem.join(added), "mine").unwrap();
        let r = script(
            "let m = boot(); m.export_sysfs(\"e\");",
            &["--sysfs-out", out],
        );
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert!(
            r.stderr.contains("EEXIST") && r.stderr.contains(added),
            "{}",
            r.stderr
        );
        assert_eq!(std::fs::read_to_string(mem.join(added)).unwrap(), "mine");
        std::fs::remove_file(mem.join(added)).unwrap();
    }
    // A failing script: its own error, and no export.
    let f = tmp("failed");
    let r = script(
        "let m = boot(); m.add_memory(1, 1);",
        &["--sysfs-out", f.to_str().unwrap()],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert_eq!(r.stderr.matches(".rhai:1:").count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("nothing exported"), "{}", r.stderr);
    assert!(!f.join("sys").exists());
}

/// A REPL input that a limit stops keeps nothing it changed: `s += s` reported E2BIG and
/// kept growing to 768 MB; a 10 MB literal reported E2BIG and stayed.
#[test]
fn a_stopped_repl_input_keeps_nothing() {
    let mut input = String::from("let s = \"x\"; for i in 0..20 { s += s; }\n");
    for _ in 0..12 {
        input.push_str("s += s;\n");
    }
    input.push_str("s.len()\n");
    input.push_str(&format!("let t = \"{}\";\n", "y".repeat(10_000_000)));
    input.push_str("t.len()\ns.len()\n");
    let r = run_with(
        &["repl", "--max-input-size", "32M"],
        Stdio::piped(),
        Some(input.as_bytes()),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout.lines().filter(|l| *l == "4194304").count(),
        2,
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("10000000"), "{}", r.stdout);
    assert!(r.stderr.contains("no variable t"), "{}", r.stderr);
    assert!(r.peak_kb < 400 << 10, "peak {} MiB", r.peak_kb >> 10);
}

/// A REPL line is held to --max-input-size (a 100 MB line was taken whole), and a long
/// name is quoted short in the error (a 20 MB identifier was echoed whole).
#[test]
fn a_repl_line_is_bounded_and_quoted_short() {
    let mut input = "z".repeat(3 << 20);
    input.push_str("\n40 + 2\n");
    let r = run_with(
        &["repl", "--max-input-size", "1M"],
        Stdio::piped(),
        Some(input.as_bytes()),
    );
    assert_eq!(r.code, Some(0), "{}", &r.stderr[..r.stderr.len().min(300)]);
    assert!(r.stderr.contains("longer than 1 MiB"), "{}", r.stderr);
    assert!(r.stdout.contains("\n42\n"), "{}", r.stdout);
    assert!(r.peak_kb < 200 << 10, "peak {} MiB", r.peak_kb >> 10);
    let mut input = "z".repeat(2 << 20);
    input.push('\n');
    let r = run_with(&["repl"], Stdio::piped(), Some(input.as_bytes()));
    assert_eq!(r.code, Some(0), "{}", &r.stderr[..r.stderr.len().min(300)]);
    assert!(r.stderr.len() < 600, "{} bytes", r.stderr.len());
    let r = script(&format!("{} + 1", "q".repeat(1 << 20)), &[]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.len() < 600, "{} bytes", r.stderr.len());
}

/// Blocks, statements and switch cases cost Rhai's optimiser time with their square, before
/// the first operation and past every limit (400,000 `{}` ran over 120 s, 100,000 switch
/// cases 24 s); the optimiser stays (it puts the script's constants into its functions), so
/// --max-names counts them with the names, before the parser runs.
#[test]
fn blocks_statements_and_cases_are_bounded_before_parsing() {
    let cases = |n: usize| {
        format!(
            "let x = 1; switch x {{ {} }}",
            (0..n)
                .map(|i| format!("{i} => {i}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    for src in ["{}".repeat(400_000), "1;".repeat(400_000), cases(100_000)] {
        let r = script(&src, &["--max-input-size", "8M"]);
        assert_eq!(r.code, Some(1), "{}", &r.stderr[..r.stderr.len().min(300)]);
        assert!(
            r.stderr.contains("E2BIG") && r.stderr.contains("--max-names"),
            "{}",
            r.stderr
        );
        // A hang guard: the optimiser took minutes.
        assert!(r.took < Duration::from_secs(30), "took {:?}", r.took);
    }
    // Within the default limit they run.
    for src in ["{}".repeat(9_000), "1;".repeat(9_000), cases(3_000)] {
        let r = script(&src, &[]);
        assert_eq!(r.code, Some(0), "{}", &r.stderr[..r.stderr.len().min(300)]);
    }
}

/// Closures that array methods call (map, reduce, filter, sort...) are held to the limits:
/// Rhai counts each call's operations from the caller's count, so `reduce` over 100,000
/// entries ran under --max-operations 1000, and a map inside a map ignored --max-time.
#[test]
fn closures_called_by_array_methods_are_counted() {
    let r = script(
        "let z = []; z.pad(100000, 1); z.reduce(|a, p| a + p, 0)",
        &["--max-operations", "1000"],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("E2BIG: in function reduce: too many operations"),
        "{}",
        r.stderr
    );
    for f in [
        "filter(|p| p > 0)",
        "all(|p| p > 0)",
        "sort(|a, b| a - b)",
        "index_of(|p| p > 5)",
    ] {
        let r = script(
            &format!("let z = []; z.pad(100000, 1); z.{f}"),
            &["--max-operations", "1000"],
        );
        assert!(
            r.stderr.contains("too many operations"),
            "{f}: {}",
            r.stderr
        );
    }
    let r = script(
        "let z = []; z.pad(20000, 1); let y = z; z.map(|p| { y.map(|q| q + 1); 0 });",
        &["--max-time", "2", "--max-operations", "100000000000"],
    );
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("ETIMEDOUT"), "{}", r.stderr);
    assert!(r.stderr.contains("in a closure"), "{}", r.stderr);
    // A hang guard: it ran for minutes.
    assert!(r.took < Duration::from_secs(30), "took {:?}", r.took);
}

/// parse_json reads JSON only: Rhai's own parsed the text as a Rhai map literal, so that
/// a value ran code (`{"a": print("EXECUTED")}` printed), past --max-names.
#[test]
fn parse_json_runs_no_code() {
    let r = script(
        r#"try { parse_json("{\"a\": print(\"EXECUTED\")}") } catch (e) { print(e.message) }
let v = parse_json("{\"a\": [1, 2.5, null, true], \"b\": {\"c\": \"d\"}}");
print(v.a[0] + v.a.len());
print(v.b.c);
let m = #{ x: 1, y: [1, 2] };
print(parse_json(m.to_json()) == m);"#,
        &[],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(!r.stdout.contains("EXECUTED\n"), "{}", r.stdout);
    assert_eq!(
        r.stdout,
        "parse_json: not JSON: expected value at line 1 column 7\n5\nd\ntrue\n"
    );
}

/// A long value a user gave is quoted back cut to 64 characters with its length, once,
/// wherever the error comes from (seven messages quoted 300 characters whole).
#[test]
fn long_values_are_quoted_short_everywhere() {
    let q = "Q".repeat(300);
    let cases = [
        format!("boot(\"{q}\")"),
        format!("boot(#{{{q}: 1}})"),
        format!("boot(#{{sysroot: \"/tmp/{q}\"}})"),
        format!("let m = boot(); m.online(0, 1, \"{q}\")"),
        format!("let m = boot(); m.memremap_pages(0, 0, #{{mode: \"{q}\"}})"),
        format!("let m = boot(); m.virtio_mem_add(#{{{q}: 1}})"),
        format!("{q} + 1"),
    ];
    for src in &cases {
        let r = script(src, &[]);
        assert_eq!(r.code, Some(1), "{}", r.stderr);
        assert!(r.stderr.len() < 400, "{}", r.stderr);
        assert_eq!(r.stderr.matches("bytes)").count(), 1, "{}", r.stderr);
    }
}

/// Output lost to a full disk is an error (exit 2), as it already was for archs and host;
/// a reader that went away is not.
#[cfg(target_os = "linux")]
#[test]
fn output_lost_to_a_full_disk_is_an_error() {
    let d = tmp("full");
    let p = d.join("p.rhai");
    std::fs::write(&p, "print(\"hello\"); 1").unwrap();
    let p = p.to_str().unwrap();
    for (args, input) in [
        (vec!["run", p], None),
        (vec!["run", p, "--json"], None),
        (vec!["run", p, "--arch", "x86_64,s390"], None),
        (vec!["repl"], Some(&b"print(1)\n"[..])),
    ] {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut child = bin()
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(full))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut w = child.stdin.take().unwrap();
        w.write_all(input.unwrap_or_default()).unwrap();
        drop(w);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("No space left"), "{args:?}: {err}");
    }
    let mut child = bin()
        .args(["run", p])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

/// Smaller usage and value errors, each saying what is wrong.
#[test]
fn usage_errors_say_what_is_wrong() {
    let r = run_with(&["run", "-", "--iomem", "-"], Stdio::piped(), Some(b"1"));
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("standard input"), "{}", r.stderr);
    let r = script("1", &["--max-time", "1e9"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    for t in ["2e9", "9223372036854775807"] {
        let r = script("1", &["--max-time", t]);
        assert_eq!(r.code, Some(2), "{}", r.stderr);
        assert!(r.stderr.contains("at most 1e9"), "{}", r.stderr);
    }
    let r = script("boot(#{ ram: 9223372036854775807 })", &[]);
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("does not fit in the 64 TiB of physical address space"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("at least 32M"), "{}", r.stderr);
    // proc_dobool (kernel/sysctl.c): any int, nothing else.
    let r = script(
        "let m = boot(); let f = \"/proc/sys/vm/hugetlb_optimize_vmemmap\"; \
         for v in [\"2\", \"-1\", \"0\", \" 0x10\\n\"] { m.write(f, v); print(m.read(f)); } \
         for v in [\"yes\", \"offline\", \"1e9\", \"\"] { try { m.write(f, v); print(v); } catch (e) { print(e.errno); } }",
        &[],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "1\n\n1\n\n0\n\n1\n\nEINVAL\nEINVAL\nEINVAL\nEINVAL\n"
    );
}
