//! Text normalisation: the form in which phrases are matched.
//!
//! Both the pack's phrases and every turn go through the same steps, one
//! original character at a time:
//!
//! 1. **Separators are skipped**: whitespace (but not line breaks) and the
//!    punctuation that sits *inside* a sentence — commas, the enumeration
//!    comma 、, semicolons, colons, quotes, brackets, dashes, tildes, ellipses,
//!    middle dots. ASR engines and typists scatter these between characters
//!    ("不 知 道", "不，知道", "不…知道"), so a phrase must match across them.
//! 2. **Sentence ends are kept** — 。 . ! ? (full- or half-width) and line
//!    breaks — and act as barriers: a phrase never matches across two
//!    sentences or two chat messages merged into one turn.
//! 3. **NFKC** folds full-width forms to half-width (`ＡＢＣ１２３` → `abc123`)
//!    and compatibility ideographs to their unified form.
//! 4. **Traditional → Simplified**, character by character, from OpenCC's
//!    tables (Taiwan and Hong Kong variants included), compiled into the
//!    binary at build time.
//! 5. **Case folding** of Latin letters.
//!
//! Every byte of the normalised text remembers the index of the original
//! *character* it came from, so a match in normalised text maps back to a
//! character span of the original text.

use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

include!(concat!(env!("OUT_DIR"), "/t2s_table.rs"));

/// First code point of the dense part of the T→S table.
const DENSE_FROM: u32 = 0x3400;
/// One past the last code point of the dense part.
const DENSE_TO: u32 = 0xA000;

/// Dense lookup for the common CJK blocks: 0 = unchanged, else the target.
fn dense_table() -> &'static [u32] {
    static TABLE: OnceLock<Box<[u32]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![0u32; (DENSE_TO - DENSE_FROM) as usize].into_boxed_slice();
        for &(from, to) in T2S_PAIRS {
            if (DENSE_FROM..DENSE_TO).contains(&from) {
                table[(from - DENSE_FROM) as usize] = to;
            }
        }
        table
    })
}

/// The Simplified form of one character (itself when it has none).
pub fn to_simplified(c: char) -> char {
    let cp = c as u32;
    if (DENSE_FROM..DENSE_TO).contains(&cp) {
        let to = dense_table()[(cp - DENSE_FROM) as usize];
        return if to == 0 {
            c
        } else {
            char::from_u32(to).unwrap_or(c)
        };
    }
    if cp < 0x2E80 {
        return c;
    }
    match T2S_PAIRS.binary_search_by_key(&cp, |&(from, _)| from) {
        Ok(i) => char::from_u32(T2S_PAIRS[i].1).unwrap_or(c),
        Err(_) => c,
    }
}

/// Whether `cp` is a unified ideograph that normalisation leaves as it is
/// (no Traditional→Simplified change): the common case, copied as it is.
#[inline]
fn is_plain_ideograph(cp: u32, table: &[u32]) -> bool {
    (0x4E00..DENSE_TO).contains(&cp) && table.get((cp - DENSE_FROM) as usize) == Some(&0)
}

/// Whether `c` separates characters without ending a sentence: skipped.
pub fn is_separator(c: char) -> bool {
    if c.is_ascii() {
        return matches!(
            c,
            ' ' | '\t'
                | '\0'
                | '\x0B'
                | '\x0C'
                | ','
                | ';'
                | ':'
                | '"'
                | '\''
                | '`'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '<'
                | '>'
                | '-'
                | '_'
                | '~'
                | '*'
                | '/'
                | '\\'
                | '|'
                | '^'
        );
    }
    match c {
        // CJK and general punctuation used inside sentences.
        '，' | '、' | '；' | '：' | '“' | '”' | '‘' | '’' | '（' | '）' | '【' | '】' | '〔'
        | '〕' | '《' | '》' | '〈' | '〉' | '「' | '」' | '『' | '』' | '〖' | '〗' | '…'
        | '‥' | '—' | '–' | '―' | '‐' | '‑' | '～' | '〜' | '·' | '・' | '•' | '‧' | '﹏'
        | '〃' | '＂' | '＇' | '｀' => true,
        // Zero-width characters and the BOM.
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => true,
        _ => c.is_whitespace() && c != '\u{2028}' && c != '\u{2029}' && c != '\u{85}',
    }
}

