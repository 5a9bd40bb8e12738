//! The bad-data matrix, against the real example binary: CIFAR-10 files truncated,
//! mislabelled, missing or in a broken archive, and Fashion-MNIST's IDX files (a
//! partial folder, files of another size, sizes the data cannot give, a run on
//! generated files). Every case checks the exit status, that the message names the
//! bad value or file, and that nothing panicked.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{Expect, Matrix, args, fails, s};

const RECORD: usize = 3073;
const FILES: [&str; 6] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
    "test_batch.bin",
];

/// The official layout with every file at its official size (10,000 records), plain
/// images, labels cycling 0..9.
fn official_set(root: &Path) -> PathBuf {
    let dir = root.join("cifar-10-batches-bin");
    fs::create_dir_all(&dir).unwrap();
    let mut bytes = Vec::with_capacity(10_000 * RECORD);
    for i in 0..10_000 {
        bytes.push((i % 10) as u8);
        bytes.extend(std::iter::repeat_n((i % 251) as u8, RECORD - 1));
    }
    for name in FILES {
        fs::write(dir.join(name), &bytes).unwrap();
    }
    dir
}

/// A data folder sharing `good`'s files but for `name`, replaced by `bytes`.
fn variant(root: &Path, good: &Path, tag: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let dir = root.join(tag).join("cifar-10-batches-bin");
    fs::create_dir_all(&dir).unwrap();
    for file in FILES {
        if file == name {
            fs::write(dir.join(file), bytes).unwrap();
        } else {
            std::os::unix::fs::symlink(good.join(file), dir.join(file)).unwrap();
        }
    }
    root.join(tag)
}

