//! After the last epoch: temperature scaling fitted on the validation images the run
//! held out (`--val-size`), the test set's calibration before and after it in
//! `calibration.json`, and the reliability diagrams in `reliability.svg`.

use std::path::Path;

use burn::data::dataloader::DataLoaderBuilder;
use burn::data::dataset::Dataset;
use burn::tensor::Device;
use burn_mixup::{Binning, CalibrationError, Predictions, Reliability, TemperatureScaling};
use plotters::prelude::*;
use serde_json::json;

use crate::augment::ImageBatcher;
use crate::checkpoint::write_atomically;
use crate::config::TrainError;
use crate::images::{ImageSet, NUM_CLASSES};
use crate::model::ResNet;

/// Bins of the diagram and of the ECE, as the training metric's.
const BINS: usize = 15;

/// What the calibration step found, for the closing line: the temperature (or
/// why there is none) and the test ECE and NLL before and after it.
#[derive(Debug, Clone)]
pub struct Calibrated {
    pub validation_images: usize,
    pub temperature: Result<f64, CalibrationError>,
    pub ece: (f64, f64),
    pub nll: (f64, f64),
}

/// The network's logits on `set` (clean, normalised images), read back as f32,
/// with the labels.
fn logits_of(
    net: &ResNet,
    set: ImageSet,
    device: &Device,
    batch_size: usize,
) -> Result<(Vec<f32>, Vec<i64>), TrainError> {
    let loader = DataLoaderBuilder::new(ImageBatcher::test(set.format()))
        .batch_size(batch_size)
        .set_device(device.clone())
        .build(set);
    let (mut logits, mut labels) = (Vec::new(), Vec::new());
    let read = |e: burn::tensor::TensorReadError| TrainError::Device(e.to_string());
    for batch in loader.iter() {
        let batch = batch.map_err(|e| TrainError::Device(e.to_string()))?;
        logits.extend(
            net.forward(batch.images)
                .try_into_vec_as::<f32>()
                .map_err(read)?,
        );
        labels.extend(batch.targets.try_into_vec_as::<i64>().map_err(read)?);
    }
    Ok((logits, labels))
}

/// The test figures of `predictions`, as `calibration.json` holds them.
fn figures(predictions: &Predictions) -> Result<(serde_json::Value, Reliability), TrainError> {
    let reliability = predictions.reliability(BINS, Binning::EqualWidth)?;
    let adaptive = predictions.reliability(BINS, Binning::EqualMass)?;
    let bins: Vec<_> = reliability
        .bins()
        .iter()
        .map(|b| json!({"lower": b.lower, "upper": b.upper, "count": b.count, "confidence": b.confidence, "accuracy": b.accuracy}))
        .collect();
    Ok((
        json!({
            "accuracy": predictions.accuracy(),
            "mean_confidence": predictions.mean_confidence(),
            "nll": predictions.nll(),
            "brier": predictions.brier(),
            "ece": reliability.ece(),
            "mce": reliability.mce(),
            "rms_calibration_error": reliability.rms(),
            "adaptive_ece": adaptive.ece(),
            "bins": bins,
        }),
        reliability,
    ))
}

