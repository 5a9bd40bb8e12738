//! What the two matrices share: the example binary, built first, and the table of
//! cases a matrix prints.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The example binary, built (or brought up to date) first: `cargo test` builds the
/// example only as a test harness, and a stale binary would test old code.
pub fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            // target/<profile>/deps/cli-<hash> -> target/<profile> -> target
            let exe = std::env::current_exe().expect("test binary path");
            let profile_dir = exe
                .parent()
                .and_then(Path::parent)
                .expect("target/<profile>");
            let target_dir = profile_dir.parent().expect("target directory");
            let mut build = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
            build
                .args([
                    "build",
                    "--quiet",
                    "--example",
                    "cifar10_resnet18",
                    "--manifest-path",
                ])
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
                .arg("--target-dir")
                .arg(target_dir);
            if profile_dir.ends_with("release") {
                build.arg("--release");
            }
            // The same features as this test, so the binary matches it.
            for (on, feature) in [
                (cfg!(feature = "cuda"), "cuda"),
                (cfg!(feature = "wgpu"), "wgpu"),
            ] {
                if on {
                    build.args(["--features", feature]);
                }
            }
            let status = build.status().expect("cargo runs");
            assert!(status.success(), "building the example failed");
            let bin = profile_dir
                .join("examples")
                .join(format!("cifar10_resnet18{}", std::env::consts::EXE_SUFFIX));
            assert!(
                bin.is_file(),
                "{} is missing after the build",
                bin.display()
            );
            bin
        })
        .clone()
}

/// What a case must do.
pub enum Expect {
    /// Exit with status 1 (a typed error) or 2 (the argument parser), the output
    /// naming every one of these strings.
    Fails(Vec<String>),
    /// Exit 0 with this many rows in `metrics.csv` of the run folder.
    Trains(PathBuf, usize),
}

#[derive(Default)]
pub struct Matrix {
    pub rows: Vec<(String, String, String)>,
    pub failures: Vec<String>,
}

impl Matrix {
    pub fn case(&mut self, name: &str, cwd: &Path, args: &[&str], expect: Expect) {
        let output = run(cwd, args);
        let text = text_of(&output);
        let code = output.status.code().unwrap_or(-1);
        let (expected, ok) = match &expect {
            Expect::Fails(needles) => (
                format!("error naming {needles:?}"),
                (code == 1 || code == 2) && needles.iter().all(|n| text.contains(n.as_str())),
            ),
            Expect::Trains(dir, rows) => {
                let csv = fs::read_to_string(dir.join("metrics.csv")).unwrap_or_default();
                let got = csv.lines().skip(1).count();
                let finite = csv.lines().skip(1).all(|l| {
                    l.split(',')
                        .all(|f| f.parse::<f64>().is_ok_and(f64::is_finite))
                });
                (
                    format!("trains, {rows} epoch rows"),
                    code == 0 && got == *rows && finite,
                )
            }
        };
        self.record(name, &expected, ok, code, &text);
    }

    /// Records a case run by the caller: what was expected, whether it held, and
    /// what the program said. A panic fails every case.
    pub fn record(&mut self, name: &str, expected: &str, ok: bool, code: i32, text: &str) {
        let panicked = text.contains("panicked") || text.contains("stack backtrace");
        let said = match last_line(text) {
            "" => text.lines().next().unwrap_or(""),
            line => line,
        };
        let got = format!(
            "exit {code}: {}",
            said.chars().take(110).collect::<String>()
        );
        if !ok || panicked {
            self.failures.push(format!(
                "{name}: expected {expected}, got exit {code}:\n{text}"
            ));
        }
        self.rows
            .push((name.to_string(), expected.to_string(), got));
    }

    /// Prints the table and fails on any failed case.
    pub fn finish(self, at_least: usize) {
        println!("\n| case | expected | got |\n|---|---|---|");
        for (case, expected, got) in &self.rows {
            println!("| {case} | {expected} | {got} |");
        }
        println!("{} cases, {} failed", self.rows.len(), self.failures.len());
        assert!(self.rows.len() >= at_least, "{} cases", self.rows.len());
        assert!(self.failures.is_empty(), "{}", self.failures.join("\n\n"));
    }
}

/// Runs the binary in `cwd` with `args`, to the end.
pub fn run(cwd: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(cwd)
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("the example binary starts")
}

/// Everything the program printed, stderr first.
pub fn text_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned() + &String::from_utf8_lossy(&output.stdout)
}

/// The line that says how the run ended (its error, or `done`/`stopped`).
pub fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| l.starts_with("error") || l.starts_with("done") || l.starts_with("stopped"))
        .unwrap_or("")
}

pub fn s(text: &str) -> String {
    text.to_string()
}

/// An expected refusal whose output names every one of `needles`.
pub fn fails(needles: &[&str]) -> Expect {
    Expect::Fails(needles.iter().map(|n| s(n)).collect())
}

/// `base` then `extra`, as owned arguments.
pub fn args(base: &[&str], extra: &[&str]) -> Vec<String> {
    base.iter().chain(extra).map(|a| a.to_string()).collect()
}
