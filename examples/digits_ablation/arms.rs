//! The arms of the ablation: what each mixes and which loss it trains with, with the
//! papers' settings (Mixup's and CutMix's alpha 1 as on CIFAR, ResizeMix's scale
//! (0.1, 0.8), FMix's alpha 1 and decay 3, smoothing 0.1, RegMixup's alpha 20 and
//! eta 1 as on CIFAR-10).

use burn::tensor::{Device, Tensor};
use burn_mixup::{
    BinaryCrossEntropy, BinaryCrossEntropyConfig, LabelSmoothingCrossEntropy,
    LabelSmoothingCrossEntropyConfig, LossError, MixConfig, MixedBatch, RegMixupBatch,
    SmoothingConvention,
};

/// The training loss of an arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    /// Softmax cross-entropy with label smoothing `eps` (0: plain).
    CrossEntropy {
        smoothing: f64,
        convention: SmoothingConvention,
    },
    /// timm's binary cross-entropy on the mixed targets, summed over classes and
    /// averaged over samples (`sum_classes`): the mean over every element would
    /// divide each logit's gradient by the 10 classes, so at the same learning rate
    /// it would train ten times slower than cross-entropy; the per-sample sum keeps
    /// the gradient's scale comparable (timm's recipes raise the rate instead).
    Bce,
}

/// One arm: a name (as `--arms` takes it), what it mixes, its loss, and for
/// RegMixup the weight `eta` of the mixed term (each step then trains on the clean
/// batch and its mixed copy).
#[derive(Debug, Clone)]
pub struct Arm {
    pub name: &'static str,
    pub mixing: MixConfig,
    pub loss: Loss,
    pub regmixup_eta: Option<f64>,
}

const PLAIN: Loss = Loss::CrossEntropy {
    smoothing: 0.0,
    convention: SmoothingConvention::Uniform,
};

fn smoothed(convention: SmoothingConvention) -> Loss {
    Loss::CrossEntropy {
        smoothing: 0.1,
        convention,
    }
}

/// Every arm, in the order the tables show them.
pub fn all() -> Vec<Arm> {
    let arm = |name, mixing, loss| Arm {
        name,
        mixing,
        loss,
        regmixup_eta: None,
    };
    vec![
        arm("erm", MixConfig::mixup(0.0), PLAIN),
        arm("mixup", MixConfig::mixup(1.0), PLAIN),
        arm(
            "ls-uniform",
            MixConfig::mixup(0.0),
            smoothed(SmoothingConvention::Uniform),
        ),
        arm(
            "ls-off-target",
            MixConfig::mixup(0.0),
            smoothed(SmoothingConvention::OffTarget),
        ),
        arm(
            "mixup-ls",
            MixConfig::mixup(1.0),
            smoothed(SmoothingConvention::Uniform),
        ),
        arm("cutmix", MixConfig::cutmix(1.0), PLAIN),
        arm("resizemix", MixConfig::resizemix(0.1, 0.8), PLAIN),
        arm("fmix", MixConfig::fmix(1.0, 3.0), PLAIN),
        arm("mixup-bce", MixConfig::mixup(1.0), Loss::Bce),
        Arm {
            regmixup_eta: Some(1.0),
            ..arm("regmixup", MixConfig::mixup(20.0), PLAIN)
        },
    ]
}

/// The arms named in `list` (comma separated, as `--arms` takes it), in the order
/// given; an unknown name is an error naming it and the known ones.
pub fn select(list: &str) -> Result<Vec<Arm>, String> {
    let known = all();
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            known
                .iter()
                .find(|arm| arm.name == name)
                .cloned()
                .ok_or_else(|| {
                    let names: Vec<&str> = known.iter().map(|a| a.name).collect();
                    format!("unknown arm {name:?}; the arms are {}", names.join(", "))
                })
        })
        .collect()
}

/// An arm's loss, built on a device: the smoothed cross-entropy, or timm's BCE
/// when the arm trains with it.
pub struct Criterion {
    cross_entropy: LabelSmoothingCrossEntropy,
    bce: Option<BinaryCrossEntropy>,
}

impl Criterion {
    pub fn new(loss: Loss, device: &Device) -> Result<Self, LossError> {
        let (smoothing, convention) = match loss {
            Loss::CrossEntropy {
                smoothing,
                convention,
            } => (smoothing, convention),
            Loss::Bce => (0.0, SmoothingConvention::Uniform),
        };
        Ok(Self {
            cross_entropy: LabelSmoothingCrossEntropyConfig::new()
                .with_smoothing(smoothing)
                .with_convention(convention)
                .init(device)?,
            bce: match loss {
                Loss::Bce => Some(
                    BinaryCrossEntropyConfig::new()
                        .with_smoothing(0.0)
                        .with_sum_classes(true)
                        .init(device)?,
                ),
                Loss::CrossEntropy { .. } => None,
            },
        })
    }

    /// RegMixup's loss: the clean rows' cross-entropy plus eta times the mixup
    /// criterion of the mixed rows.
    pub fn regmixup_loss(
        &self,
        logits: Tensor<2>,
        batch: &RegMixupBatch<4>,
    ) -> Result<Tensor<1>, LossError> {
        batch.try_loss(logits, &self.cross_entropy)
    }

    /// The loss of `logits` on the mixed batch (one pass, closed form).
    pub fn loss(&self, logits: Tensor<2>, batch: &MixedBatch<4>) -> Result<Tensor<1>, LossError> {
        match &self.bce {
            Some(bce) => bce.try_forward_mixed(logits, batch),
            None => batch.try_loss(logits, &self.cross_entropy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arms_are_selected_by_name_in_order() {
        let names = |arms: Vec<Arm>| arms.iter().map(|a| a.name).collect::<Vec<_>>();
        assert_eq!(names(select("fmix, erm").unwrap()), ["fmix", "erm"]);
        assert_eq!(all().len(), 10);
        let error = select("erm,mixupp").unwrap_err();
        assert!(
            error.contains("\"mixupp\"") && error.contains("regmixup"),
            "{error}"
        );
        for arm in all() {
            arm.mixing.init().unwrap();
            Criterion::new(arm.loss, &Device::flex()).unwrap();
        }
    }
}
