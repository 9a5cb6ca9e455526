//! Exporting inspection results and reports as CSV, XLSX and JSON Lines.
//!
//! Everything goes through one small table model: a [`Table`] has named,
//! typed [`Column`]s (with a Chinese and an English header) and rows of
//! [`Cell`]s. The builders turn inspection data into tables —
//! [`conversations_table`], [`findings_table`], [`agents_table`],
//! [`rules_table`], [`errors_table`] — and the writers put tables into files:
//!
//! - [`write_csv`]: UTF-8 with a BOM (so Excel detects the encoding and shows
//!   Chinese correctly), RFC 4180 quoting, CRLF line ends. Numbers are plain
//!   numbers; percentages are written as percentage points (`87.5`) under a
//!   header that says `(%)`, which Excel reads as a number in every locale
//!   that uses a decimal point; times are local wall-clock
//!   `YYYY-MM-DD HH:MM:SS`, which Excel recognises as a date-time. Text that
//!   Excel would take for a formula (`=`, `+`, `-`, `@`, tab, CR first) gets
//!   a leading `'` (the shared writer in [`crate::csvout`]).
//! - [`write_xlsx`]: a real workbook, one sheet per table, bold frozen header
//!   row with an autofilter, column widths fitted to the content (CJK counts
//!   double, capped at [`MAX_COLUMN_WIDTH`]), numbers as numbers, percentages
//!   as fractions with a `0.0%` format, times as Excel date-times.
//! - [`write_jsonl`]: one JSON object per row keyed by the column keys;
//!   percentages as fractions (0.875), times as RFC 3339 with their offset.
//! - [`XlsxReport`]: the XLSX report of `kefu inspect`, written incrementally
//!   in constant memory: conversation and finding rows are flushed to
//!   temporary files as results arrive; the summary sheets are written at
//!   [`XlsxReport::finish`].
//!
//! Booleans (passed, veto) are `是`/`否` or `yes`/`no` in CSV and XLSX, by
//! language, and `true`/`false` in JSON.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Datelike, FixedOffset, Timelike};
use kefu_engine::Inspection;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

use crate::csvout::{CsvOut, Field, LineEnd};
use crate::summary::{display_width, Summary};

/// Widest a column gets, in Excel character units.
pub const MAX_COLUMN_WIDTH: usize = 60;

/// Rows of an Excel worksheet, the header included.
const EXCEL_MAX_ROWS: u32 = 1_048_576;

/// Longest string an Excel cell holds, in UTF-16 code units.
const EXCEL_MAX_STRING: usize = 32_767;

/// Longest sheet name, in UTF-16 code units.
const EXCEL_MAX_SHEET_NAME: usize = 31;

/// How many violations the agents table lists per agent.
const TOP_VIOLATIONS: usize = 3;

/// Language of headers, sheet names and yes/no values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese (the default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en`, whichever this language is.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// How a boolean reads in this language.
    pub fn yes_no(self, value: bool) -> &'static str {
        match (self, value) {
            (Lang::Zh, true) => "是",
            (Lang::Zh, false) => "否",
            (Lang::En, true) => "yes",
            (Lang::En, false) => "no",
        }
    }
}

impl FromStr for Lang {
    type Err = ExportError;

    /// Accepts `zh`, `zh-CN`, `zh_CN`, `cn`, `chinese`, `中文` and `en`,
    /// `en-US`, `en_GB`, `english` (any case).
    fn from_str(s: &str) -> Result<Lang, ExportError> {
        let l = s.trim().to_ascii_lowercase().replace('_', "-");
        match l.as_str() {
            "zh" | "zh-cn" | "zh-hans" | "cn" | "chinese" | "中文" => Ok(Lang::Zh),
            _ if l == "en" || l.starts_with("en-") || l == "english" => Ok(Lang::En),
            _ => Err(ExportError::UnknownLang(s.to_string())),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.pick("zh", "en"))
    }
}

/// What a column holds; decides how its cells are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Free text.
    Text,
    /// Whole numbers.
    Integer,
    /// Decimal numbers.
    Number,
    /// Fractions shown as percentages (0.875 is 87.5%).
    Percent,
    /// Points in time.
    DateTime,
    /// Yes or no.
    Bool,
}

/// One column of a [`Table`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// Stable machine name (`snake_case`): the JSON key.
    pub key: String,
    /// Chinese header.
    pub zh: String,
    /// English header.
    pub en: String,
    /// What the cells hold.
    pub kind: ColumnKind,
}

impl Column {
    /// A column.
    pub fn new(key: &str, zh: &str, en: &str, kind: ColumnKind) -> Column {
        Column {
            key: key.to_string(),
            zh: zh.to_string(),
            en: en.to_string(),
            kind,
        }
    }

    /// The header in `lang`.
    pub fn header(&self, lang: Lang) -> &str {
        lang.pick(&self.zh, &self.en)
    }
}

