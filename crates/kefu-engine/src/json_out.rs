//! A hand-written JSON writer for [`Inspection`]: the same bytes as
//! `serde_json::to_writer(buf, inspection)`, in a fraction of the time.
//!
//! Every inspected conversation is written out once (`kefu inspect`'s
//! output, the stored result of an import), and with serde's derive that
//! writing cost about a sixth of the one-core pipeline: a call per field
//! through the serializer, and string escaping a byte at a time over text
//! that is mostly Chinese. Here strings are escaped eight bytes at a time
//! (a word with no byte to escape is copied whole) and fields are written
//! straight into the buffer. What is rare and subtle — fractional numbers,
//! the start time — still goes through serde_json and chrono, so the output
//! cannot drift from serde's; tests compare the two byte for byte.

use crate::inspect::{DimensionScore, Finding, Inspection};

impl Inspection {
    /// Appends this inspection as one line of JSON (no newline), exactly as
    /// `serde_json::to_writer` writes it.
    pub fn write_json(&self, buf: &mut Vec<u8>) {
        buf.push(b'{');
        key(buf, "id", true);
        string(buf, &self.id);
        key(buf, "agent_id", false);
        opt_string(buf, self.agent_id.as_deref());
        key(buf, "agent_name", false);
        opt_string(buf, self.agent_name.as_deref());
        key(buf, "channel", false);
        string(buf, self.channel.as_str());
        if let Some(at) = &self.started_at {
            key(buf, "started_at", false);
            serde_value(buf, at);
        }
        key(buf, "score", false);
        number(buf, self.score);
        key(buf, "grade", false);
        opt_string(buf, self.grade.as_deref());
        key(buf, "passed", false);
        boolean(buf, self.passed);
        key(buf, "veto", false);
        boolean(buf, self.veto);
        key(buf, "findings", false);
        array(buf, &self.findings, finding);
        key(buf, "not_applicable", false);
        array(buf, &self.not_applicable, |buf, s| string(buf, s));
        key(buf, "manual", false);
        array(buf, &self.manual, |buf, s| string(buf, s));
        key(buf, "dimensions", false);
        array(buf, &self.dimensions, dimension);
        key(buf, "pack", false);
        string(buf, &self.pack);
        buf.push(b'}');
    }
}

fn finding(buf: &mut Vec<u8>, f: &Finding) {
    buf.push(b'{');
    key(buf, "rule", true);
    string(buf, &f.rule);
    key(buf, "name", false);
    string(buf, &f.name);
    key(buf, "dimension", false);
    string(buf, &f.dimension);
    key(buf, "kind", false);
    string(buf, f.kind);
    key(buf, "turn", false);
    match f.turn {
        Some(t) => integer(buf, t as u64, false),
        None => buf.extend_from_slice(b"null"),
    }
    key(buf, "span", false);
    match f.span {
        Some([start, end]) => {
            buf.push(b'[');
            integer(buf, start as u64, false);
            buf.push(b',');
            integer(buf, end as u64, false);
            buf.push(b']');
        }
        None => buf.extend_from_slice(b"null"),
    }
    key(buf, "text", false);
    opt_string(buf, f.text.as_deref());
    key(buf, "deduction", false);
    number(buf, f.deduction);
    key(buf, "veto", false);
    boolean(buf, f.veto);
    key(buf, "message", false);
    string(buf, &f.message);
    if let Some(v) = f.value {
        key(buf, "value", false);
        number(buf, v);
    }
    buf.push(b'}');
}

fn dimension(buf: &mut Vec<u8>, d: &DimensionScore) {
    buf.push(b'{');
    key(buf, "dimension", true);
    string(buf, &d.dimension);
    key(buf, "deduction", false);
    number(buf, d.deduction);
    buf.push(b'}');
}

/// `"name":`, after a comma unless it is the object's first field. Field
/// names are plain ASCII: nothing to escape.
fn key(buf: &mut Vec<u8>, name: &str, first: bool) {
    if !first {
        buf.push(b',');
    }
    buf.push(b'"');
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b"\":");
}

fn boolean(buf: &mut Vec<u8>, b: bool) {
    buf.extend_from_slice(if b { b"true" } else { b"false" });
}

/// A JSON array of `items`, each written by `write`.
fn array<T>(buf: &mut Vec<u8>, items: &[T], write: impl Fn(&mut Vec<u8>, &T)) {
    buf.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        write(buf, item);
    }
    buf.push(b']');
}

fn opt_string(buf: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => string(buf, s),
        None => buf.extend_from_slice(b"null"),
    }
}

/// A number as the engine's serde `number` helper writes it: whole values
/// without a fraction, others rounded to two places (through serde_json,
/// so the digits are its own).
fn number(buf: &mut Vec<u8>, value: f64) {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        let n = value as i64;
        integer(buf, n.unsigned_abs(), n < 0);
    } else {
        serde_value(buf, &((value * 100.0).round() / 100.0));
    }
}

fn integer(buf: &mut Vec<u8>, mut n: u64, negative: bool) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if negative {
        buf.push(b'-');
    }
    buf.extend_from_slice(&digits[at..]);
}

