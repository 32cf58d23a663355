//! The one error type of the model: each variant is an errno the kernel returns, with the
//! reason in the kernel's terms.

/// The kernel's errno values this model returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Errno {
    EPERM,
    ENOENT,
    EINTR,
    ENXIO,
    ENOMEM,
    EBUSY,
    EEXIST,
    ENODEV,
    EINVAL,
    ENOSPC,
    ERANGE,
    E2BIG,
    EOPNOTSUPP,
    EIO,
    EACCES,
    ENOTDIR,
    EISDIR,
    EROFS,
    ETIMEDOUT,
}

impl Errno {
    /// The symbolic name, e.g. "EINVAL".
    pub const fn name(self) -> &'static str {
        match self {
            Errno::EPERM => "EPERM",
            Errno::ENOENT => "ENOENT",
            Errno::EINTR => "EINTR",
            Errno::ENXIO => "ENXIO",
            Errno::ENOMEM => "ENOMEM",
            Errno::EBUSY => "EBUSY",
            Errno::EEXIST => "EEXIST",
            Errno::ENODEV => "ENODEV",
            Errno::EINVAL => "EINVAL",
            Errno::ENOSPC => "ENOSPC",
            Errno::ERANGE => "ERANGE",
            Errno::E2BIG => "E2BIG",
            Errno::EOPNOTSUPP => "EOPNOTSUPP",
            Errno::EIO => "EIO",
            Errno::EACCES => "EACCES",
            Errno::ENOTDIR => "ENOTDIR",
            Errno::EISDIR => "EISDIR",
            Errno::EROFS => "EROFS",
            Errno::ETIMEDOUT => "ETIMEDOUT",
        }
    }

    /// The negative number the kernel returns (include/uapi/asm-generic/errno*.h).
    pub const fn code(self) -> i64 {
        -(match self {
            Errno::EPERM => 1,
            Errno::ENOENT => 2,
            Errno::EINTR => 4,
            Errno::ENXIO => 6,
            Errno::E2BIG => 7,
            Errno::ENOMEM => 12,
            Errno::EBUSY => 16,
            Errno::EEXIST => 17,
            Errno::ENODEV => 19,
            Errno::EINVAL => 22,
            Errno::ENOSPC => 28,
            Errno::ERANGE => 34,
            Errno::EOPNOTSUPP => 95,
            Errno::EIO => 5,
            Errno::EACCES => 13,
            Errno::ENOTDIR => 20,
            Errno::EISDIR => 21,
            Errno::EROFS => 30,
            Errno::ETIMEDOUT => 110,
        })
    }
}

/// A failed operation. Displays as `EINVAL: reason`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MmError {
    #[error("EINVAL: {0}")]
    Invalid(String),
    #[error("EBUSY: {0}")]
    Busy(String),
    #[error("ENOMEM: {0}")]
    NoMemory(String),
    #[error("EEXIST: {0}")]
    Exists(String),
    #[error("ENOSPC: {0}")]
    NoSpace(String),
    #[error("EOPNOTSUPP: {0}")]
    NotSupported(String),
    #[error("E2BIG: {0}")]
    TooBig(String),
    #[error("EPERM: {0}")]
    NotPermitted(String),
    #[error("ENOENT: {0}")]
    NotFound(String),
    #[error("ERANGE: {0}")]
    OutOfRange(String),
    #[error("EINTR: {0}")]
    Interrupted(String),
    #[error("ENODEV: {0}")]
    NoDevice(String),
    #[error("ENXIO: {0}")]
    NoSuchAddress(String),
    #[error("EIO: {0}")]
    Io(String),
    #[error("EACCES: {0}")]
    AccessDenied(String),
    #[error("ENOTDIR: {0}")]
    NotADirectory(String),
    #[error("EISDIR: {0}")]
    IsADirectory(String),
    #[error("EROFS: {0}")]
    ReadOnly(String),
    /// The operation failed part way and the driver undid it its own way, which leaves the
    /// machine not quite as it was (pseries DLPAR adds back the LMBs a failed removal took,
    /// onlined). EINVAL, as the driver reports it.
    #[error("EINVAL: {0}")]
    Redone(String),
    /// The same for a driver that reports -EBUSY: an ACPI eject that could not offline a
    /// block puts the blocks it offlined back online with device_online(), whose zone may
    /// differ from before.
    #[error("EBUSY: {0}")]
    RedoneBusy(String),
    /// The caller's [`crate::watchdog::Watchdog`] stopped a long operation: its deadline
    /// passed (ETIMEDOUT) or it was cancelled (EINTR). Not the kernel's: the caller's.
    #[error("{}: {reason}", errno.name())]
    Stopped { errno: Errno, reason: String },
}

