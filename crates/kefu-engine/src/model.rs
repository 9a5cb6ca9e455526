//! The conversation model: what the engine inspects.
//!
//! A [`Conversation`] borrows its strings from the JSON line it was parsed
//! from whenever it can (no escapes in the text), which keeps the hot path of
//! `kefu inspect` free of per-turn allocations.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::lenient::{self, key, Vocabulary};

/// How the customer reached the centre.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A voice call, usually an ASR transcript with timings.
    Phone,
    /// An online chat (web, app, shop messenger).
    Chat,
}

impl Channel {
    /// The lower-case name used in files and packs.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Chat => "chat",
        }
    }
}

/// Who spoke a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The customer-service agent (坐席/客服).
    Agent,
    /// The customer (客户).
    Customer,
    /// The platform: IVR prompts, transfer notices, bot messages.
    System,
}

impl Role {
    /// The lower-case name used in files and packs.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Customer => "customer",
            Role::System => "system",
        }
    }
}

/// Who ended the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndedBy {
    /// The agent hung up or closed the chat.
    Agent,
    /// The customer hung up or left.
    Customer,
    /// The line dropped, a timeout closed the chat, and so on.
    System,
}

impl Vocabulary for Role {
    const WHAT: &'static str = "role";
    const EXPECTED: &'static str = "agent, customer or system";

    /// `agent`/`customer`/`system`, any case, or an alias (客服, 坐席, 客户,
    /// 用户, 系统, IVR, bot …).
    fn from_alias(v: &str) -> Option<Self> {
        // The documented spellings first, without allocating.
        match v {
            "agent" => return Some(Role::Agent),
            "customer" => return Some(Role::Customer),
            "system" => return Some(Role::System),
            _ => {}
        }
        Some(match key(v).as_str() {
            "agent" | "staff" | "service" | "客服" | "坐席" | "座席" | "人工" | "客服人员" => {
                Role::Agent
            }
            "customer" | "user" | "client" | "caller" | "客户" | "用户" | "顾客" | "买家" => {
                Role::Customer
            }
            "system" | "ivr" | "bot" | "robot" | "系统" | "机器人" => Role::System,
            _ => return None,
        })
    }
}

impl Vocabulary for Channel {
    const WHAT: &'static str = "channel";
    const EXPECTED: &'static str = "phone or chat";

    /// `phone`/`chat`, any case, or an alias (电话, 在线, call, im …).
    fn from_alias(v: &str) -> Option<Self> {
        match v {
            "phone" => return Some(Channel::Phone),
            "chat" => return Some(Channel::Chat),
            _ => {}
        }
        Some(match key(v).as_str() {
            "phone" | "call" | "voice" | "tel" | "电话" | "语音" | "热线" => Channel::Phone,
            "chat" | "online" | "im" | "web" | "text" | "在线" | "文字" | "微信" => {
                Channel::Chat
            }
            _ => return None,
        })
    }
}

impl Vocabulary for EndedBy {
    const WHAT: &'static str = "ended_by";
    const EXPECTED: &'static str = "agent, customer or system";

    /// The same words as [`Role`]: whoever spoke can end the conversation.
    fn from_alias(v: &str) -> Option<Self> {
        Some(match Role::from_alias(v)? {
            Role::Agent => EndedBy::Agent,
            Role::Customer => EndedBy::Customer,
            Role::System => EndedBy::System,
        })
    }
}

/// One utterance (a phone turn) or one message (a chat turn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Turn<'a> {
    /// Who spoke.
    #[serde(deserialize_with = "lenient::vocabulary")]
    pub role: Role,
    /// What was said, as transcribed or typed.
    #[serde(borrow, default, deserialize_with = "lenient::text")]
    pub text: Cow<'a, str>,
    /// Offset of the start of the turn from the start of the conversation.
    #[serde(
        default,
        deserialize_with = "lenient::millis",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_ms: Option<u64>,
    /// Offset of the end of the turn from the start of the conversation.
    #[serde(
        default,
        deserialize_with = "lenient::millis",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_ms: Option<u64>,
    /// Source metadata kept with the turn (ASR emotion, speech rate, audio
    /// channel …), for rules and reports; empty for most inputs.
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

/// Free-form metadata from the source system, by field name.
pub type Meta = std::collections::BTreeMap<String, serde_json::Value>;

