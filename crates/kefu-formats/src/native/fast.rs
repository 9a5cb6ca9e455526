//! A parser for the shape nearly every native record has: the documented
//! fields, strings without escapes, milliseconds as plain integers.
//!
//! serde_json spends most of its time per field, not per byte: a record
//! holds ~130 keys and as many short values (a turn's text is ~20
//! characters), and each goes through the generic identifier and visitor
//! machinery. This parser matches the keys and values of that one shape
//! directly, skips fields it does not know as serde does, and gives up —
//! `None`, the caller then asks serde_json — on anything else: an escape,
//! a repeated field, `null`, a number as an id, a float or string as
//! milliseconds, `meta`, an alias it cannot read, malformed JSON. So it
//! never has to produce an error message, and whatever it does return is
//! what serde_json would have returned
//! (`tests::agrees_with_serde_on_mutated_records` holds it to that).

use std::borrow::Cow;

use kefu_engine::lenient::{non_empty, optional_time, optional_vocabulary, Vocabulary};
use kefu_engine::model::{Channel, EndedBy, Role, Turn, TURNS_UP_FRONT};
use kefu_engine::Conversation;

/// Nesting allowed inside a skipped field; serde allows 128 levels in all.
const NESTING: u8 = 32;

/// Parses `text` if it has the common shape; `None` means "ask serde_json".
pub(super) fn parse(text: &str) -> Option<Conversation<'_>> {
    let mut c = Cursor { text, at: 0 };
    let conversation = c.conversation()?;
    c.whitespace();
    (c.at == text.len()).then_some(conversation)
}

