//! The sysfs tree on disk that `lsmem --sysroot DIR` reads (sys/devices/system/memory with
//! every block's attributes and its nodeN link, sys/devices/system/node, and the proc files),
//! written without following a symbolic link anywhere below the directory it is given and
//! without removing anything through one. The memory directory is written aside and renamed
//! into place, and it carries a marker: an export replaces only a tree an export wrote.

use crate::error::{MmError, Result};
use crate::files::{BLOCK_FILES, MACHINE_FILES};
use crate::machine::Machine;
use std::io::Write as _;
#[cfg(unix)]
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Component, Path, PathBuf};

/// The file an export leaves in the memory directory it writes: a later export replaces a
/// directory that has it, and refuses one that does not (the user's own files).
pub const EXPORT_MARKER: &str = ".hotplug-lab-export";

impl Machine {
    /// Write the tree into `dir` (created if missing; the directory itself is the caller's
    /// choice and may be reached through links).
    pub fn export_sysfs(&self, dir: &Path) -> Result<()> {
        self.export_sysfs_in(dir, Path::new(""))
    }

    /// How many files and links an export of this machine writes (what a caller that
    /// bounds exports counts before it asks for one).
    pub fn export_file_count(&self) -> u64 {
        let per_block = BLOCK_FILES
            .iter()
            .filter(|a| a.export && (a.present)(self))
            .count() as u64
            + 1;
        // The marker, and the node directories' entries.
        let fixed = self.exported_files().count() as u64 + 1;
        fixed + (self.state.blocks.len() as u64) * per_block
    }

    /// Write the tree into `root/sub`. `sub` is a plain relative path; neither it nor
    /// anything the export writes below `root` may be a symbolic link (EPERM otherwise).
    /// A tree an export wrote there before is replaced; a memory directory with files of
    /// someone else's is refused (EEXIST). Nothing is replaced until the new tree is whole:
    /// an export that fails part way (a full disk, the watchdog) leaves what was there.
    pub fn export_sysfs_in(&self, root: &Path, sub: &Path) -> Result<()> {
        #[cfg(not(unix))]
        {
            let _ = (root, sub);
            return Err(MmError::NotSupported(
                "the sysfs export needs a Unix system".to_string(),
            ));
        }
        #[cfg(unix)]
        {
            make_dir_all(root)?;
            let mut dir = Tree::open_root(root)?;
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
            // Every place the export writes, checked before the first write.
            dir.check(&["sys", "devices", "system", "memory"])?;
            dir.check(&["sys", "devices", "system", "node"])?;
            for path in self.exported_files() {
                let parts: Vec<&str> = path.split('/').collect();
                dir.check(&parts)?;
            }
            let node_dir = ["sys", "devices", "system", "node"];
            for n in self.exported_nodes() {
                let name = format!("node{}", n.nid);
                let mut p: Vec<&str> = node_dir.to_vec();
                p.push(&name);
                dir.check(&p)?;
            }
            self.write_tree(&dir)
        }
    }