impl Turn<'_> {
    /// A copy that owns its text.
    pub fn into_owned(self) -> Turn<'static> {
        Turn {
            role: self.role,
            text: Cow::Owned(self.text.into_owned()),
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            meta: self.meta,
        }
    }
}

/// Longest identifier kefu accepts anywhere (conversation, agent, customer,
/// complaint ids), in characters: imports refuse longer ones with a
/// line-numbered error, so everything imported can be referred to later
/// (a complaint about the conversation, the customer's record).
pub const MAX_ID_CHARS: usize = 128;

/// One call or chat session, in kefu's native format (see docs/format.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation<'a> {
    /// Stable identifier from the source system.
    #[serde(borrow, deserialize_with = "lenient::text")]
    pub id: Cow<'a, str>,
    /// Phone or chat.
    #[serde(deserialize_with = "lenient::vocabulary")]
    pub channel: Channel,
    /// The agent who handled it.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_id: Option<Cow<'a, str>>,
    /// The agent's display name.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_name: Option<Cow<'a, str>>,
    /// The customer's identifier.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_id: Option<Cow<'a, str>>,
    /// The customer's display name.
    #[serde(
        borrow,
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_name: Option<Cow<'a, str>>,
    /// When the conversation started, with its UTC offset: the local time
    /// decides time-of-day and festival greetings.
    #[serde(
        default,
        deserialize_with = "lenient::time",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<DateTime<FixedOffset>>,
    /// How long the customer waited before an agent answered.
    #[serde(
        default,
        deserialize_with = "lenient::millis",
        skip_serializing_if = "Option::is_none"
    )]
    pub wait_ms: Option<u64>,
    /// Who ended the conversation.
    #[serde(
        default,
        deserialize_with = "lenient::opt_vocabulary",
        skip_serializing_if = "Option::is_none"
    )]
    pub ended_by: Option<EndedBy>,
    /// The turns, in the order they happened.
    #[serde(borrow, default, deserialize_with = "turns")]
    pub turns: Vec<Turn<'a>>,
    /// Source metadata about the whole conversation (e.g. call analytics:
    /// interruptions, non-talk time).
    #[serde(default, skip_serializing_if = "Meta::is_empty")]
    pub meta: Meta,
}

impl Conversation<'_> {
    /// A copy that owns all its strings, to keep after the input buffer goes.
    pub fn into_owned(self) -> Conversation<'static> {
        fn own(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            s.map(|s| Cow::Owned(s.into_owned()))
        }
        Conversation {
            id: Cow::Owned(self.id.into_owned()),
            channel: self.channel,
            agent_id: own(self.agent_id),
            agent_name: own(self.agent_name),
            customer_id: own(self.customer_id),
            customer_name: own(self.customer_name),
            started_at: self.started_at,
            wait_ms: self.wait_ms,
            ended_by: self.ended_by,
            turns: self.turns.into_iter().map(Turn::into_owned).collect(),
            meta: self.meta,
        }
    }
}

/// Turns a vector holds before it first grows: a typical call or chat.
/// Parsers of the native format size their turn vectors with it.
pub const TURNS_UP_FRONT: usize = 32;

/// Reads the turns into a vector sized for a typical conversation from the
/// start; grown from empty, it was copied three times over on the way to
/// thirty turns, for every conversation parsed.
fn turns<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Turn<'de>>, D::Error> {
    struct Turns;
    impl<'de> serde::de::Visitor<'de> for Turns {
        type Value = Vec<Turn<'de>>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut turns = Vec::with_capacity(seq.size_hint().unwrap_or(TURNS_UP_FRONT).min(4096));
            while let Some(turn) = seq.next_element()? {
                turns.push(turn);
            }
            Ok(turns)
        }
    }
    d.deserialize_seq(Turns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_channels_by_alias() {
        assert_eq!(Role::from_alias("AGENT"), Some(Role::Agent));
        assert_eq!(Role::from_alias("客户"), Some(Role::Customer));
        assert_eq!(Role::from_alias("bot"), Some(Role::System));
        assert_eq!(Role::from_alias("fax"), None);
        assert_eq!(Channel::from_alias("Call"), Some(Channel::Phone));
        assert_eq!(Channel::from_alias("在线"), Some(Channel::Chat));
        assert_eq!(EndedBy::from_alias("坐席"), Some(EndedBy::Agent));
    }
}