impl MmError {
    /// The errno of this error.
    pub fn errno(&self) -> Errno {
        match self {
            MmError::Invalid(_) | MmError::Redone(_) => Errno::EINVAL,
            MmError::Busy(_) | MmError::RedoneBusy(_) => Errno::EBUSY,
            MmError::NoMemory(_) => Errno::ENOMEM,
            MmError::Exists(_) => Errno::EEXIST,
            MmError::NoSpace(_) => Errno::ENOSPC,
            MmError::NotSupported(_) => Errno::EOPNOTSUPP,
            MmError::TooBig(_) => Errno::E2BIG,
            MmError::NotPermitted(_) => Errno::EPERM,
            MmError::NotFound(_) => Errno::ENOENT,
            MmError::OutOfRange(_) => Errno::ERANGE,
            MmError::Interrupted(_) => Errno::EINTR,
            MmError::NoDevice(_) => Errno::ENODEV,
            MmError::NoSuchAddress(_) => Errno::ENXIO,
            MmError::Io(_) => Errno::EIO,
            MmError::AccessDenied(_) => Errno::EACCES,
            MmError::NotADirectory(_) => Errno::ENOTDIR,
            MmError::IsADirectory(_) => Errno::EISDIR,
            MmError::ReadOnly(_) => Errno::EROFS,
            MmError::Stopped { errno, .. } => *errno,
        }
    }

    /// The reason, without the errno.
    pub fn reason(&self) -> &str {
        match self {
            MmError::Invalid(r)
            | MmError::Redone(r)
            | MmError::RedoneBusy(r)
            | MmError::Busy(r)
            | MmError::NoMemory(r)
            | MmError::Exists(r)
            | MmError::NoSpace(r)
            | MmError::NotSupported(r)
            | MmError::TooBig(r)
            | MmError::NotPermitted(r)
            | MmError::NotFound(r)
            | MmError::OutOfRange(r)
            | MmError::Interrupted(r)
            | MmError::NoDevice(r)
            | MmError::NoSuchAddress(r)
            | MmError::Io(r)
            | MmError::AccessDenied(r)
            | MmError::NotADirectory(r)
            | MmError::IsADirectory(r)
            | MmError::ReadOnly(r)
            | MmError::Stopped { reason: r, .. } => r,
        }
    }
}

impl MmError {
    /// Whether the failed operation left the machine changed, as the kernel's undo does
    /// (every other error leaves it exactly as it was).
    pub fn left_changed(&self) -> bool {
        matches!(self, MmError::Redone(_) | MmError::RedoneBusy(_))
    }

    /// Whether the caller's watchdog stopped the operation (not the kernel's error: a
    /// driver that retries a failed step later must give up at once on this one).
    pub fn is_stopped(&self) -> bool {
        matches!(self, MmError::Stopped { .. })
    }

    /// The error of `errno` with `reason` (what another layer's error becomes when a
    /// script catches it).
    pub fn with_errno(errno: Errno, reason: String) -> MmError {
        match errno {
            Errno::EPERM => MmError::NotPermitted(reason),
            Errno::ENOENT => MmError::NotFound(reason),
            Errno::EINTR => MmError::Interrupted(reason),
            Errno::ENXIO => MmError::NoSuchAddress(reason),
            Errno::ENOMEM => MmError::NoMemory(reason),
            Errno::EBUSY => MmError::Busy(reason),
            Errno::EEXIST => MmError::Exists(reason),
            Errno::ENODEV => MmError::NoDevice(reason),
            Errno::EINVAL => MmError::Invalid(reason),
            Errno::ENOSPC => MmError::NoSpace(reason),
            Errno::ERANGE => MmError::OutOfRange(reason),
            Errno::E2BIG => MmError::TooBig(reason),
            Errno::EOPNOTSUPP => MmError::NotSupported(reason),
            Errno::EIO => MmError::Io(reason),
            Errno::EACCES => MmError::AccessDenied(reason),
            Errno::ENOTDIR => MmError::NotADirectory(reason),
            Errno::EISDIR => MmError::IsADirectory(reason),
            Errno::EROFS => MmError::ReadOnly(reason),
            Errno::ETIMEDOUT => MmError::Stopped { errno, reason },
        }
    }

