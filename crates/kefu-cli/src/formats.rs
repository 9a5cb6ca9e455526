//! Input formats: `--from` and the importers' flags. Detection and
//! dispatch live in `kefu_formats::detect` (shared with the dashboard's
//! upload).

use kefu_formats::import::{Format, ImportOptions};

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

pub(crate) use kefu_formats::detect::{detect, read_head};

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