/// One value of a [`Table`].
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A whole number.
    Int(i64),
    /// A decimal number.
    Num(f64),
    /// A fraction shown as a percentage: 0.875 is 87.5%.
    Percent(f64),
    /// A point in time; written in its own offset's wall-clock time.
    Time(DateTime<FixedOffset>),
    /// Yes or no.
    Bool(bool),
    /// No value.
    Empty,
}

impl Cell {
    /// Text, or [`Cell::Empty`] for an empty string.
    pub fn text(s: impl Into<String>) -> Cell {
        let s = s.into();
        if s.is_empty() {
            Cell::Empty
        } else {
            Cell::Text(s)
        }
    }

    /// The value as people read it in a terminal: percentages with one
    /// decimal and a `%`, numbers without trailing zeros.
    pub fn display(&self, lang: Lang) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Num(v) => fmt_num(round_to(*v, 2)),
            Cell::Percent(p) => format!("{:.1}%", p * 100.0),
            Cell::Time(t) => fmt_time(t),
            Cell::Bool(b) => lang.yes_no(*b).to_string(),
            Cell::Empty => String::new(),
        }
    }

    fn opt_text(s: Option<&str>) -> Cell {
        s.map_or(Cell::Empty, Cell::text)
    }

    fn int(n: u64) -> Cell {
        Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

/// A named table of typed columns: what one CSV file, one JSONL file or one
/// worksheet holds.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Chinese name (the sheet name).
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// The columns.
    pub columns: Vec<Column>,
    /// The rows; each has at most one cell per column (missing trailing
    /// cells are empty).
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// An empty table.
    pub fn new(name_zh: &str, name_en: &str, columns: Vec<Column>) -> Table {
        Table {
            name_zh: name_zh.to_string(),
            name_en: name_en.to_string(),
            columns,
            rows: Vec::new(),
        }
    }

    /// The name in `lang`.
    pub fn name(&self, lang: Lang) -> &str {
        lang.pick(&self.name_zh, &self.name_en)
    }

    /// Checks that no row has more cells than there are columns.
    fn check_shape(&self) -> Result<(), ExportError> {
        match self.rows.iter().position(|r| r.len() > self.columns.len()) {
            None => Ok(()),
            Some(i) => Err(ExportError::RowShape {
                table: self.name_en.clone(),
                row: i + 1,
                cells: self.rows[i].len(),
                columns: self.columns.len(),
            }),
        }
    }
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The output file could not be created or written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The output file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The workbook could not be built or saved.
    #[error("cannot write the workbook {}: {source}", path.display())]
    Xlsx {
        /// The output file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: XlsxError,
    },
    /// A row has more cells than its table has columns.
    #[error("table {table:?}: row {row} has {cells} cells but the table has {columns} columns")]
    RowShape {
        /// English name of the table.
        table: String,
        /// 1-based row number (not counting the header).
        row: usize,
        /// Cells in the row.
        cells: usize,
        /// Columns of the table.
        columns: usize,
    },
    /// A language name that is neither Chinese nor English.
    #[error("unknown language {0:?}: use zh or en")]
    UnknownLang(String),
}

