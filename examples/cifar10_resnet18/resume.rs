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
