//! Masking personal data (phone numbers, ID numbers, names) for display.

// ---------------------------------------------------------------------------
// Masking
// ---------------------------------------------------------------------------

/// Keeps the first `head` and last `tail` characters and stars the rest
/// (all stars if that would reveal everything).
pub(crate) fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if head + tail >= n {
        return "*".repeat(n);
    }
    let mut out = String::with_capacity(s.len());
    out.extend(chars.iter().take(head));
    out.extend(std::iter::repeat_n('*', n - head - tail));
    out.extend(chars.iter().skip(n - tail));
    out
}

/// Masks a phone number for display, by characters of the trimmed input:
/// 11 or more keep the first 3 and last 4 (`13812345678` → `138****5678`),
/// 7–10 keep the first 2 and last 2 (`62345678` → `62****78`), 1–6 are all
/// stars. Never panics, whatever the input.
pub fn mask_phone(phone: &str) -> String {
    let t = phone.trim();
    match t.chars().count() {
        0 => String::new(),
        n @ 1..=6 => "*".repeat(n),
        7..=10 => mask_middle(t, 2, 2),
        _ => mask_middle(t, 3, 4),
    }
}

/// Masks an ID number for display, by characters of the trimmed input:
/// 16 or more keep the region code (6) and the last 4
/// (`110101199001011234` → `110101********1234`, hiding the birth date),
/// 15 (the old format) keeps 6 and 3, 8–14 (passports and others) keep the
/// first and the last 3, 1–7 are all stars. Never panics.
pub fn mask_id_number(id_number: &str) -> String {
    let t = id_number.trim();
    match t.chars().count() {
        0 => String::new(),
        n @ 1..=7 => "*".repeat(n),
        8..=14 => mask_middle(t, 1, 3),
        15 => mask_middle(t, 6, 3),
        _ => mask_middle(t, 6, 4),
    }
}

/// Masks a person's name for display: one character → `*`, two → the first
/// and a star (`张三` → `张*`), more → first and last with stars between
/// (`欧阳修` → `欧*修`). Never panics.
pub fn mask_name(name: &str) -> String {
    let t = name.trim();
    match t.chars().count() {
        0 => String::new(),
        1 => "*".to_string(),
        2 => mask_middle(t, 1, 0),
        _ => mask_middle(t, 1, 1),
    }
}