/// Fits the temperature on `validation`, measures `test` before and after, and
/// writes `calibration.json` and `reliability.svg` into `dir`. Held-out logits
/// whose NLL has no minimum (a handful of images, all right: T -> 0) give no
/// temperature: that is reported (`"temperature": null` and the reason), and the
/// test figures are those of the raw logits.
pub fn calibrate(
    net: &ResNet,
    validation: ImageSet,
    test: ImageSet,
    device: &Device,
    batch_size: usize,
    dir: &Path,
) -> Result<Calibrated, TrainError> {
    let validation_images = validation.len();
    let (logits, labels) = logits_of(net, validation, device, batch_size)?;
    let fit = match TemperatureScaling::fit(&logits, NUM_CLASSES, &labels) {
        Err(error @ CalibrationError::NoTemperatureMinimum { .. }) => Err(error),
        other => Ok(other?),
    };
    let temperature = fit.as_ref().ok().map(TemperatureScaling::temperature);
    let (logits, labels) = logits_of(net, test, device, batch_size)?;
    let before = Predictions::from_logits(&logits, NUM_CLASSES, &labels)?;
    let after = match &fit {
        Ok(scaling) => {
            Predictions::from_logits(&scaling.apply_host(&logits), NUM_CLASSES, &labels)?
        }
        Err(_) => before.clone(),
    };
    let ((before_json, before_bins), (after_json, after_bins)) =
        (figures(&before)?, figures(&after)?);
    let report = json!({
        "temperature": temperature,
        "temperature_error": fit.as_ref().err().map(ToString::to_string),
        "fitted_on": format!("{validation_images} validation images held out of the training set"),
        "method": "burn_mixup::TemperatureScaling::fit: the exact minimum of the NLL over T",
        "test_images": before.len(),
        "bins": BINS,
        "binning": "torchmetrics: [lo, hi), a bin of its own for a confidence of exactly 1",
        "test_before": before_json,
        "test_after": after_json,
    });
    let path = dir.join("calibration.json");
    let text = serde_json::to_string_pretty(&report).expect("the report serialises");
    write_atomically(&path, text.as_bytes()).map_err(|source| TrainError::Io { path, source })?;
    let path = dir.join("reliability.svg");
    let svg = diagram(&before_bins, &after_bins, temperature).map_err(|e| TrainError::Io {
        path: path.clone(),
        source: std::io::Error::other(e),
    })?;
    write_atomically(&path, svg.as_bytes()).map_err(|source| TrainError::Io { path, source })?;
    Ok(Calibrated {
        validation_images,
        temperature: fit.map(|scaling| scaling.temperature()),
        ece: (before_bins.ece(), after_bins.ece()),
        nll: (before.nll(), after.nll()),
    })
}

