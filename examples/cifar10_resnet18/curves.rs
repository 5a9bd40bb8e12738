//! `curves.svg`: loss, accuracy, ECE and learning-rate panels with ticks and grids,
//! train and test together, drawn with `plotters` (SVG: no system fonts needed).
//!
//! The learning rate is drawn on a log axis: a step schedule spans 100x (0.1 to
//! 0.001 in the recipe), which a linear axis squashes into its bottom tick, and its
//! ticks are powers of ten, labelled with two significant digits so that no two
//! read the same even when the rate never changes.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::metrics::EpochRow;

type Pick = fn(&EpochRow) -> f64;
type Panel = (&'static str, &'static str, Vec<(&'static str, Pick)>);

const COLORS: [RGBColor; 2] = [RGBColor(31, 119, 180), RGBColor(214, 39, 40)];

/// `value` with `digits` significant digits, without trailing zeros (0.1, 0.0025).
pub fn significant(value: f64, digits: i32) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let decimals = (digits - 1 - value.abs().log10().floor() as i32).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// A log axis for values in `[low, high]` (> 0): from the power of ten at or below
/// `low` to the one at or above `high`, padded by a factor 2, so at least two
/// decades are labelled; a flat series (one power of ten) gets a decade each side.
pub fn decades(low: f64, high: f64) -> std::ops::Range<f64> {
    // The tolerance keeps 0.1 (log10 = -0.99999...) at its own decade.
    let below = 10f64.powf((low.log10() + 1e-9).floor());
    let above = 10f64.powf((high.log10() - 1e-9).ceil());
    if above / below < 1.5 {
        below / 10.0..above * 10.0
    } else {
        below / 2.0..above * 2.0
    }
}

/// The finite values of `series` over `rows`, as `(low, high)`, or `None`.
fn finite_range(rows: &[EpochRow], series: &[(&str, Pick)]) -> Option<(f64, f64)> {
    let values = || {
        series
            .iter()
            .flat_map(|(_, pick)| rows.iter().map(pick))
            .filter(|v| v.is_finite())
    };
    let low = values().fold(f64::INFINITY, f64::min);
    let high = values().fold(f64::NEG_INFINITY, f64::max);
    low.is_finite().then_some((low, high))
}

fn draw_series<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>,
    rows: &[EpochRow],
    series: Vec<(&'static str, Pick)>,
    staircase: bool,
) -> Result<(), String> {
    for ((label, pick), color) in series.into_iter().zip(COLORS) {
        let mut points: Vec<(f64, f64)> = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            points.push((r.epoch as f64, pick(r)));
            // A rate holds for its whole epoch: step to the next one's at its start.
            if let Some(next) = rows.get(i + 1).filter(|_| staircase) {
                points.push((next.epoch as f64, pick(r)));
            }
        }
        chart
            .draw_series(LineSeries::new(
                points.into_iter().filter(|p| p.1.is_finite()),
                color.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())
}

/// The curves picture: four panels, train and test together.
pub fn curves_svg(rows: &[EpochRow]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 800)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let last = rows.iter().map(|r| r.epoch).max().unwrap_or(1).max(2) as f64;
        let panels: [Panel; 3] = [
            (
                "Loss",
                "loss",
                vec![
                    ("train (mixed)", |r| r.train_loss),
                    ("test", |r| r.test_loss),
                ],
            ),
            (
                "Accuracy",
                "%",
                vec![
                    ("train (lambda-weighted)", |r| r.train_accuracy),
                    ("test", |r| r.test_accuracy),
                ],
            ),
            (
                "Test calibration error (ECE)",
                "%",
                vec![("test", |r| r.test_ece)],
            ),
        ];
        let areas = root.split_evenly((2, 2));
        for (area, (title, unit, series)) in areas.iter().zip(panels) {
            let (low, high) = finite_range(rows, &series).unwrap_or((0.0, 1.0));
            // 5% of the range, and at least 5% of the value (and 0.01): a flat series
            // gets ticks that read differently at two decimals.
            let pad = ((high - low) * 0.05).max(high.abs() * 0.05).max(0.01);
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(1.0..last, (low - pad)..(high + pad))
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(unit)
                .x_labels(12.min(last as usize))
                .y_labels(8)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .y_label_formatter(&|y| format!("{y:.2}"))
                .draw()
                .map_err(|e| e.to_string())?;
            draw_series(&mut chart, rows, series, false)?;
        }
        // Learning rate: a log axis over the decades the rates fall in.
        let lr: Vec<(&'static str, Pick)> = vec![("lr", |r| r.lr)];
        let (low, high) = finite_range(rows, &lr)
            .filter(|&(low, _)| low > 0.0)
            .unwrap_or((0.1, 0.1));
        let mut chart = ChartBuilder::on(&areas[3])
            .caption("Learning rate (log scale)", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(1.0..last, decades(low, high).log_scale())
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("lr")
            .x_labels(12.min(last as usize))
            .y_labels(8)
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| significant(*y, 2))
            .draw()
            .map_err(|e| e.to_string())?;
        draw_series(&mut chart, rows, lr, true)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: usize) -> EpochRow {
        EpochRow {
            epoch,
            lr: [0.1, 0.01, 0.001][(epoch > 50) as usize + (epoch > 100) as usize],
            train_loss: 2.0 / epoch as f64,
            train_accuracy: 50.0 + epoch as f64 / 4.0,
            test_loss: 1.5 / epoch as f64,
            test_accuracy: 60.0 + epoch as f64 / 5.0,
            test_ece: 5.0,
            images_per_second: 1234.5,
            seconds: 40.25,
        }
    }

    /// Each panel's y-axis tick labels (plotters right-aligns them at the axis), in
    /// panel order.
    fn y_ticks(svg: &str) -> Vec<Vec<String>> {
        let mut panels: Vec<Vec<String>> = Vec::new();
        let mut previous_was_tick = false;
        for text in svg.split("<text").skip(1) {
            let is_tick = text
                .split('>')
                .next()
                .is_some_and(|a| a.contains("text-anchor=\"end\""));
            if is_tick {
                let label = text.split('>').nth(1).and_then(|t| t.split('<').next());
                if !previous_was_tick {
                    panels.push(Vec::new());
                }
                panels
                    .last_mut()
                    .unwrap()
                    .push(label.unwrap_or("").trim().to_string());
            }
            previous_was_tick = is_tick;
        }
        panels
    }

    /// The tick labels of the picture, in order of appearance.
    fn labels(svg: &str) -> Vec<String> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| t.split('>').nth(1)?.split('<').next())
            .map(|t| t.trim().to_string())
            .collect()
    }

    #[test]
    fn the_picture_has_four_panels_with_ticks_grids_and_both_splits() {
        let svg = curves_svg(&(1..=150).map(row).collect::<Vec<_>>()).unwrap();
        for text in [
            "Loss",
            "Accuracy",
            "ECE",
            "Learning rate (log scale)",
            "train (mixed)",
            "test",
            "epoch",
        ] {
            assert!(svg.contains(text), "{text} missing");
        }
        // Real tick labels on the epoch axis, not only its ends.
        for tick in ["20", "60", "100", "140"] {
            assert!(
                labels(&svg).iter().any(|l| l == tick),
                "tick {tick} missing"
            );
        }
        // Grid lines: many more lines than the six series.
        assert!(svg.matches("<line").count() + svg.matches("<polyline").count() > 60);
        // An empty or one-epoch run still draws.
        assert!(curves_svg(&[]).is_ok() && curves_svg(&[row(1)]).is_ok());
    }

    /// The learning-rate axis spans the 100x schedule on a log scale (decades
    /// labelled), and no panel repeats a tick label, flat series included (the
    /// linear axis of 0.2 labelled a flat 0.1 as 0.1001, 0.1001, 0.1000, ...).
    #[test]
    fn ticks_are_distinct_and_the_learning_rate_is_in_decades() {
        let svg = curves_svg(&(1..=150).map(row).collect::<Vec<_>>()).unwrap();
        let panels = y_ticks(&svg);
        assert_eq!(panels.len(), 4, "{panels:?}");
        for decade in ["0.1", "0.01", "0.001"] {
            assert!(
                panels[3].iter().any(|l| l == decade),
                "{decade}: {:?}",
                panels[3]
            );
        }
        let flat: Vec<EpochRow> = (1..=5).map(|e| EpochRow { lr: 0.1, ..row(e) }).collect();
        for rows in [&(1..=150).map(row).collect::<Vec<_>>(), &flat] {
            for ticks in y_ticks(&curves_svg(rows).unwrap()) {
                let mut unique = ticks.clone();
                unique.sort();
                unique.dedup();
                assert!(ticks.len() >= 2 && unique.len() == ticks.len(), "{ticks:?}");
            }
        }
    }

    #[test]
    fn log_axes_span_whole_decades() {
        let close = |r: std::ops::Range<f64>, (a, b): (f64, f64)| {
            assert!(
                (r.start / a - 1.0).abs() < 1e-9 && (r.end / b - 1.0).abs() < 1e-9,
                "{r:?}"
            );
        };
        close(decades(0.001, 0.1), (0.0005, 0.2));
        close(decades(0.1, 0.1), (0.01, 1.0));
        close(decades(0.05, 0.05), (0.005, 0.2));
    }

    #[test]
    fn significant_digits() {
        assert_eq!(significant(0.1, 2), "0.1");
        assert_eq!(significant(0.0025, 2), "0.0025");
        assert_eq!(significant(0.10009, 2), "0.1");
        assert_eq!(significant(12.345, 2), "12");
    }
}
