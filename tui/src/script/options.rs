//! The options maps of the API (`boot(#{ ... })`, `add_memory(.., #{ ... })`, ...) as typed
//! values: each map is decoded into one struct (rhai's serde support), a key the struct does
//! not take is refused with the keys it takes and the one probably meant, and a value of
//! the wrong kind names its key. help() prints the keys from the same tables.

use super::einval;
use rhai::{Dynamic, EvalAltResult, Map};
use serde::de::{self, DeserializeOwned, Deserializer};
use serde::Deserialize;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// One key of an options map: its name and what it takes, for errors and help().
#[derive(Debug, Clone, Copy)]
pub struct Key {
    pub name: &'static str,
    pub takes: &'static str,
}

const fn key(name: &'static str, takes: &'static str) -> Key {
    Key { name, takes }
}

/// Decode `map` into `T`: each key must be one of `keys`, and each value what its key
/// takes. `what` names the call in errors.
pub fn decode<T: DeserializeOwned + Default>(what: &str, map: &Map, keys: &[Key]) -> Res<T> {
    for k in map.keys() {
        if !keys.iter().any(|x| x.name == k.as_str()) {
            let names: Vec<&str> = keys.iter().map(|x| x.name).collect();
            let hint = arch::did_you_mean(k, names.iter().copied())
                .map(|n| format!("did you mean {n}? "))
                .unwrap_or_default();
            return Err(einval(format!(
                "{what}: unknown option {} ({hint}it takes {})",
                mm::error::quote(k),
                names.join(", ")
            )));
        }
    }
    match rhai::serde::from_dynamic::<T>(&Dynamic::from_map(map.clone())) {
        Ok(v) => Ok(v),
        // Which key: the one that fails alone (every field is optional).
        Err(e) => {
            for (k, v) in map {
                let one: Map = [(k.clone(), v.clone())].into_iter().collect();
                if let Err(e) = rhai::serde::from_dynamic::<T>(&Dynamic::from_map(one)) {
                    let takes = keys
                        .iter()
                        .find(|x| x.name == k.as_str())
                        .map_or("", |x| x.takes);
                    return Err(einval(format!(
                        "{what}: {k} takes {takes}, not {} ({})",
                        kind_of(v),
                        reason(&e)
                    )));
                }
            }
            Err(einval(format!("{what}: {}", reason(&e))))
        }
    }
}

/// What a value is, as a script writer says it.
fn kind_of(v: &Dynamic) -> String {
    match v.type_name() {
        "i64" => format!("the number {v}"),
        "bool" => format!("{v}"),
        t if t.contains("ImmutableString") || t == "string" => {
            format!("the string {}", mm::error::quote(&v.to_string()))
        }
        t if t.ends_with("Map") || t == "map" => "a map".to_string(),
        t if t.ends_with("Array") || t == "array" => "an array".to_string(),
        "()" => "()".to_string(),
        t => t.to_string(),
    }
}

/// The reason in a decoding error, without Rhai's position.
fn reason(e: &EvalAltResult) -> String {
    let s = e.to_string();
    match s.rfind(" (line ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// A byte count or address: a non-negative number, or a string in the kernel's size syntax
/// ("4G", "0x100000000").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of bytes or a size string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bytes, E> {
                u64::try_from(v)
                    .map(Bytes)
                    .map_err(|_| E::custom(format!("{v} is negative")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
                mm::cmdline::parse_size_or_why(v)
                    .map(Bytes)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A number that must fit its type (a node, a count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
        let v = i64::deserialize(d)?;
        u64::try_from(v)
            .map(Count)
            .map_err(|_| de::Error::custom(format!("{v} is negative")))
    }
}

/// `online` of dax_kmem: false (leave it offline) or an online type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum OnlineArg {
    Off(bool),
    Type(String),
}

/// boot(#{ ... }).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootOpts {
    pub arch: Option<String>,
    pub kernel: Option<String>,
    pub cmdline: Option<String>,
    pub ram: Option<Bytes>,
    pub iomem: Option<String>,
    pub hypervisor: Option<bool>,
    pub gbpages: Option<bool>,
    pub design: Option<String>,
    pub strict: Option<bool>,
    pub host: Option<bool>,
    pub sysroot: Option<String>,
    pub standby: Option<Bytes>,
}

pub const BOOT_KEYS: &[Key] = &[
    key(
        "arch",
        "an architecture name (hotplug-lab archs lists them)",
    ),
    key(
        "kernel",
        "a modelled version (hotplug-lab kernels lists them)",
    ),
    key("cmdline", "a kernel command line"),
    key("ram", "a size: bytes or \"2G\""),
    key("iomem", "/proc/iomem text"),
    key("hypervisor", "true or false"),
    key("gbpages", "true or false"),
    key("design", "a design variant's name"),
    key("strict", "true or false"),
    key("host", "true or false"),
    key("sysroot", "a captured tree's directory"),
    key(
        "standby",
        "s390: standby memory the hypervisor reports (a size: \"8G\")",
    ),
];

/// plug(size, #{ ... }).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlugOpts {
    pub driver: Option<String>,
    pub start: Option<Bytes>,
    pub node: Option<Count>,
    pub count: Option<Count>,
    pub index: Option<Count>,
    pub region: Option<Bytes>,
}