    /// An I/O error of the host, as the errno the host's call returned, with what was being
    /// done.
    pub fn from_io(what: impl std::fmt::Display, e: &std::io::Error) -> MmError {
        use std::io::ErrorKind as K;
        let r = format!("{what}: {e}");
        match e.kind() {
            K::NotFound => MmError::NotFound(r),
            K::PermissionDenied => MmError::AccessDenied(r),
            K::AlreadyExists => MmError::Exists(r),
            K::NotADirectory => MmError::NotADirectory(r),
            K::IsADirectory => MmError::IsADirectory(r),
            K::ReadOnlyFilesystem => MmError::ReadOnly(r),
            K::StorageFull => MmError::NoSpace(r),
            K::OutOfMemory => MmError::NoMemory(r),
            K::InvalidInput => MmError::Invalid(r),
            _ => MmError::Io(r),
        }
    }
}

/// Characters of a bad value an error message shows: at most 80 with the quotes and what
/// follows a cut.
const SHOWN: usize = 64;

/// `text` in double quotes for an error message, cut to its first 64 characters (with how
/// long it was) when it is longer: a 30 MB line of input is not worth repeating whole.
pub fn quote(text: &str) -> String {
    match text.char_indices().nth(SHOWN) {
        None => format!("{text:?}"),
        Some((cut, _)) => format!("{:?}... ({} bytes)", &text[..cut], text.len()),
    }
}

/// `text` as it is for an error message (a name, a token), cut as [`quote`] cuts.
pub fn clip(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(SHOWN) {
        None => text.into(),
        Some((cut, _)) => format!("{}... ({} bytes)", &text[..cut], text.len()).into(),
    }
}

/// Every word of a message longer than [`clip`] allows, cut: for messages made elsewhere
/// (a parser's) that repeat what they were given.
pub fn clip_words(text: &str) -> String {
    if text.len() <= SHOWN {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len().min(1024));
    let mut rest = text;
    while let Some(i) = rest.find(|c: char| !c.is_whitespace()) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        // A word [`quote`] or [`clip`] has cut already (its escapes may make it longer).
        if word.ends_with("...") && word.len() <= SHOWN * 10 + 8 {
            out.push_str(word);
        } else {
            out.push_str(&clip(word));
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Shorthand for results of this crate.
pub type Result<T, E = MmError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_are_short() {
        assert_eq!(clip("online"), "online");
        let long = "y".repeat(1 << 20);
        assert!(clip(&long).len() < 90);
        let msg = format!("Variable not found: {long} (line 1)");
        let c = clip_words(&msg);
        assert!(c.starts_with("Variable not found: yyy"), "{c}");
        assert!(c.ends_with("... (1048576 bytes) (line 1)"), "{c}");
        // What quote() and clip() cut is not cut again.
        let q = format!("unknown option {} (it takes a, b)", quote(&long));
        assert_eq!(clip_words(&q), q);
        assert_eq!(clip_words(&c), c);
    }

    #[test]
    fn quotes_are_short() {
        assert_eq!(quote("online "), "\"online \"");
        let long = "x".repeat(30 << 20);
        let q = quote(&long);
        assert!(q.len() < 100, "{q}");
        assert!(q.ends_with("... (31457280 bytes)"), "{q}");
        // Cut on a character boundary.
        assert!(quote(&"é".repeat(100)).contains("... (200 bytes)"));
    }

    #[test]
    fn display_and_codes() {
        let e = MmError::Invalid("Block size [0x8000000] unaligned".into());
        assert_eq!(e.to_string(), "EINVAL: Block size [0x8000000] unaligned");
        assert_eq!(e.errno().code(), -22);
        assert_eq!(MmError::Busy(String::new()).errno().code(), -16);
        assert_eq!(Errno::EOPNOTSUPP.code(), -95);
        assert_eq!(Errno::E2BIG.name(), "E2BIG");
        assert_eq!(Errno::ENXIO.code(), -6);
    }
}
