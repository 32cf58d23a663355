//! Hostile input, one test per class of attack: scripts that would escape the export
//! directory, hang, exhaust memory or the stack, input files and streams without end, a
//! closed stderr, and boot input that used to give a broken machine. Each must end with the
//! documented exit code and message, within its time bound, without a panic or an abort, and
//! (where it bears on memory) under its bound of peak memory. The binary is the debug build
//! CI tests (overflow checks on); the release figures are in README, measured by
//! `cargo bench -p hotplug-lab --bench sandbox`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hotplug-lab"))
}

/// A fresh directory of this test process's own (tests run in parallel: each call gets
/// its own).
fn tmp(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!(
        "hotplug-lab-hostile-{name}-{}-{n}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

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
        assert!(r.took < Duration::from_secs(5), "{src} took {:?}", r.took);
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
