//! What a new user meets first, driven through the binary: the flags reach every boot form,
//! unknown kernel parameters are named, errors say what to write instead, sizes take the
//! kernel's syntax, the REPL keeps its session through typos, Ctrl-C and bad input, and
//! --json reads well.

mod common;
use common::{bin, text, tmp};

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `run` a script given as text, with flags.
fn run(src: &str, flags: &[&str]) -> Output {
    let d = tmp("run");
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

/// The REPL fed `input` on stdin.
fn repl(input: &[u8], flags: &[&str]) -> Output {
    let mut child = bin()
        .arg("repl")
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_flags_reach_every_boot_form() {
    let d = tmp("iomem");
    let io = d.join("iomem");
    std::fs::write(
        &io,
        "00001000-0009ffff : System RAM\n00100000-1ffffffff : System RAM\n",
    )
    .unwrap();
    let io = io.to_str().unwrap();
    for src in [
        "boot(ARCH, CMDLINE).boot_ram",
        "boot(ARCH).boot_ram",
        "boot().boot_ram",
        "boot(#{ cmdline: \"movable_node\" }).boot_ram",
    ] {
        let out = run(src, &["--iomem", io, "--json"]);
        assert_eq!(out.status.code(), Some(0), "{src}: {}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // 8 GiB less the first page and the 640K-1M hole.
        assert_eq!(
            v[0]["result"],
            0x1_ffff_ffffu64 + 1 - 0x1000 - 0x60000,
            "{src}"
        );
        assert!(text(&out.stderr).is_empty(), "{src}: {}", text(&out.stderr));
    }
    // boot(arch) takes --cmdline too.
    let out = run(
        "boot(\"x86_64\").read(\"/sys/devices/system/memory/auto_online_blocks\")",
        &["--cmdline", "memhp_default_state=offline", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v[0]["result"], "offline\n");
    // A flag no boot took is named.
    let out = run(
        "boot(#{ arch: \"s390\", ram: \"4G\", cmdline: \"\" })",
        &[
            "--iomem",
            io,
            "--cmdline",
            "movable_node",
            "--arch",
            "arm64",
        ],
    );
    let err = text(&out.stderr);
    for flag in ["--iomem", "--cmdline", "--arch"] {
        assert!(
            err.contains(&format!("warning: {flag} was not used")),
            "{err}"
        );
    }
}

#[test]
fn unknown_kernel_parameters_are_named() {
    let out = run(
        "let m = boot(ARCH, CMDLINE); m.dmesg().filter(|l| l.contains(\"Unknown kernel\"))",
        &[
            "--cmdline",
            "memory_hotplug.memmap_on_memroy=1 movable_nod foo=bar",
            "--json",
        ],
    );
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "\"memory_hotplug.memmap_on_memroy=1\": did you mean memory_hotplug.memmap_on_memory?"
        ),
        "{err}"
    );
    assert!(
        err.contains("\"movable_nod\": did you mean movable_node?"),
        "{err}"
    );
    assert!(
        err.contains("\"foo=bar\": the kernel passes it to user space"),
        "{err}"
    );
    // init/main.c: a dotted name is an unused module parameter, dropped without a word;
    // arguments come before environment variables.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let line = v[0]["result"][0].as_str().unwrap();
    assert!(
        line.ends_with(
            "Unknown kernel command line parameters \"movable_nod foo=bar\", will be passed to user space."
        ),
        "{line}"
    );
    // The REPL warns too.
    let out = repl(b"1\n", &["--cmdline", "movable_nod"]);
    assert!(
        text(&out.stderr).contains("did you mean movable_node?"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn errors_say_what_to_write() {
    for (src, want) in [
        ("let m = boot(); m.add_memroy(0, 1)", "did you mean add_memory?"),
        (
            "let m = boot(); m.add_memory(0, 1, 2, 3)",
            "add_memory does not take (integer, integer, integer, integer): m.add_memory(start, size)",
        ),
        ("add_memory(0, 1)", "add_memory is called on a machine: m.add_memory"),
        ("let m = boot(); m.arch()", "properties are read without () (m.arch)"),
        ("m.add_memory(0, 1)", "let m = boot(ARCH, CMDLINE);"),
        ("let m = boot(); m.arhc", "did you mean m.arch?"),
        (
            "let m = boot(); m.memremap_pages(1 * TiB, 1 * TiB, #{ map: \"mem\", mode: \"devdax\" })",
            "memremap_pages of 1 TiB needs 4.0 GiB",
        ),
        // fsdax (ndctl's default) has a struct page for every page: 16 GiB.
        (
            "let m = boot(); m.memremap_pages(1 * TiB, 1 * TiB, #{ map: \"mem\" })",
            "memremap_pages of 1 TiB needs 16.0 GiB",
        ),
        (
            "let m = boot(); m.add_memory(m.hotplug_base, 4 * TiB)",
            "adding 4 TiB needs 64.0 GiB",
        ),
        ("let m = boot(); m.add_memory(\"4X\", 1)", "\"4X\" is not a size"),
        ("size(\"99999999T\")", "overflows"),
    ] {
        let out = run(src, &[]);
        assert_eq!(out.status.code(), Some(1), "{src}");
        let err = text(&out.stderr);
        assert!(err.contains(want), "{src}: {err}");
    }
    let out = run(
        "let m = boot(); m.memremap_pages(1 * TiB, 1 * TiB, #{ map: \"mem\", mode: \"devdax\" })",
        &[],
    );
    let err = text(&out.stderr);
    assert!(err.contains("map: \"dev\""), "{err}");
    assert!(err.contains("32 MiB") || err.contains("4.0 GiB"), "{err}");
}

#[test]
fn sizes_take_the_kernel_syntax_everywhere() {
    let out = run(
        "let m = boot(#{ ram: \"4G\", cmdline: \"memhp_default_state=offline\" });\n\
         let r = m.add_memory(\"0x180000000\", \"1G\");\n\
         m.online(\"6G\", \"512M\", \"online_movable\");\n\
         m.offline(\"6G\", \"256M\");\n\
         let d = m.memremap_pages(\"64G\", \"2G\", #{ align: \"2M\" });\n\
         [r.blocks, m.block(48).state, m.block(50).state, m.pgmap(d).align]",
        &["--json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Block ranges as lsmem writes them.
    assert_eq!(
        v[0]["result"],
        serde_json::json!(["48-55", "offline", "online", 2097152])
    );
}

#[test]
fn json_errors_all_carry_an_errno() {
    for src in [
        "let x = ;",
        "let m = boot(); m.nope()",
        "let m = boot(); m.add_memory(1, 1)",
    ] {
        let out = run(src, &["--json"]);
        assert_eq!(out.status.code(), Some(1), "{src}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let e = &v[0]["error"];
        assert!(
            e["errno"].as_str().is_some_and(|s| s.starts_with('E')),
            "{src}: {e}"
        );
        assert!(e["code"].as_i64().is_some_and(|c| c < 0), "{src}: {e}");
        assert!(
            e["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{src}"
        );
        assert!(
            e["text"].as_str().is_some_and(|t| t.starts_with("line 1")),
            "{src}: {e}"
        );
    }
}

#[test]
fn sysfs_out_with_nothing_booted() {
    let d = tmp("nothing");
    let out = run("1 + 1", &["--sysfs-out", d.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("booted no machine"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_repl_keeps_its_session() {
    let out = repl(
        b"print(\"a\")\n\xff\xfe\nprint(\"after\")\nm.add_memory(m.hotplug_base, 1G)\nprint(\"second line\")\nlet x = [1,\n2]; x.len()\nlet y = [1,\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let (so, se) = (text(&out.stdout), text(&out.stderr));
    for want in ["a\n", "after\n", "second line\n", "2\n"] {
        assert!(so.contains(want), "{want:?} in {so}");
    }
    assert!(se.contains("not UTF-8"), "{se}");
    assert!(se.contains("Syntax error"), "{se}");
    assert!(
        se.contains("the input ended inside an unfinished statement"),
        "{se}"
    );
}

/// Ctrl-C (SIGINT) while a statement runs stops the statement; the session goes on.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_statement_not_the_repl() {
    let mut child = bin()
        .args(["repl", "--max-operations", "1000000000000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"let n = m.stats().blocks;\nlet i = 0; loop { i += 1; }\n")
        .unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let st = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    std::thread::sleep(Duration::from_millis(500));
    stdin
        .write_all(b"print(`alive with ${n} blocks`)\n")
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("alive with 16 blocks"),
        "{}",
        text(&out.stdout)
    );
    assert!(text(&out.stderr).contains("EINTR"), "{}", text(&out.stderr));
}

/// `--kernel` takes a modelled version or a release of one, and nothing else (exit 2); a
/// parameter that version does not build on the architecture is warned about as unknown.
#[test]
fn kernel_flag_and_what_that_kernel_lacks() {
    let src = "print(`${m().kernel} ${KERNEL}`); fn m() { boot() }";
    for (flag, want) in [
        ("6.1", "6.1 6.1"),
        ("6.1.0-56-amd64", "6.1 6.1"),
        ("6.12", "6.12 6.12"),
    ] {
        let out = run(src, &["--kernel", flag]);
        assert!(out.status.success(), "{flag}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), want, "{flag}");
    }
    for junk in ["6.6", "6.1x", "6.01", "v6.1"] {
        let out = run(src, &["--kernel", junk]);
        assert_eq!(out.status.code(), Some(2), "{junk}");
        assert!(text(&out.stderr).contains("modelled: 6.12, 6.1"), "{junk}");
    }
    // 6.1 has no memmap_on_memory on powerpc (arch/powerpc/Kconfig).
    let out = run(
        "let m = boot();",
        &[
            "--kernel",
            "6.1",
            "--arch",
            "powerpc",
            "--cmdline",
            "memory_hotplug.memmap_on_memory=1",
        ],
    );
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("Linux 6.1 has no such parameter on powerpc"),
        "{err}"
    );
}
