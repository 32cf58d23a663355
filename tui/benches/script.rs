//! Calls per second through the scripting API: a Rhai loop that adds, onlines, offlines and
//! removes one memory block. `cargo bench -p hotplug-lab`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hotplug_lab::script::{BootConfig, Host};

hotplug_lab::install_heap_meter!();
use std::time::Instant;

const LOOPS: i64 = 2000;

fn script_calls(c: &mut Criterion) {
    let boot = BootConfig {
        cmdline: "memhp_default_state=offline".to_string(),
        ..Default::default()
    };
    let mut host = Host::new(boot);
    host.limits.max_operations = u64::MAX / 2;
    let engine = host.engine();
    let src = format!(
        "let m = boot();\nlet b = m.hotplug_base; let bs = m.block_size;\n\
         for i in 0..{LOOPS} {{ m.add_memory(b, bs); m.online(b, bs); m.offline(b, bs); m.remove_memory(b, bs); }}"
    );
    let ast = engine.compile(&src).unwrap();
    let t = Instant::now();
    engine.run_ast_with_scope(&mut host.scope(), &ast).unwrap();
    let per_sec = (4 * LOOPS) as f64 / t.elapsed().as_secs_f64();
    println!("scripting API: {per_sec:.0} hotplug calls per second ({LOOPS} x add/online/offline/remove of one 128 MiB block)");
    let mut g = c.benchmark_group("scripting");
    g.throughput(Throughput::Elements(4 * LOOPS as u64));
    g.bench_function("add+online+offline+remove one block, from Rhai", |b| {
        b.iter(|| engine.run_ast_with_scope(&mut host.scope(), &ast).unwrap())
    });
    g.finish();
}

criterion_group!(benches, script_calls);
criterion_main!(benches);
