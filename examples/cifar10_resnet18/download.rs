//! Fetching the official archive: streamed, checksummed, renamed into place.
//!
//! The bytes go to a temporary file beside the destination while their MD5 is
//! computed; only a transfer of the right size and checksum is renamed to the final
//! name, so an interrupted or corrupt download never leaves a file that looks
//! complete. `file://` sources work too (a local mirror, or the tests).

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::data::DataError;

/// The official binary release.
pub const ARCHIVE_URL: &str = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz";
/// Its file name.
pub const ARCHIVE_NAME: &str = "cifar-10-binary.tar.gz";
/// Its size in bytes.
pub const ARCHIVE_BYTES: u64 = 170_052_171;
/// Its MD5, as published on the CIFAR page.
pub const ARCHIVE_MD5: &str = "c32a1d4ab5d03f1284b67883e8d87530";

/// The hint shown when the data is not where it should be.
pub fn placement_hint(root: &Path) -> String {
    format!(
        "Put the official binary version there: either the archive {archive} \
         (from {url}) or its unpacked folder {dir}/ with {files} and {test}. \
         Without internet, copy either from another machine; or run with --synthetic.",
        archive = root.join(ARCHIVE_NAME).display(),
        url = ARCHIVE_URL,
        dir = root.join(crate::data::BATCHES_DIR).display(),
        files = crate::data::TRAIN_FILES.join(", "),
        test = crate::data::TEST_FILE,
    )
}

/// Where to fetch from and what must arrive.
#[derive(Debug, Clone)]
pub struct Source {
    /// What the progress bar calls it.
    pub label: String,
    pub url: String,
    pub size: u64,
    pub md5: String,
}

impl Source {
    /// The official archive.
    pub fn official() -> Self {
        Self {
            label: "CIFAR-10".to_string(),
            url: ARCHIVE_URL.to_string(),
            size: ARCHIVE_BYTES,
            md5: ARCHIVE_MD5.to_string(),
        }
    }
}

fn offline_hint(url: &str, dest: &Path) -> String {
    format!(
        "Without internet, download {url} on another machine and copy it to {} \
         (or unpack it there), then run again; --synthetic trains on generated data instead.",
        dest.display()
    )
}

fn open(url: &str, dest: &Path) -> Result<(Box<dyn Read>, Option<u64>), DataError> {
    let failed = |reason: String| DataError::Download {
        url: url.to_string(),
        reason,
        hint: offline_hint(url, dest),
    };
    if let Some(path) = url.strip_prefix("file://") {
        let file = fs::File::open(path).map_err(|e| failed(e.to_string()))?;
        let len = file.metadata().map(|m| m.len()).ok();
        return Ok((Box::new(file), len));
    }
    let response = ureq::get(url).call().map_err(|e| failed(e.to_string()))?;
    let len = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    Ok((Box::new(response.into_body().into_reader()), len))
}

/// Downloads `source` to `dest`, verifying size and MD5, atomically.
pub fn fetch(source: &Source, dest: &Path, show_progress: bool) -> Result<(), DataError> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let (mut reader, announced) = open(&source.url, dest)?;
    let part: PathBuf = dir.join(format!(
        ".{}.{}.part",
        dest.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("download"),
        std::process::id()
    ));
    let result = (|| {
        let io = |source| DataError::Io {
            path: part.clone(),
            source,
        };
        let mut file = fs::File::create(&part).map_err(io)?;
        let bar = if show_progress {
            let bar = ProgressBar::new(announced.unwrap_or(source.size));
            bar.set_style(
                ProgressStyle::with_template(
                    "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                )
                .expect("static template"),
            );
            bar.set_message(source.label.clone());
            bar
        } else {
            ProgressBar::hidden()
        };
        let mut hasher = md5::Context::new();
        let mut buffer = vec![0u8; 1 << 16];
        let mut received = 0u64;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err(DataError::Download {
                        url: source.url.clone(),
                        reason: format!("after {received} bytes: {e}"),
                        hint: offline_hint(&source.url, dest),
                    });
                }
            };
            hasher.consume(&buffer[..n]);
            file.write_all(&buffer[..n]).map_err(io)?;
            received += n as u64;
            bar.set_position(received);
        }
        bar.finish_and_clear();
        if received != source.size {
            return Err(DataError::Truncated {
                path: dest.to_path_buf(),
                expected: source.size,
                actual: received,
            });
        }
        let actual = format!("{:x}", hasher.finalize());
        if actual != source.md5 {
            return Err(DataError::ChecksumMismatch {
                path: dest.to_path_buf(),
                expected: source.md5.clone(),
                actual,
            });
        }
        file.sync_all().map_err(io)?;
        drop(file);
        fs::rename(&part, dest).map_err(io)?;
        crate::checkpoint::sync_dir(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&part);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    /// A one-shot HTTP server on loopback: announces `announced` bytes, sends `body`,
    /// closes. Returns its URL.
    fn serve_once(body: Vec<u8>, announced: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/cifar-10-binary.tar.gz",
            listener.local_addr().unwrap()
        );
        std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            let mut stream = stream;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {announced}\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        });
        url
    }

    fn source_for(body: &[u8], url: String) -> Source {
        Source {
            label: "test".into(),
            url,
            size: body.len() as u64,
            md5: format!("{:x}", md5::compute(body)),
        }
    }

    #[test]
    fn verified_download_over_http_lands_atomically() {
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join(ARCHIVE_NAME);
        let source = source_for(&body, serve_once(body.clone(), body.len()));
        fetch(&source, &dest, false).unwrap();
        assert_eq!(fs::read(&dest).unwrap(), body);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn checksum_mismatch_and_truncation_leave_no_file() {
        let body: Vec<u8> = (0..50_000u32).map(|i| (i % 13) as u8).collect();
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join(ARCHIVE_NAME);

        let mut corrupt = body.clone();
        corrupt[1234] ^= 0xFF;
        let source = source_for(&body, serve_once(corrupt, body.len()));
        assert!(matches!(
            fetch(&source, &dest, false),
            Err(DataError::ChecksumMismatch { .. })
        ));
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);

        // The server announces the full length but closes half way.
        let source = source_for(&body, serve_once(body[..25_000].to_vec(), body.len()));
        let err = fetch(&source, &dest, false).unwrap_err();
        assert!(
            matches!(
                err,
                DataError::Download { .. } | DataError::Truncated { .. }
            ),
            "{err}"
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);

        // A short file from a file:// mirror is caught by the size check.
        let short = dir.path().join("short.bin");
        fs::write(&short, &body[..100]).unwrap();
        let source = source_for(&body, format!("file://{}", short.display()));
        assert!(matches!(
            fetch(&source, &dest, false),
            Err(DataError::Truncated { actual: 100, .. })
        ));
        assert!(!dest.exists());
    }

    #[test]
    fn unreachable_source_says_how_to_get_the_data() {
        let dir = tempfile::tempdir().unwrap();
        // A port nobody listens on (bound then released).
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let source = Source {
            label: "test".into(),
            url: format!("http://127.0.0.1:{port}/x.tar.gz"),
            size: 1,
            md5: String::new(),
        };
        let err = fetch(&source, &dir.path().join(ARCHIVE_NAME), false).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("copy it to") && text.contains("--synthetic"),
            "{text}"
        );
    }
}
