//! The bad-input matrix of flags and run folders, against the real example binary
//! (the data files have `data_matrix.rs`): every case runs the
//! program as a user would and checks the exit status, that the message names the
//! bad value, and that nothing panicked. Inputs that are odd but valid (odd final
//! batches in every mode with 0, 1 and 2 loader workers, milestones out of order, a
//! resume from another folder) must train.

use std::fs;

use crate::common::{Expect, Matrix, args, fails, s};

#[test]
fn bad_input_matrix_against_the_real_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let p = |name: &str| root.join(name).to_string_lossy().into_owned();
    let mut m = Matrix::default();
    // A tiny, fast run: 21 synthetic images (odd last batch), width 2.
    let tiny = [
        "--synthetic",
        "21",
        "--base-width",
        "2",
        "--batch-size",
        "4",
        "--epochs",
        "1",
        "--quiet",
    ];
    let with = |extra: &[&str]| args(&tiny, extra);

    // 1. Every numeric flag out of range, negative, NaN, infinite, typed as users type.
    for (flag, value) in [
        ("--alpha", "-1"),
        ("--alpha", "NaN"),
        ("--alpha", "inf"),
        ("--cutmix-alpha", "-2"),
        ("--switch-prob", "1.5"),
        ("--switch-prob", "NaN"),
        ("--smoothing", "1.2"),
        ("--smoothing", "-0.1"),
        ("--smoothing", "NaN"),
        ("--lr", "-0.1"),
        ("--lr", "0"),
        ("--lr", "inf"),
        ("--lr", "NaN"),
        ("--momentum", "1.5"),
        ("--momentum", "-0.1"),
        ("--weight-decay", "-1"),
        ("--weight-decay", "inf"),
        ("--lr-gamma", "0"),
        ("--lr-gamma", "NaN"),
        ("--epochs", "0"),
        ("--epochs", "-3"),
        ("--epochs", "ten"),
        ("--batch-size", "0"),
        ("--base-width", "0"),
        ("--train-limit", "0"),
        ("--train-size", "0"),
        ("--test-limit", "0"),
        ("--synthetic", "0"),
        ("--bench-steps", "0"),
        ("--devices", "1"),
        ("--bce-target-thresh", "NaN"),
        ("--resizemix-scale", "0,0.5"),
        ("--resizemix-scale", "0.6,0.5"),
        ("--val-size", "-1"),
        ("--val-size", "ten"),
        ("--fmix-decay-power", "-1"),
        ("--fmix-decay-power", "NaN"),
    ] {
        let out = p(&format!("num{}{}", flag, value));
        // The tiny run's own value of this flag gives way to the case's.
        let mut args: Vec<String> = tiny
            .chunks(2)
            .filter(|pair| pair[0] != flag)
            .flatten()
            .chain([&flag, &value])
            .map(|a| a.to_string())
            .collect();
        args.extend([s("--out-dir"), out]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        m.case(
            &format!("{flag} {value}"),
            root,
            &args,
            Expect::Fails(vec![s(flag.trim_start_matches('-')), s(value)]),
        );
    }
    for (feature, built) in [
        ("cuda", cfg!(feature = "cuda")),
        ("wgpu", cfg!(feature = "wgpu")),
    ] {
        if !built {
            m.case(
                &format!("--backend {feature} without the feature"),
                root,
                &["--backend", feature, "--synthetic", "21"],
                fails(&["backend", &format!("--features {feature}")]),
            );
        }
    }
    m.case(
        "--mix fmix with --cutmix-alpha 0 (would not mix)",
        root,
        &[
            "--synthetic",
            "21",
            "--mix",
            "fmix",
            "--out-dir",
            &p("nofmix"),
        ],
        fails(&["paste", "fmix", "cutmix-alpha"]),
    );
    m.case(
        "--batch-size larger than the data",
        root,
        &[
            "--synthetic",
            "21",
            "--batch-size",
            "64",
            "--out-dir",
            &p("big"),
        ],
        fails(&["batch-size", "64 for 19 images"]),
    );
    m.case(
        "--val-size as large as the data",
        root,
        &[
            "--synthetic",
            "21",
            "--val-size",
            "21",
            "--out-dir",
            &p("allval"),
        ],
        fails(&["val-size", "21 for 21 images"]),
    );

    // 2. Odd but valid: milestones out of order, odd final batches in every mode with
    //    0, 1 and 2 workers (CutMix and Mixup switching): these train.
    let args = with(&["--lr-milestones", "3,1", "--out-dir", &p("milestones")]);
    m.case(
        "--lr-milestones 3,1 (sorted, trains)",
        root,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        Expect::Trains(root.join("milestones"), 1),
    );
    for (paste, mode) in [
        ("resizemix", "batch"),
        ("resizemix", "elem"),
        ("fmix", "batch"),
        ("fmix", "pair"),
    ] {
        let out = format!("{paste}-{mode}");
        let args = with(&[
            "--alpha",
            "0",
            "--cutmix-alpha",
            "1",
            "--paste",
            paste,
            "--mix-mode",
            mode,
            "--workers",
            "2",
            "--out-dir",
            &p(&out),
        ]);
        m.case(
            &format!("--paste {paste} --mix-mode {mode} (trains)"),
            root,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            Expect::Trains(root.join(&out), 1),
        );
    }
    let args = with(&[
        "--loss",
        "bce",
        "--bce-target-thresh",
        "0.2",
        "--out-dir",
        &p("bce"),
    ]);
    m.case(
        "--loss bce --bce-target-thresh 0.2 (trains)",
        root,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        Expect::Trains(root.join("bce"), 1),
    );
    let saved = fs::read_to_string(root.join("milestones/config.json")).unwrap_or_default();
    if !saved
        .replace([' ', '\n'], "")
        .contains("\"lr_milestones\":[1,3]")
    {
        m.failures
            .push(format!("milestones not sorted in config.json: {saved}"));
    }
    for mode in ["batch", "pair", "elem"] {
        for workers in ["0", "1", "2"] {
            let name = format!("odd-{mode}-{workers}");
            let out = p(&name);
            let args = with(&[
                "--mix-mode",
                mode,
                "--workers",
                workers,
                "--cutmix-alpha",
                "1",
                "--out-dir",
                &out,
            ]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            m.case(
                &format!("21 images, batch 4, --mix-mode {mode} --workers {workers}"),
                root,
                &args,
                Expect::Trains(root.join(&name), 1),
            );
        }
    }

    // 3. Resume and output folders.
    fs::create_dir_all(root.join("empty")).unwrap();
    m.case(
        "--resume a folder that is not a run",
        root,
        &["--resume", &p("empty")],
        fails(&["empty", "not a run folder", "config.json"]),
    );
    m.case(
        "--resume with another --lr",
        root,
        &[
            "--resume",
            &p("odd-batch-0"),
            "--epochs",
            "2",
            "--lr",
            "0.5",
        ],
        fails(&["lr", "0.1", "0.5"]),
    );
    m.case(
        "--resume --epochs not beyond the epochs done",
        root,
        &["--resume", &p("odd-batch-0"), "--epochs", "1"],
        fails(&["epochs", "1 (1 done)"]),
    );
    m.case(
        "--out-dir that already holds a run",
        root,
        &with(&["--out-dir", &p("odd-batch-0")])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        fails(&["odd-batch-0", "already holds a run"]),
    );
    // A checkpoint from another configuration (the batch-mode run's) in a pair-mode run.
    let ours = root.join("odd-pair-0/checkpoint/model-1.bmx");
    let foreign = fs::read(root.join("odd-batch-0/checkpoint/model-1.bmx")).unwrap();
    let original = fs::read(&ours).unwrap();
    fs::write(&ours, &foreign).unwrap();
    m.case(
        "a checkpoint from another configuration",
        root,
        &["--resume", &p("odd-pair-0"), "--epochs", "2"],
        fails(&["model-1.bmx", "another configuration"]),
    );
    let mut corrupt = original.clone();
    corrupt[original.len() / 2] ^= 0x10;
    fs::write(&ours, &corrupt).unwrap();
    m.case(
        "a corrupt checkpoint (one bit flipped)",
        root,
        &["--resume", &p("odd-pair-0"), "--epochs", "2"],
        fails(&["model-1.bmx", "checksum mismatch"]),
    );
    fs::write(root.join("odd-elem-0/config.json"), b"{ not json").unwrap();
    m.case(
        "a run folder whose config.json is garbage",
        root,
        &["--resume", &p("odd-elem-0")],
        fails(&["odd-elem-0", "not a run configuration"]),
    );
    // A file where a folder should be: nothing can be made under it.
    fs::write(root.join("a-file"), b"not a folder").unwrap();
    m.case(
        "an --out-dir that cannot be written",
        root,
        &with(&["--out-dir", &format!("{}/sub", p("a-file"))])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        fails(&["cannot write", "a-file/sub"]),
    );

    // 4. What a finished run keeps of its calibration: with the default validation
    //    split, the temperature and both diagrams; with --val-size 0, neither file.
    for (val_size, out) in [(None, "calibrated"), (Some("0"), "uncalibrated")] {
        let mut args = with(&["--out-dir", &p(out)]);
        args[1] = "200".into(); // --synthetic 200: 20 validation images
        if let Some(v) = val_size {
            args.extend(["--val-size".into(), v.into()]);
        }
        let output = crate::common::run(root, &args.iter().map(String::as_str).collect::<Vec<_>>());
        let text = crate::common::text_of(&output);
        let json = fs::read_to_string(root.join(out).join("calibration.json")).ok();
        let svg = fs::read_to_string(root.join(out).join("reliability.svg")).ok();
        let (expected, ok) = match val_size {
            None => (
                "exit 0, calibration.json with a temperature or its reason, reliability.svg",
                json.as_deref()
                    .and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok())
                    .is_some_and(|j| {
                        j["temperature"].as_f64().is_some_and(|t| t > 0.0)
                            || j["temperature_error"].is_string()
                    })
                    && svg.is_some_and(|s| s.contains("ECE")),
            ),
            Some(_) => (
                "exit 0, no calibration files",
                json.is_none() && svg.is_none(),
            ),
        };
        let code = output.status.code().unwrap_or(-1);
        m.record(
            &format!(
                "a finished run, --val-size {}",
                val_size.unwrap_or("default")
            ),
            expected,
            ok && code == 0,
            code,
            &text,
        );
    }

    m.finish(67);
}