/// Two reliability diagrams side by side (before and after scaling): per bin, the
/// accuracy as a bar and the (mean confidence, accuracy) point, the diagonal of
/// perfect calibration, and the images per bin as grey bars along the bottom (the
/// fullest bin reaching 0.15); one legend above both.
pub fn diagram(
    before: &Reliability,
    after: &Reliability,
    temperature: Option<f64>,
) -> Result<String, String> {
    let blue = RGBColor(31, 119, 180).mix(0.7);
    let grey = RGBColor(150, 150, 150);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1100, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, bottom) = root.split_vertically(40);
        let font = ("sans-serif", 16);
        let mut x = 40;
        for (label, swatch) in [
            ("accuracy in the bin", 0),
            ("(mean confidence, accuracy)", 1),
            ("images in the bin (fullest = 0.15)", 2),
            ("perfect calibration", 3),
        ] {
            match swatch {
                0 => top.draw(&Rectangle::new([(x, 14), (x + 16, 30)], blue.filled())),
                1 => top.draw(&Circle::new((x + 8, 22), 5, RED.filled())),
                2 => top.draw(&Rectangle::new([(x, 14), (x + 16, 30)], grey.filled())),
                _ => top.draw(&PathElement::new(
                    [(x, 22), (x + 16, 22)],
                    BLACK.stroke_width(2),
                )),
            }
            .map_err(|e| e.to_string())?;
            top.draw(&Text::new(label, (x + 24, 14), font))
                .map_err(|e| e.to_string())?;
            x += 28 + 8 * label.len() as i32;
        }
        let titles = [
            format!("Test, raw logits: ECE {:.2}%", 100.0 * before.ece()),
            match temperature {
                Some(t) => format!(
                    "Test, logits / T (T = {t:.3}): ECE {:.2}%",
                    100.0 * after.ece()
                ),
                None => "No temperature: see calibration.json".to_string(),
            },
        ];
        for ((area, reliability), title) in bottom
            .split_evenly((1, 2))
            .iter()
            .zip([before, after])
            .zip(titles)
        {
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 20))
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(54)
                .build_cartesian_2d(0f64..1f64, 0f64..1f64)
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc("mean confidence in the bin")
                .y_desc("accuracy in the bin")
                .x_labels(6)
                .y_labels(6)
                .draw()
                .map_err(|e| e.to_string())?;
            let fullest = reliability
                .bins()
                .iter()
                .map(|b| b.count)
                .max()
                .unwrap_or(0)
                .max(1) as f64;
            // The bin [1, 1] has no width: drawn as the last 1/BINS.
            let span = |b: &burn_mixup::ReliabilityBin| {
                if b.upper > b.lower {
                    (b.lower, b.upper)
                } else {
                    (1.0 - 1.0 / BINS as f64, 1.0)
                }
            };
            let filled = || reliability.bins().iter().filter(|b| b.count > 0);
            chart
                .draw_series(filled().map(|b| {
                    let (lo, hi) = span(b);
                    Rectangle::new([(lo, 0.0), (hi, b.accuracy)], blue.filled())
                }))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(filled().map(|b| {
                    let (lo, hi) = span(b);
                    Rectangle::new(
                        [(lo, 0.0), (hi, 0.15 * b.count as f64 / fullest)],
                        grey.filled(),
                    )
                }))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(LineSeries::new(
                    [(0.0, 0.0), (1.0, 1.0)],
                    BLACK.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(
                    filled().map(|b| Circle::new((b.confidence, b.accuracy), 5, RED.filled())),
                )
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{RecordCount, SIDE};
    use crate::images::split_balanced;

    /// The validation split: evenly spaced through each class's list, so balanced,
    /// disjoint from the training images, the same on every call.
    #[test]
    fn the_validation_split_is_balanced_disjoint_and_fixed() {
        let labels: Vec<u8> = (0..100).map(|i| (i * 7 % 10) as u8).collect();
        let bytes: Vec<u8> = labels
            .iter()
            .enumerate()
            .flat_map(|(i, &l)| {
                std::iter::once(l).chain(std::iter::repeat_n(i as u8, 3 * SIDE * SIDE))
            })
            .collect();
        let set =
            crate::data::parse_records(&bytes, Path::new("generated"), RecordCount::Any).unwrap();
        let (train, validation) = split_balanced(&set, 20);
        assert_eq!((train.len(), validation.len()), (80, 20));
        let mut per_class = [0; NUM_CLASSES];
        for &l in validation.labels() {
            per_class[l as usize] += 1;
        }
        assert_eq!(per_class, [2; NUM_CLASSES]);
        // Each image's bytes name it: none is in both splits, none is lost.
        let mut ids: Vec<u8> = (0..80)
            .map(|i| train.image(i)[0])
            .chain((0..20).map(|i| validation.image(i)[0]))
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, (0..100).collect::<Vec<u8>>());
        // Class 0 is images 0, 10, ..., 90: positions 2 and 7 of its list are held out.
        let zeros: Vec<u8> = (0..20)
            .map(|i| validation.image(i)[0])
            .filter(|id| id % 10 == 0)
            .collect();
        assert_eq!(zeros, [20, 70]);
        assert_eq!(split_balanced(&set, 20).1.labels(), validation.labels());
        assert_eq!(split_balanced(&set, 0).0.len(), 100);
        // A class with too few images passes its share on: still exactly n held out.
        let lopsided: Vec<u8> = (0..30u8)
            .flat_map(|i| {
                std::iter::once(u8::from(i >= 2)).chain(std::iter::repeat_n(i, 3 * SIDE * SIDE))
            })
            .collect();
        let set = crate::data::parse_records(&lopsided, Path::new("generated"), RecordCount::Any)
            .unwrap();
        let (train, validation) = split_balanced(&set, 10);
        assert_eq!((train.len(), validation.len()), (20, 10));
    }

    #[test]
    fn the_diagram_draws_both_panels_or_says_why_there_is_no_temperature() {
        let p =
            Predictions::from_logits(&[2.0f32, 0.0, 0.0, 1.0, 3.0, 0.0], 2, &[0, 0, 0]).unwrap();
        let r = p.reliability(BINS, Binning::EqualWidth).unwrap();
        let svg = diagram(&r, &r, Some(1.25)).unwrap();
        assert!(
            svg.contains("Test, raw logits: ECE") && svg.contains("T = 1.250"),
            "{svg}"
        );
        let svg = diagram(&r, &r, None).unwrap();
        assert!(svg.contains("No temperature: see calibration.json"));
    }
}