pub const PLUG_KEYS: &[Key] = &[
    key(
        "driver",
        "\"acpi\", \"dlpar\", \"virtio-mem\" or \"sclp\" (default: the arch's usual one)",
    ),
    key(
        "start",
        "an address: bytes or \"4G\" (default: the first free place)",
    ),
    key("node", "a node number"),
    key("count", "DLPAR: LMBs to add (alone: by count, as drmgr -q)"),
    key(
        "index",
        "DLPAR: a DRC index (alone: by index; with count: indexed count)",
    ),
    key(
        "region",
        "virtio-mem: the device's region (default: the size)",
    ),
];

/// unplug(#{ ... }) by count.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnplugOpts {
    pub driver: Option<String>,
    pub count: Option<Count>,
    pub id: Option<Count>,
    pub start: Option<Bytes>,
    pub size: Option<Bytes>,
    pub node: Option<Count>,
    pub blocks: Option<rhai::Array>,
}

pub const UNPLUG_KEYS: &[Key] = &[
    key("driver", "the device's driver"),
    key(
        "count",
        "DLPAR: LMBs to remove by count; sclp: standby blocks to offline, highest first",
    ),
    key("id", "a device id (the map plug returned carries it)"),
    key("start", "(a device map's, ignored)"),
    key("size", "(a device map's, ignored)"),
    key("node", "(a device map's, ignored)"),
    key("blocks", "(a device map's, ignored)"),
];

/// add_memory(start, size, #{ ... }).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddOpts {
    pub memmap_on_memory: Option<bool>,
    pub node: Option<Count>,
}

pub const ADD_KEYS: &[Key] = &[
    key("memmap_on_memory", "true or false"),
    key("node", "a node number"),
];

/// memremap_pages(start, size, #{ ... }).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemremapOpts {
    pub map: Option<String>,
    pub mode: Option<String>,
    pub align: Option<Bytes>,
    pub node: Option<Count>,
}

pub const MEMREMAP_KEYS: &[Key] = &[
    key("map", "\"mem\" or \"dev\""),
    key("mode", "\"fsdax\" or \"devdax\""),
    key("align", "a size the arch offers (m.dax_alignments)"),
    key("node", "a node number"),
];

/// dax_kmem(id, #{ ... }).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmemOpts {
    pub memmap_on_memory: Option<bool>,
    pub online: Option<OnlineArg>,
}

pub const KMEM_KEYS: &[Key] = &[
    key("memmap_on_memory", "true or false"),
    key(
        "online",
        "false, \"online\", \"online_kernel\" or \"online_movable\"",
    ),
];

/// virtio_mem_add(#{ ... }).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VirtioMemOpts {
    pub start: Option<Bytes>,
    pub region_size: Option<Bytes>,
    pub block_size: Option<Bytes>,
    pub node: Option<Count>,
}

pub const VIRTIO_MEM_KEYS: &[Key] = &[
    key("start", "an address: bytes or \"4G\""),
    key("region_size", "a size: bytes or \"8G\""),
    key("block_size", "the device block size (default 2M)"),
    key("node", "a node number"),
];

