//! dax/kmem (drivers/dax/kmem.c): a device-dax namespace handed to the page allocator as
//! "System RAM (kmem)" (`daxctl reconfigure-device --mode=system-ram`).

use crate::cmdline::OnlineType;
use crate::error::{quote, MmError, Result};
use crate::hotplug::AddOptions;
use crate::machine::Machine;
use crate::memremap::NamespaceMode;

/// What dev_dax_kmem_probe() is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KmemOptions {
    /// The dax device's memmap_on_memory attribute: ask for MHP_MEMMAP_ON_MEMORY.
    pub memmap_on_memory: bool,
    /// How daxctl onlines the new blocks (it onlines them movable unless told not to);
    /// None leaves them to auto_online_blocks.
    pub online: Option<OnlineType>,
}

/// What 7.x's daxX.Y/state says (drivers/dax/kmem.c state_show()): the device's memory is
/// unplugged (removed, its resources released) or added with an online type ("offline"
/// when auto_online_blocks left it offline at probe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KmemState {
    Unplugged,
    Added(OnlineType),
}

impl KmemState {
    pub fn name(self) -> &'static str {
        match self {
            KmemState::Unplugged => "unplugged",
            KmemState::Added(t) => t.name(),
        }
    }
}

/// A dax device whose memory the kmem driver added as System RAM.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KmemDevice {
    /// The pgmap id the device-dax namespace had.
    pub id: u32,
    /// Its name under /sys/bus/dax/devices ("dax0.0").
    pub dax: String,
    /// daxX.Y/state (7.x).
    pub state: KmemState,
    /// The memory-block-aligned range added (dax_kmem_range()).
    pub start: u64,
    pub size: u64,
    pub nid: u16,
    /// The static memory group kmem registers for the device.
    pub group: u32,
    /// Whether the memmap went on the device (MHP_MEMMAP_ON_MEMORY granted).
    pub memmap_on_memory: bool,
    /// Why it was not, when it was asked for.
    pub memmap_on_memory_refused: Option<String>,
    /// The resources that stay while kmem holds the device, innermost first: kmem's own
    /// dax resource over the added range, the namespace, and the region the driver made
    /// when no firmware region described it ((start, end inclusive, name)).
    pub resources: Vec<(u64, u64, String)>,
}

impl Machine {
    /// dev_dax_kmem_probe() for the device-dax namespace `id`: the device-dax mapping goes
    /// (its ZONE_DEVICE memmap is freed), and its data range, trimmed to whole memory
    /// blocks, is hot-added as "System RAM (kmem)" in a static memory group on the
    /// namespace's node. Changes nothing if it fails.
    pub fn dax_kmem(&mut self, id: u32, opts: &KmemOptions) -> Result<KmemDevice> {
        let p = self.state.pgmaps.get(&id).cloned().ok_or_else(|| {
            MmError::NoDevice(format!("no pgmap {id}: map a device-dax namespace first"))
        })?;
        if p.mode != NamespaceMode::DevDax {
            return Err(MmError::Invalid(format!(
                "pgmap {id} is a {} namespace: kmem takes a device-dax one (daxctl \
                 reconfigure-device works on dax devices)",
                p.mode.name()
            )));
        }
        // dax_kmem_range(): the data range, start aligned up and end down to memory blocks.
        let bs = self.u.block_size;
        let data_start = p.res_start + p.data_offset;
        let start = data_start.next_multiple_of(bs);
        let end = p.end - p.end % bs;
        if start >= end {
            let dev = p.dax.as_deref().unwrap_or("dax");
            self.log(format!(
                "kmem {dev}: rejecting DAX region without any memory after alignment"
            ));
            return Err(MmError::Invalid(format!(
                "rejecting DAX region without any memory after alignment: [{data_start:#x}-{:#x}] \
                 holds no whole {}-byte memory block",
                p.end - 1,
                bs
            )));
        }
        // 7.x's probe says how much alignment cut off ("DAX region truncated by 2.00 MiB
        // due to alignment", string_get_size() in binary units).
        if self.target.kernel.dax_kmem_state && end - start != p.end - data_start {
            let dev = p.dax.as_deref().unwrap_or("dax");
            let cut = string_get_size_2((p.end - data_start) - (end - start));
            self.log(format!(
                "kmem {dev}: DAX region truncated by {cut} due to alignment"
            ));
        }
        // Everything it changes lies in the pgmap's range: roll back that much on failure.
        let fp = self.footprint(p.res_start, p.end);
        let nid = p.nid;
        self.transaction(fp, |m| m.dax_kmem_locked(id, nid, start, end - start, opts))
    }

