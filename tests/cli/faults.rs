//! How a run goes wrong at run time, through the real binary: a diverging loss, a
//! full disk (a 1.5 MB tmpfs, where the machine lets the test mount one), a second
//! process on the same run folder, SIGTERM and SIGINT, and the TUI's epoch lines.
//! Each fails loudly (an exit status that is not 0, a message naming the cause),
//! keeps what was saved whole, and resumes.

use std::fs;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{Matrix, binary, run, text_of};

/// A tiny, fast run of `epochs` epochs in `dir`: 21 synthetic images (an odd last
/// batch), width 2, all of them trained on (`--val-size 0`: the divergence cases
/// were written against these images' dynamics; calibration has its own matrix rows).
fn tiny(dir: &Path, epochs: usize) -> Vec<String> {
    let mut args: Vec<String> =
        "--synthetic 21 --base-width 2 --batch-size 4 --val-size 0 --quiet --epochs"
            .split(' ')
            .map(String::from)
            .collect();
    args.extend([
        epochs.to_string(),
        "--out-dir".into(),
        dir.display().to_string(),
    ]);
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Rows of `metrics.csv` (after the header).
fn rows(dir: &Path) -> Vec<String> {
    fs::read_to_string(dir.join("metrics.csv"))
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(String::from)
        .collect()
}

/// The epochs with a checkpoint file, and whether every one has all three parts.
fn checkpointed(dir: &Path) -> (Vec<usize>, bool) {
    let mut parts: std::collections::BTreeMap<usize, usize> = Default::default();
    for entry in fs::read_dir(dir.join("checkpoint"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(epoch) = name
            .strip_suffix(".bmx")
            .and_then(|n| n.rsplit('-').next())
            .and_then(|n| n.parse().ok())
        {
            *parts.entry(epoch).or_default() += 1;
        }
    }
    let whole = parts.values().all(|&n| n == 3);
    (parts.into_keys().collect(), whole)
}

/// Starts the binary in the background, its output in `log`.
fn spawn(cwd: &Path, args: &[&str], log: &Path) -> Child {
    let out = fs::File::create(log).unwrap();
    Command::new(binary())
        .args(args)
        .current_dir(cwd)
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("the example binary starts")
}

/// Waits until `done` holds (at most a minute).
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// The child's exit status and output once it ends.
fn finish(mut child: Child, log: &Path) -> (i32, String) {
    let status = child.wait().expect("the child ends");
    (
        status.code().unwrap_or(-1),
        fs::read_to_string(log).unwrap_or_default(),
    )
}

fn divergence(m: &mut Matrix, root: &Path) {
    // lr 100 on the tiny run: the first epochs are finite, then the loss is NaN.
    let dir = root.join("diverge");
    let mut args = tiny(&dir, 4);
    args.extend(["--lr".into(), "100".into()]);
    let output = run(root, &strs(&args));
    let text = text_of(&output);
    let code = output.status.code().unwrap_or(-1);
    let (epochs, whole) = checkpointed(&dir);
    let saved = epochs.last().copied().unwrap_or(0);
    let named = format!("Epoch {saved}'s checkpoint holds the last finite model");
    let ok = code == 1
        && ["diverged", "learning rate 100", "iteration", named.as_str()]
            .iter()
            .all(|n| text.contains(n))
        && !text.contains("done:")
        && whole
        && saved >= 1
        && rows(&dir).len() == saved;
    m.record(
        "--lr 100: the loss turns NaN mid-run",
        "exit 1 naming epoch, iteration and lr; only finite epochs checkpointed",
        ok,
        code,
        &text,
    );
    // Resuming from the last finite checkpoint meets the same divergence (the run
    // is deterministic); --allow-divergence trains on, and ECE reads NaN, never inf.
    let output = run(root, &["--resume", &dir.display().to_string(), "--quiet"]);
    let again = text_of(&output);
    let ok = output.status.code() == Some(1)
        && again.contains(&format!("continuing after epoch {saved}"))
        && again.contains("diverged");
    m.record(
        "--resume a diverged run",
        "continues after the last finite epoch, diverges again: exit 1",
        ok,
        output.status.code().unwrap_or(-1),
        &again,
    );
    let resume = [
        "--resume",
        &dir.display().to_string(),
        "--quiet",
        "--allow-divergence",
    ];
    let output = run(root, &resume);
    let text = text_of(&output);
    let csv = fs::read_to_string(dir.join("metrics.csv")).unwrap_or_default();
    let ok = output.status.success() && rows(&dir).len() == 4 && !csv.contains("inf");
    m.record(
        "--resume --allow-divergence",
        "trains on through NaN: exit 0, 4 rows, no inf in metrics.csv",
        ok,
        output.status.code().unwrap_or(-1),
        &text,
    );
    // The issue's own case: lr 1e6 diverges in the first epoch, before any save.
    let dir = root.join("diverge-1e6");
    let mut args = tiny(&dir, 3);
    args.extend(["--lr".into(), "1e6".into()]);
    let output = run(root, &strs(&args));
    let text = text_of(&output);
    let ok = output.status.code() == Some(1)
        && text.contains("diverged")
        && (text.contains("nothing is saved") || text.contains("checkpoint holds"))
        && checkpointed(&dir).1;
    m.record(
        "--lr 1e6 (0.2 trained through it and exited 0)",
        "exit 1: diverged",
        ok,
        output.status.code().unwrap_or(-1),
        &text,
    );
}

/// A run folder on a 1.5 MB tmpfs: a checkpoint save runs out of space.
fn full_disk(m: &mut Matrix, root: &Path) {
    let mount = root.join("small-disk");
    fs::create_dir_all(&mount).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1500k", "tmpfs"])
        .arg(&mount)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        m.record(
            "a full disk (1.5 MB tmpfs)",
            "skipped: mounting a tmpfs needs root",
            true,
            0,
            "skipped",
        );
        return;
    }
    let dir = mount.join("run");
    let args = [
        "--synthetic",
        "21",
        "--base-width",
        "4",
        "--batch-size",
        "4",
        // The disk fills around epoch 5 or 6, well before the last.
        "--epochs",
        "12",
        "--quiet",
        "--out-dir",
        &dir.display().to_string(),
    ];
    let output = run(root, &args);
    let text = text_of(&output);
    let (epochs, whole) = checkpointed(&dir);
    let ok = output.status.code() == Some(1)
        && text.contains("No space left on device")
        && text.contains(&dir.display().to_string())
        && !text.contains("continue with")
        && whole;
    m.record(
        "a checkpoint save on a full disk (0.2: exit 0, a partial set)",
        "exit 1 naming the file and the cause; whole checkpoint sets only",
        ok,
        output.status.code().unwrap_or(-1),
        &text,
    );
    // Space freed: the run resumes after its last whole epoch and trains the same
    // epochs as a run that never ran out of space.
    let grown = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&mount)
        .status()
        .is_ok_and(|s| s.success());
    let output = run(root, &["--resume", &dir.display().to_string(), "--quiet"]);
    let resumed = text_of(&output);
    let reference = root.join("disk-reference");
    let mut reference_args: Vec<String> = args[..args.len() - 1]
        .iter()
        .map(|a| a.to_string())
        .collect();
    reference_args.push(reference.display().to_string());
    run(root, &strs(&reference_args));
    let metrics = |d: &Path| -> Vec<String> {
        rows(d)
            .iter()
            .map(|r| r.split(',').take(7).collect::<Vec<_>>().join(","))
            .collect()
    };
    let ok = grown
        && output.status.success()
        && resumed.contains(&format!(
            "continuing after epoch {}",
            epochs.last().copied().unwrap_or(0)
        ))
        && metrics(&dir) == metrics(&reference)
        && metrics(&dir).len() == 12;
    m.record(
        "--resume once space is freed",
        "continues after the last whole epoch; every row as in an uninterrupted run",
        ok,
        output.status.code().unwrap_or(-1),
        &resumed,
    );
    let _ = Command::new("umount").arg(&mount).status();
}

