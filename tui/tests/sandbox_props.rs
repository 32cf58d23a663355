//! Property test of the sandbox: random Rhai programs built from the scripting API and the
//! value operations that grow values (push, curry, nesting, string growth, concatenation,
//! padding, splitting, booting machines), in loops. Whatever a program does, the run ends
//! without a panic, within its time budget (plus the longest single operation), with the
//! heap never growing far past its memory budget, and every call that fails leaves the
//! machine as it was (the program itself compares the machine's stats around each failing
//! call and throws if they changed).
//!
//! A long run: `PROPTEST_CASES=5000 cargo test --release -p hotplug-lab --test sandbox_props`.

use hotplug_lab::script::run::{run_target, RunOptions};
use hotplug_lab::script::{BootConfig, Limits};

hotplug_lab::install_heap_meter!();
use proptest::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One statement of a generated program.
fn statement() -> impl Strategy<Value = String> {
    let n = prop_oneof![
        Just(0u64),
        Just(3),
        Just(1000),
        Just(1 << 20),
        Just(1 << 40)
    ];
    let call = prop_oneof![
        (0u64..80, 0u64..4)
            .prop_map(|(at, n)| format!("m.add_memory({} * m.block_size, {n} * m.block_size)", at)),
        (0u64..80, 0u64..4).prop_map(|(at, n)| format!(
            "m.remove_memory({at} * m.block_size, {n} * m.block_size)"
        )),
        (0u64..80, 0u64..4).prop_map(|(at, n)| format!(
            "m.online({at} * m.block_size, {n} * m.block_size, \"online_movable\")"
        )),
        (0u64..80, 0u64..4)
            .prop_map(|(at, n)| format!("m.offline({at} * m.block_size, {n} * m.block_size)")),
        (0u64..64, 0u64..8)
            .prop_map(|(at, n)| format!("m.memremap_pages({at} * GiB, {n} * 128 * MiB)")),
        (0u64..4).prop_map(|i| format!("m.memunmap_pages({i})")),
        (0u64..2000).prop_map(|n| format!("m.write(\"/proc/sys/vm/nr_hugepages\", {n})")),
        Just("m.write(\"/sys/devices/system/memory/memory40/state\", \"online \")".to_string()),
        (0u64..8).prop_map(|s| format!("m.add_memory(m.hotplug_base, {s} * TiB)")),
        // Boot memory, which no call may remove (s390 once split its iomem line doing so).
        (0u64..4).prop_map(|n| format!(
            "m.remove_memory(m.boot_ram_end - {n} * m.block_size - m.block_size, m.block_size)"
        )),
    ];
    prop_oneof![
        // Value growth.
        Just("a.push(i);".to_string()),
        Just("a.push(a);".to_string()),
        Just("a = [take(a)];".to_string()),
        Just("a = #{ x: take(a) };".to_string()),
        Just("a += a;".to_string()),
        Just("a = [a, a];".to_string()),
        Just("s += s;".to_string()),
        Just("s += \"xy\";".to_string()),
        n.clone().prop_map(|n| format!("s.pad({n}, \"ab\");")),
        n.clone().prop_map(|n| format!("b.pad({n}, 7);")),
        n.prop_map(|n| format!("a.pad({n}, s);")),
        Just("f = f.curry(f);".to_string()),
        Just("f = f.curry(a);".to_string()),
        Just("let parts = s.split(\"\"); a.push(parts.len());".to_string()),
        Just("s.replace(\"x\", s);".to_string()),
        Just("a.push(s.to_chars().len());".to_string()),
        Just("let j = m.stats(); a.push(j);".to_string()),
        // Machines kept alive.
        (0u64..3, prop_oneof![Just("2G"), Just("64G"), Just("4T")]).prop_map(|(i, ram)| {
            let arch = ["x86_64", "arm64", "s390"][i as usize];
            format!("ms.push(boot(#{{ arch: \"{arch}\", ram: \"{ram}\" }}));")
        }),
        Just("ms.push(m.clone());".to_string()),
        // An API call that may fail: it must leave the machine as it was.
        // What it compares is what a user reads: the totals, iomem and the zones.
        call.prop_map(|c| format!(
            "{{ let before = [m.stats(), m.read(\"/proc/iomem\"), m.read(\"/proc/zoneinfo\")]; \
             try {{ {c}; }} catch (e) {{ \
             if [m.stats(), m.read(\"/proc/iomem\"), m.read(\"/proc/zoneinfo\")] != before {{ \
             throw `a failed call changed the machine: {}`; }} }} }}",
            c.replace(['"', '`'], "'")
        )),
    ]
}

fn program() -> impl Strategy<Value = String> {
    let block = prop::collection::vec(statement(), 1..6).prop_map(|v| v.join(" "));
    prop::collection::vec(
        (
            block,
            prop_oneof![Just(1u64), Just(10), Just(1000), Just(0)],
        ),
        1..5,
    )
    .prop_map(|parts| {
        let mut s = String::from(
            "let m = boot(ARCH); let a = []; let s = \"x\"; let b = blob(1); \
             let f = |x| x; let ms = []; let i = 0;\n",
        );
        for (body, times) in parts {
            if times == 0 {
                s.push_str(&format!("loop {{ i += 1; {body} }}\n"));
            } else {
                s.push_str(&format!("for i in 0..{times} {{ {body} }}\n"));
            }
        }
        s.push_str("a.len()\n");
        s
    })
}