/// set_allocations(block, #{ ... }).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocOpts {
    pub unmovable: Option<Count>,
    pub movable: Option<Count>,
}

pub const ALLOC_KEYS: &[Key] = &[
    key("unmovable", "a number of pages"),
    key("movable", "a number of pages"),
];

/// Every options table, by the API name that takes it.
pub const TABLES: &[(&str, &[Key])] = &[
    ("boot", BOOT_KEYS),
    ("add_memory", ADD_KEYS),
    ("memremap_pages", MEMREMAP_KEYS),
    ("dax_kmem", KMEM_KEYS),
    ("virtio_mem_add", VIRTIO_MEM_KEYS),
    ("plug", PLUG_KEYS),
    ("unplug", UNPLUG_KEYS),
    ("set_allocations", ALLOC_KEYS),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, Dynamic)]) -> Map {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect()
    }

    /// Each table names exactly the fields its struct takes: a map of every key decodes,
    /// and the struct takes no key the table lacks (deny_unknown_fields refuses those).
    #[test]
    fn every_key_of_every_table_decodes() {
        fn all<T: DeserializeOwned + Default>(keys: &[Key], sample: &dyn Fn(&str) -> Dynamic) {
            let m: Map = keys
                .iter()
                .map(|k| (k.name.into(), sample(k.name)))
                .collect();
            decode::<T>("test", &m, keys).unwrap();
        }
        let sample = |k: &str| -> Dynamic {
            match k {
                "memmap_on_memory" | "hypervisor" | "gbpages" | "strict" | "host" => true.into(),
                "node" | "unmovable" | "movable" | "count" | "index" | "id" => Dynamic::from(1_i64),
                "ram" | "align" | "start" | "region_size" | "block_size" | "standby" | "region"
                | "size" => "2M".into(),
                "blocks" => Dynamic::from(rhai::Array::new()),
                "online" => false.into(),
                _ => "x".into(),
            }
        };
        all::<BootOpts>(BOOT_KEYS, &sample);
        all::<AddOpts>(ADD_KEYS, &sample);
        all::<MemremapOpts>(MEMREMAP_KEYS, &sample);
        all::<KmemOpts>(KMEM_KEYS, &sample);
        all::<VirtioMemOpts>(VIRTIO_MEM_KEYS, &sample);
        all::<PlugOpts>(PLUG_KEYS, &sample);
        all::<UnplugOpts>(UNPLUG_KEYS, &sample);
        all::<AllocOpts>(ALLOC_KEYS, &sample);
    }

    #[test]
    fn errors_name_the_key() {
        let e = decode::<BootOpts>("boot", &map(&[("rma", "2G".into())]), BOOT_KEYS)
            .map(|_| ())
            .map_err(|e| crate::script::message(&e))
            .unwrap_err();
        assert!(
            e.contains("unknown option \"rma\" (did you mean ram?"),
            "{e}"
        );
        assert!(e.contains("it takes arch, kernel, cmdline, ram"), "{e}");
        let e = decode::<BootOpts>("boot", &map(&[("hypervisor", "yes".into())]), BOOT_KEYS)
            .map(|_| ())
            .map_err(|e| crate::script::message(&e))
            .unwrap_err();
        assert!(
            e.contains("boot: hypervisor takes true or false, not the string \"yes\""),
            "{e}"
        );
        let e = decode::<BootOpts>("boot", &map(&[("ram", Dynamic::from(-1_i64))]), BOOT_KEYS)
            .map(|_| ())
            .map_err(|e| crate::script::message(&e))
            .unwrap_err();
        assert!(
            e.contains("ram takes a size") && e.contains("-1 is negative"),
            "{e}"
        );
        let o: BootOpts = decode("boot", &map(&[("ram", "4G".into())]), BOOT_KEYS).unwrap();
        assert_eq!(o.ram, Some(Bytes(4 << 30)));
        let k: KmemOpts = decode(
            "dax_kmem",
            &map(&[("online", "online_movable".into())]),
            KMEM_KEYS,
        )
        .unwrap();
        assert_eq!(k.online, Some(OnlineArg::Type("online_movable".into())));
    }
}
