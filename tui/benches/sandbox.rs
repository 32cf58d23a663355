//! The sandbox's figures (README, "Scripts run in a sandbox"): 300,000 pushes onto an array,
//! and every bomb of the sandbox issue stopped, with its time and the process's peak RSS.
//! `cargo bench -p hotplug-lab --bench sandbox`.
//!
//! The bombs run in the release binary, one process each (peak RSS is a process's), and
//! print their figures first; criterion then times the pushes and two bombs in-process.

use criterion::{criterion_group, criterion_main, Criterion};
use hotplug_lab::script::run::{run_target, RunOptions};
use hotplug_lab::script::{BootConfig, Host};

hotplug_lab::install_heap_meter!();
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PUSHES: &str = "let a = []; for i in 0..300000 { a.push(i); } a.len()";

/// The bombs, as the issue lists them, and two variations.
const BOMBS: [(&str, &str); 8] = [
    ("curry doubling", "let f = |x| x; loop { f = f.curry(f); }"),
    (
        "64 TiB machines kept in an array",
        "let a = []; loop { a.push(boot(#{ arch: \"x86_64-la57\", ram: \"64T\" })); }",
    ),
    (
        "a = [a], 50,000 times",
        "let a = []; for i in 0..50000 { a = [a]; }",
    ),
    (
        "a = [take(a)] for ever",
        "let a = []; loop { a = [take(a)]; }",
    ),
    ("string doubling", "let s = \"x\"; loop { s += s; }"),
    ("array doubling", "let a = [0]; loop { a += a; }"),
    (
        "this doubling in a method",
        "fn g() { loop { this += this; } } let a = \"xy\"; a.g();",
    ),
    ("endless loop", "loop { }"),
];

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Run the release binary on `src`: exit code, wall time, peak RSS in MiB.
fn run_binary(src: &str) -> (Option<i32>, Duration, u64) {
    let dir = std::env::temp_dir().join(format!("hotplug-lab-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("bomb.rhai");
    std::fs::write(&p, src).unwrap();
    let t = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hotplug-lab"))
        .arg("run")
        .arg(&p)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut peak = 0;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(child.id()) {
            peak = peak.max(kb);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let _ = std::fs::remove_dir_all(&dir);
    (status.code(), t.elapsed(), peak >> 10)
}

fn sandbox(c: &mut Criterion) {
    for (name, src) in BOMBS {
        let (code, took, mib) = run_binary(src);
        println!(
            "bomb: {name}: exit {}, stopped in {:.2} s, peak RSS {mib} MiB",
            code.map_or("signal".to_string(), |c| c.to_string()),
            took.as_secs_f64()
        );
    }
    let (code, took, mib) = run_binary(PUSHES);
    println!(
        "300,000 pushes (whole process, release binary): exit {:?}, {:.3} s, peak RSS {mib} MiB",
        code,
        took.as_secs_f64()
    );

    let mut host = Host::new(BootConfig::default());
    let engine = host.engine();
    let ast = engine.compile(PUSHES).unwrap();
    let mut g = c.benchmark_group("sandbox");
    g.sample_size(20);
    g.bench_function("300,000 pushes onto one array", |b| {
        b.iter(|| {
            host.start();
            let n: i64 = engine.eval_ast_with_scope(&mut host.scope(), &ast).unwrap();
            assert_eq!(n, 300_000);
        })
    });
    g.sample_size(10);
    for (name, src) in [BOMBS[0], BOMBS[3]] {
        g.bench_function(format!("bomb stopped: {name}"), |b| {
            b.iter(|| {
                let r = run_target(src, &RunOptions::new(BootConfig::default()));
                assert!(r.result.is_err());
            })
        });
    }
    g.finish();
}

/// Parsing (and optimising) at the --max-names default (10,000 names, blocks, statements and
/// cases): the worst texts of that size, each of whose parts the parser or the optimiser
/// compares with those before it (3,333 distinct lets; a closure of 9,997 parameters; a map
/// of 9,996 keys; 9,999 blocks; a switch of 9,994 cases). Each takes well under a second.
fn parse_at_the_name_limit(c: &mut Criterion) {
    let lets: String = (0..3_333).map(|i| format!("let a{i} = {i};\n")).collect();
    let list = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>().join(", ");
    let params = format!("let f = |{}| 0;", list(9_997, &|i| format!("p{i}")));
    let keys = format!("let m = #{{ {} }};", list(9_996, &|i| format!("k{i}: 0")));
    let blocks = "{}".repeat(9_999);
    let cases = format!(
        "let x = 1; switch x {{ {} }}",
        list(9_994, &|i| format!("{i} => {i}"))
    );
    let mut host = Host::new(BootConfig::default());
    let engine = host.engine();
    let mut g = c.benchmark_group("parse 10,000 names");
    g.sample_size(10);
    for (name, src) in [
        ("3,333 lets", &lets),
        ("9,997 parameters", &params),
        ("9,996 map keys", &keys),
        ("9,999 blocks", &blocks),
        ("9,994 switch cases", &cases),
    ] {
        let limits = hotplug_lab::script::Limits::default();
        let at = |src: &str| hotplug_lab::script::sandbox::check_names("", src, &limits);
        // At the limit: two more parts would be refused.
        assert!(
            at(src).is_ok() && at(&format!("{src};;")).is_err(),
            "{name}"
        );
        g.bench_function(name, |b| b.iter(|| engine.compile(src.as_str()).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, sandbox, parse_at_the_name_limit);
criterion_main!(benches);
