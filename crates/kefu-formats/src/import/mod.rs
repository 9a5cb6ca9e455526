//! Importers: the files contact centres already have, turned into
//! [`Conversation`]s. Each importer reads one whole file (vendor ASR results
//! are one call per file; CSV and chat exports hold many conversations) and
//! returns every conversation it could read plus a `line: reason` for every
//! record it could not, never failing as a whole because of one bad record.
//!
//! See docs/formats.md for each vendor's fields and the mapping.

use std::collections::VecDeque;
use std::io;

use kefu_engine::Conversation;

use crate::native::{Batch, BatchSource, RecordError};

pub mod aliyun;
pub mod amazon;
pub mod chatlog;
pub mod complaints;
pub mod csv;
pub mod customers;
pub mod huawei;
pub mod tencent;
/// What the four vendor importers share.
pub(crate) mod vendor;

/// A record that could not be read, located by line (1-based; 0 when the
/// whole file is concerned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// 1-based line, 0 for the file as a whole.
    pub line: u64,
    /// Why, in words an operator can act on.
    pub reason: String,
}

impl ImportError {
    /// An error about the whole file.
    pub fn file(reason: impl Into<String>) -> ImportError {
        ImportError {
            line: 0,
            reason: reason.into(),
        }
    }
}

/// What an importer produced from one file.
#[derive(Debug, Default)]
pub struct Imported {
    /// Conversations read, in file order.
    pub conversations: Vec<Conversation<'static>>,
    /// Records that could not be read.
    pub errors: Vec<ImportError>,
}

/// How the speakers and columns of a source map onto kefu's model.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Which ASR channel or speaker id is the agent (`--agent-channel 0`).
    /// `None`: the importer's documented default, or an error when it
    /// cannot decide.
    pub agent_channel: Option<String>,
    /// Chat logs: the sender names that are agents (`--agent-name 店小二`).
    pub agent_names: Vec<String>,
    /// CSV: column names and role values.
    pub csv: CsvOptions,
    /// Conversation id to use when the file carries none (default: the
    /// file name without extension).
    pub default_id: Option<String>,
    /// Largest record (native format) in bytes; `None`: the default
    /// [`crate::native::MAX_RECORD_BYTES`].
    pub max_record_bytes: Option<usize>,
    /// Largest file of a format read whole (vendor JSON, CSV, chat logs) in
    /// bytes; `None`: [`DEFAULT_MAX_FILE_BYTES`].
    pub max_file_bytes: Option<u64>,
}

/// Largest file of a format that is read whole, by default: 512 MiB.
/// Native JSON Lines files are streamed and have no file limit.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

/// CSV/TSV layout. Empty fields mean "use the default".
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// Column holding the conversation id (default: first of
    /// `conversation_id`, `会话ID`, `id`).
    pub id_column: Option<String>,
    /// Column holding the role.
    pub role_column: Option<String>,
    /// Column holding the text.
    pub text_column: Option<String>,
    /// Column holding the start offset (ms) or timestamp.
    pub start_column: Option<String>,
    /// Column holding the end offset (ms) or timestamp.
    pub end_column: Option<String>,
    /// Column holding the agent id.
    pub agent_column: Option<String>,
    /// Column holding the customer id.
    pub customer_column: Option<String>,
    /// Column holding the conversation start time.
    pub time_column: Option<String>,
    /// Extra values meaning "agent" (besides agent/客服/坐席 …).
    pub agent_values: Vec<String>,
    /// Extra values meaning "customer" (besides customer/客户/用户 …).
    pub customer_values: Vec<String>,
    /// Field delimiter; `None` detects `,` or tab.
    pub delimiter: Option<u8>,
}

/// The formats kefu reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// kefu's native JSONL or JSON array.
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
    /// Plain chat-log text export.
    ChatLog,
}

/// An importer's output as a [`BatchSource`]: each conversation becomes a
/// native record (numbered from 1, in file order), each error a record error,
/// so imported files flow through the same pipeline as native ones.
pub struct ImportedBatches {
    queue: VecDeque<Result<Conversation<'static>, ImportError>>,
    record: u64,
}

impl ImportedBatches {
    /// Wraps an importer's output.
    pub fn new(imported: Imported) -> ImportedBatches {
        let mut queue: VecDeque<_> = imported.conversations.into_iter().map(Ok).collect();
        queue.extend(imported.errors.into_iter().map(Err));
        ImportedBatches { queue, record: 0 }
    }
}

impl BatchSource for ImportedBatches {
    fn next_batch(
        &mut self,
        batch: &mut Batch,
        max_records: usize,
        max_bytes: usize,
    ) -> io::Result<bool> {
        batch.data.clear();
        batch.records.clear();
        batch.errors.clear();
        while batch.records.len() + batch.errors.len() < max_records && batch.data.len() < max_bytes
        {
            let Some(next) = self.queue.pop_front() else {
                break;
            };
            match next {
                Ok(conv) => {
                    self.record += 1;
                    let start = batch.data.len();
                    serde_json::to_writer(&mut batch.data, &conv).map_err(io::Error::other)?;
                    batch.records.push((start, batch.data.len(), self.record));
                }
                Err(e) => batch.errors.push(RecordError {
                    line: e.line,
                    reason: e.reason,
                }),
            }
        }
        Ok(!batch.is_empty())
    }
}
