//! kefu's native conversation format: JSON Lines, or one JSON array.
//!
//! The reader never holds more than one batch of records in memory and
//! never fails as a whole because of one bad record: each record comes with
//! its 1-based line number so a bad one is reported as `file:line: reason`
//! while the rest go through.

use std::io::{self, BufRead};

use kefu_engine::Conversation;

mod fast;

/// Longest record accepted by default; longer ones are skipped and
/// reported. Large enough for a conversation with a 10 MB turn, small
/// enough that one record (parsed, inspected and stored at roughly 16× its
/// size) or a file without line breaks cannot exhaust memory. Change it per
/// reader with [`RecordReader::with_max_record_bytes`].
pub const MAX_RECORD_BYTES: usize = 32 * 1024 * 1024;

/// A batch of raw records: one buffer, with the bounds and line of each.
#[derive(Debug, Default)]
pub struct Batch {
    /// Concatenated record bytes.
    pub data: Vec<u8>,
    /// `(start, end, line)` of each record in `data`; `line` is 1-based.
    pub records: Vec<(usize, usize, u64)>,
    /// Records that could not even be cut out (too long, truncated array).
    pub errors: Vec<RecordError>,
}

impl Batch {
    /// Iterates over `(line, bytes)` of the records.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.records
            .iter()
            .map(|&(s, e, line)| (line, &self.data[s..e]))
    }

    /// Whether the batch holds neither records nor errors.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.errors.is_empty()
    }
}

/// A record that could not be used, located by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// 1-based line where the record starts.
    pub line: u64,
    /// Why.
    pub reason: String,
}

/// Parses one record into a conversation borrowing from `bytes`.
pub fn parse_conversation(bytes: &[u8]) -> Result<Conversation<'_>, String> {
    parse_record(bytes).map(|(conv, _)| conv)
}

/// Parses one record into a conversation borrowing from `bytes`, and
/// returns the record's text as well (validated as UTF-8 once, here, so
/// callers that keep the raw record need not validate it again).
pub fn parse_record(bytes: &[u8]) -> Result<(Conversation<'_>, &str), String> {
    // Validating UTF-8 once for the whole record is faster than serde_json
    // validating string by string, and gives a clearer message.
    let text = match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => text,
        Err(_) => {
            // Only the slow validator says where the bad byte is.
            let at = std::str::from_utf8(bytes)
                .err()
                .map_or(0, |e| e.valid_up_to());
            return Err(format!("invalid UTF-8 at byte {at} of the record"));
        }
    };
    // Most records have one shape, which a direct parser reads several
    // times faster; anything else (and every error) goes through serde.
    let conv = match fast::parse(text) {
        Some(conv) => conv,
        None => serde_json::from_str(text).map_err(|e| describe_json_error(&e))?,
    };
    validate(&conv)?;
    Ok((conv, text))
}

/// Checks what serde cannot: an id to report findings against, and ids no
/// longer than [`kefu_engine::model::MAX_ID_CHARS`] — the limit complaints
/// and customers hold them to, so an imported conversation can always be
/// linked.
pub fn validate(conv: &Conversation<'_>) -> Result<(), String> {
    use kefu_engine::model::MAX_ID_CHARS;
    if conv.id.trim().is_empty() {
        return Err("conversation `id` is empty".into());
    }
    let ids = [
        ("id", Some(&conv.id)),
        ("agent_id", conv.agent_id.as_ref()),
        ("customer_id", conv.customer_id.as_ref()),
    ];
    for (field, value) in ids {
        if let Some(v) = value {
            let n = v.chars().count();
            if n > MAX_ID_CHARS {
                return Err(format!(
                    "`{field}` has {n} characters; at most {MAX_ID_CHARS} are accepted"
                ));
            }
        }
    }
    Ok(())
}

fn describe_json_error(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    // serde_json appends "at line 1 column N"; the line is ours, keep the column.
    match msg.rfind(" at line ") {
        Some(i) => {
            let col = msg[i..].rsplit("column ").next().unwrap_or("");
            format!("{} (column {})", &msg[..i], col)
        }
        None => msg,
    }
}

