//! The library's integration tests on the ndarray backend, in one binary (one link
//! of Burn instead of one per file).
#![allow(dead_code)]

mod bce;
mod calibration;
mod common;
mod cutmix;
mod dense;
mod dense_maps_cases;
mod fmix;
mod loader;
mod losses;
mod mixer;
mod mixer_options;
mod reference;
mod reference_v2;
mod regmixup;
mod segmentation;
mod train;
