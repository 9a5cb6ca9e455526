//! The one CSV writer every kefu CSV goes through.
//!
//! Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a
//! carriage return as a formula (CSV injection). Text that comes from input
//! — ids, agent names, messages, rule titles — is therefore written through
//! [`Field::Text`], which puts a `'` in front of such cells; values kefu
//! formats itself (numbers, times, booleans, its own headers) go through
//! [`Field::Value`] unchanged, so `-3.5` stays a number.

use std::borrow::Cow;
use std::io::{self, Write};

/// Characters that make a spreadsheet read a cell as a formula.
const FORMULA_LEADS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `s` with a leading `'` when a spreadsheet would run it as a formula.
///
/// A lone `-` (a common "nothing" marker) is left alone: it is not a
/// formula on its own.
pub fn neutralise(s: &str) -> Cow<'_, str> {
    let risky = s.starts_with(FORMULA_LEADS) && s.chars().nth(1).is_some();
    if risky {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

/// One cell of a CSV row.
#[derive(Debug, Clone, Copy)]
pub enum Field<'a> {
    /// Text that may come from input; formula-leading text is neutralised.
    Text(&'a str),
    /// A value kefu formatted itself (number, time, boolean, fixed header);
    /// written as is.
    Value(&'a str),
}

/// Line ending of the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// `\n`.
    Lf,
    /// `\r\n`, as RFC 4180 and Excel expect.
    CrLf,
}

/// A CSV writer (RFC 4180 quoting) that neutralises formula-leading text.
pub struct CsvOut<W: Write> {
    inner: csv::Writer<W>,
    row: Vec<String>,
}

impl<W: Write> CsvOut<W> {
    /// A writer into `out`; rows may have different lengths.
    pub fn new(out: W, end: LineEnd) -> Self {
        let terminator = match end {
            LineEnd::Lf => csv::Terminator::Any(b'\n'),
            LineEnd::CrLf => csv::Terminator::CRLF,
        };
        let inner = csv::WriterBuilder::new()
            .terminator(terminator)
            .flexible(true)
            .from_writer(out);
        CsvOut {
            inner,
            row: Vec::new(),
        }
    }

    /// Writes one row of typed fields.
    pub fn write_fields(&mut self, fields: &[Field<'_>]) -> io::Result<()> {
        self.row.clear();
        for f in fields {
            self.row.push(match f {
                Field::Text(s) => neutralise(s).into_owned(),
                Field::Value(s) => (*s).to_string(),
            });
        }
        self.inner.write_record(&self.row).map_err(io::Error::other)
    }

    /// Writes one row in which every cell is text from input.
    pub fn write_text_row<S: AsRef<str>>(&mut self, cells: &[S]) -> io::Result<()> {
        let fields: Vec<Field<'_>> = cells.iter().map(|s| Field::Text(s.as_ref())).collect();
        self.write_fields(&fields)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(self) -> io::Result<W> {
        self.inner
            .into_inner()
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Flushes buffered rows.
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_leads_are_neutralised() {
        for s in ["=1+1", "+86 138", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(s), format!("'{s}"), "{s:?}");
        }
        assert_eq!(neutralise("-"), "-");
        assert_eq!(neutralise("好的"), "好的");
        assert_eq!(neutralise(""), "");
    }

    #[test]
    fn values_are_kept_text_is_guarded() -> io::Result<()> {
        let mut w = CsvOut::new(Vec::new(), LineEnd::Lf);
        w.write_fields(&[Field::Value("-3.5"), Field::Text("=HYPERLINK(\"x\")")])?;
        w.write_text_row(&["@a", "b"])?;
        let out = String::from_utf8(w.into_inner()?).map_err(io::Error::other)?;
        assert_eq!(out, "-3.5,\"'=HYPERLINK(\"\"x\"\")\"\n'@a,b\n");
        Ok(())
    }
}
