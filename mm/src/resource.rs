//! The iomem resource tree (kernel/resource.c): what /proc/iomem prints, what
//! register_memory_resource() requests and release_mem_region_adjustable() trims.

use crate::error::{MmError, Result};
use std::fmt::Write;

/// One node of the resource tree. `end` is inclusive, as in struct resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Resource {
    pub start: u64,
    pub end: u64,
    /// Shared: a tree of thousands of block-sized "System RAM" resources holds one name.
    pub name: std::sync::Arc<str>,
    /// IORESOURCE_BUSY: nothing may be requested inside it.
    pub busy: bool,
    /// IORESOURCE_SYSTEM_RAM.
    pub system_ram: bool,
    pub children: Vec<Resource>,
}

impl Resource {
    pub fn new(start: u64, end: u64, name: &str) -> Resource {
        let system_ram = name.starts_with("System RAM");
        Resource {
            start,
            end,
            name: name.into(),
            busy: busy_by_name(name),
            system_ram,
            children: Vec::new(),
        }
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.start <= end && start <= self.end
    }

    /// Whether this resource is System RAM or holds some.
    pub fn holds_ram(&self) -> bool {
        &*self.name == "System RAM" || self.children.iter().any(Resource::holds_ram)
    }
}

/// Which resources a parsed /proc/iomem marks busy: bridges' windows and persistent-memory
/// regions are containers that drivers request inside; everything else is taken.
fn busy_by_name(name: &str) -> bool {
    !(name.starts_with("PCI Bus")
        || name.starts_with("Persistent Memory")
        || name == "Soft Reserved"
        || name.starts_with("PCI ECAM"))
}

/// The iomem_resource tree.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ResourceTree {
    pub top: Vec<Resource>,
}

impl ResourceTree {
    /// Parse /proc/iomem text: `start-end : name`, two spaces of indentation per level.
    pub fn parse(text: &str) -> Result<ResourceTree> {
        /// Nesting the parser accepts: real trees nest four or five deep (a bus, a device,
        /// its region, the RAM in it); the walks over a tree recurse once per level.
        const MAX_DEPTH: usize = 32;
        let mut tree = ResourceTree::default();
        // The path of the last resource at each depth.
        let mut stack: Vec<usize> = Vec::new();
        for (lineno, raw) in text.lines().enumerate() {
            if raw.trim().is_empty() {
                continue;
            }
            let indent = raw.len() - raw.trim_start_matches(' ').len();
            let line = raw.trim();
            let bad = |why: &str| {
                MmError::Invalid(format!(
                    "iomem line {}: {why}: {}",
                    lineno + 1,
                    crate::error::quote(line)
                ))
            };
            if indent % 2 != 0 {
                return Err(bad("indentation is not a multiple of two spaces"));
            }
            let depth = indent / 2;
            let (range, name) = line
                .split_once(" : ")
                .ok_or_else(|| bad("expected \"start-end : name\""))?;
            let (s, e) = range
                .split_once('-')
                .ok_or_else(|| bad("expected \"start-end\""))?;
            let start = u64::from_str_radix(s.trim(), 16).map_err(|_| bad("start is not hex"))?;
            let end = u64::from_str_radix(e.trim(), 16).map_err(|_| bad("end is not hex"))?;
            if end < start {
                return Err(bad("end before start"));
            }
            if depth > stack.len() {
                return Err(bad("indented deeper than its parent"));
            }
            if depth >= MAX_DEPTH {
                return Err(bad(&format!(
                    "nested deeper than {MAX_DEPTH} levels (a kernel's tree has a handful)"
                )));
            }
            stack.truncate(depth);
            let siblings = tree.children_at_mut(&stack);
            if let Some(last) = siblings.last() {
                if start <= last.end {
                    return Err(bad("overlaps or is out of order with the line before"));
                }
            }
            if depth > 0 {
                let parent = tree.node(&stack);
                if start < parent.start || end > parent.end {
                    return Err(bad("outside its parent"));
                }
            }
            let siblings = tree.children_at_mut(&stack);
            siblings.push(Resource::new(start, end, name));
            let idx = siblings.len() - 1;
            stack.push(idx);
        }
        Ok(tree)
    }

