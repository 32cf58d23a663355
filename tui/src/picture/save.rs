//! Writing a picture under the directory the user named (--svg-out): a plain file name, in
//! that directory or the run's per-architecture directory below it, no link followed, no
//! path outside it.

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
/// anything but a directory or a regular file where one is expected is refused.
#[cfg(unix)]
pub fn write_under(root: &Path, sub: &str, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
    use rustix::fs::{mkdirat, openat, Mode, OFlags, CWD};
    use std::io::Write as _;
    check_name(name)?;
    let io = |what: &Path, e: rustix::io::Errno| match e {
        rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR => format!(
            "{}: a link or not a directory, where save() follows no link",
            what.display()
        ),
        e => format!("{}: {e}", what.display()),
    };
    // The directory the user named may itself be a link they made; below it nothing is
    // followed.
    if root.metadata().is_ok_and(|m| !m.is_dir()) {
        return Err(format!(
            "{} is not a directory: --svg-out names the directory pictures go in",
            root.display()
        ));
    }
    match std::fs::create_dir_all(root) {
        Ok(()) => {}
        Err(e) => return Err(format!("{}: {e}", root.display())),
    }
    let dir_flags = OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC;
    let mut dir =
        openat(CWD, root, dir_flags & !OFlags::NOFOLLOW, Mode::empty()).map_err(|e| io(root, e))?;
    let mut path = root.to_path_buf();
    if !sub.is_empty() {
        check_name(sub)?;
        path.push(sub);
        match mkdirat(&dir, sub, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(io(&path, e)),
        }
        dir = openat(&dir, sub, dir_flags, Mode::empty()).map_err(|e| io(&path, e))?;
    }
    path.push(name);
    let fd = openat(
        &dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .map_err(|e| io(&path, e))?;
    let mut f = std::fs::File::from(fd);
    if !f.metadata().map(|m| m.is_file()).unwrap_or(false) {
        return Err(format!("{}: not a regular file", path.display()));
    }
    f.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

#[cfg(not(unix))]
pub fn write_under(_: &Path, _: &str, _: &str, _: &[u8]) -> Result<PathBuf, String> {
    Err("writing pictures needs a Unix system".to_string())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn names_and_links_are_refused() {
        let d = std::env::temp_dir().join(format!("hl-save-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        for bad in ["", ".hidden", "a/b", "../x", "x\ny"] {
            assert!(write_under(&d, "", bad, b"x").is_err(), "{bad:?}");
        }
        let p = write_under(&d, "x86_64@7.3", "map.svg", b"<svg/>").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"<svg/>");
        // A link where the file goes is not followed.
        let target = d.join("target");
        std::fs::write(&target, b"keep").unwrap();
        std::os::unix::fs::symlink(&target, d.join("link.svg")).unwrap();
        assert!(write_under(&d, "", "link.svg", b"new").is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        // Nor is a link where the per-architecture directory goes.
        std::os::unix::fs::symlink("/tmp", d.join("arm64")).unwrap();
        assert!(write_under(&d, "arm64", "map.svg", b"x").is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
