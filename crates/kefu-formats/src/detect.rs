//! Which format a file is in, and its records as native batches: the one
//! place `kefu inspect`/`kefu import` and the dashboard's upload find out
//! how to read a file.

use std::io::{self, BufRead, Read};
use std::path::Path;

use crate::import::{
    self, Format, ImportOptions, Imported, ImportedBatches, DEFAULT_MAX_FILE_BYTES,
};
use crate::native::{BatchSource, RecordReader, MAX_RECORD_BYTES};

/// Bytes looked at to detect a format.
pub const HEAD_BYTES: usize = 1 << 20;

/// Guesses the format of a file from its name and first bytes
/// ([`HEAD_BYTES`] are enough).
pub fn detect(path: &Path, head: &[u8]) -> Format {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "csv" | "tsv" => return Format::Csv,
        "txt" | "log" => {
            return if import::csv::detect(head) {
                Format::Csv
            } else {
                Format::ChatLog
            }
        }
        _ => {}
    }
    // JSON of some shape: look at the first document (a whole small file,
    // the first line of JSON Lines, or the first element of an array).
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let first: Option<serde_json::Value> = serde_json::from_str(trimmed).ok().or_else(|| {
        let line = trimmed.lines().next().unwrap_or("");
        serde_json::from_str(line).ok()
    });
    let doc = match first {
        Some(serde_json::Value::Array(items)) => items.into_iter().next(),
        other => other,
    };
    if let Some(doc) = doc {
        if doc.get("turns").is_some() {
            return Format::Native;
        }
        if import::aliyun::detect(&doc) {
            return Format::Aliyun;
        }
        if import::tencent::detect(&doc) {
            return Format::Tencent;
        }
        if import::huawei::detect(&doc) {
            return Format::Huawei;
        }
        if import::amazon::detect(&doc) {
            return Format::Amazon;
        }
        return Format::Native;
    }
    // Not JSON we could read from the head (a large array or a broken file):
    // recognise vendors by their field names, else treat as native and let
    // the reader report line by line.
    let has = |key: &str| trimmed.contains(key);
    if has("\"turns\"") {
        Format::Native
    } else if has("\"Sentences\"") || has("\"sentences\"") {
        Format::Aliyun
    } else if has("\"ResultDetail\"") {
        Format::Tencent
    } else if has("\"analysis_info\"") || has("\"segments\"") {
        Format::Huawei
    } else if has("\"ParticipantRole\"") {
        Format::Amazon
    } else if !trimmed.starts_with(['{', '[']) && import::csv::detect(head) {
        Format::Csv
    } else {
        Format::Native
    }
}

/// Reads the first bytes of a file for [`detect`].
pub fn read_head(path: &Path) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(HEAD_BYTES);
    std::fs::File::open(path)?
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// Runs the importer for a non-native format over a whole file.
pub fn import_whole(format: Format, name: &str, bytes: &[u8], opts: &ImportOptions) -> Imported {
    match format {
        Format::Aliyun => import::aliyun::read(name, bytes, opts),
        Format::Tencent => import::tencent::read(name, bytes, opts),
        Format::Huawei => import::huawei::read(name, bytes, opts),
        Format::Amazon => import::amazon::read(name, bytes, opts),
        Format::Csv => import::csv::read(name, bytes, opts),
        Format::ChatLog => import::chatlog::read(name, bytes, opts),
        Format::Native => Imported {
            conversations: Vec::new(),
            errors: vec![import::ImportError::file(
                "native files are read as a stream, not imported",
            )],
        },
    }
}

/// Batches of native records from `reader` in `format`: native JSON Lines
/// and arrays are streamed (records up to `opts.max_record_bytes`); other
/// formats are read whole (up to `opts.max_file_bytes`; `size`, when known,
/// refuses a larger file before reading it) and run through their importer,
/// then `adjust` may fill in what the file lacks (agent, start time).
///
/// # Errors
///
/// Reading fails, or a whole-read file is over its limit.
pub fn open_batches(
    reader: Box<dyn BufRead + Send>,
    size: Option<u64>,
    format: Format,
    name: &str,
    opts: &ImportOptions,
    adjust: impl FnOnce(&mut Imported),
) -> io::Result<Box<dyn BatchSource + Send>> {
    if format == Format::Native {
        let max = opts.max_record_bytes.unwrap_or(MAX_RECORD_BYTES);
        return Ok(Box::new(
            RecordReader::new(reader).with_max_record_bytes(max),
        ));
    }
    let max = opts.max_file_bytes.unwrap_or(DEFAULT_MAX_FILE_BYTES);
    if let Some(size) = size.filter(|&n| n > max) {
        return Err(too_large(size, max));
    }
    let mut bytes = Vec::new();
    reader.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64, max));
    }
    let mut imported = import_whole(format, name, &bytes, opts);
    adjust(&mut imported);
    Ok(Box::new(ImportedBatches::new(imported)))
}

fn too_large(size: u64, max: u64) -> io::Error {
    io::Error::other(format!(
        "{size} bytes is more than the per-file limit of {max} bytes for this format \
         (read whole); raise it with --max-file-size, split the file, or convert it \
         to JSON Lines, which is streamed"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_lens_output_is_detected_as_amazon() {
        let bytes = include_bytes!("../../../examples/vendors/amazon-contact-lens.json");
        assert!(matches!(
            detect(Path::new("contact.json"), bytes),
            Format::Amazon
        ));
    }
}