    fn dax_kmem_locked(
        &mut self,
        id: u32,
        nid: u16,
        start: u64,
        size: u64,
        opts: &KmemOptions,
    ) -> Result<KmemDevice> {
        let p = self.state.pgmaps[&id].clone();
        // The device-dax driver unbinds: its mapping and its dax resource go; the namespace
        // stays claimed (drivers/dax/bus.c, drivers/dax/pmem.c).
        self.memunmap_pages_keeping(id, true)?;
        // dev_dax_kmem_probe(): kmem requests the aligned range under the device's name and
        // the memory it adds nests inside (drivers/dax/kmem.c).
        let dax = p.dax.clone().unwrap_or_else(|| format!("dax{id}.0"));
        self.state.iomem.request_container(start, size, &dax)?;
        let mut resources = vec![(start, start + size - 1, dax)];
        if p.data_offset > 0 {
            resources.push((
                p.res_start,
                p.res_start + p.data_offset - 1,
                p.namespace.clone(),
            ));
        }
        if p.own_region {
            resources.push((
                p.res_start,
                p.res_start + p.res_size - 1,
                "Persistent Memory".to_string(),
            ));
        }
        let group = self.register_static_group(nid, size >> self.u.g.page_shift);
        let probe_type = self.state.settings.default_online;
        let r = self.add_memory(
            start,
            size,
            &AddOptions {
                memmap_on_memory: Some(opts.memmap_on_memory),
                node: Some(nid),
                resource_name: Some("System RAM (kmem)"),
                group: Some(group),
                ..AddOptions::default()
            },
        )?;
        if let Some(t) = opts.online {
            if r.onlined.is_empty() {
                self.online(start, size, t)?;
            }
        }
        let state = KmemState::Added(match opts.online {
            Some(t) if r.onlined.is_empty() => t,
            _ => probe_type,
        });
        let dev = KmemDevice {
            id,
            dax: resources[0].2.clone(),
            state,
            start,
            size,
            nid,
            group,
            memmap_on_memory: r.memmap_on_memory,
            memmap_on_memory_refused: r.memmap_on_memory_refused,
            resources,
        };
        self.state.kmem.insert(id, dev.clone());
        Ok(dev)
    }

    /// The dax devices kmem added as System RAM.
    pub fn kmem_devices(&self) -> impl Iterator<Item = &KmemDevice> {
        self.state.kmem.values()
    }

    /// The kmem device named `dax` ("dax0.0").
    pub(crate) fn kmem_by_name(&self, dax: &str) -> Option<u32> {
        self.state
            .kmem
            .values()
            .find(|d| d.dax == dax)
            .map(|d| d.id)
    }

    /// A write to 7.x's daxX.Y/state (drivers/dax/kmem.c state_store()): "unplugged"
    /// offlines and removes the device's memory as one operation
    /// (offline_and_remove_memory_ranges(), all or nothing) and releases its resource; an
    /// online type adds it again, onlined that way, but only from "unplugged" (EBUSY);
    /// "offline" is refused (EINVAL); the state it is in already changes nothing.
    pub fn set_kmem_state(&mut self, id: u32, value: &str) -> Result<()> {
        let want = match value.strip_suffix('\n').unwrap_or(value) {
            "unplugged" => KmemState::Unplugged,
            v => match OnlineType::parse(v) {
                Some(OnlineType::Offline) => {
                    return Err(MmError::Invalid(
                        "\"offline\" is not a dax device state (unplugged, online, \
                         online_kernel or online_movable)"
                            .to_string(),
                    ))
                }
                Some(t) => KmemState::Added(t),
                None => {
                    return Err(MmError::Invalid(format!(
                        "{} is not a dax device state (unplugged, online, online_kernel or \
                         online_movable)",
                        quote(v)
                    )))
                }
            },
        };
        let d = self.state.kmem[&id].clone();
        if d.state == want {
            return Ok(());
        }
        let fp = self.offline_footprint(d.start, d.start + d.size);
        match want {
            KmemState::Unplugged => {
                let r = self.transaction(fp, |m| {
                    if let Some(dev) = m.state.kmem.get_mut(&id) {
                        dev.state = KmemState::Unplugged;
                    }
                    m.offline_and_remove_memory(d.start, d.size)?;
                    m.state.iomem.remove(d.start, d.start + d.size - 1, &d.dax);
                    Ok(())
                });
                if let Err(e) = &r {
                    if !e.is_stopped() {
                        self.log(format!(
                            "kmem {}: hotremove failed, device left online: -{}",
                            d.dax,
                            e.errno().code()
                        ));
                    }
                }
                r?;
            }
            KmemState::Added(_) if d.state != KmemState::Unplugged => {
                return Err(MmError::Busy(format!(
                    "{} is {}: a dax device is onlined only from \"unplugged\"",
                    d.dax,
                    d.state.name()
                )))
            }
            KmemState::Added(t) => self.transaction(fp, |m| {
                m.state.iomem.request_container(d.start, d.size, &d.dax)?;
                // The static memory group went with its last block; register it again.
                let group = m.register_static_group(d.nid, d.size >> m.u.g.page_shift);
                m.add_memory(
                    d.start,
                    d.size,
                    &AddOptions {
                        memmap_on_memory: Some(d.memmap_on_memory),
                        node: Some(d.nid),
                        resource_name: Some("System RAM (kmem)"),
                        group: Some(group),
                        online_type: Some(t),
                        ..AddOptions::default()
                    },
                )?;
                if let Some(dev) = m.state.kmem.get_mut(&id) {
                    dev.group = group;
                }
                Ok(())
            })?,
        }
        if let Some(dev) = self.state.kmem.get_mut(&id) {
            dev.state = want;
        }
        Ok(())
    }
}

/// string_get_size(size, 1, STRING_UNITS_2, ...) (lib/string_helpers.c): three significant
/// digits in the largest binary unit that keeps the value below 1024 ("2.00 MiB",
/// "126 MiB").
pub(crate) fn string_get_size_2(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    let mut i = 0;
    let mut v = bytes as f64;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        return format!("{bytes} B");
    }
    let s = if v < 10.0 {
        format!("{:.2}", (v * 100.0).trunc() / 100.0)
    } else if v < 100.0 {
        format!("{:.1}", (v * 10.0).trunc() / 10.0)
    } else {
        format!("{}", v.trunc())
    };
    format!("{s} {}", UNITS[i])
}