/// A longer run (400 images, 10 epochs) in the background, for the process rows.
fn long_run(root: &Path, dir: &Path, log: &Path) -> Child {
    let args = [
        "--synthetic",
        "400",
        "--base-width",
        "4",
        "--batch-size",
        "8",
        "--epochs",
        "10",
        "--quiet",
        "--out-dir",
        &dir.display().to_string(),
    ];
    spawn(root, &args, log)
}

fn second_process(m: &mut Matrix, root: &Path) {
    let dir = root.join("shared");
    let log = root.join("shared-first.log");
    let first = long_run(root, &dir, &log);
    let holder = format!("process {}", first.id());
    let lock = dir.join("run.lock");
    wait_until("the first run's lock", || {
        fs::read_to_string(&lock).is_ok_and(|t| t.contains(&holder))
            && dir.join("config.json").exists()
    });
    let started = Instant::now();
    let output = run(root, &["--resume", &dir.display().to_string(), "--quiet"]);
    let text = text_of(&output);
    let ok = output.status.code() == Some(1)
        && text.contains("in use")
        && text.contains(&holder)
        && started.elapsed() < Duration::from_secs(10);
    m.record(
        "--resume a folder another process trains in (0.2: both trained)",
        "refused at once, naming the folder and the holder",
        ok,
        output.status.code().unwrap_or(-1),
        &text,
    );
    // kill -9 leaves run.lock behind; the kernel's lock died with the process.
    let mut first = first;
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(lock.exists());
    let output = run(root, &["--resume", &dir.display().to_string(), "--quiet"]);
    let text = text_of(&output);
    let ok = output.status.success() && rows(&dir).len() == 10;
    m.record(
        "--resume after kill -9 (a stale run.lock)",
        "not blocked: trains to the end, exit 0",
        ok,
        output.status.code().unwrap_or(-1),
        &text,
    );
}