#[test]
fn bad_data_matrix_against_the_real_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let p = |name: &str| root.join(name).to_string_lossy().into_owned();
    let mut m = Matrix::default();

    // 1. Fashion-MNIST: sizes the data cannot give, a folder with one file of four
    // (reported before any download), files of another release size, and a run on
    // generated IDX files that trains.
    let fashion = [
        "--dataset",
        "fashion-mnist",
        "--base-width",
        "2",
        "--batch-size",
        "4",
    ];
    let fashion_with = |extra: &[&str]| args(&fashion, extra);
    let cases: [(&str, Vec<String>, Expect); 3] = [
        (
            "fashion: --train-size larger than the data",
            fashion_with(&[
                "--synthetic",
                "21",
                "--train-size",
                "30",
                "--out-dir",
                &p("fts"),
            ]),
            fails(&["train-size", "30 for 21 images"]),
        ),
        (
            "fashion: --val-size larger than what --train-size leaves",
            fashion_with(&[
                "--synthetic",
                "40",
                "--train-size",
                "20",
                "--val-size",
                "30",
            ]),
            fails(&["val-size", "30 for 20 images"]),
        ),
        (
            "fashion: --dataset mnist",
            vec![s("--dataset"), s("mnist")],
            fails(&["mnist", "fashion-mnist"]),
        ),
    ];
    for (name, args, expect) in cases {
        m.case(
            name,
            root,
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
            expect,
        );
    }
    let partial = root.join("fashion-partial");
    fs::create_dir_all(&partial).unwrap();
    fs::write(partial.join("train-images-idx3-ubyte.gz"), b"not even gzip").unwrap();
    let partial_dir = partial.to_string_lossy().into_owned();
    m.case(
        "fashion: a folder with one of the four files",
        root,
        &[
            "--dataset",
            "fashion-mnist",
            "--data-dir",
            &partial_dir,
            "--out-dir",
            &p("fp"),
        ],
        fails(&[
            "incomplete",
            "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte missing",
        ]),
    );
    let bad = root.join("fashion-bad");
    fs::create_dir_all(&bad).unwrap();
    let idx = |magic: u32, dims: &[u32], data: Vec<u8>| -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes.extend(data);
        bytes
    };
    let mut labels: Vec<u8> = (0..10).collect();
    labels[7] = 12;
    for (name, bytes) in [
        (
            "train-images-idx3-ubyte",
            idx(0x803, &[10, 28, 28], vec![9; 7840]),
        ),
        ("train-labels-idx1-ubyte", idx(0x801, &[10], labels)),
        (
            "t10k-images-idx3-ubyte",
            idx(0x803, &[10, 28, 28], vec![9; 7840]),
        ),
        (
            "t10k-labels-idx1-ubyte",
            idx(0x801, &[10], (0..10).collect()),
        ),
    ] {
        fs::write(bad.join(name), bytes).unwrap();
    }
    let bad_dir = bad.to_string_lossy().into_owned();
    m.case(
        "fashion: real-format files of 10 images (not the release)",
        root,
        &[
            "--dataset",
            "fashion-mnist",
            "--data-dir",
            &bad_dir,
            "--out-dir",
            &p("fb"),
        ],
        fails(&["train-images-idx3-ubyte holds 10 items", "exactly 60000"]),
    );
    let args = fashion_with(&[
        "--synthetic",
        "40",
        "--train-size",
        "20",
        "--val-size",
        "10",
        "--epochs",
        "1",
        "--quiet",
        "--out-dir",
        &p("fashion-trains"),
    ]);
    m.case(
        "fashion: generated IDX files, --train-size 20 --val-size 10 (trains)",
        root,
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        Expect::Trains(root.join("fashion-trains"), 1),
    );

    // 2. CIFAR-10: truncated file, label 10, broken archive, a file for a folder, missing.
    let good = official_set(&root.join("data"));
    let base = fs::read(good.join("data_batch_3.bin")).unwrap();
    let data_run = |tag: &str| -> Vec<String> {
        [
            "--base-width",
            "2",
            "--batch-size",
            "4",
            "--epochs",
            "1",
            "--train-limit",
            "16",
            "--test-limit",
            "8",
            "--quiet",
            "--no-download",
            "--out-dir",
        ]
        .iter()
        .map(|a| s(a))
        .chain([p(tag)])
        .collect()
    };
    let case_with_data = |m: &mut Matrix, name: &str, dir: &Path, tag: &str, expect: Expect| {
        let mut args = data_run(tag);
        args.extend([s("--data-dir"), dir.to_string_lossy().into_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        m.case(name, root, &args, expect);
    };
    let cut = variant(
        root,
        &good,
        "cut",
        "data_batch_3.bin",
        &base[..base.len() - 100],
    );
    case_with_data(
        &mut m,
        "a data file cut 100 bytes short",
        &cut,
        "r-cut",
        fails(&["data_batch_3.bin", "30729900 bytes"]),
    );
    let mut labelled = base.clone();
    labelled[7 * RECORD] = 10;
    let label = variant(root, &good, "label", "test_batch.bin", &labelled);
    case_with_data(
        &mut m,
        "a label byte of 10 (record 7)",
        &label,
        "r-label",
        fails(&["test_batch.bin", "record 7", "label 10"]),
    );
    let short = variant(
        root,
        &good,
        "short",
        "data_batch_1.bin",
        &base[..5 * RECORD],
    );
    case_with_data(
        &mut m,
        "a file of 5 whole records",
        &short,
        "r-short",
        fails(&["data_batch_1.bin", "5 records"]),
    );
    let archive_dir = root.join("archive");
    fs::create_dir_all(&archive_dir).unwrap();
    fs::write(
        archive_dir.join("cifar-10-binary.tar.gz"),
        [0x1f, 0x8b, 8, 0, 0, 0],
    )
    .unwrap();
    case_with_data(
        &mut m,
        "an archive cut short (6 bytes)",
        &archive_dir,
        "r-archive",
        fails(&["cifar-10-binary.tar.gz", "not a readable gzip/tar archive"]),
    );
    fs::write(root.join("a-file"), b"not a folder").unwrap();
    case_with_data(
        &mut m,
        "--data-dir names a file",
        &root.join("a-file"),
        "r-file",
        fails(&["data-dir", "a-file"]),
    );
    case_with_data(
        &mut m,
        "no data, --no-download",
        &root.join("nothing-here"),
        "r-missing",
        fails(&["nothing-here", "--synthetic"]),
    );
    // A folder with four of the six files, downloads allowed: the missing files are
    // named and nothing is fetched over the user's partial copy.
    let partial = root.join("partial");
    fs::create_dir_all(partial.join("cifar-10-batches-bin")).unwrap();
    for file in FILES
        .iter()
        .filter(|f| !["data_batch_4.bin", "test_batch.bin"].contains(f))
    {
        std::os::unix::fs::symlink(
            good.join(file),
            partial.join("cifar-10-batches-bin").join(file),
        )
        .unwrap();
    }
    let args = data_run("r-partial");
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    let partial_arg = partial.to_string_lossy().into_owned();
    args.retain(|a| *a != "--no-download");
    args.extend(["--data-dir", &partial_arg]);
    let output = crate::common::run(root, &args);
    let text = crate::common::text_of(&output);
    let code = output.status.code().unwrap_or(-1);
    let named = ["incomplete", "data_batch_4.bin, test_batch.bin missing"]
        .iter()
        .all(|n| text.contains(n));
    m.record(
        "a folder with 4 of the 6 files, downloads allowed",
        "exit 1 naming the missing files, no download started",
        code == 1 && named && !text.contains("downloading"),
        code,
        &text,
    );
    case_with_data(
        &mut m,
        "official-size files (the real layout)",
        &root.join("data"),
        "r-data",
        Expect::Trains(root.join("r-data"), 1),
    );
    // The resume remembers the data location, from another working directory.
    let elsewhere = root.join("elsewhere");
    fs::create_dir_all(&elsewhere).unwrap();
    m.case(
        "--resume RUN --epochs 2 from another folder",
        &elsewhere,
        &["--resume", &p("r-data"), "--epochs", "2", "--quiet"],
        Expect::Trains(root.join("r-data"), 2),
    );

    m.finish(15);
}
