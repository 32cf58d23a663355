//! When a long operation must give up: the caller's deadline and cancel switch, looked at
//! inside the loops over blocks, sections, resources and files, as a kernel loop looks at
//! signal_pending() and returns -EINTR. The operation then fails as a whole (its
//! transaction puts the machine back).

use crate::error::{Errno, MmError, Result};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Calls to [`Watchdog::check`] between two looks at the clock: a loop step costs about a
/// microsecond at most, so a deadline is seen within a fraction of a millisecond.
const CLOCK_EVERY: u32 = 64;

/// A deadline and a cancel switch that long operations look at. The default watches
/// nothing; clones share one.
#[derive(Debug, Clone, Default)]
pub struct Watchdog {
    inner: Option<Arc<Inner>>,
}

#[derive(Debug)]
struct Inner {
    cancel: Arc<AtomicBool>,
    /// What an interrupted operation says.
    interrupted: String,
    /// When operations must have ended, and what one that runs past it says.
    deadline: Mutex<Option<(Instant, String)>>,
    ticks: AtomicU32,
}

impl Watchdog {
    /// A watchdog on `cancel`: while it is set, every watched loop fails with EINTR and
    /// `interrupted` as the reason.
    pub fn new(cancel: Arc<AtomicBool>, interrupted: impl Into<String>) -> Watchdog {
        Watchdog {
            inner: Some(Arc::new(Inner {
                cancel,
                interrupted: interrupted.into(),
                deadline: Mutex::new(None),
                ticks: AtomicU32::new(0),
            })),
        }
    }

    /// From now on, operations still running at `at` fail with ETIMEDOUT and `why`.
    pub fn set_deadline(&self, at: Instant, why: impl Into<String>) {
        if let Some(i) = &self.inner {
            if let Ok(mut d) = i.deadline.lock() {
                *d = Some((at, why.into()));
            }
        }
    }

    /// Whether this watchdog watches anything.
    pub fn is_armed(&self) -> bool {
        self.inner.is_some()
    }

    /// One step of a long loop: an error once the switch is set or the deadline has passed
    /// (the clock is read every [`CLOCK_EVERY`] steps).
    #[inline]
    pub fn check(&self) -> Result<()> {
        let Some(i) = &self.inner else {
            return Ok(());
        };
        if i.cancel.load(Ordering::Relaxed) {
            return Err(MmError::Stopped {
                errno: Errno::EINTR,
                reason: i.interrupted.clone(),
            });
        }
        if i.ticks.fetch_add(1, Ordering::Relaxed) % CLOCK_EVERY != 0 {
            return Ok(());
        }
        self.check_clock()
    }

    /// [`Watchdog::check`], reading the clock now.
    pub fn check_now(&self) -> Result<()> {
        let Some(i) = &self.inner else {
            return Ok(());
        };
        if i.cancel.load(Ordering::Relaxed) {
            return Err(MmError::Stopped {
                errno: Errno::EINTR,
                reason: i.interrupted.clone(),
            });
        }
        self.check_clock()
    }

    fn check_clock(&self) -> Result<()> {
        let Some(i) = &self.inner else {
            return Ok(());
        };
        let Ok(d) = i.deadline.lock() else {
            return Ok(());
        };
        match &*d {
            Some((at, why)) if Instant::now() > *at => Err(MmError::Stopped {
                errno: Errno::ETIMEDOUT,
                reason: why.clone(),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn watches_nothing_by_default() {
        let w = Watchdog::default();
        for _ in 0..1000 {
            assert!(w.check().is_ok());
        }
    }

    #[test]
    fn cancel_and_deadline() {
        let cancel = Arc::new(AtomicBool::new(false));
        let w = Watchdog::new(cancel.clone(), "interrupted");
        assert!(w.check_now().is_ok());
        w.set_deadline(Instant::now() - Duration::from_millis(1), "too late");
        let e = w.check_now().unwrap_err();
        assert_eq!(e.errno(), Errno::ETIMEDOUT);
        assert_eq!(e.reason(), "too late");
        // Within CLOCK_EVERY steps the clock is read.
        assert!((0..=CLOCK_EVERY).any(|_| w.check().is_err()));
        w.set_deadline(Instant::now() + Duration::from_secs(3600), "later");
        cancel.store(true, Ordering::Relaxed);
        let e = w.clone().check().unwrap_err();
        assert_eq!(e.errno(), Errno::EINTR);
        assert_eq!(e.to_string(), "EINTR: interrupted");
    }
}