/// The heap's highest level while `f` runs, sampled every millisecond.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let done = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicUsize::new(hotplug_lab::heap::live()));
    let (d, p) = (done.clone(), peak.clone());
    let sampler = std::thread::spawn(move || {
        while !d.load(Ordering::Relaxed) {
            p.fetch_max(hotplug_lab::heap::live(), Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let r = f();
    done.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    (r, peak.load(Ordering::Relaxed))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn hostile_programs_stay_in_the_sandbox(src in program(), arch in 0usize..3) {
        let target = arch::Target::parse(["x86_64", "arm64-64k", "s390"][arch], "").unwrap();
        let mut o = RunOptions::new(BootConfig::new(target));
        o.limits = Limits {
            max_operations: 300_000,
            max_time: Duration::from_secs(3),
            max_memory: 96 << 20,
            ..Limits::default()
        };
        let before = hotplug_lab::heap::live();
        let t = Instant::now();
        let (run, peak) = peak_during(|| run_target(&src, &o));
        let took = t.elapsed();
        if let Err(e) = &run.result {
            prop_assert!(!e.message.contains("internal error"), "{src}\n{}", e.message);
            prop_assert!(
                !e.message.contains("a failed call changed the machine"),
                "{src}\n{}",
                e.message
            );
        }
        // The longest single operation here (a 4 TiB add in a debug build) fits in the slack.
        prop_assert!(took < o.limits.max_time + Duration::from_secs(10), "{src}\ntook {took:?}");
        // One operation may double a value the budget allowed, and the sampler lags.
        let grown = peak.saturating_sub(before);
        prop_assert!(grown < 3 * (96 << 20) + (64 << 20), "{src}\nheap grew by {} MiB", grown >> 20);
        if let Some(m) = &run.machine {
            prop_assert!(m.check().is_ok(), "{src}\n{:?}", m.check());
        }
    }
}

/// One input typed into a REPL: statements that grow or replace the variables, some of
/// which a limit stops, some of which throw.
fn repl_input() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("s += s;".to_string()),
        Just("a += a;".to_string()),
        Just("a.push(s);".to_string()),
        Just("let t = s + s; s = t;".to_string()),
        Just("a = [a];".to_string()),
        Just("let n = 1;".to_string()),
        Just("n += 1;".to_string()),
        Just("loop { n += 1; }".to_string()),
        Just("n = 7; throw \"no\";".to_string()),
        Just("s = \"x\"; a = [];".to_string()),
        (1u64..4).prop_map(|k| format!("m.add_memory(m.hotplug_base, {k} * m.block_size);")),
        Just("m.offline(m.hotplug_base, m.block_size);".to_string()),
    ]
}

/// The variables of a session as text (the test's limits keep them small).
fn variables(s: &hotplug_lab::script::Session) -> Vec<(String, String)> {
    s.scope
        .iter_raw()
        .filter(|(_, constant, _)| !constant)
        .map(|(name, _, v)| (name.to_string(), format!("{v:?}")))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Inputs of a line REPL or the TUI's: one that fails (a throw, a sandbox limit) leaves
    /// the variables as they were before it, so that no later input starts over a limit;
    /// what completed model calls did stays (the machine is shared, not copied).
    #[test]
    fn a_failed_repl_input_leaves_the_variables(inputs in prop::collection::vec(repl_input(), 1..24)) {
        let boot = BootConfig {
            cmdline: "memhp_default_state=offline".to_string(),
            ..Default::default()
        };
        let mut host = hotplug_lab::script::Host::new(boot);
        host.limits = Limits {
            max_operations: 20_000,
            max_string_size: 64 << 10,
            max_array_size: 4096,
            ..Limits::default()
        };
        let mut s = hotplug_lab::script::Session::new(host);
        s.bind_machine().unwrap();
        let _ = s.eval("let s = \"x\"; let a = []; let n = 0;").unwrap();
        for input in &inputs {
            let before = variables(&s);
            let blocks = s.host.last.borrow().as_ref().map(|vm| vm.0.borrow().blocks().len());
            match s.eval_input(input) {
                Ok(_) => {}
                Err(e) => {
                    prop_assert_eq!(&variables(&s), &before, "{} failed with {}", input, e.describe());
                    // A failed add is undone by the model itself; nothing else touched it.
                    let now = s.host.last.borrow().as_ref().map(|vm| vm.0.borrow().blocks().len());
                    prop_assert_eq!(now, blocks, "{}", input);
                }
            }
            // Whatever ran, what is left is within the limits.
            prop_assert!(s.host.budget.measure(&s.scope, None).is_ok(), "after {}", input);
        }
    }
}