impl ExportError {
    fn xlsx(path: &Path, source: XlsxError) -> ExportError {
        match source {
            XlsxError::IoError(source) => ExportError::Io {
                path: path.to_path_buf(),
                source,
            },
            source => ExportError::Xlsx {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------

/// The columns of [`conversations_table`], for tables of stored results
/// built elsewhere (the dashboard's list export).
pub fn conversation_columns() -> Vec<Column> {
    use ColumnKind::*;
    vec![
        Column::new("id", "会话ID", "Conversation ID", Text),
        Column::new("agent_id", "坐席ID", "Agent ID", Text),
        Column::new("agent_name", "坐席姓名", "Agent name", Text),
        Column::new("channel", "渠道", "Channel", Text),
        Column::new("started_at", "开始时间", "Started at", DateTime),
        Column::new("score", "得分", "Score", Number),
        Column::new("grade", "等级", "Grade", Text),
        Column::new("passed", "合格", "Passed", Bool),
        Column::new("veto", "否决", "Veto", Bool),
        Column::new("findings", "问题数", "Findings", Integer),
        Column::new("rules", "违规规则", "Rules hit", Text),
        Column::new("not_applicable", "不适用规则", "Not applicable", Text),
        Column::new("manual", "待人工复核", "Manual review", Text),
        Column::new("pack", "规则包", "Rule pack", Text),
    ]
}

fn join_ids<'a>(ids: impl IntoIterator<Item = &'a Arc<str>>) -> Cell {
    let mut out = String::new();
    for id in ids {
        if !out.is_empty() {
            out.push(';');
        }
        out.push_str(id);
    }
    Cell::text(out)
}

fn conversation_row(ins: &Inspection) -> Vec<Cell> {
    let mut rules: Vec<&Arc<str>> = Vec::new();
    for f in &ins.findings {
        if !rules.contains(&&f.rule) {
            rules.push(&f.rule);
        }
    }
    vec![
        Cell::text(ins.id.as_str()),
        Cell::opt_text(ins.agent_id.as_deref()),
        Cell::opt_text(ins.agent_name.as_deref()),
        Cell::text(ins.channel.as_str()),
        ins.started_at.map_or(Cell::Empty, Cell::Time),
        Cell::Num(round_to(ins.score, 2)),
        Cell::opt_text(ins.grade.as_deref()),
        Cell::Bool(ins.passed),
        Cell::Bool(ins.veto),
        Cell::int(ins.findings.len() as u64),
        join_ids(rules),
        join_ids(&ins.not_applicable),
        join_ids(&ins.manual),
        Cell::text(&*ins.pack),
    ]
}

fn finding_columns() -> Vec<Column> {
    use ColumnKind::*;
    vec![
        Column::new("conversation_id", "会话ID", "Conversation ID", Text),
        Column::new("agent_id", "坐席ID", "Agent ID", Text),
        Column::new("rule", "规则ID", "Rule ID", Text),
        Column::new("name", "规则名称", "Rule name", Text),
        Column::new("dimension", "维度", "Dimension", Text),
        Column::new("turn", "轮次", "Turn", Integer),
        Column::new("span_start", "起始位置", "Span start", Integer),
        Column::new("span_end", "结束位置", "Span end", Integer),
        Column::new("text", "命中文本", "Matched text", Text),
        Column::new("deduction", "扣分", "Deduction", Number),
        Column::new("veto", "否决", "Veto", Bool),
        Column::new("message", "说明", "Message", Text),
    ]
}

fn finding_rows(ins: &Inspection) -> impl Iterator<Item = Vec<Cell>> + '_ {
    ins.findings.iter().map(move |f| {
        let index = |n: usize| Cell::int(n as u64);
        vec![
            Cell::text(ins.id.as_str()),
            Cell::opt_text(ins.agent_id.as_deref()),
            Cell::text(&*f.rule),
            Cell::text(&*f.name),
            Cell::text(&*f.dimension),
            f.turn.map_or(Cell::Empty, index),
            f.span.map_or(Cell::Empty, |[a, _]| index(a)),
            f.span.map_or(Cell::Empty, |[_, b]| index(b)),
            Cell::opt_text(f.text.as_deref()),
            Cell::Num(round_to(f.deduction, 2)),
            Cell::Bool(f.veto),
            Cell::text(f.message.as_str()),
        ]
    })
}

fn agent_columns() -> Vec<Column> {
    use ColumnKind::*;
    vec![
        Column::new("agent_id", "坐席ID", "Agent ID", Text),
        Column::new("agent_name", "坐席姓名", "Agent name", Text),
        Column::new("conversations", "会话数", "Conversations", Integer),
        Column::new("passed", "合格数", "Passed", Integer),
        Column::new("pass_rate", "合格率", "Pass rate", Percent),
        Column::new("average_score", "平均分", "Average score", Number),
        Column::new("vetoes", "否决数", "Vetoes", Integer),
        Column::new("top_violations", "主要问题", "Top violations", Text),
    ]
}

fn rule_columns() -> Vec<Column> {
    use ColumnKind::*;
    vec![
        Column::new("rule", "规则ID", "Rule ID", Text),
        Column::new("name", "规则名称", "Rule name", Text),
        Column::new("dimension", "维度", "Dimension", Text),
        Column::new("conversations", "违规会话数", "Conversations hit", Integer),
        Column::new("violation_rate", "违规率", "Violation rate", Percent),
        Column::new("findings", "问题数", "Findings", Integer),
        Column::new("deduction", "扣分合计", "Total deduction", Number),
        Column::new("not_applicable", "不适用会话数", "Not applicable", Integer),
    ]
}

fn error_columns() -> Vec<Column> {
    vec![
        Column::new("location", "位置", "Location", ColumnKind::Text),
        Column::new("reason", "原因", "Reason", ColumnKind::Text),
    ]
}

const CONVERSATIONS: (&str, &str) = ("会话", "Conversations");
const FINDINGS: (&str, &str) = ("问题明细", "Findings");
const AGENTS: (&str, &str) = ("坐席汇总", "Agents");
const RULES: (&str, &str) = ("规则汇总", "Rules");
const ERRORS: (&str, &str) = ("错误", "Errors");

/// One row per conversation: id, agent, channel, start, score, grade,
/// passed, veto, number of findings, rules hit, rules not applicable, rules
/// waiting for manual review, and the pack that judged.
pub fn conversations_table(results: &[Inspection]) -> Table {
    let mut t = Table::new(CONVERSATIONS.0, CONVERSATIONS.1, conversation_columns());
    t.rows = results.iter().map(conversation_row).collect();
    t
}

/// One row per finding: conversation, agent, rule, name, dimension, turn
/// (0-based), span `[start, end)` in characters, evidence text, deduction,
/// veto and message.
pub fn findings_table(results: &[Inspection]) -> Table {
    let mut t = Table::new(FINDINGS.0, FINDINGS.1, finding_columns());
    t.rows = results.iter().flat_map(finding_rows).collect();
    t
}

/// One row per agent, in agent id order: conversations, passed, pass rate,
/// average score, vetoes and the most frequent violations.
pub fn agents_table(summary: &Summary) -> Table {
    let mut t = Table::new(AGENTS.0, AGENTS.1, agent_columns());
    for (id, a) in &summary.agents {
        let mut hits: Vec<(&std::sync::Arc<str>, &u64)> = a.rule_hits.iter().collect();
        hits.sort_by(|x, y| y.1.cmp(x.1).then(x.0.cmp(y.0)));
        let top = hits
            .iter()
            .take(TOP_VIOLATIONS)
            .map(|(rule, n)| match summary.rules.get(*rule) {
                Some(r) if !r.name.is_empty() => format!("{rule} {}×{n}", r.name),
                _ => format!("{rule}×{n}"),
            })
            .collect::<Vec<_>>()
            .join("; ");
        t.rows.push(vec![
            Cell::text(id.as_str()),
            Cell::opt_text(a.name.as_deref()),
            Cell::int(a.conversations),
            Cell::int(a.passed),
            Cell::Percent(round_to(ratio(a.passed as f64, a.conversations), 4)),
            Cell::Num(round_to(ratio(a.score_sum, a.conversations), 2)),
            Cell::int(a.vetoes),
            Cell::text(top),
        ]);
    }
    t
}

/// One row per rule seen (with findings or not applicable), most
/// conversations hit first: conversations hit, violation rate (conversations
/// hit over all conversations), findings, points deducted, conversations
/// where the rule was not applicable.
pub fn rules_table(summary: &Summary) -> Table {
    let mut t = Table::new(RULES.0, RULES.1, rule_columns());
    let mut rules: Vec<_> = summary.rules.iter().collect();
    rules.sort_by(|a, b| {
        b.1.conversations
            .cmp(&a.1.conversations)
            .then(b.1.findings.cmp(&a.1.findings))
            .then(a.0.cmp(b.0))
    });
    for (id, r) in rules {
        t.rows.push(vec![
            Cell::text(&**id),
            Cell::text(&*r.name),
            Cell::text(&*r.dimension),
            Cell::int(r.conversations),
            Cell::Percent(round_to(
                ratio(r.conversations as f64, summary.conversations),
                4,
            )),
            Cell::int(r.findings),
            Cell::Num(round_to(r.deduction, 2)),
            Cell::int(r.not_applicable),
        ]);
    }
    t
}

/// One row per input problem: where (`file:line`) and why.
pub fn errors_table(errors: &[(String, String)]) -> Table {
    let mut t = Table::new(ERRORS.0, ERRORS.1, error_columns());
    t.rows = errors
        .iter()
        .map(|(at, why)| vec![Cell::text(at.as_str()), Cell::text(why.as_str())])
        .collect();
    t
}

fn ratio(num: f64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num / den as f64
    }
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    let r = (v * f).round() / f;
    if r.is_finite() {
        r
    } else {
        v
    }
}

// ---------------------------------------------------------------------------
// CSV and JSON Lines
// ---------------------------------------------------------------------------

/// A number as people write it: `85`, not `85.0`; non-finite numbers as
/// nothing.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        String::new()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Local wall-clock time in the value's own offset, as Excel parses it.
fn fmt_time(t: &DateTime<FixedOffset>) -> String {
    if t.nanosecond() == 0 {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
    }
}

/// Writes `table` as CSV: a UTF-8 BOM, the header row in `lang`, then the
/// rows. Percent columns are written in percentage points (`87.5`) and their
/// header ends in `(%)`; times as local `YYYY-MM-DD HH:MM:SS`; booleans as
/// `是`/`否` or `yes`/`no`.
pub fn write_csv(table: &Table, lang: Lang, out: &mut dyn Write) -> io::Result<()> {
    table
        .check_shape()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = CsvOut::new(out, LineEnd::CrLf);
    let header: Vec<String> = table
        .columns
        .iter()
        .map(|c| match c.kind {
            ColumnKind::Percent => format!("{}{}", c.header(lang), lang.pick("(%)", " (%)")),
            _ => c.header(lang).to_string(),
        })
        .collect();
    let header: Vec<Field<'_>> = header.iter().map(|h| Field::Value(h)).collect();
    w.write_fields(&header)?;
    // Formatted values first, then the row borrows them.
    let mut values: Vec<String> = Vec::with_capacity(table.columns.len());
    for row in &table.rows {
        values.clear();
        for i in 0..table.columns.len() {
            values.push(match row.get(i).unwrap_or(&Cell::Empty) {
                Cell::Text(_) | Cell::Empty => String::new(),
                Cell::Int(n) => n.to_string(),
                Cell::Num(v) => fmt_num(*v),
                Cell::Percent(p) => fmt_num(round_to(p * 100.0, 6)),
                Cell::Time(t) => fmt_time(t),
                Cell::Bool(b) => lang.yes_no(*b).to_string(),
            });
        }
        let fields: Vec<Field<'_>> = (0..table.columns.len())
            .map(|i| match row.get(i) {
                Some(Cell::Text(s)) => Field::Text(s),
                _ => Field::Value(&values[i]),
            })
            .collect();
        w.write_fields(&fields)?;
    }
    w.flush()
}

/// Writes `table` as JSON Lines: one object per row, keyed by the column
/// keys in column order. Percentages are fractions (0.875), times RFC 3339
/// with their offset, booleans `true`/`false`, empty cells and non-finite
/// numbers `null`.
pub fn write_jsonl(table: &Table, out: &mut dyn Write) -> io::Result<()> {
    table
        .check_shape()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let mut line: Vec<u8> = Vec::new();
    for row in &table.rows {
        line.clear();
        line.push(b'{');
        for (i, col) in table.columns.iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            serde_json::to_writer(&mut line, &col.key)?;
            line.push(b':');
            match row.get(i).unwrap_or(&Cell::Empty) {
                Cell::Text(s) => serde_json::to_writer(&mut line, s)?,
                Cell::Int(n) => serde_json::to_writer(&mut line, n)?,
                Cell::Num(v) | Cell::Percent(v) if v.is_finite() => {
                    if v.fract() == 0.0 && v.abs() < 1e15 {
                        serde_json::to_writer(&mut line, &(*v as i64))?
                    } else {
                        serde_json::to_writer(&mut line, v)?
                    }
                }
                Cell::Time(t) => serde_json::to_writer(&mut line, &t.to_rfc3339())?,
                Cell::Bool(b) => serde_json::to_writer(&mut line, b)?,
                Cell::Num(_) | Cell::Percent(_) | Cell::Empty => line.extend_from_slice(b"null"),
            }
        }
        line.extend_from_slice(b"}\n");
        out.write_all(&line)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// XLSX
// ---------------------------------------------------------------------------

/// The formats every sheet shares.
struct Styles {
    header: Format,
    percent: Format,
    datetime: Format,
}

impl Styles {
    fn new() -> Styles {
        Styles {
            header: Format::new().set_bold(),
            percent: Format::new().set_num_format("0.0%"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
        }
    }
}

/// Sheet names already used in a workbook, to keep them unique.
#[derive(Default)]
struct SheetNames(Vec<String>);

impl SheetNames {
    /// A valid, unused sheet name from `wanted`: characters Excel refuses
    /// become `_`, leading and trailing apostrophes are dropped, the name is
    /// cut to 31 UTF-16 units, `History` (reserved) and duplicates get a
    /// number.
    fn claim(&mut self, wanted: &str) -> String {
        let cleaned: String = wanted
            .chars()
            .map(|c| match c {
                '*' | '?' | ':' | '[' | ']' | '\\' | '/' => '_',
                c if c.is_control() => ' ',
                c => c,
            })
            .collect();
        let cleaned = cleaned.trim().trim_matches('\'').trim();
        let base = if cleaned.is_empty() { "Sheet" } else { cleaned };
        let mut n = if base.eq_ignore_ascii_case("history") {
            2
        } else {
            1
        };
        loop {
            let suffix = if n == 1 {
                String::new()
            } else {
                format!(" ({n})")
            };
            let room = EXCEL_MAX_SHEET_NAME - suffix.len();
            let name = format!(
                "{}{suffix}",
                truncate_utf16(base, room).trim_end_matches([' ', '\''])
            );
            let lower = name.to_lowercase();
            if !self.0.iter().any(|u| u.to_lowercase() == lower) {
                self.0.push(name.clone());
                return name;
            }
            n += 1;
        }
    }
}

/// The longest prefix of `s` that fits in `units` UTF-16 code units.
fn truncate_utf16(s: &str, units: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        used += c.len_utf16();
        if used > units {
            return &s[..i];
        }
    }
    s
}

/// A string Excel accepts in a cell: longer ones are cut with `…`.
fn excel_string(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= EXCEL_MAX_STRING {
        // UTF-16 units never outnumber UTF-8 bytes.
        return s.into();
    }
    let cut = truncate_utf16(s, EXCEL_MAX_STRING - 1);
    if cut.len() == s.len() {
        s.into()
    } else {
        format!("{cut}…").into()
    }
}

/// Display width of `s`, counting no further than `cap`.
fn capped_width(s: &str, cap: usize) -> usize {
    let mut width = 0;
    let mut buf = [0u8; 4];
    for c in s.chars() {
        width += display_width(c.encode_utf8(&mut buf));
        if width >= cap {
            return cap;
        }
    }
    width
}

/// How wide a cell shows in Excel, in character units.
fn cell_width(cell: &Cell, lang: Lang) -> usize {
    match cell {
        Cell::Text(s) => capped_width(s, MAX_COLUMN_WIDTH),
        Cell::Int(n) => n.to_string().len(),
        Cell::Num(v) => fmt_num(*v).len(),
        Cell::Percent(p) => format!("{:.1}%", p * 100.0).len(),
        Cell::Time(_) => 19,
        Cell::Bool(b) => display_width(lang.yes_no(*b)),
        Cell::Empty => 0,
    }
}

/// Writes one cell at `(row, col)`.
fn write_cell(
    ws: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    lang: Lang,
    styles: &Styles,
) -> Result<(), XlsxError> {
    match cell {
        Cell::Text(s) => {
            ws.write_string(row, col, excel_string(s))?;
        }
        Cell::Int(n) => {
            ws.write_number(row, col, *n as f64)?;
        }
        Cell::Num(v) if v.is_finite() => {
            ws.write_number(row, col, *v)?;
        }
        Cell::Percent(p) if p.is_finite() => {
            ws.write_number_with_format(row, col, *p, &styles.percent)?;
        }
        Cell::Time(t) => match excel_datetime(t) {
            Some(dt) => {
                ws.write_datetime_with_format(row, col, dt, &styles.datetime)?;
            }
            None => {
                ws.write_string(row, col, t.to_rfc3339())?;
            }
        },
        Cell::Bool(b) => {
            ws.write_string(row, col, lang.yes_no(*b))?;
        }
        Cell::Num(_) | Cell::Percent(_) | Cell::Empty => {}
    }
    Ok(())
}

/// The local wall-clock time of `t` as an Excel date-time; `None` outside
/// the years Excel can show (1900–9999).
fn excel_datetime(t: &DateTime<FixedOffset>) -> Option<ExcelDateTime> {
    let year = u16::try_from(t.year()).ok()?;
    let seconds = f64::from(t.second()) + f64::from(t.nanosecond() % 1_000_000_000) / 1e9;
    ExcelDateTime::from_ymd(year, t.month() as u8, t.day() as u8)
        .and_then(|d| d.and_hms(t.hour() as u16, t.minute() as u8, seconds))
        .ok()
}

/// One table being written to one or more worksheets: when a sheet is full
/// (Excel's 1,048,576 rows) the rows go on in a new sheet named `… (2)`.
struct SheetStream {
    /// Base name, in the chosen language.
    name: String,
    columns: Vec<Column>,
    /// Worksheet index of the current part.
    index: usize,
    /// Parts so far.
    parts: u32,
    /// Next row to write in the current part.
    next_row: u32,
    /// Widest content per column in the current part.
    widths: Vec<usize>,
    /// Rows per sheet, the header included.
    row_limit: u32,
    constant_memory: bool,
}

impl SheetStream {
    /// Starts the first sheet, at the end of the workbook.
    fn open(
        wb: &mut Workbook,
        names: &mut SheetNames,
        name: &str,
        columns: Vec<Column>,
        lang: Lang,
        styles: &Styles,
        constant_memory: bool,
    ) -> Result<SheetStream, XlsxError> {
        let mut s = SheetStream {
            name: name.to_string(),
            widths: Vec::new(),
            columns,
            index: 0,
            parts: 0,
            next_row: 0,
            row_limit: EXCEL_MAX_ROWS,
            constant_memory,
        };
        s.start_part(wb, names, lang, styles)?;
        Ok(s)
    }

    /// Fills an existing (empty) sheet instead of adding one.
    fn into_existing(
        wb: &mut Workbook,
        index: usize,
        name: &str,
        columns: Vec<Column>,
        lang: Lang,
        styles: &Styles,
    ) -> Result<SheetStream, XlsxError> {
        let mut s = SheetStream {
            name: name.to_string(),
            widths: Vec::new(),
            columns,
            index,
            parts: 1,
            next_row: 0,
            row_limit: EXCEL_MAX_ROWS,
            constant_memory: false,
        };
        s.write_header(wb.worksheet_from_index(index)?, lang, styles)?;
        Ok(s)
    }

    fn start_part(
        &mut self,
        wb: &mut Workbook,
        names: &mut SheetNames,
        lang: Lang,
        styles: &Styles,
    ) -> Result<(), XlsxError> {
        self.parts += 1;
        let name = if self.parts == 1 {
            names.claim(&self.name)
        } else {
            names.claim(&format!("{} ({})", self.name, self.parts))
        };
        let ws = if self.constant_memory {
            wb.add_worksheet_with_constant_memory()?
        } else {
            wb.add_worksheet()
        };
        ws.set_name(name)?;
        self.index = wb.worksheets().len() - 1;
        self.next_row = 0;
        self.write_header(wb.worksheet_from_index(self.index)?, lang, styles)
    }

    fn write_header(
        &mut self,
        ws: &mut Worksheet,
        lang: Lang,
        styles: &Styles,
    ) -> Result<(), XlsxError> {
        self.widths.clear();
        for (i, c) in self.columns.iter().enumerate() {
            let header = c.header(lang);
            ws.write_string_with_format(0, col_num(i), header, &styles.header)?;
            // Room for the autofilter's drop-down button.
            self.widths.push(capped_width(header, MAX_COLUMN_WIDTH) + 3);
        }
        ws.set_freeze_panes(1, 0)?;
        self.next_row = 1;
        Ok(())
    }

    /// Appends one row, starting a new sheet when the current one is full.
    fn push(
        &mut self,
        wb: &mut Workbook,
        names: &mut SheetNames,
        cells: &[Cell],
        lang: Lang,
        styles: &Styles,
    ) -> Result<(), XlsxError> {
        if self.next_row >= self.row_limit {
            self.close(wb)?;
            self.start_part(wb, names, lang, styles)?;
        }
        let ws = wb.worksheet_from_index(self.index)?;
        for (i, cell) in cells.iter().enumerate().take(self.columns.len()) {
            write_cell(ws, self.next_row, col_num(i), cell, lang, styles)?;
            let w = cell_width(cell, lang);
            if let Some(max) = self.widths.get_mut(i) {
                *max = (*max).max(w);
            }
        }
        self.next_row += 1;
        Ok(())
    }

    /// Sets column widths and the autofilter of the current sheet.
    fn close(&self, wb: &mut Workbook) -> Result<(), XlsxError> {
        let ws = wb.worksheet_from_index(self.index)?;
        for (i, w) in self.widths.iter().enumerate() {
            ws.set_column_width(col_num(i), (*w + 2).min(MAX_COLUMN_WIDTH) as f64)?;
        }
        if !self.columns.is_empty() {
            ws.autofilter(
                0,
                0,
                self.next_row.saturating_sub(1),
                col_num(self.columns.len() - 1),
            )?;
        }
        Ok(())
    }
}

/// A column index as Excel's column number (Excel has 16,384 columns; a
/// table never comes near).
fn col_num(i: usize) -> u16 {
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// Writes `tables` as a workbook at `path`, one sheet per table in order,
/// named in `lang` (sanitised for Excel and made unique). Each sheet has a
/// bold, frozen header row with an autofilter and columns fitted to their
/// content. A table longer than an Excel sheet goes on in `name (2)`, ….
pub fn write_xlsx(tables: &[Table], lang: Lang, path: &Path) -> Result<(), ExportError> {
    for t in tables {
        t.check_shape()?;
    }
    let err = |e| ExportError::xlsx(path, e);
    let mut wb = Workbook::new();
    let styles = Styles::new();
    let mut names = SheetNames::default();
    for t in tables {
        let mut s = SheetStream::open(
            &mut wb,
            &mut names,
            t.name(lang),
            t.columns.clone(),
            lang,
            &styles,
            false,
        )
        .map_err(err)?;
        for row in &t.rows {
            s.push(&mut wb, &mut names, row, lang, &styles)
                .map_err(err)?;
        }
        s.close(&mut wb).map_err(err)?;
    }
    wb.save(path).map_err(err)
}

/// The XLSX report of `kefu inspect`, written as results arrive.
///
/// Sheets, in order: agents and rules (written by [`finish`]), conversations
/// and findings (one row per conversation and per finding, appended by
/// [`add_conversation`] in rust_xlsxwriter's constant-memory mode: each row
/// goes to a temporary file as soon as the next one starts, so memory does
/// not grow with the input), then input errors. Sheets that outgrow Excel's
/// row limit go on in `会话 (2)`, … added at the end.
///
/// Nothing is written to `path` until [`finish`]; dropping the report
/// without finishing leaves an empty file (created by [`new`] so that a bad
/// path fails before any work is done).
///
/// [`new`]: XlsxReport::new
/// [`add_conversation`]: XlsxReport::add_conversation
/// [`finish`]: XlsxReport::finish
pub struct XlsxReport {
    path: PathBuf,
    file: File,
    lang: Lang,
    workbook: Workbook,
    styles: Styles,
    names: SheetNames,
    agents_sheet: usize,
    rules_sheet: usize,
    conversations: SheetStream,
    findings: SheetStream,
}

impl fmt::Debug for XlsxReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("XlsxReport")
            .field("path", &self.path)
            .field("lang", &self.lang)
            .field("conversation_sheets", &self.conversations.parts)
            .field("finding_sheets", &self.findings.parts)
            .finish()
    }
}

impl XlsxReport {
    /// Creates the output file and the workbook's sheets.
    pub fn new(path: &Path, lang: Lang) -> Result<XlsxReport, ExportError> {
        let err = |e| ExportError::xlsx(path, e);
        let file = File::create(path).map_err(|source| ExportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut workbook = Workbook::new();
        let styles = Styles::new();
        let mut names = SheetNames::default();
        let mut summary_sheet = |wb: &mut Workbook, name: (&str, &str)| {
            let index = wb.worksheets().len();
            wb.add_worksheet()
                .set_name(names.claim(lang.pick(name.0, name.1)))
                .map(|_| index)
        };
        let agents_sheet = summary_sheet(&mut workbook, AGENTS).map_err(err)?;
        let rules_sheet = summary_sheet(&mut workbook, RULES).map_err(err)?;
        let conversations = SheetStream::open(
            &mut workbook,
            &mut names,
            lang.pick(CONVERSATIONS.0, CONVERSATIONS.1),
            conversation_columns(),
            lang,
            &styles,
            true,
        )
        .map_err(err)?;
        let findings = SheetStream::open(
            &mut workbook,
            &mut names,
            lang.pick(FINDINGS.0, FINDINGS.1),
            finding_columns(),
            lang,
            &styles,
            true,
        )
        .map_err(err)?;
        Ok(XlsxReport {
            path: path.to_path_buf(),
            file,
            lang,
            workbook,
            styles,
            names,
            agents_sheet,
            rules_sheet,
            conversations,
            findings,
        })
    }

    /// Appends one result: a row on the conversations sheet and one row per
    /// finding on the findings sheet.
    pub fn add_conversation(&mut self, ins: &Inspection) -> Result<(), ExportError> {
        let path = &self.path;
        let err = |e| ExportError::xlsx(path, e);
        self.conversations
            .push(
                &mut self.workbook,
                &mut self.names,
                &conversation_row(ins),
                self.lang,
                &self.styles,
            )
            .map_err(err)?;
        for row in finding_rows(ins) {
            self.findings
                .push(
                    &mut self.workbook,
                    &mut self.names,
                    &row,
                    self.lang,
                    &self.styles,
                )
                .map_err(err)?;
        }
        Ok(())
    }

    /// Writes the agents and rules sheets from `summary`, an errors sheet
    /// from `errors` (`(file:line, reason)`; headers only when there are
    /// none), and saves the workbook.
    pub fn finish(
        mut self,
        summary: &Summary,
        errors: &[(String, String)],
    ) -> Result<(), ExportError> {
        let path = self.path.clone();
        let err = |e| ExportError::xlsx(&path, e);
        self.conversations.close(&mut self.workbook).map_err(err)?;
        self.findings.close(&mut self.workbook).map_err(err)?;
        for (index, table) in [
            (self.agents_sheet, agents_table(summary)),
            (self.rules_sheet, rules_table(summary)),
        ] {
            let mut s = SheetStream::into_existing(
                &mut self.workbook,
                index,
                table.name(self.lang),
                table.columns.clone(),
                self.lang,
                &self.styles,
            )
            .map_err(err)?;
            // Agents and rules are few; they cannot outgrow a sheet in
            // practice, but would go on in a new one if they did.
            for row in &table.rows {
                s.push(
                    &mut self.workbook,
                    &mut self.names,
                    row,
                    self.lang,
                    &self.styles,
                )
                .map_err(err)?;
            }
            s.close(&mut self.workbook).map_err(err)?;
        }
        let table = errors_table(errors);
        let mut s = SheetStream::open(
            &mut self.workbook,
            &mut self.names,
            table.name(self.lang),
            table.columns.clone(),
            self.lang,
            &self.styles,
            false,
        )
        .map_err(err)?;
        for row in &table.rows {
            s.push(
                &mut self.workbook,
                &mut self.names,
                row,
                self.lang,
                &self.styles,
            )
            .map_err(err)?;
        }
        s.close(&mut self.workbook).map_err(err)?;
        let mut out = io::BufWriter::new(self.file);
        self.workbook.save_to_writer(&mut out).map_err(err)?;
        out.flush().map_err(|source| ExportError::Io {
            path: path.clone(),
            source,
        })
    }

    /// Lowers the rows per sheet (the header included) so tests can check
    /// the overflow into `… (2)` sheets without writing a million rows.
    #[doc(hidden)]
    pub fn set_row_limit(&mut self, rows: u32) {
        let rows = rows.clamp(2, EXCEL_MAX_ROWS);
        self.conversations.row_limit = rows;
        self.findings.row_limit = rows;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_names_are_sanitised_and_unique() {
        let mut n = SheetNames::default();
        assert_eq!(n.claim("会话"), "会话");
        assert_eq!(n.claim("会话"), "会话 (2)");
        assert_eq!(n.claim("a/b:c*d?[e]\\"), "a_b_c_d__e__");
        assert_eq!(n.claim("'quoted'"), "quoted");
        assert_eq!(n.claim("History"), "History (2)");
        assert_eq!(n.claim(""), "Sheet");
        let long = "很".repeat(40);
        let name = n.claim(&long);
        assert_eq!(name.chars().count(), 31);
        let again = n.claim(&long);
        assert!(again.ends_with(" (2)"), "{again}");
        assert!(again.encode_utf16().count() <= 31);
        // Characters outside the BMP take two UTF-16 units.
        let emoji = n.claim(&"😀".repeat(20));
        assert_eq!(emoji.encode_utf16().count(), 30);
    }

    #[test]
    fn strings_are_cut_to_excels_limit() {
        let s = "字".repeat(EXCEL_MAX_STRING + 10);
        let cut = excel_string(&s);
        assert_eq!(cut.encode_utf16().count(), EXCEL_MAX_STRING);
        assert!(cut.ends_with('…'));
        assert_eq!(excel_string("short"), "short");
    }

    #[test]
    fn widths_count_cjk_double_and_cap() {
        assert_eq!(capped_width("abc", 60), 3);
        assert_eq!(capped_width("坐席", 60), 4);
        assert_eq!(capped_width(&"字".repeat(100), 60), 60);
    }

    #[test]
    fn languages_parse() {
        assert_eq!("zh-CN".parse::<Lang>().ok(), Some(Lang::Zh));
        assert_eq!("EN_us".parse::<Lang>().ok(), Some(Lang::En));
        assert!("fr".parse::<Lang>().is_err());
    }
}
