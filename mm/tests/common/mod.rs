//! Reading the real-kernel fixtures under tests/fixtures.

#![allow(dead_code)]

use std::collections::BTreeMap;

/// One `=== SNAP name` of an oracle run: its `--- section` bodies.
#[derive(Debug, Default, Clone)]
pub struct Snap {
    pub sections: BTreeMap<String, Vec<String>>,
}

impl Snap {
    pub fn lines(&self, section: &str) -> &[String] {
        self.sections.get(section).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `memoryN state phys_index removable [valid_zones]` rows, sorted by N.
    pub fn blocks(&self) -> Vec<(u64, String, String, String, String)> {
        let mut v: Vec<_> = self
            .lines("blocks")
            .iter()
            // The guest's console can interleave kernel messages with the listing.
            .filter(|l| l.starts_with("memory"))
            .map(|l| {
                let (head, zones) = l.split_once('[').unwrap();
                let zones = zones.split_once(']').unwrap().0.to_string();
                let f: Vec<&str> = head.split_whitespace().collect();
                let n: u64 = f[0].trim_start_matches("memory").parse().unwrap();
                (
                    n,
                    f[1].to_string(),
                    f[2].to_string(),
                    f[3].to_string(),
                    zones,
                )
            })
            .collect();
        v.sort();
        v
    }

    /// zone name -> (spanned, present, managed, start_pfn if printed)
    pub fn zones(&self) -> BTreeMap<String, (u64, u64, u64, Option<u64>)> {
        let mut out = BTreeMap::new();
        let mut cur: Option<String> = None;
        let mut vals = (0, 0, 0, None);
        for l in self.lines("zoneinfo") {
            let t = l.trim();
            if t.starts_with("Node") {
                if let Some(c) = cur.take() {
                    out.insert(c, vals);
                }
                cur = Some(t.rsplit(' ').next().unwrap().to_string());
                vals = (0, 0, 0, None);
                continue;
            }
            let mut it = t.split_whitespace();
            let (k, v) = (it.next().unwrap_or(""), it.next().unwrap_or("0"));
            match k {
                "spanned" => vals.0 = v.parse().unwrap(),
                "present" => vals.1 = v.parse().unwrap(),
                "managed" => vals.2 = v.parse().unwrap(),
                "start_pfn:" => vals.3 = Some(v.parse().unwrap()),
                _ => {}
            }
        }
        if let Some(c) = cur {
            out.insert(c, vals);
        }
        out
    }

    pub fn meminfo_kb(&self, key: &str) -> u64 {
        let l = self
            .lines("meminfo")
            .iter()
            .find(|l| l.starts_with(&format!("{key}:")))
            .unwrap();
        l.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    pub fn vmstat(&self, key: &str) -> u64 {
        let l = self
            .lines("vmstat")
            .iter()
            .find(|l| l.starts_with(&format!("{key} ")))
            .unwrap();
        l.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    pub fn one(&self, section: &str) -> String {
        self.lines(section).first().cloned().unwrap_or_default()
    }
}

/// All snaps of a fixture file, by name, plus the ORACLE-ERR lines.
pub fn load(name: &str) -> (BTreeMap<String, Snap>, Vec<String>) {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut snaps = BTreeMap::new();
    let mut errs = Vec::new();
    let mut cur: Option<(String, Snap)> = None;
    let mut section = String::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("=== SNAP ") {
            cur = Some((n.to_string(), Snap::default()));
        } else if line.starts_with("=== END ") {
            if let Some((n, s)) = cur.take() {
                snaps.insert(n, s);
            }
        } else if line.starts_with("ORACLE-ERR") {
            errs.push(line.to_string());
        } else if let Some(sec) = line.strip_prefix("--- ") {
            section = sec.to_string();
        } else if let Some((_, s)) = cur.as_mut() {
            s.sections
                .entry(section.clone())
                .or_default()
                .push(line.to_string());
        }
    }
    (snaps, errs)
}

/// A fixture without snaps: `--- section` bodies.
pub fn load_plain(name: &str) -> Snap {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut s = Snap::default();
    let mut section = String::new();
    for line in text.lines() {
        if line.starts_with('#') && section.is_empty() {
            continue;
        }
        if let Some(sec) = line.strip_prefix("--- ") {
            section = sec.to_string();
        } else {
            s.sections
                .entry(section.clone())
                .or_default()
                .push(line.to_string());
        }
    }
    s
}

/// The model's view of a machine in the oracle's format.
pub fn model_blocks(m: &mm::Machine) -> Vec<(u64, String, String, String, String)> {
    m.blocks()
        .keys()
        .map(|id| {
            let p = |f: &str| {
                m.read(&format!("/sys/devices/system/memory/memory{}/{f}", id.0))
                    .unwrap()
                    .trim_end()
                    .to_string()
            };
            (
                id.0,
                p("state"),
                p("phys_index"),
                p("removable"),
                p("valid_zones"),
            )
        })
        .collect()
}

pub fn model_zones(m: &mm::Machine) -> BTreeMap<String, (u64, u64, u64, Option<u64>)> {
    let snap = Snap {
        sections: [(
            "zoneinfo".to_string(),
            m.read("/proc/zoneinfo")
                .unwrap()
                .lines()
                .map(String::from)
                .collect(),
        )]
        .into_iter()
        .collect(),
    };
    snap.zones()
}

/// Boot `arch` with `ram` bytes and `cmdline`, and check the invariants.
pub fn boot(arch: &str, ram: u64, cmdline: &str) -> mm::Machine {
    let mut spec = mm::BootSpec::new(arch::Target::parse(arch, "").unwrap());
    spec.ram = Some(ram);
    spec.cmdline = cmdline.to_string();
    let m = mm::Machine::boot(&spec).unwrap();
    m.check().unwrap();
    m
}

/// A /proc/meminfo value of the model, in kB.
pub fn model_meminfo_kb(m: &mm::Machine, key: &str) -> u64 {
    let text = m.meminfo();
    let line = text
        .lines()
        .find(|l| l.split(':').next() == Some(key))
        .unwrap_or_else(|| panic!("no {key} in /proc/meminfo"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// spanned, present and start_pfn of every zone; managed except in the zones named, where
/// the kernel's boot reservations (not modelled) sit.
pub fn assert_zones_but(m: &mm::Machine, snap: &Snap, what: &str, boot_reserved_in: &[&str]) {
    let real = snap.zones();
    let model = model_zones(m);
    assert_eq!(
        model.keys().collect::<Vec<_>>(),
        real.keys().collect::<Vec<_>>(),
        "zones {what}"
    );
    for (name, r) in &real {
        let z = model[name];
        assert_eq!((z.0, z.1), (r.0, r.1), "zone {name} spanned/present {what}");
        if !boot_reserved_in.contains(&name.as_str()) {
            assert_eq!(z.2, r.2, "zone {name} managed {what}");
        }
        if r.1 > 0 {
            assert_eq!(z.3, r.3, "zone {name} start_pfn {what}");
        }
    }
}