    fn children_at_mut(&mut self, path: &[usize]) -> &mut Vec<Resource> {
        let mut v = &mut self.top;
        for &i in path {
            v = &mut v[i].children;
        }
        v
    }

    fn node(&self, path: &[usize]) -> &Resource {
        let mut v = &self.top;
        let mut r = &v[path[0]];
        for &i in &path[1..] {
            v = &r.children;
            r = &v[i];
        }
        r
    }

    /// /proc/iomem: r_show() prints at least 8 hex digits for iomem.
    pub fn render(&self) -> String {
        fn walk(out: &mut String, rs: &[Resource], depth: usize) {
            for r in rs {
                let _ = writeln!(
                    out,
                    "{:indent$}{:08x}-{:08x} : {}",
                    "",
                    r.start,
                    r.end,
                    r.name,
                    indent = depth * 2
                );
                walk(out, &r.children, depth + 1);
            }
        }
        let mut out = String::new();
        walk(&mut out, &self.top, 0);
        out
    }

    /// What a request for `[start, start + size)` would collide with: the resource's name
    /// and inclusive range.
    pub fn conflict(&self, start: u64, size: u64) -> Option<(String, u64, u64)> {
        let end = start + size - 1;
        let mut level = &self.top;
        loop {
            // Each level is sorted and its resources disjoint: the first one ending at or
            // after `start` is the only candidate that can overlap first.
            let c = level
                .get(level.partition_point(|r| r.end < start))
                .filter(|r| r.overlaps(start, end))?;
            if !c.busy && c.start <= start && end <= c.end {
                level = &c.children;
                continue;
            }
            return Some((c.name.to_string(), c.start, c.end));
        }
    }

    /// __request_region(): insert `[start, start + size)` named `name`, descending into a
    /// conflicting resource that is not busy and contains it; -EEXIST on any other conflict.
    pub fn request(&mut self, start: u64, size: u64, name: &str) -> Result<()> {
        self.insert(Resource::new(start, start + size - 1, name))
    }

    /// A resource that others nest inside (a device's region with IORESOURCE_BUSY cleared,
    /// as virtio_mem_create_resource() leaves it): neither busy nor System RAM itself.
    pub fn request_container(&mut self, start: u64, size: u64, name: &str) -> Result<()> {
        let mut r = Resource::new(start, start + size - 1, name);
        r.busy = false;
        r.system_ram = false;
        self.insert(r)
    }

    /// __request_region(): insert `new` at the deepest non-busy resource that holds it.
    fn insert(&mut self, new: Resource) -> Result<()> {
        let (start, end) = (new.start, new.end);
        let size = end - start + 1;
        let mut level = &mut self.top;
        loop {
            // Sorted and disjoint, as in conflict(): a binary search finds both the first
            // overlap and the insertion point, so adding a block at a time stays linear.
            let pos = level.partition_point(|r| r.end < start);
            let conflict = level.get(pos).is_some_and(|r| r.overlaps(start, end));
            match conflict.then_some(pos) {
                None => {
                    level.insert(pos, new);
                    return Ok(());
                }
                Some(i) => {
                    let c = &level[i];
                    if !c.busy && c.start <= start && end <= c.end {
                        level = &mut level[i].children;
                        continue;
                    }
                    return Err(MmError::Exists(format!(
                        "Unable to reserve System RAM region: {start:016x}->{:016x} (conflicts with \"{}\" {:x}-{:x})",
                        start + size,
                        c.name,
                        c.start,
                        c.end
                    )));
                }
            }
        }
    }

    /// The children of the resource at `parents` (indices from the top, as locate_ram()
    /// found them).
    fn level_mut(&mut self, parents: &[usize]) -> &mut Vec<Resource> {
        parents
            .iter()
            .fold(&mut self.top, |level, &p| &mut level[p].children)
    }