fn signals(m: &mut Matrix, root: &Path) {
    for (name, status, before) in [
        ("TERM", 143, "killed at once, exit 143, no message"),
        ("INT", 130, "stopped, exit 0"),
    ] {
        let dir = root.join(format!("sig{name}"));
        let log = root.join(format!("sig{name}.log"));
        let child = long_run(root, &dir, &log);
        wait_until("a first epoch row", || !rows(&dir).is_empty());
        signal(&child, name);
        let (code, text) = finish(child, &log);
        let (epochs, whole) = checkpointed(&dir);
        let saved = format!("epoch {} is saved", epochs.last().copied().unwrap_or(0));
        let ok = code == status
            && text.contains(&format!("SIG{name}"))
            && text.contains(&saved)
            && text.contains("--resume")
            && whole
            && !epochs.is_empty();
        m.record(
            &format!("SIG{name} mid-run (0.2: {before})"),
            &format!("stops like the first Ctrl-C: exit {status}, resumable"),
            ok,
            code,
            &text,
        );
        if name == "TERM" {
            let output = run(root, &["--resume", &dir.display().to_string(), "--quiet"]);
            let text = text_of(&output);
            let ok = output.status.success() && rows(&dir).len() == 10;
            m.record(
                "--resume after SIGTERM",
                "trains the remaining epochs, exit 0",
                ok,
                output.status.code().unwrap_or(-1),
                &text,
            );
        }
    }
}

/// `--tui` on a pseudo-terminal (`script`): burn-train's dashboard owns the
/// alternate screen; the epoch lines must come after it leaves it.
fn tui(m: &mut Matrix, root: &Path) {
    let typescript = root.join("tui.out");
    let dir = root.join("tui");
    let command = format!(
        "stty cols 120 rows 40; {} --synthetic 60 --base-width 2 --batch-size 10 --epochs 2 --tui --out-dir {}",
        binary().display(),
        dir.display()
    );
    let ran = Command::new("script")
        .args(["-qec", &command])
        .arg(&typescript)
        .stdout(Stdio::null())
        .status();
    let Ok(status) = ran else {
        m.record(
            "--tui on a terminal",
            "skipped: no `script` for a pty",
            true,
            0,
            "skipped",
        );
        return;
    };
    let bytes = fs::read(&typescript).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let leave = text.rfind("\x1b[?1049l");
    let lines: Vec<usize> = ["epoch   1/2", "epoch   2/2"]
        .iter()
        .filter_map(|l| text.find(l))
        .collect();
    let ok = status.success()
        && leave.is_some_and(|leave| lines.len() == 2 && lines.iter().all(|&at| at > leave));
    m.record(
        "--tui: epoch lines (0.2 printed them onto the dashboard)",
        "printed after the dashboard closes",
        ok,
        status.code().unwrap_or(-1),
        &format!("dashboard closed at byte {leave:?}, epoch lines at {lines:?}"),
    );
}

#[test]
fn runtime_faults_against_the_real_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut m = Matrix::default();
    divergence(&mut m, root);
    full_disk(&mut m, root);
    second_process(&mut m, root);
    signals(&mut m, root);
    tui(&mut m, root);
    m.finish(11);
}
