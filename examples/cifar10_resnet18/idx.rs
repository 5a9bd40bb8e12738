//! Fashion-MNIST's four IDX files (Zalando Research, MIT licence), gzip
//! compressed or not: the format, its validation and the lookup, with no other
//! dependency than `flate2` and `thiserror`, so that both examples read the files
//! with this one reader (`#[path]`-included by `digits_ablation`).
//!
//! An IDX file is a big-endian header (magic `0x0000080D`: unsigned bytes, `D`
//! dimensions; then `D` sizes) followed by the data: `[N, 28, 28]` images
//! (`0x00000803`) or `[N]` labels (`0x00000801`).

use std::io::Read;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Side of an image.
pub const SIDE: usize = 28;
/// Classes; labels are `0..CLASSES`.
pub const CLASSES: usize = 10;

/// Every way one of the files can be wrong, each naming the file.
#[derive(Debug, Error)]
pub enum IdxError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a readable gzip file: {reason}")]
    Gzip { path: PathBuf, reason: String },
    #[error(
        "{path} is {actual} bytes long, shorter than an IDX {what} file's {needed}-byte header \
         (an empty or truncated file)"
    )]
    Header {
        path: PathBuf,
        what: &'static str,
        needed: usize,
        actual: usize,
    },
    #[error(
        "{path} is not an IDX {what} file: its magic number is {found:#010x}, expected {expected:#010x}"
    )]
    Magic {
        path: PathBuf,
        what: &'static str,
        found: u32,
        expected: u32,
    },
    #[error(
        "{path} declares {declared}, which take {expected} bytes after its header, but it holds \
         {actual} (a truncated or padded file)"
    )]
    Length {
        path: PathBuf,
        declared: String,
        expected: u64,
        actual: u64,
    },
    #[error("{path} holds {rows}x{cols} images; Fashion-MNIST's are 28x28")]
    ImageSize { path: PathBuf, rows: u32, cols: u32 },
    #[error("{path} holds {items} items; the official file holds exactly {expected}")]
    Count {
        path: PathBuf,
        items: usize,
        expected: usize,
    },
    #[error("{path}: item {item} has label {label}, but the 10 classes are 0..=9")]
    Label {
        path: PathBuf,
        item: usize,
        label: u8,
    },
    #[error("{images} holds {image_count} images but {labels} holds {label_count} labels")]
    CountMismatch {
        images: PathBuf,
        image_count: usize,
        labels: PathBuf,
        label_count: usize,
    },
}

/// Where Debian's and Ubuntu's package `dataset-fashion-mnist` puts the files.
pub const DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";
/// Names another system-wide folder to look in instead of [`DEBIAN_DIR`].
pub const SYSTEM_DIR_VAR: &str = "FASHION_MNIST_SYSTEM_DIR";
/// Zalando's published files.
pub const BASE_URL: &str =
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion";

/// One of the four files: its name (without `.gz`), images or labels, the number
/// of items in the official release, and the published gzip file's size and MD5
/// (Zalando's README; torchvision checks the same).
#[derive(Debug, Clone, Copy)]
pub struct IdxFile {
    pub name: &'static str,
    pub images: bool,
    pub official_items: usize,
    pub gz_bytes: u64,
    pub gz_md5: &'static str,
}

/// Training images, training labels, test images, test labels.
pub const FILES: [IdxFile; 4] = [
    IdxFile {
        name: "train-images-idx3-ubyte",
        images: true,
        official_items: 60_000,
        gz_bytes: 26_421_880,
        gz_md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    },
    IdxFile {
        name: "train-labels-idx1-ubyte",
        images: false,
        official_items: 60_000,
        gz_bytes: 29_515,
        gz_md5: "25c81989df183df01b3e8a0aad5dffbe",
    },
    IdxFile {
        name: "t10k-images-idx3-ubyte",
        images: true,
        official_items: 10_000,
        gz_bytes: 4_422_102,
        gz_md5: "bef4ecab320f06d8554ea6380940ec79",
    },
    IdxFile {
        name: "t10k-labels-idx1-ubyte",
        images: false,
        official_items: 10_000,
        gz_bytes: 5_148,
        gz_md5: "bb300cfdad3c16e7a12a480ee83cd310",
    },
];

