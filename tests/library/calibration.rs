//! Calibration measures and temperature scaling against torchmetrics, netcal and a
//! dense float64 search (`tests/fixtures/calibration.json`, made by
//! `tests/fixtures/make_calibration.py 2026`; tolerances in the fixtures' README).

use burn::tensor::{Device, Int, Tensor, TensorData};
use burn_mixup::{Binning, CalibrationError, Predictions, TemperatureScaling};
use serde_json::Value;

use crate::common::device;

fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/calibration.json"))
        .expect("fixture is valid JSON")
}

fn numbers(value: &Value) -> Vec<f64> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_f64().expect("number"))
        .collect()
}

fn targets(case: &Value) -> Vec<i64> {
    numbers(&case["targets"])
        .into_iter()
        .map(|t| t as i64)
        .collect()
}

fn classes(case: &Value) -> usize {
    case["num_classes"].as_u64().expect("num_classes") as usize
}

fn close(name: &str, ours: f64, theirs: f64, tolerance: f64) {
    assert!(
        (ours - theirs).abs() <= tolerance,
        "{name}: ours {ours}, reference {theirs}, |diff| {} > {tolerance}",
        (ours - theirs).abs()
    );
}

/// Every measure of one case against the fixture: f64 against f64, so 1e-12
/// (summation order alone differs).
fn check_case(case: &Value, predictions: &Predictions) {
    let name = case["name"].as_str().expect("name");
    close(
        &format!("{name} accuracy"),
        predictions.accuracy(),
        case["accuracy"].as_f64().unwrap(),
        1e-12,
    );
    close(
        &format!("{name} confidence"),
        predictions.mean_confidence(),
        case["mean_confidence"].as_f64().unwrap(),
        1e-12,
    );
    close(
        &format!("{name} brier"),
        predictions.brier(),
        case["brier"].as_f64().unwrap(),
        1e-12,
    );
    if case["nll_is_infinite"].as_bool().unwrap() {
        assert_eq!(predictions.nll(), f64::INFINITY, "{name}");
    } else {
        close(
            &format!("{name} nll"),
            predictions.nll(),
            case["nll"].as_f64().unwrap(),
            1e-11,
        );
    }
    for (bins, expected) in case["bins"].as_object().expect("bins") {
        let bins: usize = bins.parse().unwrap();
        let width = predictions.reliability(bins, Binning::EqualWidth).unwrap();
        let label = |what: &str| format!("{name}, {bins} bins: {what}");
        close(
            &label("ECE"),
            width.ece(),
            expected["ece"].as_f64().unwrap(),
            1e-12,
        );
        close(
            &label("MCE"),
            width.mce(),
            expected["mce"].as_f64().unwrap(),
            1e-12,
        );
        close(
            &label("RMS"),
            width.rms(),
            expected["rms"].as_f64().unwrap(),
            1e-12,
        );
        // torchmetrics' public function takes confidences in f32.
        close(
            &label("ECE (f32)"),
            width.ece(),
            expected["ece_torchmetrics_f32"].as_f64().unwrap(),
            1e-6,
        );
        let counts: Vec<f64> = width.bins().iter().map(|b| b.count as f64).collect();
        assert_eq!(
            counts,
            numbers(&expected["bin_counts"]),
            "{}",
            label("counts")
        );
        for (what, ours, theirs) in [
            (
                "bin confidence",
                width
                    .bins()
                    .iter()
                    .map(|b| b.confidence)
                    .collect::<Vec<_>>(),
                &expected["bin_confidence"],
            ),
            (
                "bin accuracy",
                width.bins().iter().map(|b| b.accuracy).collect(),
                &expected["bin_accuracy"],
            ),
        ] {
            for (b, (o, t)) in ours.iter().zip(numbers(theirs)).enumerate() {
                close(&label(&format!("{what} {b}")), *o, t, 1e-12);
            }
        }
        let mass = predictions.reliability(bins, Binning::EqualMass).unwrap();
        close(
            &label("adaptive ECE (numpy)"),
            mass.ece(),
            expected["adaptive_ece_numpy"].as_f64().unwrap(),
            1e-12,
        );
        match expected["adaptive_ece_netcal"].as_f64() {
            Some(netcal) => close(&label("adaptive ECE (netcal)"), mass.ece(), netcal, 1e-12),
            // netcal raises on coinciding quantile edges; the numpy reference above
            // is the same binning with empty bins there.
            None => assert!(
                mass.bins().iter().any(|b| b.count == 0),
                "{}",
                label("netcal refused, yet no empty bin")
            ),
        }
    }
}