/// Whether `c` ends a sentence or a message: kept, and phrases never span it.
pub fn is_barrier(c: char) -> bool {
    matches!(
        c,
        '。' | '｡'
            | '.'
            | '!'
            | '?'
            | '！'
            | '？'
            | '\n'
            | '\r'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{85}'
    )
}

/// A turn's text in matching form, with the way back to the original.
#[derive(Debug, Default, Clone)]
pub struct NormalizedText {
    text: String,
    /// For each byte of `text`, the index of the original character.
    origin: Vec<u32>,
    /// Characters that carry content (not separators, not barriers).
    content_chars: usize,
    /// Characters in the original text.
    original_chars: usize,
    /// Skip recording `origin` (the fast path for matching only).
    untracked: bool,
}

impl NormalizedText {
    /// Normalises `original` into a new buffer.
    pub fn new(original: &str) -> NormalizedText {
        let mut n = NormalizedText::default();
        n.fill(original);
        n
    }

    /// Normalises `original`, reusing this buffer's allocations.
    pub fn fill(&mut self, original: &str) {
        self.clear();
        self.append(original);
    }

    /// A buffer that does not record where each byte came from: faster,
    /// for matching only; [`NormalizedText::original_span`] then returns
    /// empty spans. Map spans with a tracked buffer of the same text.
    pub fn untracked() -> NormalizedText {
        NormalizedText {
            untracked: true,
            ..NormalizedText::default()
        }
    }

    /// Empties the buffer, keeping its allocations.
    pub fn clear(&mut self) {
        self.text.clear();
        self.origin.clear();
        self.content_chars = 0;
        self.original_chars = 0;
    }

    /// Appends a NUL byte that no phrase can match across: it separates the
    /// turns of a conversation normalised into one buffer (NUL in input
    /// text is skipped as a separator, so only this one exists).
    pub fn push_boundary(&mut self) {
        self.text.push('\0');
        if !self.untracked {
            self.origin.push(u32::MAX);
        }
    }

    /// Normalises `original` onto the end of the buffer. Origins of the new
    /// bytes count characters from the start of `original`. Returns the
    /// content characters added.
    pub fn append(&mut self, original: &str) -> usize {
        let content_before = self.content_chars;
        let table = dense_table();
        self.text.reserve(original.len());
        let mut index: u32 = 0;
        if self.untracked {
            // Hot path, byte by byte: ideographs that need no change and
            // lower-case ASCII letters and digits are copied as they are,
            // a run at a time; anything else goes through `push_one`.
            let bytes = original.as_bytes();
            let mut run_from = 0;
            let mut at = 0;
            let mut copied = 0;
            let mut chars: u32 = 0;
            while at < bytes.len() {
                let b = bytes[at];
                chars = chars.saturating_add(1);
                if b.is_ascii_lowercase() || b.is_ascii_digit() {
                    copied += 1;
                    at += 1;
                    continue;
                }
                // E4..E9 lead the three-byte forms of U+4000..U+9FFF.
                if (0xE4..=0xE9).contains(&b) {
                    if let (Some(&b1), Some(&b2)) = (bytes.get(at + 1), bytes.get(at + 2)) {
                        let cp = (u32::from(b & 0x0F) << 12)
                            | (u32::from(b1 & 0x3F) << 6)
                            | u32::from(b2 & 0x3F);
                        if is_plain_ideograph(cp, table) {
                            copied += 1;
                            at += 3;
                            continue;
                        }
                    }
                }
                // `at` is on a character boundary: runs and other
                // characters both advance by whole characters.
                let Some(c) = original.get(at..).and_then(|rest| rest.chars().next()) else {
                    break;
                };
                self.text
                    .push_str(original.get(run_from..at).unwrap_or_default());
                // Untracked: origins are not recorded, so no index.
                self.push_one(c, 0, table);
                at += c.len_utf8();
                run_from = at;
            }
            self.text
                .push_str(original.get(run_from..at).unwrap_or_default());
            self.content_chars += copied;
            index = chars;
        } else {
            self.origin.reserve(original.len());
            for c in original.chars() {
                let cp = c as u32;
                if is_plain_ideograph(cp, table) {
                    // The common case, without the general path's checks.
                    self.text.push(c);
                    self.origin.extend_from_slice(&[index; 3]);
                    self.content_chars += 1;
                } else {
                    self.push_one(c, index, table);
                }
                index = index.saturating_add(1);
            }
        }
        self.original_chars = index as usize;
        self.content_chars - content_before
    }

