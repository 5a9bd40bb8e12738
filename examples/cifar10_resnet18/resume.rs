//! What `--resume` keeps from the run it continues: the saved configuration (only
//! `--epochs`, the display flags and `--allow-divergence` may differ), and the last
//! epoch whose checkpoints verify.

use std::path::PathBuf;

use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::checkpoint::last_complete_epoch;
use crate::cli::{Cli, timestamp_dir};
use crate::config::{TrainError, TrainingConfig};
use crate::model::ResNetConfig;

/// A `config.json` written before `--dataset` existed: CIFAR-10 and a three-channel
/// stem, what those runs trained (burn's `Config` derive reads no defaults).
fn with_legacy_defaults(mut json: serde_json::Value) -> serde_json::Value {
    if let Some(config) = json.as_object_mut() {
        config.entry("dataset").or_insert("cifar10".into());
        if let Some(model) = config.get_mut("model").and_then(|m| m.as_object_mut()) {
            model.entry("in_channels").or_insert(3.into());
        }
    }
    json
}

/// What the command line asks for, checked without touching the file system beyond
/// reading a resumed run's `config.json`.
pub struct Plan {
    pub config: TrainingConfig,
    pub dir: PathBuf,
    pub resuming: bool,
}

/// The run's configuration and folder. Nothing is written and no folder is cleaned
/// here: that waits for the folder's lock ([`resume_point`]).
pub fn plan(cli: &Cli, matches: &ArgMatches) -> Result<Plan, TrainError> {
    let Some(dir) = &cli.resume else {
        let config = cli.apply(TrainingConfig::new(ResNetConfig::new()), |_| true);
        config.validate()?;
        let dir = cli.out_dir.clone().unwrap_or_else(timestamp_dir);
        if dir.join("config.json").exists() {
            return Err(TrainError::NotARun {
                path: dir.clone(),
                reason:
                    "it already holds a run; continue it with --resume, or pick another --out-dir"
                        .into(),
            });
        }
        return Ok(Plan {
            config,
            dir,
            resuming: false,
        });
    };
    let not_a_run = |reason: String| TrainError::NotARun {
        path: dir.clone(),
        reason,
    };
    let text = std::fs::read_to_string(dir.join("config.json"))
        .map_err(|e| not_a_run(format!("no readable config.json ({e})")))?;
    let saved: TrainingConfig = serde_json::from_str(&text)
        .and_then(|json| serde_json::from_value(with_legacy_defaults(json)))
        .map_err(|e| not_a_run(format!("config.json is not a run configuration ({e})")))?;
    let typed = |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
    let config = cli.apply(saved.clone(), typed);
    let to_json = |c: &TrainingConfig| serde_json::to_value(c).expect("config serialises");
    let (saved_json, mut given_json) = (to_json(&saved), to_json(&config));
    given_json["epochs"] = saved_json["epochs"].clone();
    if let Some(field) = saved_json
        .as_object()
        .and_then(|s| s.keys().find(|k| s[*k] != given_json[*k]))
    {
        return Err(TrainError::ConfigMismatch {
            dir: dir.clone(),
            saved: saved_json[field].to_string(),
            given: given_json[field].to_string(),
            field: field.clone(),
        });
    }
    config.validate()?;
    Ok(Plan {
        config,
        dir: dir.clone(),
        resuming: true,
    })
}

/// The last finished epoch of the resumed run in `dir` (its lock held): checkpoints
/// verified, leftovers of killed writes removed, and burn-train's logs of the epochs
/// after it cleared, as they are trained again.
pub fn resume_point(
    config: &TrainingConfig,
    dir: &std::path::Path,
) -> Result<Option<usize>, TrainError> {
    let last = last_complete_epoch(dir, config.fingerprint())
        .map_err(|(path, reason)| TrainError::Checkpoint { path, reason })?;
    if let Some(done) = last.filter(|&done| done >= config.epochs) {
        return Err(TrainError::Flag {
            flag: "epochs",
            expected: "more than the epochs already trained (to extend the run)",
            value: format!("{} ({done} done)", config.epochs),
        });
    }
    for split in ["train", "valid"] {
        for epoch in last.unwrap_or(0) + 1..=config.epochs {
            let _ = std::fs::remove_dir_all(dir.join(split).join(format!("epoch-{epoch}")));
        }
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `config.json` of a run written by the previous version (commit `b45b2a9`,
    /// `--synthetic 600 --base-width 4 --val-size 60 --epochs 1 --batch-size 50`),
    /// and the fingerprint its checkpoints carry (bytes 8..16 of
    /// `checkpoint/scheduler-1.bmx`, little-endian): it still reads, as CIFAR-10
    /// with a three-channel stem, and keeps its fingerprint, so the run resumes.
    #[test]
    fn a_run_written_before_dataset_existed_keeps_its_fingerprint() {
        let text = r#"{
  "model": {
    "num_classes": 10,
    "base_width": 4,
    "preact": false
  },
  "mix_off_epoch": null,
  "bce_target_thresh": null,
  "synthetic": 600,
  "train_limit": null,
  "test_limit": null,
  "val_size": 60,
  "epochs": 1,
  "batch_size": 50,
  "lr": 0.1,
  "momentum": 0.9,
  "weight_decay": 0.0002,
  "lr_milestones": [
    50,
    100
  ],
  "lr_gamma": 0.1,
  "mixup_alpha": 1.0,
  "cutmix_alpha": 0.0,
  "switch_prob": 0.5,
  "paste": "CutMix",
  "resizemix_scale": [
    0.1,
    0.8
  ],
  "fmix_decay_power": 3.0,
  "mix_mode": "Batch",
  "smoothing": 0.1,
  "smoothing_convention": "Uniform",
  "loss": "crossentropy",
  "seed": 0,
  "data_dir": "/tmp/data/cifar10",
  "backend": "flex",
  "devices": [
    0
  ],
  "strategy": "multi",
  "workers": 1
}"#;
        let json = serde_json::from_str(text).unwrap();
        let saved: TrainingConfig = serde_json::from_value(with_legacy_defaults(json)).unwrap();
        assert_eq!(saved.dataset, crate::dataset::DatasetKind::Cifar10);
        assert_eq!(saved.model.in_channels, 3);
        let written = u64::from_le_bytes([0x70, 0xda, 0x1d, 0x49, 0xcb, 0x4c, 0x70, 0x86]);
        assert_eq!(saved.fingerprint(), written);
        assert!(
            serde_json::from_str::<TrainingConfig>(text).is_err(),
            "the defaults are needed"
        );
    }
}