#[test]
fn measures_from_logits_match_torchmetrics_and_netcal() {
    let fixture = fixture();
    for case in fixture["logits_cases"].as_array().unwrap() {
        let logits = numbers(&case["logits"]);
        let predictions = Predictions::from_logits(&logits, classes(case), &targets(case)).unwrap();
        check_case(case, &predictions);
    }
}

#[test]
fn measures_from_probabilities_keep_torchmetrics_ties_at_bin_edges() {
    let fixture = fixture();
    let case = &fixture["probability_cases"][0];
    let probabilities = numbers(&case["probabilities"]);
    let predictions =
        Predictions::from_probabilities(&probabilities, classes(case), &targets(case)).unwrap();
    check_case(case, &predictions);
    // The edges hold exactly: 0.5 opens the bin [0.5, 0.75) of 4, 1.0 has its own.
    let four = predictions.reliability(4, Binning::EqualWidth).unwrap();
    assert_eq!((four.bins()[2].lower, four.bins()[2].upper), (0.5, 0.75));
    assert_eq!(
        (
            four.bins()[4].lower,
            four.bins()[4].upper,
            four.bins()[4].count
        ),
        (1.0, 1.0, 2)
    );
}

/// The tensor entry points read back what the host ones take, on ndarray and flex.
#[test]
fn tensor_entry_points_agree_with_the_host_ones_on_ndarray_and_flex() {
    let fixture = fixture();
    let case = &fixture["temperature_cases"][2];
    let (logits, targets, k) = (numbers(&case["logits"]), targets(case), classes(case));
    let host_fit = TemperatureScaling::fit(&logits, k, &targets).unwrap();
    for device in [device(), Device::flex()] {
        let n = targets.len();
        let z = Tensor::<2>::from_data(TensorData::new(logits.clone(), [n, k]), &device);
        let y = Tensor::<1, Int>::from_data(TensorData::new(targets.clone(), [n]), &device);
        // The tensors hold f32: the fit on them matches the host fit on the same
        // f32 values, and lands within f32 rounding of the f64 one.
        let logits_f32: Vec<f32> = logits.iter().map(|&v| v as f32).collect();
        let fit = TemperatureScaling::fit_tensors(z.clone(), y.clone()).unwrap();
        assert_eq!(
            fit,
            TemperatureScaling::fit(&logits_f32, k, &targets).unwrap()
        );
        close(
            "device fit",
            fit.temperature(),
            host_fit.temperature(),
            1e-5,
        );
        let p = Predictions::from_tensors(z.clone(), y).unwrap();
        assert_eq!(
            p,
            Predictions::from_logits(&logits_f32, k, &targets).unwrap()
        );
        let scaled: Vec<f32> = fit.apply(z).try_into_vec_as::<f32>().unwrap();
        for (s, z) in scaled.iter().zip(&logits_f32) {
            close(
                "apply",
                *s as f64,
                *z as f64 / fit.temperature(),
                1e-4 * (1.0 + z.abs() as f64),
            );
        }
    }
}

/// The fit reaches the exact float64 minimum (a dense search, refined to ~1e-9 in
/// log T) on every case, where the reference code of Guo et al. stops early; and
/// it never has a higher NLL than that code's fit.
#[test]
fn temperature_fit_reaches_the_exact_minimum_where_the_reference_code_stops_early() {
    let fixture = fixture();
    let mut report =
        String::from("case | T exact | T ours | T reference code | NLL ours | NLL ref code\n");
    for case in fixture["temperature_cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (logits, targets, k) = (numbers(&case["logits"]), targets(case), classes(case));
        let fit = TemperatureScaling::fit(&logits, k, &targets).unwrap();
        let exact = case["temperature_exact"].as_f64().unwrap();
        close(
            &format!("{name}: T"),
            fit.temperature(),
            exact,
            1e-6 * exact,
        );
        let nll = Predictions::from_logits(&fit.apply_host(&logits), k, &targets)
            .unwrap()
            .nll();
        close(
            &format!("{name}: NLL at T"),
            nll,
            case["nll_exact"].as_f64().unwrap(),
            1e-12,
        );
        let reference_nll = case["nll_reference_code"].as_f64().unwrap();
        assert!(
            nll <= reference_nll + 1e-12,
            "{name}: {nll} > the reference code's {reference_nll}"
        );
        report += &format!(
            "{name} | {exact:.5} | {:.5} | {:.5} | {nll:.5} | {reference_nll:.5}\n",
            fit.temperature(),
            case["temperature_reference_code"].as_f64().unwrap()
        );
    }
    println!("{report}");
    // The offset case: 1e4 on every logit moves nothing.
    let cases = fixture["temperature_cases"].as_array().unwrap();
    let (plain, offset) = (&cases[2], &cases[3]);
    let t = |c: &Value| {
        TemperatureScaling::fit(&numbers(&c["logits"]), classes(c), &targets(c))
            .unwrap()
            .temperature()
    };
    close("offset", t(offset), t(plain), 1e-9);
}