    /// Normalises one original character (the `index`-th) onto the buffer.
    #[inline]
    fn push_one(&mut self, c: char, index: u32, table: &[u32]) {
        let cp = c as u32;
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                self.push(c.to_ascii_lowercase(), index, true);
            } else if !is_separator(c) {
                self.push(c, index, !is_barrier(c));
            }
        } else if (0x4E00..DENSE_TO).contains(&cp) {
            // Unified ideographs: NFKC leaves them alone; only T→S applies.
            let to = table[(cp - DENSE_FROM) as usize];
            let s = if to == 0 {
                c
            } else {
                char::from_u32(to).unwrap_or(c)
            };
            self.push(s, index, true);
        } else if (0x3001..=0x3035).contains(&cp) {
            // CJK punctuation (。「」《》…): NFKC leaves it alone.
            if !is_separator(c) {
                self.push(c, index, !is_barrier(c));
            }
        } else if (0xFF01..=0xFF5E).contains(&cp) {
            // Full-width ASCII (！？，Ａ１): NFKC gives the ASCII character.
            let d = char::from_u32(cp - 0xFEE0).unwrap_or(c);
            if d.is_ascii_alphanumeric() {
                self.push(d.to_ascii_lowercase(), index, true);
            } else if !is_separator(d) {
                self.push(d, index, !is_barrier(d));
            }
        } else if !is_separator(c) {
            for d in std::iter::once(c).nfkc() {
                if is_separator(d) {
                    continue;
                }
                let barrier = is_barrier(d);
                if d.is_ascii() {
                    self.push(d.to_ascii_lowercase(), index, !barrier);
                } else {
                    for l in d.to_lowercase() {
                        self.push(to_simplified(l), index, !barrier);
                    }
                }
            }
        }
    }

    #[inline]
    fn push(&mut self, c: char, index: u32, content: bool) {
        let before = self.text.len();
        self.text.push(c);
        if !self.untracked {
            let added = self.text.len() - before;
            self.origin.extend(std::iter::repeat_n(index, added));
        }
        if content {
            self.content_chars += 1;
        }
    }

    /// The normalised text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Characters of content (no separators, no sentence ends): what speech
    /// rate counts.
    pub fn content_chars(&self) -> usize {
        self.content_chars
    }

    /// Length in characters of the original text last appended.
    pub fn original_chars(&self) -> usize {
        self.original_chars
    }

    /// The original character span `[start, end)` of the normalised byte
    /// range `[start_byte, end_byte)`. Empty ranges map to an empty span.
    pub fn original_span(&self, start_byte: usize, end_byte: usize) -> (usize, usize) {
        if start_byte >= end_byte || start_byte >= self.origin.len() {
            let at = self
                .origin
                .get(start_byte)
                .map(|&i| i as usize)
                .unwrap_or(self.original_chars);
            return (at, at);
        }
        let end_byte = end_byte.min(self.origin.len());
        let start = self.origin[start_byte] as usize;
        let end = self.origin[end_byte - 1] as usize + 1;
        (start, end)
    }
}

/// A pack phrase in matching form.
pub fn normalize_phrase(phrase: &str) -> String {
    NormalizedText::new(phrase).text
}