/// Anything that hands out batches of native records: the JSONL reader, or
/// the output of an importer.
pub trait BatchSource {
    /// Fills `batch` (cleared first); `false` once nothing more comes.
    fn next_batch(
        &mut self,
        batch: &mut Batch,
        max_records: usize,
        max_bytes: usize,
    ) -> io::Result<bool>;
}

impl<R: BufRead> BatchSource for RecordReader<R> {
    fn next_batch(
        &mut self,
        batch: &mut Batch,
        max_records: usize,
        max_bytes: usize,
    ) -> io::Result<bool> {
        RecordReader::next_batch(self, batch, max_records, max_bytes)
    }
}

/// Cuts a stream into records, batch by batch.
pub struct RecordReader<R: BufRead> {
    input: R,
    line: u64,
    started: bool,
    array: bool,
    done: bool,
    max_record: usize,
}

impl<R: BufRead> RecordReader<R> {
    /// Wraps a buffered stream. The format (lines or array) is detected
    /// from the first non-blank byte.
    pub fn new(input: R) -> RecordReader<R> {
        RecordReader {
            input,
            line: 1,
            started: false,
            array: false,
            done: false,
            max_record: MAX_RECORD_BYTES,
        }
    }

    /// The same reader with another per-record limit (at least 1 byte).
    pub fn with_max_record_bytes(mut self, max: usize) -> RecordReader<R> {
        self.max_record = max.max(1);
        self
    }

    /// Fills `batch` (cleared first) with up to `max_records` records or about
    /// `max_bytes` bytes. Returns `false` once the input is exhausted and
    /// nothing was added.
    pub fn next_batch(
        &mut self,
        batch: &mut Batch,
        max_records: usize,
        max_bytes: usize,
    ) -> io::Result<bool> {
        batch.data.clear();
        batch.records.clear();
        batch.errors.clear();
        if self.done {
            return Ok(false);
        }
        if !self.started {
            self.start()?;
        }
        while batch.records.len() < max_records && batch.data.len() < max_bytes {
            let more = if self.array {
                self.next_array_element(batch)?
            } else {
                self.next_line(batch)?
            };
            if !more {
                self.done = true;
                break;
            }
        }
        Ok(!batch.is_empty())
    }

