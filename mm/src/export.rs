//! The sysfs tree on disk that `lsmem --sysroot DIR` reads (sys/devices/system/memory with
//! every block's attributes and its nodeN link, sys/devices/system/node, and the proc files),
//! written without following a symbolic link anywhere below the directory it is given and
//! without removing anything through one.

use crate::error::{MmError, Result};
use crate::files::{BLOCK_FILES, MACHINE_FILES};
use crate::machine::Machine;
use std::io::Write as _;
#[cfg(unix)]
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Component, Path, PathBuf};

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
            for n in self.state.nodes.iter().filter(|n| n.online) {
                let name = format!("node{}", n.nid);
                let mut p: Vec<&str> = node_dir.to_vec();
                p.push(&name);
                dir.check(&p)?;
            }
            self.write_tree(&dir)
        }
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
        // The memory directory is replaced whole, so no block of an earlier export stays.
        let mem = devices.fresh_dir("memory")?;
        let nodes = devices.dir("node")?;
        for n in self.state.nodes.iter().filter(|n| n.online) {
            nodes.dir(format!("node{}", n.nid))?;
        }
        for rel in self.exported_files() {
            let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
            let text = self.sysfs(&format!("/{rel}"));
            if parent == "sys/devices/system/memory" {
                mem.file(name, &text)?;
            } else if parent.is_empty() {
                dir.file(name, &text)?;
            } else {
                let mut parts = parent.split('/');
                let mut d = dir.dir(parts.next().unwrap_or(parent))?;
                for c in parts {
                    d = d.dir(c)?;
                }
                d.file(name, &text)?;
            }
        }
        for id in self.state.blocks.keys() {
            let d = mem.dir(format!("memory{}", id.0))?;
            for a in BLOCK_FILES.iter().filter(|a| a.export && (a.present)(self)) {
                d.file(a.name, &(a.show)(self, *id))?;
            }
            let nid = self.state.blocks[id].nid;
            d.link(&format!("node{nid}"), &format!("../../node/node{nid}"))?;
        }
        Ok(())
    }

    fn sysfs(&self, path: &str) -> String {
        self.read(path).unwrap_or_default()
    }
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

    /// The subdirectory `name`, emptied of an earlier export first.
    fn fresh_dir(&self, name: &str) -> Result<Tree> {
        let n = Path::new(name);
        match self.kind(n)? {
            Some(fdio::FileType::Symlink) => return Err(self.refuse_link(n)),
            Some(fdio::FileType::Directory) => self.remove_tree(n)?,
            _ => {}
        }
        self.dir(name)
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
