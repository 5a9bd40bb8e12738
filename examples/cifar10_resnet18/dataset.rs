//! Which data set a run trains on, and how its images are found, generated and
//! split: CIFAR-10 (the default) or Fashion-MNIST.

use std::path::Path;

use burn::data::dataset::Dataset as _;

use crate::config::{TrainError, TrainingConfig};
use crate::data::{Cifar10, DataError, RecordCount};
use crate::images::{ImageFormat, ImageSet, Splits, split_balanced};

/// The data set of a run.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    burn::serde::Serialize,
    burn::serde::Deserialize,
)]
#[serde(crate = "burn::serde", rename_all = "kebab-case")]
pub enum DatasetKind {
    /// CIFAR-10's binary release: 50,000 + 10,000 colour images of 32x32.
    Cifar10,
    /// Fashion-MNIST: 60,000 + 10,000 grey photographs of clothing, 28x28.
    FashionMnist,
}

impl DatasetKind {
    pub fn format(self) -> ImageFormat {
        match self {
            Self::Cifar10 => ImageFormat::CIFAR,
            Self::FashionMnist => ImageFormat::FASHION,
        }
    }

    /// `--data-dir` when none is given.
    pub fn default_dir(self) -> &'static str {
        match self {
            Self::Cifar10 => "data/cifar10",
            Self::FashionMnist => "data/fashion-mnist",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cifar10 => "CIFAR-10",
            Self::FashionMnist => "Fashion-MNIST",
        }
    }
}

/// Opens the run's data set (downloading it if allowed) or generates the synthetic
/// one under `out_dir`, then applies --train-limit and --test-limit.
pub fn load(config: &TrainingConfig, out_dir: &Path, download: bool) -> Result<Splits, DataError> {
    let root = &config.data_dir;
    let mut data = match (config.dataset, config.synthetic) {
        (DatasetKind::Cifar10, Some(images)) => {
            let root = out_dir.join("synthetic-data");
            crate::data::write_synthetic(&root, images, (images / 5).max(1), config.seed)?;
            Cifar10::open(&root, RecordCount::Any)?
        }
        (DatasetKind::FashionMnist, Some(images)) => {
            let root = out_dir.join("synthetic-data");
            crate::fashion::write_synthetic(&root, images, (images / 5).max(1), config.seed)?;
            match crate::fashion::open(&root, RecordCount::Any)? {
                crate::idx::Found::Whole(splits) => splits,
                _ => unreachable!("the four files were just written"),
            }
        }
        (DatasetKind::Cifar10, None) => match Cifar10::open(root, RecordCount::Official) {
            Err(DataError::Missing { .. }) if download => {
                let dest = root.join(crate::download::ARCHIVE_NAME);
                eprintln!(
                    "CIFAR-10 not found in {}: downloading {}",
                    root.display(),
                    crate::download::ARCHIVE_URL
                );
                crate::download::fetch(&crate::download::Source::official(), &dest, true)?;
                Cifar10::open(root, RecordCount::Official)?
            }
            other => other?,
        },
        (DatasetKind::FashionMnist, None) => {
            let system = crate::fashion::system_dir();
            let (splits, found_in) =
                crate::fashion::locate(root, &system, download, RecordCount::Official)?;
            if found_in != *root {
                eprintln!("Fashion-MNIST read from {}", found_in.display());
            }
            splits
        }
    };
    if let Some(limit) = config.train_limit {
        data.train.truncate(limit);
    }
    if let Some(limit) = config.test_limit {
        data.test.truncate(limit);
    }
    Ok(data)
}

/// The images a run trains on and those it fits the temperature on.
///
/// `--train-size N` trains on N images chosen class by class, evenly spaced (the
/// same for every seed), and holds the validation images out of those it does
/// not train on; without it they are held out of the training set. A new run
/// holds out a tenth of what it trains on unless told otherwise; a run written
/// before --val-size (`None`) holds out nothing, as it did.
pub fn split_training(
    config: &mut TrainingConfig,
    train: ImageSet,
    resuming: bool,
) -> Result<(ImageSet, ImageSet), TrainError> {
    let total = train.len();
    let flag = |flag, expected, value: String| TrainError::Flag {
        flag,
        expected,
        value,
    };
    let (spare, train) = match config.train_size {
        Some(n) if n > total => {
            return Err(flag(
                "train-size",
                "at most the training images",
                format!("{n} for {total} images"),
            ));
        }
        Some(n) => split_balanced(&train, n),
        None => (ImageSet::empty(train.format()), train),
    };
    if !resuming && config.val_size.is_none() {
        config.val_size = Some(train.len() / 10);
    }
    let held = config.val_size.unwrap_or(0);
    if held == 0 {
        let format = train.format();
        return Ok((train, ImageSet::empty(format)));
    }
    if config.train_size.is_some() {
        if held > spare.len() {
            return Err(flag(
                "val-size",
                "at most the training images --train-size leaves (0 skips the calibration)",
                format!("{held} for {} images", spare.len()),
            ));
        }
        return Ok((train, split_balanced(&spare, held).1));
    }
    if held >= train.len() {
        return Err(flag(
            "val-size",
            "fewer than the training images (0 skips the calibration)",
            format!("{held} for {} images", train.len()),
        ));
    }
    Ok(split_balanced(&train, held))
}