    /// The node directories the export writes: each online node's, where the arch's build
    /// has NUMA (drivers/base/node.c; Debian's s390x has none, and no nodeN links).
    fn exported_nodes(&self) -> impl Iterator<Item = &crate::zone::Node> + '_ {
        let numa = self.target.arch().numa();
        self.state.nodes.iter().filter(move |n| numa && n.online)
    }

    /// The machine files the export writes, relative to the export's root.
    fn exported_files(&self) -> impl Iterator<Item = &'static str> + '_ {
        MACHINE_FILES
            .iter()
            .filter(|a| a.export && (a.present)(self))
            .map(|a| a.name.trim_start_matches('/'))
    }

    #[cfg(unix)]
    fn write_tree(&self, dir: &Tree) -> Result<()> {
        let devices = dir.dir("sys")?.dir("devices")?.dir("system")?;
        // The memory directory the export will replace: an earlier export's (it has the
        // marker), an empty one, or none.
        let old = match devices.kind(Path::new("memory"))? {
            Some(fdio::FileType::Directory) => {
                let d = devices.dir("memory")?;
                if !d.is_empty()? && d.kind(Path::new(EXPORT_MARKER))?.is_none() {
                    return Err(MmError::Exists(format!(
                        "{}: holds files an export did not write (no {EXPORT_MARKER} in it): \
                         move them away or export elsewhere",
                        devices.shown(Path::new("memory"))
                    )));
                }
                // An earlier export's tree, replaced whole: only if nothing was added to it.
                if let Some(added) = foreign_entry(&d, &|| self.tick())? {
                    return Err(MmError::Exists(format!(
                        "{}: an earlier export's tree, and {added} in it is not one an export \
                         writes: move it away or export elsewhere",
                        devices.shown(Path::new("memory"))
                    )));
                }
                true
            }
            Some(_) => {
                return Err(MmError::Exists(format!(
                    "{}: exists and is not a directory",
                    devices.shown(Path::new("memory"))
                )))
            }
            None => false,
        };
        let pid = std::process::id();
        let new_name = format!(".memory.new-{pid}");
        let old_name = format!(".memory.old-{pid}");
        // Left behind by an export of ours that was killed: it has the marker.
        for stale in [&new_name, &old_name] {
            devices.remove_ours(Path::new(stale))?;
        }
        let mut pending: Vec<(Tree, String)> = Vec::new();
        let written = (|| -> Result<()> {
            let mem = devices.dir(&new_name)?;
            mem.file(
                EXPORT_MARKER,
                "written by hotplug-lab's sysfs export; a later export replaces this directory\n",
            )?;
            if self.target.arch().numa() {
                let nodes = devices.dir("node")?;
                for n in self.exported_nodes() {
                    nodes.dir(format!("node{}", n.nid))?;
                }
            }
            for rel in self.exported_files() {
                let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
                let text = self.sysfs(&format!("/{rel}"));
                if parent == "sys/devices/system/memory" {
                    mem.file(name, &text)?;
                    continue;
                }
                let mut d = dir.dir(".")?;
                for c in parent.split('/').filter(|c| !c.is_empty()) {
                    d = d.dir(c)?;
                }
                // Beside its place; renamed over it once the whole tree is written.
                let aside = format!(".{name}.new-{pid}");
                d.file(&aside, &text)?;
                pending.push((d, name.to_string()));
            }
            for (id, b) in self.state.blocks.iter() {
                self.tick()?;
                let d = mem.dir(format!("memory{}", id.0))?;
                for a in BLOCK_FILES.iter().filter(|a| a.export && (a.present)(self)) {
                    d.file(a.name, &(a.show)(self, *id))?;
                }
                if self.target.arch().numa() {
                    d.link(
                        &format!("node{}", b.nid),
                        &format!("../../node/node{}", b.nid),
                    )?;
                }
            }
            Ok(())
        })();
        if let Err(e) = written {
            let _ = devices.remove_ours(Path::new(&new_name));
            for (d, name) in &pending {
                let _ = d.unlink(&format!(".{name}.new-{pid}"));
            }
            return Err(e);
        }
        // Into place: the old tree aside, the new one in, the old one removed.
        if old {
            devices.rename(Path::new("memory"), Path::new(&old_name))?;
        }
        devices.rename(Path::new(&new_name), Path::new("memory"))?;
        if old {
            devices.remove_tree(Path::new(&old_name))?;
        }
        for (d, name) in &pending {
            d.rename(Path::new(&format!(".{name}.new-{pid}")), Path::new(name))?;
        }
        Ok(())
    }

    fn sysfs(&self, path: &str) -> String {
        self.read(path).unwrap_or_default()
    }
}

/// The first entry of an earlier export's memory directory that no export writes (a file
/// someone added), if there is one.
#[cfg(unix)]
fn foreign_entry(mem: &Tree, tick: &dyn Fn() -> Result<()>) -> Result<Option<String>> {
    use fdio::FileType as T;
    let numbered = |name: &str, prefix: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
    };
    for name in mem.names()? {
        let ours = match mem.kind(Path::new(&name))? {
            Some(T::Directory) if numbered(&name, "memory") => {
                tick()?;
                let block = mem.dir(&name)?;
                for f in block.names()? {
                    let ours = match block.kind(Path::new(&f))? {
                        Some(T::RegularFile) => BLOCK_FILES.iter().any(|a| a.name == f),
                        Some(T::Symlink) => numbered(&f, "node"),
                        _ => false,
                    };
                    if !ours {
                        return Ok(Some(format!("{name}/{f}")));
                    }
                }
                true
            }
            Some(T::RegularFile) => {
                name == EXPORT_MARKER
                    || MACHINE_FILES
                        .iter()
                        .any(|a| a.name.strip_prefix("/sys/devices/system/memory/") == Some(&name))
            }
            _ => false,
        };
        if !ours {
            return Ok(Some(name));
        }
    }
    Ok(None)
}