    /// Whether [`ResourceTree::release_ram`] would succeed.
    /// What release_mem_region_adjustable() would refuse before it changes anything: a
    /// System RAM resource holding the range with children in it. A range that no single
    /// resource holds (two separately added ranges removed at once) is no error: the kernel
    /// then leaves the resources as they are, silently.
    pub fn check_release_ram(&self, start: u64, size: u64) -> Result<()> {
        match self.locate_ram(start, size) {
            Err(e @ MmError::Busy(_)) => Err(e),
            _ => Ok(()),
        }
    }

    /// Where the System RAM resource that holds `[start, start + size)`, with nothing nested
    /// inside it in that range, sits: the indices of its parents, then its own index in their
    /// children. A binary search per level (each level is sorted and disjoint), so a
    /// block-at-a-time removal stays linear.
    fn locate_ram(&self, start: u64, size: u64) -> Result<(Vec<usize>, usize)> {
        let end = start + size - 1;
        let mut path = Vec::new();
        let mut level = &self.top;
        loop {
            let i = level.partition_point(|r| r.end < start);
            let r = level
                .get(i)
                .filter(|r| r.start <= start && end <= r.end)
                .ok_or_else(|| {
                    MmError::Invalid(format!("no System RAM resource holds {start:#x}-{end:#x}"))
                })?;
            if !r.system_ram {
                path.push(i);
                level = &r.children;
                continue;
            }
            if r.children.iter().any(|c| c.overlaps(start, end)) {
                return Err(MmError::Busy(format!(
                    "System RAM {start:#x}-{end:#x} still has child resources"
                )));
            }
            return Ok((path, i));
        }
    }

