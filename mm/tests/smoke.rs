use mm::{AddOptions, BootSpec, Machine};

#[test]
fn smoke_x86_1g() {
    let mut m = Machine::boot(&BootSpec::new("x86_64")).unwrap();
    m.check().unwrap();
    for (k, v) in m.stats() {
        println!("{k} = {v}");
    }
    println!(
        "{}",
        m.read("/proc/zoneinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains("zone")
                || l.contains("present")
                || l.contains("managed")
                || l.contains("spanned")
                || l.contains("start_pfn"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let r = m
        .add_memory(4 << 30, 1 << 30, &AddOptions::default())
        .unwrap();
    println!("{r:?}");
    m.check().unwrap();
    for (k, v) in m.stats() {
        println!("{k} = {v}");
    }
    for d in m.dmesg() {
        println!("{d}");
    }
}