/// A directory of the export, held open: everything below it is reached through its file
/// descriptor with O_NOFOLLOW, so a link swapped in while the export runs is not followed
/// either (a check of the path followed by a use of it would race).
#[cfg(unix)]
struct Tree {
    fd: std::os::fd::OwnedFd,
    root: PathBuf,
    /// Below the root, for messages.
    rel: PathBuf,
}

#[cfg(unix)]
mod fdio {
    pub use rustix::fs::{AtFlags, FileType, Mode, OFlags};
    pub const DIR: OFlags = OFlags::RDONLY
        .union(OFlags::DIRECTORY)
        .union(OFlags::NOFOLLOW)
        .union(OFlags::CLOEXEC);
}

#[cfg(unix)]
impl Tree {
    fn open_root(root: &Path) -> Result<Tree> {
        let fd = rustix::fs::open(
            root,
            fdio::DIR.difference(fdio::OFlags::NOFOLLOW),
            fdio::Mode::empty(),
        )
        .map_err(|e| MmError::from_io(root.display(), &e.into()))?;
        Ok(Tree {
            fd,
            root: root.to_path_buf(),
            rel: PathBuf::new(),
        })
    }

    fn shown(&self, name: &Path) -> String {
        self.root.join(&self.rel).join(name).display().to_string()
    }

    fn refuse_link(&self, name: &Path) -> MmError {
        MmError::NotPermitted(format!(
            "{} is a symbolic link: the export follows none below {}",
            self.rel.join(name).display(),
            self.root.display()
        ))
    }