/// A read position in a record.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.at).copied()
    }

    /// Skips JSON whitespace (space, tab, line feed, carriage return).
    fn whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Consumes `byte` (after whitespace) or gives up.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.whitespace();
        if self.peek() == Some(byte) {
            self.at += 1;
            Some(())
        } else {
            None
        }
    }

    /// After a member: `true` for a comma (another follows), `false` for
    /// `close`; anything else gives up.
    fn next_member(&mut self, close: u8) -> Option<bool> {
        self.whitespace();
        let b = self.peek()?;
        self.at += 1;
        match b {
            b',' => Some(true),
            _ if b == close => Some(false),
            _ => None,
        }
    }

    /// A string without escapes or control characters, borrowed from the
    /// record; anything else gives up.
    fn string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.at;
        let end = start + plain_run(&self.bytes()[start..]);
        if self.bytes().get(end) != Some(&b'"') {
            return None;
        }
        self.at = end + 1;
        // The run stops only at ASCII bytes, so both ends are character
        // boundaries; `get` keeps that from ever being a panic.
        self.text.get(start..end)
    }

    /// An optional text field: `Some(None)` when empty, as serde reads it.
    fn optional_text(&mut self) -> Option<Option<Cow<'a, str>>> {
        self.string().map(|s| non_empty(Cow::Borrowed(s)))
    }

    /// A non-negative integer as JSON writes it (no leading zeros), that
    /// fits in `u64` and is not the start of a fraction or exponent.
    fn millis(&mut self) -> Option<u64> {
        self.whitespace();
        let bytes = self.bytes();
        let first = self.at;
        let mut value: u64 = 0;
        while let Some(&d) = bytes.get(self.at) {
            if !d.is_ascii_digit() {
                break;
            }
            value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
            self.at += 1;
        }
        let n = self.at - first;
        if n == 0 || (n > 1 && bytes[first] == b'0') {
            return None;
        }
        match bytes.get(self.at) {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(value),
        }
    }

    /// A member name and its colon.
    fn key(&mut self) -> Option<&'a [u8]> {
        let key = self.string()?;
        self.expect(b':')?;
        Some(key.as_bytes())
    }

    /// Skips a value of a field kefu does not read, checking it is JSON
    /// serde accepts (strings without escapes, numbers as JSON writes
    /// them, at most `depth` levels of nesting); gives up otherwise.
    fn skip_value(&mut self, depth: u8) -> Option<()> {
        self.whitespace();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            open @ (b'[' | b'{') => {
                let depth = depth.checked_sub(1)?;
                let close = if open == b'[' { b']' } else { b'}' };
                self.at += 1;
                self.whitespace();
                if self.peek() == Some(close) {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        self.key()?;
                    }
                    self.skip_value(depth)?;
                    if !self.next_member(close)? {
                        return Some(());
                    }
                }
            }
            _ => None,
        }
    }

    /// `true`, `false` or `null`.
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.bytes().get(self.at..)?.starts_with(word) {
            self.at += word.len();
            Some(())
        } else {
            None
        }
    }

    /// A number in JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        let bytes = self.bytes();
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > from
        };
        let mut at = self.at;
        if bytes.get(at) == Some(&b'-') {
            at += 1;
        }
        match bytes.get(at)? {
            b'0' => at += 1,
            b'1'..=b'9' => {
                digits(&mut at);
            }
            _ => return None,
        }
        if bytes.get(at) == Some(&b'.') {
            at += 1;
            digits(&mut at).then_some(())?;
        }
        if let Some(b'e' | b'E') = bytes.get(at) {
            at += 1;
            if let Some(b'+' | b'-') = bytes.get(at) {
                at += 1;
            }
            digits(&mut at).then_some(())?;
        }
        self.at = at;
        Some(())
    }

    fn conversation(&mut self) -> Option<Conversation<'a>> {
        self.expect(b'{')?;
        // Each field is `None` until read, so a repeat (an error for
        // serde) is seen; optional ones read as `Some(None)` when empty.
        let mut id = None;
        let mut channel = None;
        let mut agent_id = None;
        let mut agent_name = None;
        let mut customer_id = None;
        let mut customer_name = None;
        let mut started_at = None;
        let mut wait_ms = None;
        let mut ended_by = None;
        let mut turns = None;
        loop {
            match self.key()? {
                b"id" => once(&mut id, self.string())?,
                b"channel" => once(&mut channel, Channel::from_alias(self.string()?))?,
                b"agent_id" => once(&mut agent_id, self.optional_text())?,
                b"agent_name" => once(&mut agent_name, self.optional_text())?,
                b"customer_id" => once(&mut customer_id, self.optional_text())?,
                b"customer_name" => once(&mut customer_name, self.optional_text())?,
                b"started_at" => once(&mut started_at, optional_time(self.string()?))?,
                b"wait_ms" => once(&mut wait_ms, self.millis())?,
                b"ended_by" => once(
                    &mut ended_by,
                    optional_vocabulary::<EndedBy>(self.string()?),
                )?,
                b"turns" => once(&mut turns, self.turns())?,
                // Parsed by serde (a map of any JSON values).
                b"meta" => return None,
                // serde skips fields it does not know; so does this.
                _ => self.skip_value(NESTING)?,
            }
            if !self.next_member(b'}')? {
                break;
            }
        }
        Some(Conversation {
            id: Cow::Borrowed(id?),
            channel: channel?,
            agent_id: agent_id.flatten(),
            agent_name: agent_name.flatten(),
            customer_id: customer_id.flatten(),
            customer_name: customer_name.flatten(),
            started_at: started_at.flatten(),
            wait_ms,
            ended_by: ended_by.flatten(),
            turns: turns.unwrap_or_default(),
            meta: Default::default(),
        })
    }

    fn turns(&mut self) -> Option<Vec<Turn<'a>>> {
        self.expect(b'[')?;
        let mut turns = Vec::with_capacity(TURNS_UP_FRONT);
        self.whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Some(turns);
        }
        loop {
            turns.push(self.turn()?);
            if !self.next_member(b']')? {
                return Some(turns);
            }
        }
    }

    fn turn(&mut self) -> Option<Turn<'a>> {
        self.expect(b'{')?;
        let mut role = None;
        let mut text = None;
        let mut start_ms = None;
        let mut end_ms = None;
        loop {
            match self.key()? {
                // A repeated field is an error for serde: leave it to serde.
                b"role" => once(&mut role, Role::from_alias(self.string()?))?,
                b"text" => once(&mut text, self.string())?,
                b"start_ms" => once(&mut start_ms, self.millis())?,
                b"end_ms" => once(&mut end_ms, self.millis())?,
                b"meta" => return None,
                _ => self.skip_value(NESTING)?,
            }
            if !self.next_member(b'}')? {
                break;
            }
        }
        Some(Turn {
            role: role?,
            text: Cow::Borrowed(text.unwrap_or("")),
            start_ms,
            end_ms,
            meta: Default::default(),
        })
    }
}

/// Sets a field the first time; `None` for a repeat or a value that could
/// not be read.
fn once<T>(slot: &mut Option<T>, value: Option<T>) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value?);
    Some(())
}

