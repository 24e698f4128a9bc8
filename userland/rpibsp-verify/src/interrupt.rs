//! SIGINT/SIGTERM during a run: the checks stop and every driven line is released.
//!
//! The signal handlers (installed by `signal-hook`'s `flag` module) only set an atomic flag,
//! which is async-signal-safe; a watchdog thread polls the flags every 20 ms (no self-pipe:
//! the board's kernel has no AF_UNIX sockets, which signal-hook's iterator needs); everything
//! else happens in ordinary threads:
//!
//! * the run sees [`Interrupt::signal`] (through [`crate::platform::Platform::interrupted`]):
//!   waits return early, no further button is pressed, no further result is recorded, the
//!   outputs are released and the report ends with a failing case that names the signal; the
//!   binary then exits with 128 + the signal number (130 for SIGINT, 143 for SIGTERM);
//! * a watchdog thread gives the run [`Interrupt::install`]'s grace period to do that. If the
//!   run is stuck (a read or ioctl that does not return), or a second signal arrives, it runs
//!   the cleanups registered with [`Interrupt::on_forced_exit`] (the real platform's: put
//!   every driven pin back to input) and exits with the same status.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};

type Cleanup = Box<dyn Fn() + Send>;

#[derive(Default)]
struct Shared {
    /// 0: no signal yet; else the first signal's number.
    signal: AtomicI32,
    cleanups: Mutex<Vec<Cleanup>>,
}

/// Whether (and by which signal) the run was interrupted. Cheap to clone; all clones share
/// the state.
#[derive(Clone, Default)]
pub struct Interrupt(Arc<Shared>);

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupt")
            .field("signal", &self.signal())
            .finish()
    }
}

/// The handlers could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InterruptError {
    /// signal-hook refused (e.g. a forbidden signal).
    #[error("cannot install the SIGINT/SIGTERM handlers: {0}")]
    Install(#[source] std::io::Error),
    /// The watchdog thread could not be started.
    #[error("cannot start the signal watchdog thread: {0}")]
    Thread(#[source] std::io::Error),
}

impl Interrupt {
    /// A flag that no signal sets (until [`Interrupt::trigger`]): for runs without handlers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Installs handlers for SIGINT and SIGTERM and the watchdog thread, which forces the
    /// exit (after the cleanups) when the run has not ended `grace` after the first signal,
    /// or at once on a second signal.
    pub fn install(grace: Duration) -> Result<Self, InterruptError> {
        let interrupt = Interrupt::new();
        // Plain flags set by the handlers, polled by the watchdog: no self-pipe socket, since
        // the board's kernel has no networking (signal-hook's iterator needs AF_UNIX sockets).
        let raised = [
            (SIGINT, Arc::new(AtomicBool::new(false))),
            (SIGTERM, Arc::new(AtomicBool::new(false))),
        ];
        for (sig, flag) in &raised {
            signal_hook::flag::register(*sig, Arc::clone(flag)).map_err(InterruptError::Install)?;
        }
        // A signal raised since the last look (each flag is consumed, so a second one shows).
        let take = move || {
            raised
                .iter()
                .find(|(_, flag)| flag.swap(false, Ordering::SeqCst))
                .map(|(sig, _)| *sig)
        };
        let shared = interrupt.clone();
        std::thread::Builder::new()
            .name("signal-watchdog".into())
            .spawn(move || {
                let first = loop {
                    if let Some(sig) = take() {
                        break sig;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                };
                shared.trigger(first);
                let until = Instant::now() + grace;
                while Instant::now() < until && take().is_none() {
                    std::thread::sleep(Duration::from_millis(20));
                }
                shared.run_cleanups();
                eprintln!(
                    "rpibsp-verify: {}: the checks did not stop within {:.1} s; driven lines released, exiting",
                    signal_name(first),
                    grace.as_secs_f64()
                );
                std::process::exit(exit_code(first));
            })
            .map_err(InterruptError::Thread)?;
        Ok(interrupt)
    }

    /// The first signal received, if any.
    pub fn signal(&self) -> Option<i32> {
        match self.0.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Records `signal` as if it had arrived (the first one wins); returns whether it was the
    /// first.
    pub fn trigger(&self, signal: i32) -> bool {
        self.0
            .signal
            .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// Registers what must happen even when the run does not end by itself (release driven
    /// lines). Runs in the watchdog thread, so it must not wait for the run.
    pub fn on_forced_exit(&self, cleanup: impl Fn() + Send + 'static) {
        self.0
            .cleanups
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Box::new(cleanup));
    }

    /// Runs the registered cleanups (what the watchdog does before a forced exit).
    pub fn run_cleanups(&self) {
        let cleanups = self
            .0
            .cleanups
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for c in cleanups.iter() {
            c();
        }
    }
}

/// Exit status after `signal`: 128 + its number, as shells report it (130 SIGINT, 143 SIGTERM).
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// `SIGINT`, `SIGTERM` or `signal N`.
pub fn signal_name(signal: i32) -> String {
    match signal {
        SIGINT => "SIGINT".into(),
        SIGTERM => "SIGTERM".into(),
        n => format!("signal {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_signal_wins_and_names_and_codes() {
        let i = Interrupt::new();
        assert_eq!(i.signal(), None);
        assert!(i.trigger(SIGTERM));
        assert!(!i.trigger(SIGINT));
        assert_eq!(i.clone().signal(), Some(SIGTERM));
        assert_eq!(exit_code(SIGINT), 130);
        assert_eq!(exit_code(SIGTERM), 143);
        assert_eq!(signal_name(SIGTERM), "SIGTERM");
        assert_eq!(signal_name(1), "signal 1");
    }

    #[test]
    fn cleanups_run_on_demand() {
        let i = Interrupt::new();
        let hits = Arc::new(AtomicI32::new(0));
        let h = hits.clone();
        i.on_forced_exit(move || {
            h.fetch_add(1, Ordering::SeqCst);
        });
        i.run_cleanups();
        i.run_cleanups();
        assert_eq!(hits.load(Ordering::SeqCst), 2);
    }
}
