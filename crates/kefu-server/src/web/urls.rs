//! Dashboard URLs that carry ids. Every link and form action with an id
//! is built here, so each id is percent-encoded exactly once: ids from
//! imported files contain `#`, `?`, `/`, `%`, spaces and Chinese, and an
//! unescaped `#` would cut the URL (the review POST of `taobao-chat#3`
//! went to `/conversations/taobao-chat` and got 405).

use super::page::encode;

/// Percent-encodes one path segment: everything but unreserved ASCII
/// (`A–Z a–z 0–9 - . _ ~`) becomes `%XX` of its UTF-8 bytes, so `/` stays
/// inside the segment and the router decodes it back to the id.
pub(crate) fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/conversations/{id}`.
pub(crate) fn conversation(id: &str) -> String {
    format!("/conversations/{}", segment(id))
}

/// `/conversations/{id}/review`, the review form's action.
pub(crate) fn conversation_review(id: &str) -> String {
    format!("{}/review", conversation(id))
}

/// `/conversations/{id}/appeals`, the appeal form's action.
pub(crate) fn conversation_appeals(id: &str) -> String {
    format!("{}/appeals", conversation(id))
}

/// `/complaints/{id}`.
pub(crate) fn complaint(id: &str) -> String {
    format!("/complaints/{}", segment(id))
}

/// `/feedback/{id}`.
pub(crate) fn feedback(id: &str) -> String {
    format!("/feedback/{}", segment(id))
}

/// `/feedback/{id}/command`, the action forms' target.
pub(crate) fn feedback_command(id: &str) -> String {
    format!("{}/command", feedback(id))
}

/// `/complaints/{id}/command`, the action forms' target.
pub(crate) fn complaint_command(id: &str) -> String {
    format!("{}/command", complaint(id))
}

/// `/complaints/new?conversation_id={id}`.
pub(crate) fn complaint_new_for(conversation_id: &str) -> String {
    format!(
        "/complaints/new?conversation_id={}",
        encode(conversation_id)
    )
}

/// `/agents/{id}`.
pub(crate) fn agent(id: &str) -> String {
    format!("/agents/{}", segment(id))
}

/// `/agents/{id}?period={period}`.
pub(crate) fn agent_in(id: &str, period: &str) -> String {
    format!("{}?period={}", agent(id), encode(period))
}

/// `/appeals/{id}`.
pub(crate) fn appeal(id: i64) -> String {
    format!("/appeals/{id}")
}

/// `/appeals/{id}/decision`, the decision form's action.
pub(crate) fn appeal_decision(id: i64) -> String {
    format!("{}/decision", appeal(id))
}

/// `/revisits/{id}/complete`.
pub(crate) fn revisit_complete(id: &str) -> String {
    format!("/revisits/{}/complete", segment(id))
}

/// `/admin/users/{id}/active`.
pub(crate) fn user_active(id: &str) -> String {
    format!("/admin/users/{}/active", segment(id))
}

/// `/mystery/plans/{id}`.
pub(crate) fn mystery_plan(id: &str) -> String {
    format!("/mystery/plans/{}", segment(id))
}

/// `/mystery/shops/{id}`.
pub(crate) fn mystery_shop(id: &str) -> String {
    format!("/mystery/shops/{}", segment(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_reserved_and_chinese_characters_stay_one_segment() {
        assert_eq!(
            conversation("taobao-chat#3"),
            "/conversations/taobao-chat%233"
        );
        assert_eq!(
            conversation_review("a/b?c%d e"),
            "/conversations/a%2Fb%3Fc%25d%20e/review"
        );
        assert_eq!(complaint("客诉 1"), "/complaints/%E5%AE%A2%E8%AF%89%201");
        assert_eq!(agent_in("k+1", "2026-10"), "/agents/k%2B1?period=2026-10");
        assert_eq!(segment("A-z.0_~"), "A-z.0_~");
    }
}