    /// release_mem_region_adjustable() (kernel/resource.c): take `[start, start + size)`
    /// out of the System RAM resource holding it, trimming or splitting that resource; where
    /// no one resource holds the whole range it looks no further and changes nothing.
    pub fn release_ram(&mut self, start: u64, size: u64) -> Result<()> {
        let end = start + size - 1;
        let (parents, i) = match self.locate_ram(start, size) {
            Ok(at) => at,
            Err(MmError::Invalid(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        let level = self.level_mut(&parents);
        let r = level.remove(i);
        let mut pieces = Vec::new();
        if r.start < start {
            let mut left = Resource {
                end: start - 1,
                children: Vec::new(),
                ..r.clone()
            };
            left.children = r
                .children
                .iter()
                .filter(|c| c.end < start)
                .cloned()
                .collect();
            pieces.push(left);
        }
        if end < r.end {
            let mut right = Resource {
                start: end + 1,
                children: Vec::new(),
                ..r.clone()
            };
            right.children = r
                .children
                .iter()
                .filter(|c| c.start > end)
                .cloned()
                .collect();
            pieces.push(right);
        }
        for (k, p) in pieces.into_iter().enumerate() {
            level.insert(i + k, p);
        }
        Ok(())
    }

    /// The innermost System RAM resource holding `addr`: a binary search per level.
    pub fn ram_at(&self, addr: u64) -> Option<&Resource> {
        let mut level = &self.top;
        let mut found = None;
        while let Some(r) = level
            .get(level.partition_point(|r| r.end < addr))
            .filter(|r| r.start <= addr)
        {
            if r.system_ram {
                found = Some(r);
            }
            level = &r.children;
        }
        found
    }

    /// Split the childless System RAM resource that is exactly `[start, start + size)` into
    /// resources of `unit` bytes, as one request per unit would have left them. Whether it
    /// was there to split.
    pub fn split_ram(&mut self, start: u64, size: u64, unit: u64) -> bool {
        let Ok((parents, i)) = self.locate_ram(start, size) else {
            return false;
        };
        let level = self.level_mut(&parents);
        let r = &level[i];
        if r.start != start || r.end != start + size - 1 || !r.children.is_empty() || unit == 0 {
            return false;
        }
        let r = r.clone();
        let pieces = (0..size.div_ceil(unit)).map(|k| Resource {
            start: start + k * unit,
            end: (start + (k + 1) * unit).min(start + size) - 1,
            ..r.clone()
        });
        level.splice(i..=i, pieces);
        true
    }

    /// The inverse of [`ResourceTree::split_ram`]: merge the childless System RAM resources
    /// of one name that tile `[start, start + size)` exactly into one. The resources it
    /// merged (one when there was nothing to merge), for [`ResourceTree::unmerge_ram_run`]
    /// to put back; None when they do not tile the range.
    pub fn merge_ram_run(&mut self, start: u64, size: u64) -> Option<Vec<Resource>> {
        let end = start + size - 1;
        let mut level = &mut self.top;
        loop {
            let i = level.partition_point(|r| r.end < start);
            let r = level.get(i)?;
            if r.start == start && r.system_ram {
                let mut j = i;
                while j < level.len()
                    && level[j].end < end
                    && level.get(j + 1).is_some_and(|n| {
                        n.start == level[j].end + 1 && n.system_ram && n.name == r.name
                    })
                {
                    j += 1;
                }
                let tiles =
                    level[j].end == end && level[i..=j].iter().all(|x| x.children.is_empty());
                if !tiles {
                    return None;
                }
                let pieces = level[i..=j].to_vec();
                level[i].end = end;
                level.drain(i + 1..=j);
                return Some(pieces);
            }
            if r.start <= start && end <= r.end {
                level = &mut level[i].children;
                continue;
            }
            return None;
        }
    }

    /// Undo [`ResourceTree::merge_ram_run`]: the merged resource becomes the `pieces` it
    /// was made of.
    pub fn unmerge_ram_run(&mut self, pieces: Vec<Resource>) {
        let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
            return;
        };
        let (start, size) = (first.start, last.end - first.start + 1);
        let Ok((parents, i)) = self.locate_ram(start, size) else {
            return;
        };
        let level = self.level_mut(&parents);
        if level[i].start == start && level[i].end == last.end {
            level.splice(i..=i, pieces);
        }
    }

    /// merge_system_ram_resource(): merge a driver-managed System RAM resource with equal
    /// neighbours of the same name (MHP_MERGE_RESOURCE).
    pub fn merge_system_ram(&mut self, start: u64) {
        fn go(level: &mut Vec<Resource>, start: u64) {
            let Some(i) = level.iter().position(|r| r.start == start && r.system_ram) else {
                for r in level.iter_mut() {
                    if r.start <= start && start <= r.end {
                        go(&mut r.children, start);
                    }
                }
                return;
            };
            let mut i = i;
            if i > 0 {
                let (a, b) = (&level[i - 1], &level[i]);
                if a.system_ram
                    && a.name == b.name
                    && a.end + 1 == b.start
                    && a.children.is_empty()
                    && b.children.is_empty()
                {
                    level[i - 1].end = level[i].end;
                    level.remove(i);
                    i -= 1;
                }
            }
            if i + 1 < level.len() {
                let (a, b) = (&level[i], &level[i + 1]);
                if b.system_ram
                    && a.name == b.name
                    && a.end + 1 == b.start
                    && a.children.is_empty()
                    && b.children.is_empty()
                {
                    level[i].end = level[i + 1].end;
                    level.remove(i + 1);
                }
            }
        }
        go(&mut self.top, start);
    }

    /// Every resource, depth first, with its depth.
    /// The first resource named `prefix...` that overlaps `[start, end)`, at any depth.
    pub fn named_overlap(&self, start: u64, end: u64, prefix: &str) -> Option<(u64, u64)> {
        self.walk()
            .into_iter()
            .find(|(_, r)| r.name.starts_with(prefix) && r.start < end && start <= r.end)
            .map(|(_, r)| (r.start, r.end))
    }

    pub fn walk(&self) -> Vec<(usize, &Resource)> {
        fn go<'a>(out: &mut Vec<(usize, &'a Resource)>, rs: &'a [Resource], d: usize) {
            for r in rs {
                out.push((d, r));
                go(out, &r.children, d + 1);
            }
        }
        let mut out = Vec::new();
        go(&mut out, &self.top, 0);
        out
    }

