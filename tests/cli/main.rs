//! The example binary as a user runs it (built first with `cargo build --example
//! cifar10_resnet18`, so a stale binary never answers): the bad-input matrix
//! (`matrix.rs`) and the runtime faults (`faults.rs`: divergence, a full disk, a
//! second process, signals, the TUI).
//!
//! `cargo test --test cli -- --nocapture` prints both tables (case, expected, got).

mod common;
mod faults;
mod matrix;
