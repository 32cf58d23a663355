//! What the binary writes: standard output that reports a full disk and takes a reader
//! that went away (`| head`) as done, and diagnostics on standard error that never panic.

/// The first error writing standard output met, other than a reader that went away.
static STDOUT_ERROR: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Write `text` to standard output. A reader that has gone (`| head`) wants nothing more:
/// that error is dropped rather than panicking as print! would; any other (a full disk) is
/// kept for [`stdout_failed`], and nothing more is written after it.
pub fn emit(text: &str) {
    let Ok(mut failed) = STDOUT_ERROR.lock() else {
        return;
    };
    if failed.is_some() {
        return;
    }
    match emit_checked(text) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => *failed = Some(e.to_string()),
        _ => {}
    }
}

/// Why output [`emit`] wrote was lost, if it was: the command then exits 2, as the ones
/// whose whole answer goes out at once do.
pub fn stdout_failed() -> Option<String> {
    STDOUT_ERROR.lock().ok().and_then(|e| e.clone())
}

/// Write to standard output and say whether it took (a full disk, a closed pipe): for the
/// commands whose output is their answer.
pub fn emit_checked(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// [`emit_checked`], and the exit status it leaves: `ok` when written or when the reader
/// went away (`| head`: it has what it wanted), else 2 with why (a full disk).
pub fn emit_or_fail(
    command: &str,
    text: &str,
    ok: std::process::ExitCode,
) -> std::process::ExitCode {
    match emit_checked(text) {
        Ok(()) => ok,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ok,
        Err(e) => {
            warn(&format!("hotplug-lab {command}: standard output: {e}"));
            std::process::ExitCode::from(2)
        }
    }
}

/// Write a line to standard error, dropping a write error (a closed stderr) rather than
/// panicking as eprintln! would: every diagnostic of the binary goes through here.
pub fn warn(text: &str) {
    use std::io::Write;
    let mut e = std::io::stderr().lock();
    let _ = e.write_all(text.as_bytes());
    let _ = e.write_all(b"\n");
}

/// Write `bytes` to `path`, the file the user named (created or truncated): a link there is
/// not followed (ELOOP), so the write lands nowhere but where the name says.
pub fn write_new_file(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    let mut f = o.open(path)?;
    f.write_all(bytes)
}
