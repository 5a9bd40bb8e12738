//! SIGINT (Ctrl-C) and SIGTERM (what SLURM, Kubernetes and `kill` send before
//! SIGKILL) stop a run the same way: burn-train's `Interrupter` ends the epoch in
//! progress, the last finished epoch stays saved, and the binary exits with
//! `128 + signal` (130, 143), the status a shell gives a process ended by that
//! signal, so schedulers that requeue on 143 keep working and a stopped run is never
//! mistaken for a finished one. A second signal exits at once with that status.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use burn::train::Interrupter;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The first signal caught, shared with the thread that waits for them.
#[derive(Debug, Clone, Default)]
pub struct Caught(Arc<AtomicI32>);

impl Caught {
    /// The signal that stopped the run, if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.0.load(Ordering::SeqCst) {
            0 => None,
            signal => Some(signal),
        }
    }
}

/// The name of a signal this module handles.
pub fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "SIGINT (Ctrl-C)",
        SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}

/// The exit status of a run stopped by `signal`.
pub fn exit_status(signal: i32) -> i32 {
    128 + signal
}

/// Routes SIGINT and SIGTERM to `interrupter` for the rest of the process.
pub fn install(interrupter: Interrupter) -> std::io::Result<Caught> {
    let caught = Caught::default();
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    let first = caught.clone();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if first
                    .0
                    .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
                {
                    // A closed stderr must not keep the process alive: write, ignore.
                    let _ = writeln!(std::io::stderr(), "\n{}: exiting at once", name(signal));
                    std::process::exit(exit_status(signal));
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "\n{}: stopping; the last finished epoch is saved (send it again to quit now)",
                    name(signal)
                );
                interrupter.stop(Some(name(signal)));
            }
        })?;
    Ok(caught)
}
