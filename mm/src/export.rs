//! The sysfs tree on disk that `lsmem --sysroot DIR` reads (sys/devices/system/memory with
//! every block's attributes and its nodeN link, sys/devices/system/node, and the proc files),
//! written without following a symbolic link anywhere below the directory it is given and
//! without removing anything through one.

use crate::error::{MmError, Result};
use crate::machine::Machine;
use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

const MEMORY: &str = "/sys/devices/system/memory";

/// The per-block attributes lsmem reads.
const BLOCK_FILES: [&str; 6] = [
    "state",
    "online",
    "phys_index",
    "phys_device",
    "removable",
    "valid_zones",
];

impl Machine {
    /// Write the tree into `dir` (created if missing; the directory itself is the caller's
    /// choice and may be reached through links).
    pub fn export_sysfs(&self, dir: &Path) -> Result<()> {
        self.export_sysfs_in(dir, Path::new(""))
    }

    /// Write the tree into `root/sub`. `sub` is a plain relative path; neither it nor
    /// anything the export writes below `root` may be a symbolic link (EPERM otherwise),
    /// and a tree exported there before is replaced.
    pub fn export_sysfs_in(&self, root: &Path, sub: &Path) -> Result<()> {
        let root = root.to_path_buf();
        make_dir_all(&root)?;
        let mut dir = Tree {
            root,
            rel: PathBuf::new(),
        };
        for c in sub.components() {
            match c {
                Component::Normal(name) => dir = dir.dir(name)?,
                Component::CurDir => {}
                _ => {
                    return Err(MmError::Invalid(format!(
                        "{}: a path under the export directory must not hold \"..\" or start at /",
                        sub.display()
                    )))
                }
            }
        }
        let devices = dir.dir("sys")?.dir("devices")?.dir("system")?;
        let mem = devices.fresh_dir("memory")?;
        mem.file(
            "block_size_bytes",
            &self.sysfs(&format!("{MEMORY}/block_size_bytes")),
        )?;
        mem.file(
            "auto_online_blocks",
            &self.sysfs(&format!("{MEMORY}/auto_online_blocks")),
        )?;
        let nodes = devices.dir("node")?;
        for n in self.nodes.iter().filter(|n| n.online) {
            nodes.dir(format!("node{}", n.nid))?;
        }
        for id in self.blocks.keys() {
            let d = mem.dir(format!("memory{}", id.0))?;
            for f in BLOCK_FILES {
                d.file(f, &self.sysfs(&format!("{MEMORY}/memory{}/{f}", id.0)))?;
            }
            let nid = self.blocks[id].nid;
            d.link(&format!("node{nid}"), &format!("../../node/node{nid}"))?;
        }
        let proc = dir.dir("proc")?;
        for (name, file) in [
            ("iomem", "/proc/iomem"),
            ("meminfo", "/proc/meminfo"),
            ("zoneinfo", "/proc/zoneinfo"),
        ] {
            proc.file(name, &self.sysfs(file))?;
        }
        Ok(())
    }

    fn sysfs(&self, path: &str) -> String {
        self.read(path).unwrap_or_default()
    }
}

/// A directory of the export, known to be a real directory reached without a link.
struct Tree {
    root: PathBuf,
    /// Below the root, for messages.
    rel: PathBuf,
}

impl Tree {
    fn path(&self) -> PathBuf {
        self.root.join(&self.rel)
    }

    fn child(&self, name: impl AsRef<Path>) -> Tree {
        Tree {
            root: self.root.clone(),
            rel: self.rel.join(name),
        }
    }

    /// What `name` is, without following it if it is a link.
    fn kind(&self, name: &Path) -> Result<Option<std::fs::FileType>> {
        let p = self.path().join(name);
        match std::fs::symlink_metadata(&p) {
            Ok(m) => Ok(Some(m.file_type())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(MmError::from_io(p.display(), &e)),
        }
    }

    fn refuse_link(&self, name: &Path) -> MmError {
        MmError::NotPermitted(format!(
            "{} is a symbolic link: the export follows none below {}",
            self.child(name).rel.display(),
            self.root.display()
        ))
    }

    /// The subdirectory `name`, made if missing.
    fn dir(&self, name: impl AsRef<Path>) -> Result<Tree> {
        let name = name.as_ref();
        let p = self.path().join(name);
        match self.kind(name)? {
            Some(t) if t.is_symlink() => return Err(self.refuse_link(name)),
            Some(t) if t.is_dir() => {}
            Some(_) => {
                return Err(MmError::NotADirectory(format!(
                    "{}: exists and is not a directory",
                    p.display()
                )))
            }
            None => std::fs::create_dir(&p).map_err(|e| MmError::from_io(p.display(), &e))?,
        }
        Ok(self.child(name))
    }

    /// The subdirectory `name`, emptied of an earlier export first.
    fn fresh_dir(&self, name: &str) -> Result<Tree> {
        let p = self.path().join(name);
        match self.kind(Path::new(name))? {
            Some(t) if t.is_symlink() => return Err(self.refuse_link(Path::new(name))),
            // remove_dir_all removes links inside the tree, never what they point to.
            Some(t) if t.is_dir() => {
                std::fs::remove_dir_all(&p).map_err(|e| MmError::from_io(p.display(), &e))?
            }
            _ => {}
        }
        self.dir(name)
    }

    /// Write the file `name`, replacing a file of that name; never writing through a link.
    fn file(&self, name: &str, text: &str) -> Result<()> {
        let p = self.path().join(name);
        match self.kind(Path::new(name))? {
            Some(t) if t.is_symlink() => return Err(self.refuse_link(Path::new(name))),
            Some(t) if t.is_dir() => {
                return Err(MmError::IsADirectory(format!(
                    "{}: is a directory",
                    p.display()
                )))
            }
            Some(_) => std::fs::remove_file(&p).map_err(|e| MmError::from_io(p.display(), &e))?,
            None => {}
        }
        // create_new fails on anything that appeared there since, a link included.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&p)
            .map_err(|e| MmError::from_io(p.display(), &e))?;
        f.write_all(text.as_bytes())
            .map_err(|e| MmError::from_io(p.display(), &e))
    }

    /// The link `name` -> `target` (inside the tree), as sysfs has memoryN/nodeN.
    fn link(&self, name: &str, target: &str) -> Result<()> {
        let p = self.path().join(name);
        #[cfg(unix)]
        let made = std::os::unix::fs::symlink(target, &p);
        #[cfg(not(unix))]
        let made = {
            let _ = target;
            std::fs::write(&p, "")
        };
        made.map_err(|e| MmError::from_io(p.display(), &e))
    }
}

/// `dir` and its missing parents (the directory the user named: links on the way to it
/// are theirs).
fn make_dir_all(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| MmError::from_io(dir.display(), &e))
}
