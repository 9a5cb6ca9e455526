//! The e-commerce chat profile (`[chat]` in a pack): what is normal on a
//! Taobao/Qianniu-style chat but not on the phone.
//!
//! * `allow`: phrases of `forbidden` rules that are ordinary address on chat
//!   (亲, 亲爱的, 宝贝); their hits are dropped on chat conversations.
//! * `rating_card_rules`: required rules (the survey) that a system turn
//!   satisfies on chat — the platform's rating card (请对本次服务进行评价).
//! * `continuation`: how an excerpt that starts mid-session is recognised.
//!   A chat whose first non-system turn is the customer's and begins with one
//!   of these words (好的, 嗯, 那, 还有, 所以…) continues an earlier exchange,
//!   as does one whose `meta.excerpt` is `true`; rules that look at the first
//!   or last turns (opening, greetings, anything_else, survey, closing) are
//!   then skipped: the excerpt shows neither the session's start nor its end.

use serde::{Deserialize, Serialize};

use crate::model::{Channel, Conversation, Role};
use crate::normalize::{is_barrier, normalize_phrase};

/// The `[chat]` table of a pack.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatProfile {
    /// Forbidden-rule phrases that are normal address on chat.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Required rules that a system turn (the platform's rating card)
    /// satisfies on chat.
    #[serde(default)]
    pub rating_card_rules: Vec<String>,
    /// Words that open a mid-session customer message.
    #[serde(default)]
    pub continuation: Vec<String>,
}

impl ChatProfile {
    /// Whether `conv` is a chat excerpt that starts mid-session.
    /// `normalized(t)` is turn `t` in matching form; `continuation` are the
    /// normalised continuation words.
    pub(crate) fn is_excerpt<'n>(
        conv: &Conversation<'_>,
        normalized: impl Fn(usize) -> &'n str,
        continuation: &[String],
    ) -> bool {
        if conv.channel != Channel::Chat {
            return false;
        }
        if conv.meta.get("excerpt").and_then(|v| v.as_bool()) == Some(true) {
            return true;
        }
        let Some(first) = conv.turns.iter().position(|t| t.role != Role::System) else {
            return false;
        };
        if conv.turns[first].role != Role::Customer || continuation.is_empty() {
            return false;
        }
        let text = normalized(first).trim_start_matches(is_barrier);
        continuation.iter().any(|c| text.starts_with(c.as_str()))
    }

    /// The continuation words in matching form.
    pub(crate) fn normalized_continuation(&self) -> Vec<String> {
        self.continuation
            .iter()
            .map(|c| normalize_phrase(c))
            .filter(|c| !c.is_empty())
            .collect()
    }
}
