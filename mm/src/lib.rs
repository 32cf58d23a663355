//! The generic memory model of hotplug-lab: SPARSEMEM_VMEMMAP sections and sub-sections,
//! the vmemmap page tables, vmem_altmap, memory blocks, zones and memory hotplug, as
//! Linux 6.12's mm/ has them. Generic code here never asks which architecture it runs on;
//! it calls the [`arch::Arch`] hooks, as the kernel's mm/ calls arch hooks.
//!
//! ```
//! use mm::{BootSpec, Machine};
//! let x86 = arch::Target::parse("x86_64", "6.12").unwrap();   // names resolved once
//! let mut m = Machine::boot(&BootSpec::new(x86)).unwrap();
//! // Hot-add 1 GiB at 4 GiB: 8 sections whose memmap (8 x 512 pages) comes from the buddy.
//! m.add_memory(4 << 30, 1 << 30, &Default::default()).unwrap();
//! assert_eq!(m.vmstat().nr_memmap_pages(), 4096);
//! ```

pub mod alloc;
pub mod altmap;
pub mod block_set;
pub mod block_table;
pub mod boot;
pub mod cma;
pub mod cmdline;
pub mod design;
mod dlpar;
pub mod error;
pub mod events;
pub mod export;
pub mod files;
pub mod hotplug;
pub mod hugetlb;
pub mod hugetlb_vmemmap;
pub mod kmem;
pub mod machine;
pub mod memory_block;
pub mod memremap;
pub mod online;
pub mod platform;
pub mod read;
pub mod resource;
pub mod sclp;
pub mod section;
pub mod sparse;
pub mod stats;
pub mod units;
pub mod views;
pub mod virtio_mem;
pub mod vmemmap;
mod warn;
pub mod watchdog;
pub mod watermark;
pub mod zone;

pub use boot::{BootPlan, BootSpec};
pub use error::{Errno, MmError, Result};
pub use hotplug::{AddOptions, AddReport};
pub use machine::Machine;
pub use memremap::{MemmapLocation, MemremapOptions, NamespaceMode};
pub use watchdog::Watchdog;
