//! One 60 TiB add + online + offline + remove cycle, for profiling:
//! `cargo run --release -p mm --example cycle -- [arch] [cmdline]` (RAM_GIB sets the boot
//! memory of a memmap_on_memory run; default 4).

use mm::cmdline::OnlineType;
use mm::{AddOptions, BootSpec, Machine};
use std::io::Write;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let target = arch::Target::parse(&args.next().unwrap_or_default(), "")
        .or_else(|_| Ok::<_, arch::ArchError>(arch::Target::default_target()))?;
    let cmdline = args
        .next()
        .unwrap_or_else(|| "memhp_default_state=offline".into());
    let on_memory = cmdline.contains("memmap_on_memory=1");
    let ram = if on_memory {
        let gib: u64 = match std::env::var("RAM_GIB") {
            Ok(v) => v.parse().map_err(|e| format!("RAM_GIB={v}: {e}"))?,
            Err(_) => 4,
        };
        gib.checked_mul(1 << 30)
            .ok_or_else(|| format!("RAM_GIB={gib} is more bytes than fit in 64 bits"))?
    } else if target.config.family == arch::Family::X86 && target.geometry.max_physmem_bits < 50 {
        (1 << 40) + (128 << 20)
    } else {
        1000u64 << 30
    };
    let m0 = Machine::boot(&BootSpec {
        target,
        ram: Some(ram),
        cmdline,
        ..BootSpec::default()
    })?;
    let start = m0
        .boot_info()
        .hotplug_base
        .next_multiple_of(m0.block_size());
    let size = 60u64 << 40;
    for _ in 0..5 {
        let mut m = m0.clone();
        let t = Instant::now();
        let opts = AddOptions {
            memmap_on_memory: Some(on_memory),
            ..AddOptions::default()
        };
        m.add_memory(start, size, &opts)?;
        let a = t.elapsed();
        m.online(start, size, OnlineType::OnlineMovable)?;
        let o = t.elapsed();
        m.offline(start, size)?;
        let f = t.elapsed();
        m.remove_memory(start, size)?;
        let r = t.elapsed();
        // writeln!, not println!: a closed pipe (`| head`) ends the run with an error.
        writeln!(
            std::io::stdout(),
            "{}: add {:.0} ms, online {:.0} ms, offline {:.0} ms, remove {:.0} ms",
            target.name(),
            a.as_secs_f64() * 1e3,
            (o - a).as_secs_f64() * 1e3,
            (f - o).as_secs_f64() * 1e3,
            (r - f).as_secs_f64() * 1e3
        )?;
    }
    Ok(())
}
