//! Writing a picture under the directory the user named (--svg-out): a plain file name, in
//! that directory or the run's per-architecture directory below it, no link followed, no
//! path outside it.

use mm::MmError;
use std::path::{Path, PathBuf};

/// A name `save()` accepts: one plain file name, no directory part, not hidden.
pub fn check_name(name: &str) -> Result<(), String> {
    let why = if name.is_empty() {
        "it is empty".to_string()
    } else if name.len() > 255 {
        format!("it is {} bytes, over 255", name.len())
    } else if name.starts_with('.') {
        "it starts with \".\"".to_string()
    } else if name.contains('/') || name.contains('\\') {
        "it has a directory part (\"/\" or \"\\\")".to_string()
    } else if name.chars().any(|c| c.is_control()) {
        "it holds a control character".to_string()
    } else {
        return Ok(());
    };
    Err(format!(
        "{} is not a plain file name: {why}",
        mm::error::quote(name)
    ))
}

/// Write `bytes` to `root/sub/name`: `root` is created if missing; `sub` (a label such as
/// "x86_64@7.3", or empty) and `name` are opened without following links, and a link or
/// anything but a directory or a regular file where one is expected is refused: EINVAL for
/// a name that is not a plain one, EPERM for a link or a non-directory on the way, ENOTDIR
/// when `root` is no directory, EIO for what the file system says.
#[cfg(unix)]
pub fn write_under(root: &Path, sub: &str, name: &str, bytes: &[u8]) -> Result<PathBuf, MmError> {
    use rustix::fs::{mkdirat, openat, Mode, OFlags, CWD};
    use std::io::Write as _;
    check_name(name).map_err(MmError::Invalid)?;
    let io = |what: &Path, e: rustix::io::Errno| match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => MmError::NotPermitted(format!(
            "{}: a link or not a directory, where save() follows no link",
            what.display()
        )),
        // O_NONBLOCK: a FIFO with no reader is refused rather than waited on.
        rustix::io::Errno::NXIO => {
            MmError::NotPermitted(format!("{}: not a regular file", what.display()))
        }
        e => MmError::Io(format!("{}: {e}", what.display())),
    };
    // The directory the user named may itself be a link they made; below it nothing is
    // followed.
    if root.metadata().is_ok_and(|m| !m.is_dir()) {
        return Err(MmError::NotADirectory(format!(
            "{} is not a directory: --svg-out names the directory pictures go in",
            root.display()
        )));
    }
    std::fs::create_dir_all(root).map_err(|e| MmError::Io(format!("{}: {e}", root.display())))?;
    let dir_flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
    let mut dir =
        openat(CWD, root, dir_flags & !OFlags::NOFOLLOW, Mode::empty()).map_err(|e| io(root, e))?;
    let mut path = root.to_path_buf();
    if !sub.is_empty() {
        check_name(sub).map_err(MmError::Invalid)?;
        path.push(sub);
        match mkdirat(&dir, sub, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(io(&path, e)),
        }
        dir = openat(&dir, sub, dir_flags, Mode::empty()).map_err(|e| io(&path, e))?;
    }
    path.push(name);
    // Opened without truncating: only a regular file is cut and written.
    let fd = openat(
        &dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .map_err(|e| io(&path, e))?;
    let mut f = std::fs::File::from(fd);
    if !f.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(MmError::NotPermitted(format!(
            "{}: not a regular file",
            path.display()
        )));
    }
    f.set_len(0)
        .and_then(|()| f.write_all(bytes))
        .map_err(|e| MmError::Io(format!("{}: {e}", path.display())))?;
    Ok(path)
}

#[cfg(not(unix))]
pub fn write_under(_: &Path, _: &str, _: &str, _: &[u8]) -> Result<PathBuf, MmError> {
    Err(MmError::NotSupported(
        "writing pictures needs a Unix system".to_string(),
    ))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn names_and_links_are_refused() {
        let d = std::env::temp_dir().join(format!("hl-save-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for bad in ["", ".hidden", "a/b", "../x", "x\ny"] {
            let e = write_under(&d, "", bad, b"x").unwrap_err();
            assert_eq!(e.errno(), mm::Errno::EINVAL, "{bad:?}");
        }
        let p = write_under(&d, "x86_64@7.3", "map.svg", b"<svg/> and more").unwrap();
        // Written over: the old, longer text is gone.
        let p2 = write_under(&d, "x86_64@7.3", "map.svg", b"<svg/>").unwrap();
        assert_eq!(p, p2);
        assert_eq!(std::fs::read(&p).unwrap(), b"<svg/>");
        // A FIFO where the file goes is refused at once, not waited on.
        let fifo = d.join("fifo.svg");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o644),
            0,
        )
        .unwrap();
        let e = write_under(&d, "", "fifo.svg", b"x").unwrap_err();
        assert_eq!(e.errno(), mm::Errno::EPERM, "{e}");
        // A link where the file goes is not followed.
        let target = d.join("target");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, d.join("link.svg")).unwrap();
        let e = write_under(&d, "", "link.svg", b"new").unwrap_err();
        assert_eq!(e.errno(), mm::Errno::EPERM, "{e}");
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        // Nor is a link where the per-architecture directory goes.
        std::os::unix::fs::symlink("/tmp", d.join("arm64")).unwrap();
        assert!(write_under(&d, "arm64", "map.svg", b"x").is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