/// The characters `[start, end)` of `text`, counted in characters.
pub fn char_slice(text: &str, start: usize, end: usize) -> &str {
    let mut indices = text
        .char_indices()
        .map(|(b, _)| b)
        .chain(std::iter::once(text.len()));
    let Some(from) = indices.nth(start) else {
        return "";
    };
    if end <= start {
        return "";
    }
    let to = indices.nth(end - start - 1).unwrap_or(text.len());
    &text[from..to]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_and_case_fold() {
        assert_eq!(normalize_phrase("ＡＢＣ１２３"), "abc123");
        assert_eq!(normalize_phrase("Hello World"), "helloworld");
    }

    #[test]
    fn traditional_becomes_simplified() {
        assert_eq!(
            normalize_phrase("對不起，給您帶來不便"),
            "对不起给您带来不便"
        );
        assert_eq!(normalize_phrase("謝謝您的耐心等待"), "谢谢您的耐心等待");
        assert_eq!(to_simplified('臺'), '台');
        assert_eq!(normalize_phrase("有什麼事快說"), "有什么事快说");
        assert_eq!(normalize_phrase("怎麼回事"), "怎么回事");
        // Simplified text is left as it is: the mapping is idempotent.
        for phrase in [
            "什么",
            "还有什么可以帮您",
            "怎么回事",
            "干",
            "发",
            "后面",
            "里面",
            "只有",
        ] {
            assert_eq!(normalize_phrase(phrase), phrase);
        }
    }

    #[test]
    fn separators_skipped_and_barriers_kept() {
        assert_eq!(normalize_phrase("不 知 道"), "不知道");
        assert_eq!(normalize_phrase("不，知道"), "不知道");
        assert_eq!(normalize_phrase("不…知道"), "不知道");
        assert_eq!(normalize_phrase("不。知道"), "不。知道");
        assert_eq!(normalize_phrase("不！知道"), "不!知道");
        assert_eq!(normalize_phrase("不\n知道"), "不\n知道");
        assert_eq!(normalize_phrase("　您好～"), "您好");
    }

    #[test]
    fn spans_point_into_original_characters() {
        let original = "喂，我 不 知 道啊";
        let n = NormalizedText::new(original);
        let start = n.as_str().find("不知道").unwrap();
        let (s, e) = n.original_span(start, start + "不知道".len());
        assert_eq!(char_slice(original, s, e), "不 知 道");
        assert_eq!((s, e), (4, 9));
    }

    #[test]
    fn expansion_maps_to_one_original_char() {
        // NFKC expands ㈱ to (株); the brackets are separators.
        let n = NormalizedText::new("a㈱b");
        assert_eq!(n.as_str(), "a株b");
        let at = n.as_str().find('株').unwrap();
        assert_eq!(n.original_span(at, at + '株'.len_utf8()), (1, 2));
    }

    #[test]
    fn content_chars_ignore_punctuation() {
        let n = NormalizedText::new("您好，很高兴为您服务。");
        assert_eq!(n.content_chars(), 9);
        assert_eq!(n.original_chars(), 11);
    }

    #[test]
    fn untracked_fast_path_gives_the_same_text() {
        for text in [
            "您好，很高兴为您服务。",
            "對不起ＡＢＣ 不 知 道",
            "",
            "a㈱b。！？",
            "什麼事快說\n再見",
        ] {
            let mut fast = NormalizedText::untracked();
            let n1 = fast.append(text);
            let slow = NormalizedText::new(text);
            assert_eq!(fast.as_str(), slow.as_str(), "{text}");
            assert_eq!(n1, slow.content_chars(), "{text}");
            assert_eq!(fast.original_chars(), slow.original_chars());
        }
    }

    /// Every character through the generic NFKC branch: what the fast
    /// paths must agree with.
    fn reference(text: &str) -> String {
        let mut out = String::new();
        for c in text.chars() {
            if is_separator(c) {
                continue;
            }
            for d in std::iter::once(c).nfkc() {
                if is_separator(d) {
                    continue;
                }
                if d.is_ascii() {
                    out.push(d.to_ascii_lowercase());
                } else {
                    out.extend(d.to_lowercase().map(to_simplified));
                }
            }
        }
        out
    }

    #[test]
    fn fast_paths_agree_with_nfkc_for_every_character() {
        let ranges = [
            0x0..0x3100,
            0x3400..0x3500,
            0x4D00..0x5200,
            0x8AA0..0x8C00,
            0x9F00..0xA100,
            0xF900..0xFB00,
            0xFE00..0x10000,
            0x2F800..0x2F810,
        ];
        for range in ranges {
            let text: String = range.filter_map(char::from_u32).collect();
            let mut fast = NormalizedText::untracked();
            fast.append(&text);
            let tracked = NormalizedText::new(&text);
            assert_eq!(fast.as_str(), tracked.as_str());
            assert_eq!(fast.content_chars(), tracked.content_chars());
            assert_eq!(fast.original_chars(), text.chars().count());
            assert_eq!(tracked.as_str(), reference(&text));
        }
    }

    #[test]
    fn char_slice_edges() {
        assert_eq!(char_slice("你好世界", 1, 3), "好世");
        assert_eq!(char_slice("你好", 0, 2), "你好");
        assert_eq!(char_slice("你好", 2, 2), "");
        assert_eq!(char_slice("你好", 5, 9), "");
    }
}