    /// walk_system_ram_range(): bytes of System RAM (any System RAM resource) in
    /// `[start, end)`.
    pub fn system_ram_bytes(&self, start: u64, end: u64) -> u64 {
        self.walk()
            .into_iter()
            .filter(|(_, r)| r.system_ram && r.busy)
            .map(|(_, r)| {
                let a = r.start.max(start);
                let b = (r.end + 1).min(end);
                b.saturating_sub(a)
            })
            .sum()
    }

    /// Whether `[start, end]` lies inside a resource whose name starts with `prefix`.
    pub fn contained_in_named(&self, start: u64, end: u64, prefix: &str) -> bool {
        self.walk()
            .into_iter()
            .any(|(_, r)| r.name.starts_with(prefix) && r.start <= start && end <= r.end)
    }

    /// Remove the resource `[start, end]` named `name` wherever it is.
    pub fn remove(&mut self, start: u64, end: u64, name: &str) -> bool {
        fn go(level: &mut Vec<Resource>, start: u64, end: u64, name: &str) -> bool {
            if let Some(i) = level
                .iter()
                .position(|r| r.start == start && r.end == end && &*r.name == name)
            {
                let r = level.remove(i);
                for (k, c) in r.children.into_iter().enumerate() {
                    level.insert(i + k, c);
                }
                return true;
            }
            level
                .iter_mut()
                .any(|r| go(&mut r.children, start, end, name))
        }
        go(&mut self.top, start, end, name)
    }
}

/// Sort `[start, end)` ranges and merge those that overlap (adjacent ones stay apart).
pub(crate) fn merge_overlapping(ranges: &mut Vec<(u64, u64)>) {
    ranges.sort_unstable();
    ranges.dedup_by(|next, prev| {
        let overlaps = next.0 < prev.1;
        if overlaps {
            prev.1 = prev.1.max(next.1);
        }
        overlaps
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const IOMEM: &str = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
00100000-7ffdefff : System RAM
  28a00000-299fffff : Kernel code
7ffdf000-7fffffff : Reserved
80000000-afffffff : PCI Bus 0000:00
100000000-13fffffff : System RAM
";

    #[test]
    fn parse_render_round_trip() {
        let t = ResourceTree::parse(IOMEM).unwrap();
        assert_eq!(t.render(), IOMEM);
        assert_eq!(
            t.system_ram_bytes(0, u64::MAX),
            0x9ec00 + 0x7fedf000 + 0x4000_0000
        );
    }

    #[test]
    fn parse_errors() {
        assert!(ResourceTree::parse("zz-10 : x").is_err());
        assert!(ResourceTree::parse("10-5 : x").is_err());
        assert!(ResourceTree::parse("0-10 : a\n5-20 : b").is_err());
        assert!(ResourceTree::parse("   0-10 : a").is_err());
        assert!(ResourceTree::parse("0-10 : a\n  0-20 : b").is_err());
    }

    #[test]
    fn request_and_release() {
        let mut t = ResourceTree::parse(IOMEM).unwrap();
        t.request(0x1_4000_0000, 0x4000_0000, "System RAM").unwrap();
        let e = t
            .request(0x1_2000_0000, 0x4000_0000, "System RAM")
            .unwrap_err();
        assert!(matches!(e, MmError::Exists(_)));
        // Inside a PCI window (not busy) the request nests.
        t.request(0x9000_0000, 0x1000, "dev").unwrap();
        assert!(t.render().contains("  90000000-90000fff : dev"));
        // Release the middle of a System RAM range: it splits.
        t.release_ram(0x1_4800_0000, 0x800_0000).unwrap();
        let r = t.render();
        assert!(
            r.contains("140000000-147ffffff : System RAM\n150000000-17fffffff : System RAM"),
            "{r}"
        );
        // No one resource holds it: nothing changes, and no error (kernel/resource.c).
        let before = t.clone();
        t.release_ram(0x8000_0000, 0x1000).unwrap();
        assert_eq!(t, before);
    }
}