#[test]
fn bad_input_is_a_typed_error_naming_the_value() {
    use CalibrationError as E;
    // torchmetrics refuses one class; so do we, with the count.
    assert!(
        fixture()["one_class_torchmetrics_error"]
            .as_str()
            .unwrap()
            .contains("larger than 1")
    );
    assert_eq!(
        Predictions::from_logits(&[1.0, 2.0], 1, &[0, 0]),
        Err(E::TooFewClasses(1))
    );
    assert_eq!(
        Predictions::from_logits::<f64, i64>(&[], 3, &[]),
        Err(E::Empty)
    );
    assert_eq!(
        Predictions::from_logits(&[0.0; 5], 2, &[0, 1]),
        Err(E::LengthMismatch {
            values: 5,
            num_classes: 2,
            targets: 2
        })
    );
    let err =
        Predictions::from_logits(&[0.0, 1.0, f64::NEG_INFINITY, 0.0], 2, &[0, 1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "logit 0 of sample 1 is -inf: every logit must be finite"
    );
    assert_eq!(
        Predictions::from_logits(&[0.0, 1.0], 2, &[-1]),
        Err(E::TargetOutOfRange {
            position: 0,
            value: -1,
            num_classes: 2
        })
    );
    let err = Predictions::from_probabilities(&[0.9, 0.9], 2, &[0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "row 0 is not a probability distribution: it sums to 1.8, not 1"
    );
    let err = Predictions::from_probabilities(&[f64::NAN, 1.0], 2, &[0]).unwrap_err();
    assert!(
        matches!(err, E::NotProbabilities { sample: 0, .. }),
        "{err}"
    );
    let p = Predictions::from_logits(&[0.0, 1.0], 2, &[1]).unwrap();
    assert_eq!(p.reliability(0, Binning::EqualMass), Err(E::ZeroBins));
    // The fit: the same input checks, then no minimum in range.
    assert_eq!(
        TemperatureScaling::fit(&[f64::NAN, 0.0], 2, &[0])
            .unwrap_err()
            .to_string(),
        "logit 0 of sample 0 is NaN: every logit must be finite"
    );
    let constant = TemperatureScaling::fit(&[1.0, 1.0, 2.0, 2.0], 2, &[0, 1]).unwrap_err();
    assert!(
        matches!(constant, E::NoTemperatureMinimum { bound, .. } if bound == 1e3),
        "{constant}"
    );
    // Anti-correlated logits (every prediction wrong): the NLL falls towards T -> inf.
    let wrong = TemperatureScaling::fit(&[3.0, 0.0, 0.0, 3.0], 2, &[1, 0]).unwrap_err();
    assert!(wrong.to_string().contains("towards T = 1000"), "{wrong}");
    for t in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        assert!(matches!(
            TemperatureScaling::new(t),
            Err(E::InvalidTemperature(_))
        ));
    }
}

/// Properties that hold whatever the data: scaling never changes a prediction, so
/// accuracy is kept; the fit never raises the NLL; an equal-mass binning of N
/// distinct confidences into N bins puts one sample in each.
#[test]
fn temperature_scaling_keeps_predictions_and_lowers_the_nll() {
    let fixture = fixture();
    for case in fixture["temperature_cases"].as_array().unwrap() {
        let (logits, targets, k) = (numbers(&case["logits"]), targets(case), classes(case));
        let before = Predictions::from_logits(&logits, k, &targets).unwrap();
        let fit = TemperatureScaling::fit(&logits, k, &targets).unwrap();
        let after = Predictions::from_logits(&fit.apply_host(&logits), k, &targets).unwrap();
        assert_eq!(before.accuracy(), after.accuracy());
        assert!(after.nll() <= before.nll());
        close(
            "NLL at T = 1",
            before.nll(),
            case["nll_at_1"].as_f64().unwrap(),
            1e-11,
        );
    }
    let logits: Vec<f64> = (0..10).flat_map(|i| [i as f64 * 0.3, 0.0]).collect();
    let p = Predictions::from_logits(&logits, 2, &[0; 10]).unwrap();
    let reliability = p.reliability(10, Binning::EqualMass).unwrap();
    assert!(
        reliability.bins().iter().all(|b| b.count == 1),
        "{:?}",
        reliability.bins()
    );
}
