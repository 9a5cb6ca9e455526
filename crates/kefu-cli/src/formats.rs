//! Input formats: `--from`, detection, and dispatch to the importers.

use std::path::Path;

use kefu_formats::import::{self, Format, ImportOptions, Imported};

/// `--from` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum From {
    /// Detect per file (the default).
    Auto,
    /// kefu's native JSONL / JSON array.
    Native,
    /// Alibaba Cloud file transcription result.
    Aliyun,
    /// Tencent Cloud ASR result.
    Tencent,
    /// Huawei Cloud SIS result.
    Huawei,
    /// Amazon Transcribe Call Analytics output.
    Amazon,
    /// CSV/TSV, one turn per row.
    Csv,
    /// Chat-log text export.
    Chatlog,
}

impl From {
    /// The format, or `None` for auto-detection.
    pub(crate) fn format(self) -> Option<Format> {
        Some(match self {
            From::Auto => return None,
            From::Native => Format::Native,
            From::Aliyun => Format::Aliyun,
            From::Tencent => Format::Tencent,
            From::Huawei => Format::Huawei,
            From::Amazon => Format::Amazon,
            From::Csv => Format::Csv,
            From::Chatlog => Format::ChatLog,
        })
    }
}

/// Bytes looked at to detect a format.
const HEAD_BYTES: usize = 1 << 20;

/// Guesses the format of a file from its name and first bytes.
pub(crate) fn detect(path: &Path, head: &[u8]) -> Format {
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
pub(crate) fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    std::fs::File::open(path)?
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// Runs the importer for a non-native format over a whole file.
pub(crate) fn import(format: Format, name: &str, bytes: &[u8], opts: &ImportOptions) -> Imported {
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

/// Command-line options shared by `inspect` and `import` for reading input.
#[derive(clap::Args, Clone, Debug)]
pub(crate) struct InputArgs {
    /// Input format; by default detected per file.
    #[arg(long, value_enum, default_value = "auto")]
    pub from: From,
    /// ASR files: which channel or speaker id is the agent (default 0).
    #[arg(long)]
    pub agent_channel: Option<String>,
    /// Chat logs: a sender name that is an agent (repeatable).
    #[arg(long = "agent-name")]
    pub agent_names: Vec<String>,
    /// CSV: column holding the conversation id.
    #[arg(long)]
    pub csv_id: Option<String>,
    /// CSV: column holding the role.
    #[arg(long)]
    pub csv_role: Option<String>,
    /// CSV: column holding the text.
    #[arg(long)]
    pub csv_text: Option<String>,
    /// CSV: role values meaning agent, comma-separated (e.g. A,客服).
    #[arg(long, value_delimiter = ',')]
    pub agent_values: Vec<String>,
    /// CSV: role values meaning customer, comma-separated (e.g. B,客户).
    #[arg(long, value_delimiter = ',')]
    pub customer_values: Vec<String>,
    /// Largest record of a JSON Lines/array file, in bytes (default 32 MiB);
    /// longer records are skipped and reported.
    #[arg(long, value_name = "BYTES")]
    pub max_record_size: Option<usize>,
    /// Largest file of a format read whole (vendor JSON, CSV, chat logs), in
    /// bytes (default 512 MiB); larger files are refused with an error.
    #[arg(long, value_name = "BYTES")]
    pub max_file_size: Option<u64>,
}

impl InputArgs {
    /// The importers' options.
    pub(crate) fn options(&self) -> ImportOptions {
        let mut opts = ImportOptions {
            agent_channel: self.agent_channel.clone(),
            agent_names: self.agent_names.clone(),
            max_record_bytes: self.max_record_size,
            max_file_bytes: self.max_file_size,
            ..ImportOptions::default()
        };
        opts.csv.id_column = self.csv_id.clone();
        opts.csv.role_column = self.csv_role.clone();
        opts.csv.text_column = self.csv_text.clone();
        opts.csv.agent_values = self.agent_values.clone();
        opts.csv.customer_values = self.customer_values.clone();
        opts
    }
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