/// Length of the leading run of bytes that may stand in a JSON string as
/// they are: everything but `"`, `\` and control characters.
///
/// Eight bytes at a time: for each byte that is a quote, a backslash or
/// below 0x20 the word trick below sets that byte's top bit. Bits above
/// the first such byte may be set spuriously (a borrow runs on), but the
/// lowest set bit is always the first one, which is all this needs.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(*chunk);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let special = (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (word.wrapping_sub(ONES * 0x20) & !word);
        let special = special & HIGHS;
        if special != 0 {
            return at + (special.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    at + bytes[at..]
        .iter()
        .take_while(|&&b| b != b'"' && b != b'\\' && b >= 0x20)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde(text: &str) -> Option<Conversation<'_>> {
        serde_json::from_str(text).ok()
    }

    const CANONICAL: &str = r#"{"id":"c-1","channel":"phone","agent_id":"a-7","agent_name":"坐席7","customer_id":"u-9","started_at":"2026-10-06T12:45:00+08:00","wait_ms":13144,"ended_by":"customer","turns":[{"role":"agent","text":"您好，工号1024为您服务，请问有什么可以帮您？","start_ms":1627,"end_ms":8539},{"role":"customer","text":"我想问一下信用卡的账单分期怎么办理。","start_ms":9981,"end_ms":16443},{"role":"agent","text":"这个我不知道，你自己去营业厅问吧。"}]}"#;

    /// Fields kefu does not read, nested, around and inside the turns.
    const WITH_EXTRAS: &str = r#"{"id":"c-2","expect":{"fires":["forbidden","closing"],"score":-1.5e+3,"veto":false,"at":null,"o":{"k":[0,1.25,{}]}},"channel":"chat","turns":[{"seq":1,"role":"customer","text":"在吗？"},{"role":"agent","text":"亲，在的～","end_ms":0,"read":true}],"source":"淘宝"}"#;

    #[test]
    fn reads_the_common_shape_as_serde_does() {
        let fast = parse(CANONICAL).expect("the common shape takes the fast path");
        assert_eq!(Some(&fast), serde(CANONICAL).as_ref());
        assert_eq!(fast.turns.len(), 3);
        assert_eq!(fast.turns[2].start_ms, None);
        let fast = parse(WITH_EXTRAS).expect("unknown fields are skipped");
        assert_eq!(Some(&fast), serde(WITH_EXTRAS).as_ref());
    }

    #[test]
    fn gives_up_on_what_it_does_not_read() {
        for text in [
            r#"{"id":"a\"b","channel":"chat"}"#,
            r#"{"id":7,"channel":"chat"}"#,
            r#"{"id":"x","channel":"chat","meta":{}}"#,
            r#"{"id":"x","channel":"chat","extra":01}"#,
            r#"{"id":"x","channel":"chat","extra":[1,]}"#,
            r#"{"id":"x","channel":"chat","extra":"a\nb"}"#,
            r#"{"id":"x","channel":"chat","extra":tru}"#,
            r#"{"id":"x","channel":"chat","turns":[{"role":"agent","meta":{}}]}"#,
            r#"{"id":"x","id":"y","channel":"chat"}"#,
            r#"{"id":"x","channel":"chat","wait_ms":1.5}"#,
            r#"{"id":"x","channel":"chat","wait_ms":"15"}"#,
            r#"{"id":"x","channel":"chat","wait_ms":012}"#,
            r#"{"id":"x","channel":"chat","wait_ms":99999999999999999999}"#,
            r#"{"id":"x","channel":"chat","agent_id":null}"#,
            r#"{"id":"x","channel":"fax"}"#,
            r#"{"id":"x","channel":"chat","turns":[{"text":"hi"}]}"#,
            r#"{"id":"x","channel":"chat","turns":[{"role":"agent","role":"agent"}]}"#,
            r#"{"id":"x","channel":"chat"} x"#,
            r#"{"id":"x","channel":"chat","turns":[1]}"#,
            "{\"id\":\"x\ty\",\"channel\":\"chat\"}",
            r#"{"channel":"chat"}"#,
            r#"{}"#,
            r#"{"id":"x","channel":"chat",}"#,
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn whitespace_aliases_and_empty_values_read_as_serde_does() {
        for text in [
            " {\n \"id\" : \"x\" ,\t\"channel\":\"电话\", \"turns\" : [ ] }\r\n",
            r#"{"channel":"Chat","id":"x","agent_id":"","ended_by":"  ","started_at":"2026-10-01 09:15:02"}"#,
            r#"{"id":"x","channel":"chat","turns":[{"role":"客服","text":""},{"role":"USER","start_ms":0}]}"#,
            r#"{"id":"x","channel":"chat","wait_ms":0,"ended_by":"坐席"}"#,
            r#"{"id":"x","expect":{"fires":["a"],"n":-1.5e+3,"ok":true,"no":null,"e":[],"o":{}},"channel":"chat","turns":[{"role":"agent","seq":0,"x":false}],"x":2,"x":3}"#,
        ] {
            let fast = parse(text).unwrap_or_else(|| panic!("fast path for {text}"));
            assert_eq!(Some(fast), serde(text), "{text}");
        }
    }

    #[test]
    fn plain_runs_stop_at_quotes_escapes_and_control_characters() {
        let long = "客服说：你好，欢迎光临。".repeat(5);
        for (tail, stop) in [
            ("\"", '"'),
            ("\\n", '\\'),
            ("\u{1}", '\u{1}'),
            ("\u{1f}", '\u{1f}'),
        ] {
            for cut in 0..long.len().min(40) {
                let Some(head) = long.get(..cut) else {
                    continue;
                };
                let text = format!("{head}{tail}after");
                assert_eq!(
                    plain_run(text.as_bytes()),
                    head.len(),
                    "{stop:?} after {cut} bytes"
                );
            }
        }
        assert_eq!(plain_run(long.as_bytes()), long.len());
        assert_eq!(plain_run(b" ~\x7f"), 3);
    }

    #[test]
    fn agrees_with_serde_on_the_repositorys_records() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        // (file, whether most records have the common shape): the accuracy
        // set carries extra fields (expected findings), which serde skips
        // and this parser leaves to serde.
        for (file, common) in [
            ("examples/conversations.jsonl", true),
            ("crates/kefu-engine/tests/golden/conversations.jsonl", true),
            ("crates/kefu-engine/tests/golden/accuracy.jsonl", false),
        ] {
            let text = std::fs::read_to_string(root.join(file)).expect(file);
            let (mut records, mut fast_hits) = (0, 0);
            for (n, line) in text.lines().enumerate() {
                records += 1;
                if let Some(fast) = parse(line) {
                    fast_hits += 1;
                    assert_eq!(Some(fast), serde(line), "{file}:{}", n + 1);
                }
            }
            if common {
                assert!(
                    fast_hits * 2 > records,
                    "{file}: {fast_hits} of {records} took the fast path"
                );
            }
        }
    }

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn agrees_with_serde_on_mutated_records() {
        let pieces: &[&str] = &[
            "\"",
            "\\",
            "\\n",
            ",",
            ":",
            "{",
            "}",
            "[",
            "]",
            " ",
            "\n",
            "0",
            "1",
            "-",
            ".",
            "e",
            "null",
            "true",
            "\"id\"",
            "\"text\"",
            "\"role\"",
            "\"meta\"",
            "\"wait_ms\"",
            "\"start_ms\"",
            "\"agent\"",
            "\"\"",
            "你",
            "\u{1}",
            "\u{3000}",
            "9999999999999999999",
        ];
        let mut rng = Rng(0x5eed_1234_abcd_ef01);
        let mut fast_hits = 0;
        for round in 0..40_000 {
            let mut text = [CANONICAL, WITH_EXTRAS][round % 2].to_string();
            for _ in 0..1 + rng.below(3) {
                let boundaries: Vec<usize> = (0..=text.len())
                    .filter(|&i| text.is_char_boundary(i))
                    .collect();
                let at = boundaries[rng.below(boundaries.len())];
                match rng.below(3) {
                    0 => text.insert_str(at, pieces[rng.below(pieces.len())]),
                    1 => {
                        let to = boundaries[(boundaries.partition_point(|&b| b < at)
                            + 1
                            + rng.below(4))
                        .min(boundaries.len() - 1)];
                        text.replace_range(at..to, "");
                    }
                    _ => {
                        let to = boundaries[(boundaries.partition_point(|&b| b < at) + 1)
                            .min(boundaries.len() - 1)];
                        text.replace_range(at..to, pieces[rng.below(pieces.len())]);
                    }
                }
            }
            if let Some(fast) = parse(&text) {
                fast_hits += 1;
                assert_eq!(Some(fast), serde(&text), "round {round}: {text}");
            }
        }
        // Mutations that keep the shape (a changed digit or character of
        // text) must still take the fast path, or the test checks nothing.
        assert!(
            fast_hits > 2_000,
            "only {fast_hits} mutated records took the fast path"
        );
    }
}
