//! dax/kmem (drivers/dax/kmem.c): a device-dax namespace handed to the page allocator as
//! "System RAM (kmem)" (`daxctl reconfigure-device --mode=system-ram`).

use crate::cmdline::OnlineType;
use crate::error::{MmError, Result};
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

/// A dax device whose memory the kmem driver added as System RAM.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KmemDevice {
    /// The pgmap id the device-dax namespace had.
    pub id: u32,
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
        let dev = KmemDevice {
            id,
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
}