    /// What `name` is, without following it.
    fn kind(&self, name: &Path) -> Result<Option<fdio::FileType>> {
        match rustix::fs::statat(&self.fd, name, fdio::AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(fdio::FileType::from_raw_mode(st.st_mode))),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(MmError::from_io(self.shown(name), &e.into())),
        }
    }

    /// The subdirectory `name`, made if missing; never a link.
    fn dir(&self, name: impl AsRef<Path>) -> Result<Tree> {
        let name = name.as_ref();
        let open = || rustix::fs::openat(&self.fd, name, fdio::DIR, fdio::Mode::empty());
        let fd = match open() {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) => {
                match rustix::fs::mkdirat(&self.fd, name, fdio::Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(MmError::from_io(self.shown(name), &e.into())),
                }
                open().map_err(|e| self.open_error(name, e))?
            }
            Err(e) => return Err(self.open_error(name, e)),
        };
        Ok(Tree {
            fd,
            root: self.root.clone(),
            rel: self.rel.join(name),
        })
    }

    /// Why opening `name` as a directory failed: a link (O_NOFOLLOW says ELOOP), something
    /// else that is not a directory, or the host's own error.
    fn open_error(&self, name: &Path, e: rustix::io::Errno) -> MmError {
        // With O_DIRECTORY a link is ENOTDIR rather than ELOOP: look at what is there.
        if matches!(self.kind(name), Ok(Some(fdio::FileType::Symlink))) {
            return self.refuse_link(name);
        }
        match e {
            rustix::io::Errno::LOOP => self.refuse_link(name),
            rustix::io::Errno::NOTDIR => MmError::NotADirectory(format!(
                "{}: exists and is not a directory",
                self.shown(name)
            )),
            e => MmError::from_io(self.shown(name), &e.into()),
        }
    }

    /// The names in this directory (not `.` or `..`), as UTF-8 where they are not.
    fn names(&self) -> Result<Vec<String>> {
        let entries = rustix::fs::Dir::read_from(&self.fd)
            .map_err(|e| MmError::from_io(self.shown(Path::new("")), &e.into()))?;
        let mut out = Vec::new();
        for ent in entries {
            let ent = ent.map_err(|e| MmError::from_io(self.shown(Path::new("")), &e.into()))?;
            let n = ent.file_name().to_bytes();
            if n != b"." && n != b".." {
                out.push(String::from_utf8_lossy(n).into_owned());
            }
        }
        Ok(out)
    }

    /// Whether this directory has nothing in it.
    fn is_empty(&self) -> Result<bool> {
        let entries = rustix::fs::Dir::read_from(&self.fd)
            .map_err(|e| MmError::from_io(self.shown(Path::new("")), &e.into()))?;
        for ent in entries {
            let ent = ent.map_err(|e| MmError::from_io(self.shown(Path::new("")), &e.into()))?;
            let n = ent.file_name().to_bytes();
            if n != b"." && n != b".." {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Remove the directory `name` if it is one an export wrote (it has the marker); do
    /// nothing if there is none; refuse anything else.
    fn remove_ours(&self, name: &Path) -> Result<()> {
        match self.kind(name)? {
            None => Ok(()),
            Some(fdio::FileType::Directory)
                if self.dir(name)?.kind(Path::new(EXPORT_MARKER))?.is_some() =>
            {
                self.remove_tree(name)
            }
            Some(_) => Err(MmError::Exists(format!(
                "{}: in the way of the export, and not one it wrote",
                self.shown(name)
            ))),
        }
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        rustix::fs::renameat(&self.fd, from, &self.fd, to)
            .map_err(|e| MmError::from_io(self.shown(to), &e.into()))
    }

    fn unlink(&self, name: &str) -> Result<()> {
        rustix::fs::unlinkat(&self.fd, Path::new(name), fdio::AtFlags::empty())
            .map_err(|e| MmError::from_io(self.shown(Path::new(name)), &e.into()))
    }

    /// Remove the directory `name` and everything in it, through descriptors: a link
    /// inside is removed, never followed.
    fn remove_tree(&self, name: &Path) -> Result<()> {
        let sub = self.dir(name)?;
        let entries = rustix::fs::Dir::read_from(&sub.fd)
            .map_err(|e| MmError::from_io(self.shown(name), &e.into()))?;
        let mut names = Vec::new();
        for ent in entries {
            let ent = ent.map_err(|e| MmError::from_io(self.shown(name), &e.into()))?;
            let n = ent.file_name().to_bytes();
            if n == b"." || n == b".." {
                continue;
            }
            names.push(std::ffi::OsStr::from_bytes(n).to_os_string());
        }
        for n in names {
            let p = Path::new(&n);
            if sub.kind(p)? == Some(fdio::FileType::Directory) {
                sub.remove_tree(p)?;
            } else {
                rustix::fs::unlinkat(&sub.fd, p, fdio::AtFlags::empty())
                    .map_err(|e| MmError::from_io(sub.shown(p), &e.into()))?;
            }
        }
        rustix::fs::unlinkat(&self.fd, name, fdio::AtFlags::REMOVEDIR)
            .map_err(|e| MmError::from_io(self.shown(name), &e.into()))
    }

    /// Write the file `name`, replacing a file of that name; never writing through a link.
    fn file(&self, name: &str, text: &str) -> Result<()> {
        let n = Path::new(name);
        match self.kind(n)? {
            Some(fdio::FileType::Symlink) => return Err(self.refuse_link(n)),
            Some(fdio::FileType::Directory) => {
                return Err(MmError::IsADirectory(format!(
                    "{}: is a directory",
                    self.shown(n)
                )))
            }
            Some(_) => rustix::fs::unlinkat(&self.fd, n, fdio::AtFlags::empty())
                .map_err(|e| MmError::from_io(self.shown(n), &e.into()))?,
            None => {}
        }
        // O_EXCL with O_NOFOLLOW: fails on anything that appeared there since, a link too.
        let flags = fdio::OFlags::WRONLY
            | fdio::OFlags::CREATE
            | fdio::OFlags::EXCL
            | fdio::OFlags::NOFOLLOW
            | fdio::OFlags::CLOEXEC;
        let fd = rustix::fs::openat(&self.fd, n, flags, fdio::Mode::from_raw_mode(0o644))
            .map_err(|e| MmError::from_io(self.shown(n), &e.into()))?;
        let mut f = std::fs::File::from(fd);
        f.write_all(text.as_bytes())
            .map_err(|e| MmError::from_io(self.shown(n), &e))
    }

    /// The link `name` -> `target` (inside the tree), as sysfs has memoryN/nodeN.
    fn link(&self, name: &str, target: &str) -> Result<()> {
        rustix::fs::symlinkat(target, &self.fd, name)
            .map_err(|e| MmError::from_io(self.shown(Path::new(name)), &e.into()))
    }

    /// Refuse, before anything is written, a link where the export will go.
    fn check(&self, path: &[&str]) -> Result<()> {
        let mut rel = PathBuf::new();
        for c in path {
            rel.push(c);
            match self.kind(&rel)? {
                Some(fdio::FileType::Symlink) => return Err(self.refuse_link(&rel)),
                Some(fdio::FileType::Directory) => {}
                Some(_) | None => return Ok(()),
            }
        }
        Ok(())
    }
}

/// `dir` and its missing parents (the directory the user named: links on the way to it
/// are theirs).
fn make_dir_all(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| MmError::from_io(dir.display(), &e))
}