/// Parses one IDX file's bytes (already decompressed): the header checked against
/// `file`, the length against the header, every label against the classes.
/// Returns the items' bytes and their count.
pub fn parse_idx(
    bytes: &[u8],
    file: &IdxFile,
    path: &Path,
    official: bool,
) -> Result<(Vec<u8>, usize), IdxError> {
    let dims: usize = if file.images { 3 } else { 1 };
    let expected_magic = 0x0800 + dims as u32;
    let word = |i: usize| -> Option<u32> {
        let b = bytes.get(4 * i..4 * i + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let what = if file.images { "image" } else { "label" };
    let header = 4 * (1 + dims);
    let too_short = |needed: usize| IdxError::Header {
        path: path.to_path_buf(),
        what,
        needed,
        actual: bytes.len(),
    };
    // The magic first (a label file in the images' place is named as such), then
    // the rest of the header it announces.
    let magic = word(0).ok_or_else(|| too_short(header))?;
    if magic != expected_magic {
        return Err(IdxError::Magic {
            path: path.to_path_buf(),
            what,
            found: magic,
            expected: expected_magic,
        });
    }
    if bytes.len() < header {
        return Err(too_short(header));
    }
    let sizes: Vec<u32> = (1..=dims)
        .map(|i| word(i).expect("the header is there"))
        .collect();
    if file.images && (sizes[1] as usize != SIDE || sizes[2] as usize != SIDE) {
        return Err(IdxError::ImageSize {
            path: path.to_path_buf(),
            rows: sizes[1],
            cols: sizes[2],
        });
    }
    let items = sizes[0] as usize;
    let expected = sizes.iter().map(|&s| s as u64).product::<u64>();
    let actual = (bytes.len() - header) as u64;
    if actual != expected {
        return Err(IdxError::Length {
            path: path.to_path_buf(),
            declared: format!("{items} {what}s"),
            expected,
            actual,
        });
    }
    if official && items != file.official_items {
        return Err(IdxError::Count {
            path: path.to_path_buf(),
            items,
            expected: file.official_items,
        });
    }
    let data = bytes[header..].to_vec();
    if !file.images
        && let Some(record) = data.iter().position(|&l| l as usize >= CLASSES)
    {
        return Err(IdxError::Label {
            path: path.to_path_buf(),
            item: record,
            label: data[record],
        });
    }
    Ok((data, items))
}

/// The file `name` in `dir`, raw or gzip compressed, if either is there.
pub fn find(dir: &Path, file: &IdxFile) -> Option<PathBuf> {
    [file.name.to_string(), format!("{}.gz", file.name)]
        .into_iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file())
}

/// Reads a file, decompressing it when it starts with gzip's magic bytes.
fn read(path: &Path) -> Result<Vec<u8>, IdxError> {
    let bytes = std::fs::read(path).map_err(|source| IdxError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len() * 4);
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_end(&mut out)
        .map_err(|e| IdxError::Gzip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(out)
}

/// One split: `[N, 28, 28]` image bytes and `N` labels.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxSplit {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

/// What a folder holds of the four files.
pub enum Found<T> {
    /// None of them.
    Nothing,
    /// Some, not all: the names of the missing ones.
    Partial(Vec<&'static str>),
    /// All four, read and validated.
    Whole(T),
}

/// Reads the four files of `dir` (training split, test split), checking each and
/// that images and labels agree in number; `official`: the release's counts.
pub fn open_dir(dir: &Path, official: bool) -> Result<Found<[IdxSplit; 2]>, IdxError> {
    let paths: Vec<Option<PathBuf>> = FILES.iter().map(|f| find(dir, f)).collect();
    let missing: Vec<&'static str> = FILES
        .iter()
        .zip(&paths)
        .filter(|(_, p)| p.is_none())
        .map(|(f, _)| f.name)
        .collect();
    if missing.len() == FILES.len() {
        return Ok(Found::Nothing);
    }
    if !missing.is_empty() {
        return Ok(Found::Partial(missing));
    }
    let paths: Vec<PathBuf> = paths.into_iter().flatten().collect();
    let split = |at: usize| -> Result<IdxSplit, IdxError> {
        let parse = |i: usize| parse_idx(&read(&paths[i])?, &FILES[i], &paths[i], official);
        let ((images, image_count), (labels, label_count)) = (parse(at)?, parse(at + 1)?);
        if image_count != label_count {
            return Err(IdxError::CountMismatch {
                images: paths[at].clone(),
                image_count,
                labels: paths[at + 1].clone(),
                label_count,
            });
        }
        Ok(IdxSplit { images, labels })
    };
    Ok(Found::Whole([split(0)?, split(2)?]))
}

/// The system-wide folder to look in: `$FASHION_MNIST_SYSTEM_DIR`, else Debian's.
pub fn system_dir() -> PathBuf {
    std::env::var_os(SYSTEM_DIR_VAR).map_or_else(|| PathBuf::from(DEBIAN_DIR), PathBuf::from)
}

/// The IDX bytes of `images` (`[N, 28, 28]`, back to back) or of labels.
pub fn idx_bytes(data: &[u8], images: bool) -> Vec<u8> {
    let side = SIDE;
    let mut bytes = Vec::with_capacity(data.len() + 16);
    if images {
        let n = (data.len() / (side * side)) as u32;
        bytes.extend(0x0803u32.to_be_bytes());
        bytes.extend(n.to_be_bytes());
        bytes.extend((side as u32).to_be_bytes());
        bytes.extend((side as u32).to_be_bytes());
    } else {
        bytes.extend(0x0801u32.to_be_bytes());
        bytes.extend((data.len() as u32).to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}
