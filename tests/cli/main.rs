//! The example binary as a user runs it (built first with `cargo build --example
//! cifar10_resnet18`, so a stale binary never answers): the bad-input matrices
//! (`matrix.rs` for flags and run folders, `data_matrix.rs` for data files) and the
//! runtime faults (`faults.rs`: divergence, a full disk, a second process, signals,
//! the TUI).
//!
//! `cargo test --test cli -- --nocapture` prints the three tables (case, expected,
//! got).

mod common;
mod data_matrix;
mod faults;
mod matrix;