    /// Skips a BOM and leading blanks; decides lines or array.
    fn start(&mut self) -> io::Result<()> {
        self.started = true;
        let buf = self.input.fill_buf()?;
        if buf.starts_with(b"\xEF\xBB\xBF") {
            self.input.consume(3);
        }
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            match buf[0] {
                b'\n' => {
                    self.line += 1;
                    self.input.consume(1);
                }
                b' ' | b'\t' | b'\r' => self.input.consume(1),
                b'[' => {
                    self.array = true;
                    self.input.consume(1);
                    return Ok(());
                }
                _ => return Ok(()),
            }
        }
    }

    /// Reads one line into the batch. Blank lines are skipped.
    fn next_line(&mut self, batch: &mut Batch) -> io::Result<bool> {
        loop {
            let start = batch.data.len();
            let line = self.line;
            let mut too_long = false;
            let mut saw_any = false;
            loop {
                let buf = self.input.fill_buf()?;
                if buf.is_empty() {
                    break;
                }
                saw_any = true;
                let (chunk, found) = match memchr::memchr(b'\n', buf) {
                    Some(i) => (&buf[..i], Some(i)),
                    None => (buf, None),
                };
                if !too_long {
                    if batch.data.len() - start + chunk.len() > self.max_record {
                        too_long = true;
                        batch.data.truncate(start);
                    } else {
                        batch.data.extend_from_slice(chunk);
                    }
                }
                match found {
                    Some(i) => {
                        self.input.consume(i + 1);
                        self.line += 1;
                        break;
                    }
                    None => {
                        let n = chunk.len();
                        self.input.consume(n);
                    }
                }
            }
            if !saw_any {
                return Ok(false);
            }
            if too_long {
                batch.errors.push(RecordError {
                    line,
                    reason: format!(
                        "record longer than {} bytes (the per-record limit), skipped",
                        self.max_record
                    ),
                });
                return Ok(true);
            }
            let mut end = batch.data.len();
            while end > start && matches!(batch.data[end - 1], b'\r' | b' ' | b'\t') {
                end -= 1;
            }
            let mut s = start;
            while s < end && matches!(batch.data[s], b' ' | b'\t') {
                s += 1;
            }
            if s == end {
                batch.data.truncate(start);
                continue;
            }
            batch.records.push((s, end, line));
            return Ok(true);
        }
    }

    /// Reads one element of a top-level JSON array into the batch.
    fn next_array_element(&mut self, batch: &mut Batch) -> io::Result<bool> {
        // Skip separators between elements.
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            match buf[0] {
                b'\n' => {
                    self.line += 1;
                    self.input.consume(1);
                }
                b' ' | b'\t' | b'\r' | b',' => self.input.consume(1),
                b']' => {
                    self.input.consume(1);
                    return Ok(false);
                }
                _ => break,
            }
        }
        let start = batch.data.len();
        let line = self.line;
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut too_long = false;
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                batch.data.truncate(start);
                batch.errors.push(RecordError {
                    line,
                    reason: "the JSON array ends in the middle of this element (truncated file?)"
                        .into(),
                });
                return Ok(false);
            }
            let mut end_at = None;
            for (i, &b) in buf.iter().enumerate() {
                if b == b'\n' {
                    self.line += 1;
                }
                if in_string {
                    if escaped {
                        escaped = false;
                    } else if b == b'\\' {
                        escaped = true;
                    } else if b == b'"' {
                        in_string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            end_at = Some(i + 1);
                            break;
                        }
                    }
                    b',' if depth == 0 => {
                        end_at = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let take = end_at.unwrap_or(buf.len());
            if !too_long {
                if batch.data.len() - start + take > self.max_record {
                    too_long = true;
                    batch.data.truncate(start);
                } else {
                    batch.data.extend_from_slice(&buf[..take]);
                }
            }
            self.input.consume(take);
            if end_at.is_some() {
                break;
            }
        }
        if too_long {
            batch.errors.push(RecordError {
                line,
                reason: format!(
                    "record longer than {} bytes (the per-record limit), skipped",
                    self.max_record
                ),
            });
        } else {
            batch.records.push((start, batch.data.len(), line));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &str) -> (Vec<(u64, String)>, Vec<RecordError>) {
        let mut r = RecordReader::new(input.as_bytes());
        let mut batch = Batch::default();
        let mut recs = Vec::new();
        let mut errs = Vec::new();
        while r.next_batch(&mut batch, 2, 1 << 20).unwrap() {
            recs.extend(
                batch
                    .iter()
                    .map(|(l, b)| (l, String::from_utf8_lossy(b).into_owned())),
            );
            errs.append(&mut batch.errors);
        }
        (recs, errs)
    }

    /// Ids are held to the limit complaints and customers use: a customer
    /// id of 129 characters is refused at import (the CLI and the upload
    /// report it with the record's line), 128 is accepted.
    #[test]
    fn ids_longer_than_complaints_accept_are_refused() {
        use kefu_engine::model::MAX_ID_CHARS;
        let record = |field: &str, n: usize| {
            let id = if field == "id" {
                String::new()
            } else {
                r#""id":"c1","#.to_string()
            };
            format!(
                r#"{{{id}"channel":"chat","{field}":"{}","turns":[{{"role":"agent","text":"您好"}}]}}"#,
                "客".repeat(n)
            )
        };
        for field in ["customer_id", "agent_id", "id"] {
            let ok = record(field, MAX_ID_CHARS);
            let parsed = parse_conversation(ok.as_bytes());
            assert!(parsed.is_ok(), "{field}: {parsed:?}");
            let long = record(field, MAX_ID_CHARS + 1);
            let err = parse_conversation(long.as_bytes()).unwrap_err();
            assert!(err.contains(field) && err.contains("129"), "{err}");
        }
    }

    #[test]
    fn lines_with_numbers_and_blank_lines() {
        let (recs, errs) = all("\u{feff}{\"a\":1}\n\n  {\"b\":2}\r\n{\"c\":3}");
        assert!(errs.is_empty());
        assert_eq!(
            recs,
            vec![
                (1, "{\"a\":1}".to_string()),
                (3, "{\"b\":2}".to_string()),
                (4, "{\"c\":3}".to_string())
            ]
        );
    }

    #[test]
    fn array_elements_with_lines() {
        let (recs, errs) = all("[\n {\"a\":\"x,]}\"},\n {\"b\":[1,2]}\n]\n");
        assert!(errs.is_empty());
        assert_eq!(
            recs,
            vec![
                (2, "{\"a\":\"x,]}\"}".to_string()),
                (3, "{\"b\":[1,2]}".to_string())
            ]
        );
    }

    #[test]
    fn truncated_array_reports_line() {
        let (recs, errs) = all("[{\"a\":1},\n{\"b\":");
        assert_eq!(recs.len(), 1);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].line, 2);
    }

    #[test]
    fn parse_errors_are_readable() {
        let e = parse_conversation(b"{\"id\":\"x\",\"channel\":\"fax\",\"turns\":[]}").unwrap_err();
        assert!(
            e.contains("unknown channel \"fax\", expected phone or chat"),
            "{e}"
        );
        let e = parse_conversation(b"{\"id\":\"x\",\"channel\":\"chat\",\"turns\":[{\"role\":\"agent\",\"text\":\"\xff\"}]}")
            .unwrap_err();
        assert!(e.contains("invalid UTF-8"), "{e}");
        let e = parse_conversation(b"{\"id\":\"\",\"channel\":\"chat\"}").unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }

    #[test]
    fn common_export_quirks_are_accepted() {
        let c = parse_conversation(
            "{\"id\":10023,\"channel\":\"CALL\",\"agent_id\":7,\"started_at\":\"2026-10-01 14:00:00\",\"wait_ms\":\"8000\",\
              \"ended_by\":\"客户\",\"turns\":[{\"role\":\"Agent\",\"text\":null,\"start_ms\":0.4,\"end_ms\":\"1200\"}]}"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(c.id, "10023");
        assert_eq!(c.agent_id.as_deref(), Some("7"));
        assert_eq!(c.wait_ms, Some(8000));
        assert_eq!(c.turns[0].text, "");
        assert_eq!(
            (c.turns[0].start_ms, c.turns[0].end_ms),
            (Some(0), Some(1200))
        );
        assert_eq!(
            c.started_at.unwrap().to_rfc3339(),
            "2026-10-01T14:00:00+08:00"
        );
        let e =
            parse_conversation(b"{\"id\":\"x\",\"channel\":\"chat\",\"wait_ms\":-5}").unwrap_err();
        assert!(e.contains("negative"), "{e}");
        let e = parse_conversation(b"{\"id\":\"x\",\"channel\":\"chat\",\"started_at\":\"soon\"}")
            .unwrap_err();
        assert!(e.contains("started_at"), "{e}");
    }

    #[test]
    fn started_at_past_year_9999_is_refused() {
        let rec = |v: &str| format!("{{\"id\":\"x\",\"channel\":\"chat\",\"started_at\":{v}}}");
        // Unix time is read at +08:00: the last millisecond of 9999 there is
        // the latest a record can carry (its RFC 3339 form has four digits).
        let last = rec("253402271999999");
        let c = parse_conversation(last.as_bytes()).unwrap();
        assert_eq!(
            c.started_at.unwrap().to_rfc3339(),
            "9999-12-31T23:59:59.999+08:00"
        );
        for v in [
            "253402272000000",
            "\"253402272000000\"",
            "1000000000000000",
            "-62135625600001",
        ] {
            let e = parse_conversation(rec(v).as_bytes()).unwrap_err();
            assert!(e.contains("1–9999"), "{v}: {e}");
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let c = parse_conversation(
            "{\"id\":\"x\",\"channel\":\"chat\",\"extra\":{\"k\":[1]},\"turns\":[{\"role\":\"agent\",\"text\":\"您好\",\"emotion\":\"calm\"}]}"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(c.turns[0].text, "您好");
    }
}