/// A value serde_json writes (fractions, times): its exact bytes. Writing
/// into a `Vec` cannot fail, and these values always serialise.
fn serde_value<T: serde::Serialize>(buf: &mut Vec<u8>, value: &T) {
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.extend_from_slice(b"null");
    }
}

/// A JSON string with serde_json's escapes: `"` and `\` backslashed, the
/// control characters below U+0020 as `\b \t \n \f \r` or `\u00XX`;
/// everything else (all of UTF-8 above ASCII included) as it is.
fn string(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    buf.reserve(bytes.len() + 2);
    buf.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if i + 8 <= bytes.len() {
            let mut word = [0u8; 8];
            word.copy_from_slice(&bytes[i..i + 8]);
            if !needs_escape(u64::from_le_bytes(word)) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let short = match b {
            b'"' => b'"',
            b'\\' => b'\\',
            0x08 => b'b',
            0x0c => b'f',
            b'\n' => b'n',
            b'\r' => b'r',
            b'\t' => b't',
            0x00..=0x1f => b'u',
            _ => {
                i += 1;
                continue;
            }
        };
        buf.extend_from_slice(&bytes[start..i]);
        buf.push(b'\\');
        buf.push(short);
        if short == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(b"00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 0xf)]);
        }
        i += 1;
        start = i;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

/// Whether any of the eight bytes of `w` is below 0x20, a `"` or a `\`
/// (the classic "has a zero byte" test on `w` and on `w` xor each quote).
/// It may answer yes for a word with none (a borrow across bytes); the
/// byte-wise check that follows then finds nothing, which is only slower.
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    // Bytes below 0x20: subtracting 0x20 borrows into the high bit, which
    // was clear (ASCII); bytes of 0x80 and up are excluded by `!w`.
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    control | has_zero(w ^ (ONES * u64::from(b'"'))) | has_zero(w ^ (ONES * u64::from(b'\\'))) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn both(s: &str) -> (String, String) {
        let mut ours = Vec::new();
        string(&mut ours, s);
        (
            String::from_utf8(ours).expect("utf-8"),
            serde_json::to_string(s).expect("serde"),
        )
    }

    #[test]
    fn strings_escape_like_serde() {
        for s in [
            "",
            "你好",
            "a\"b\\c",
            "\u{0}\u{1}\u{7}\u{8}\t\n\u{b}\u{c}\r\u{1f} \u{7f}",
            "12345678\"12345678",
            "不知道\n不归我管\"「」\\",
            "😀 emoji and 全角ＡＢＣ",
        ] {
            let (ours, serde) = both(s);
            assert_eq!(ours, serde, "{s:?}");
        }
    }

    #[test]
    fn numbers_write_like_serde() {
        for v in [
            0.0,
            -0.0,
            5.0,
            -3.0,
            85.5,
            1.0 / 3.0,
            99.999,
            1e15,
            -1e16,
            2.675,
        ] {
            let mut ours = Vec::new();
            number(&mut ours, v);
            let expected = if v.fract() == 0.0 && v.abs() < 1e15 {
                serde_json::to_string(&(v as i64))
            } else {
                serde_json::to_string(&((v * 100.0).round() / 100.0))
            }
            .expect("serde");
            assert_eq!(String::from_utf8(ours).expect("utf-8"), expected, "{v}");
        }
        let mut ours = Vec::new();
        integer(&mut ours, u64::MAX, false);
        assert_eq!(ours, u64::MAX.to_string().as_bytes());
    }

    /// Every inspection of the golden set (findings with and without
    /// spans, values, start times, vetoes) writes exactly serde's bytes.
    #[test]
    fn golden_inspections_write_like_serde() {
        use crate::{Conversation, Inspector, RulePack, Scratch};
        let inspector = Inspector::new(RulePack::default_zh_cn().expect("built-in pack"))
            .expect("built-in pack compiles");
        let mut scratch = Scratch::default();
        let mut seen_value = false;
        let mut seen_start = false;
        let fixtures = include_str!("../tests/golden/conversations.jsonl");
        for line in fixtures.lines().filter(|l| !l.trim().is_empty()) {
            let conv: Conversation<'_> = serde_json::from_str(line).expect("golden line parses");
            let ins = inspector.inspect(&conv, &mut scratch);
            seen_value |= ins.findings.iter().any(|f| f.value.is_some());
            seen_start |= ins.started_at.is_some();
            let mut ours = Vec::new();
            ins.write_json(&mut ours);
            let serde = serde_json::to_vec(&ins).expect("serde");
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&serde),
                "{}",
                ins.id
            );
        }
        assert!(
            seen_value && seen_start,
            "the golden set covers values and start times"
        );
    }

    proptest! {
        #[test]
        fn any_string_escapes_like_serde(s in any::<String>()) {
            let (ours, serde) = both(&s);
            prop_assert_eq!(ours, serde);
        }

        #[test]
        fn control_heavy_strings_escape_like_serde(
            chars in proptest::collection::vec(
                prop_oneof![Just('"'), Just('\\'), (0u8..0x20).prop_map(char::from), Just('客'), Just('a')],
                0..40,
            )
        ) {
            let s: String = chars.into_iter().collect();
            let (ours, serde) = both(&s);
            prop_assert_eq!(ours, serde);
        }
    }
}
