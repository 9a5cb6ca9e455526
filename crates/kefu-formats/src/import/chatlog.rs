//! Plain-text chat logs, as exported by Taobao/Qianniu and similar shop
//! messengers.
//!
//! Two layouts are read, and may be mixed:
//!
//! ```text
//! 2026-10-01 09:15:02 店小二:亲，在的，请问有什么可以帮您？
//! 2026-10-01 09:15:40 买家昵称:我的快递怎么还没到
//! ```
//!
//! ```text
//! 买家昵称 2026-10-01 09:15:02
//! 我的快递怎么还没到
//! 旗舰店:小美 (2026-10-01 09:15:30):
//! 亲，我帮您查一下
//! ```
//!
//! (`STAMP 名字` alone on a line, message below, works too.) Lines that are
//! neither continue the message above, joined with a newline; blank lines
//! inside a message are kept, trailing ones dropped. Full-width `：` works
//! like `:`; the sub-account form `店铺名:客服A` is one sender when the part
//! before the colon looks like a shop (ends in 店, or holds 旗舰, 官方, 专营,
//! 专卖, 店铺, 商城, 公司) or the account or the whole `店铺名:客服A` is an
//! agent name.
//!
//! **Roles.** With [`ImportOptions::agent_names`], a sender is the agent
//! when its name is one of them, or is a sub-account `店铺:名字` whose shop
//! or account part is one of them; everyone else is the customer. Without
//! names, a sender is the agent when its name contains 客服, 小二 (店小二),
//! 官方, 旗舰店, 专营店, 专卖店, 店铺, 售前 or 售后, or has the sub-account
//! form `店铺:名字`. Bots and system notices (系统, 系统消息, 店小蜜, 机器人,
//! 智能客服, 自动回复 …) are `system`. When no sender of the file is an agent,
//! the file is rejected with an error asking for `--agent-name`.
//!
//! **Conversations** split at a separator line (`---- 会话 2 ----`,
//! `=====`), when more than [`SESSION_GAP_MS`] pass between two messages, or
//! when a different customer writes. Ids are `file-stem#1`, `#2` … (the stem
//! is [`ImportOptions::default_id`] when set); `channel` is `chat`;
//! `start_ms` is the offset from the conversation's first message, and
//! `started_at` its first timestamp (China Standard Time when the log gives
//! no offset). The agent and customer ids are their sender names.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use kefu_engine::{Channel, Conversation, Meta, Role, Turn};

use super::csv::{decode, decode_head, parse_stamp_prefix, stem};
use super::{ImportError, ImportOptions, Imported};

/// A pause longer than this between two messages starts a new conversation.
pub const SESSION_GAP_MS: i64 = 30 * 60 * 1000;

/// Longest sender name accepted, in characters: longer "names" are text.
const MAX_NAME_CHARS: usize = 48;

/// Name parts that make a sender the agent when no names are given.
const AGENT_MARKERS: &[&str] = &[
    "客服",
    "小二",
    "官方",
    "旗舰店",
    "专营店",
    "专卖店",
    "店铺",
    "售前",
    "售后",
];

/// Name parts that mark a shop account (for splitting `店铺:子账号`),
/// besides a name ending in 店.
const SHOP_MARKERS: &[&str] = &["店铺", "旗舰", "官方", "专营", "专卖", "商城", "公司"];

/// Senders that are bots or the platform.
const SYSTEM_EXACT: &[&str] = &["系统", "系统消息", "系统通知", "系统提示", "system"];
const SYSTEM_MARKERS: &[&str] = &["店小蜜", "机器人", "智能客服", "智能助手", "自动回复"];

/// One line of a log.
#[derive(Debug, PartialEq)]
enum Line<'a> {
    Blank,
    /// `---- 会话 … ----`, `=====`.
    Separator,
    /// A message header; `text` is `None` when the message follows on the
    /// next lines.
    Message {
        at: DateTime<FixedOffset>,
        name: &'a str,
        text: Option<&'a str>,
    },
    /// Anything else: the continuation of a message, or a preamble.
    Other(&'a str),
}

fn classify<'a>(line: &'a str, agent_names: &[String]) -> Line<'a> {
    let line = line.trim_end();
    let t = line.trim_start();
    if t.is_empty() {
        return Line::Blank;
    }
    if is_separator(t) {
        return Line::Separator;
    }
    let b = t.as_bytes();
    // `STAMP name:text`, `STAMP name`, `[STAMP] name:text`.
    let bracket = matches!(b[0], b'[' | b'(');
    let k = usize::from(bracket);
    if b.get(k).is_some_and(u8::is_ascii_digit) {
        if let Some((at, n)) = parse_stamp_prefix(&b[k..]) {
            let mut rest = &t[k + n..];
            if bracket {
                match rest.strip_prefix([']', ')']) {
                    Some(r) => rest = r,
                    None => return Line::Other(line),
                }
            }
            if !rest.is_empty() && !rest.starts_with([' ', '\t']) && !bracket {
                return Line::Other(line);
            }
            let rest = rest.trim_start();
            return match split_sender(rest, agent_names) {
                Some((name, text)) => {
                    let text = text.trim_start();
                    Line::Message {
                        at,
                        name,
                        text: (!text.is_empty()).then_some(text),
                    }
                }
                None if plausible_name(rest) => Line::Message {
                    at,
                    name: rest,
                    text: None,
                },
                None => Line::Other(line),
            };
        }
    }
    // `name STAMP`, `name (STAMP):`.
    if t.ends_with(|c: char| c.is_ascii_digit() || matches!(c, ')' | ']' | '）' | ':' | '：')) {
        if let Some((name, at)) = name_then_stamp(t) {
            return Line::Message {
                at,
                name,
                text: None,
            };
        }
    }
    Line::Other(line)
}

/// A run of three or more `-`, `=`, `*`, `—` … at both ends (or alone).
fn is_separator(t: &str) -> bool {
    let rule = |c: char| matches!(c, '-' | '=' | '*' | '—' | '─' | '━' | '_' | '#' | '~');
    let lead = t.chars().take_while(|&c| rule(c)).count();
    let trail = t.chars().rev().take_while(|&c| rule(c)).count();
    lead >= 3 && trail >= 3
}

/// Splits `name:text` (or `name：text`); `None` without a separator or when
/// the part before it is no plausible name. `店铺:子账号:text` is one sender
/// when the first part looks like a shop, or the account (or the whole
/// `店铺:子账号`) is one of `agent_names`.
fn split_sender<'a>(rest: &'a str, agent_names: &[String]) -> Option<(&'a str, &'a str)> {
    let c1 = rest.find([':', '：'])?;
    let name1 = rest[..c1].trim_end();
    if !plausible_name(name1) {
        return None;
    }
    let after1 = strip_colon(&rest[c1..])?;
    if let Some(c2) = after1.find([':', '：']) {
        let account = &after1[..c2];
        let end = rest.len() - after1.len() + c2;
        let whole = rest[..end].trim_end();
        let configured = |s: &str| agent_names.iter().any(|n| n.trim() == s);
        if plausible_name(account)
            && !account.contains(' ')
            && (shop_like(name1) || configured(account) || configured(whole))
        {
            return Some((whole, strip_colon(&after1[c2..])?));
        }
    }
    Some((name1, after1))
}

/// A shop account name: `某某旗舰店`, `云朵小店`, `xx官方`, `xx专营` ….
fn shop_like(name: &str) -> bool {
    name.ends_with('店') || SHOP_MARKERS.iter().any(|m| name.contains(m))
}

/// The text after a leading `:` or `：`.
fn strip_colon(s: &str) -> Option<&str> {
    s.strip_prefix(':').or_else(|| s.strip_prefix('：'))
}

/// Short, one line, no sentence punctuation, not a label such as 导出时间:
/// could be a sender name.
fn plausible_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars().count() <= MAX_NAME_CHARS
        && !s.contains(['\t', '，', '。', '？', '！', '、', '；', ',', '"', '：'])
        && !s.ends_with("时间")
        && !s.ends_with("日期")
}

/// `name STAMP`, `name (STAMP)`, `name [STAMP]:` on one line.
fn name_then_stamp(t: &str) -> Option<(&str, DateTime<FixedOffset>)> {
    let mut s = t.trim_end_matches([':', '：']).trim_end();
    let mut closed = false;
    for close in [')', ']', '）'] {
        if let Some(r) = s.strip_suffix(close) {
            s = r.trim_end();
            closed = true;
            break;
        }
    }
    // Where the stamp may start: after a space or an opening bracket.
    let starts = s
        .char_indices()
        .rev()
        .filter(|&(_, c)| matches!(c, ' ' | '\t' | '(' | '[' | '（'))
        .take(4)
        .map(|(i, c)| i + c.len_utf8());
    for start in starts {
        let Some((at, n)) = parse_stamp_prefix(&s.as_bytes()[start..]) else {
            continue;
        };
        if start + n != s.len() {
            continue;
        }
        let mut name = s[..start].trim_end();
        let open = name.ends_with(['(', '[', '（']);
        if open != closed {
            return None;
        }
        if open {
            name = name.trim_end_matches(['(', '[', '（']).trim_end();
        }
        let name = name.trim_start();
        return plausible_name(name).then_some((name, at));
    }
    None
}

/// How each sender name maps to a role.
struct Senders<'t, 'o> {
    agent_names: &'o [String],
    /// Role and message count of each sender, in order of appearance.
    seen: HashMap<&'t str, (Role, u64)>,
    order: Vec<&'t str>,
}

impl<'t, 'o> Senders<'t, 'o> {
    fn role(&mut self, name: &'t str) -> Role {
        if let Some((role, count)) = self.seen.get_mut(name) {
            *count += 1;
            return *role;
        }
        let role = sender_role(name, self.agent_names);
        self.seen.insert(name, (role, 1));
        self.order.push(name);
        role
    }

    fn any_agent(&self) -> bool {
        self.seen.values().any(|(r, _)| *r == Role::Agent)
    }

    /// `name ×count` of the busiest senders, for messages.
    fn describe(&self) -> String {
        let mut list: Vec<(&str, u64)> = self.order.iter().map(|n| (*n, self.seen[n].1)).collect();
        list.sort_by_key(|entry| std::cmp::Reverse(entry.1));
        let mut out: Vec<String> = list
            .iter()
            .take(6)
            .map(|(n, c)| format!("{n} ×{c}"))
            .collect();
        if list.len() > 6 {
            out.push(format!("… {} more", list.len() - 6));
        }
        out.join(", ")
    }
}

/// The role of a sender name; see the module docs.
fn sender_role(name: &str, agent_names: &[String]) -> Role {
    let (shop, account) = match name.find([':', '：']) {
        Some(i) => (&name[..i], strip_colon(&name[i..]).unwrap_or("")),
        None => (name, ""),
    };
    let named = agent_names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty());
    let mut named = named.peekable();
    let given = named.peek().is_some();
    if named.any(|n| n == name || n == shop || (!account.is_empty() && n == account)) {
        return Role::Agent;
    }
    if SYSTEM_EXACT.iter().any(|s| name.eq_ignore_ascii_case(s))
        || SYSTEM_MARKERS.iter().any(|s| name.contains(s))
    {
        return Role::System;
    }
    if given {
        return Role::Customer;
    }
    if !account.is_empty() || AGENT_MARKERS.iter().any(|m| name.contains(m)) {
        Role::Agent
    } else {
        Role::Customer
    }
}

/// The conversation being read.
struct Current<'t> {
    conv: Conversation<'static>,
    first_ms: i64,
    last_ms: i64,
    customer: Option<&'t str>,
    /// Blank lines seen since the last text of the last message.
    blanks: usize,
}

/// Reads a chat-log text export. See the module docs for the layouts, the
/// roles and how conversations are split.
pub fn read(source_name: &str, bytes: &[u8], opts: &ImportOptions) -> Imported {
    let mut out = Imported::default();
    let decoded = match decode(bytes) {
        Ok(d) => d,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    out.errors = decoded.errors;
    let text: &str = &decoded.text;
    let stem = stem(source_name, opts);
    let mut senders = Senders {
        agent_names: &opts.agent_names,
        seen: HashMap::new(),
        order: Vec::new(),
    };
    let mut current: Option<Current<'_>> = None;
    let mut done: Vec<Conversation<'static>> = Vec::new();
    let finish = |cur: Option<Current<'_>>, done: &mut Vec<Conversation<'static>>| {
        if let Some(mut c) = cur {
            if let Some(turn) = c.conv.turns.last_mut() {
                trim_end_in_place(&mut turn.text);
            }
            done.push(c.conv);
        }
    };
    // Whether text lines now continue a message.
    let mut in_message = false;
    let mut pos = 0;
    while pos < text.len() {
        let end = memchr::memchr(b'\n', &text.as_bytes()[pos..]).map_or(text.len(), |i| pos + i);
        let line = &text[pos..end];
        pos = end + 1;
        match classify(line, &opts.agent_names) {
            Line::Blank => {
                if let Some(c) = current.as_mut() {
                    c.blanks += 1;
                }
            }
            Line::Separator => {
                finish(current.take(), &mut done);
                in_message = false;
            }
            Line::Message { at, name, text } => {
                let role = senders.role(name);
                let ms = at.timestamp_millis();
                let split = current.as_ref().is_some_and(|c| {
                    ms - c.last_ms > SESSION_GAP_MS
                        || (role == Role::Customer && c.customer.is_some_and(|x| x != name))
                });
                if split {
                    finish(current.take(), &mut done);
                }
                let c = current.get_or_insert_with(|| Current {
                    conv: new_conversation(format!("{stem}#{}", done.len() + 1), at),
                    first_ms: ms,
                    last_ms: ms,
                    customer: None,
                    blanks: 0,
                });
                if let Some(turn) = c.conv.turns.last_mut() {
                    trim_end_in_place(&mut turn.text);
                }
                c.last_ms = c.last_ms.max(ms);
                c.blanks = 0;
                let mut meta = Meta::new();
                match role {
                    Role::Customer if c.customer.is_none() => {
                        c.customer = Some(name);
                        c.conv.customer_id = Some(Cow::Owned(name.to_string()));
                        c.conv.customer_name = Some(Cow::Owned(name.to_string()));
                    }
                    Role::Agent => match &c.conv.agent_id {
                        None => {
                            c.conv.agent_id = Some(Cow::Owned(name.to_string()));
                            c.conv.agent_name = Some(Cow::Owned(display_name(name).to_string()));
                        }
                        Some(id) if id != name => {
                            meta.insert("sender".into(), name.into());
                        }
                        Some(_) => {}
                    },
                    _ => {}
                }
                c.conv.turns.push(Turn {
                    role,
                    text: Cow::Owned(text.unwrap_or("").to_string()),
                    start_ms: Some(u64::try_from(ms - c.first_ms).unwrap_or(0)),
                    end_ms: None,
                    meta,
                });
                in_message = true;
            }
            Line::Other(t) => {
                let Some(c) = current.as_mut().filter(|_| in_message) else {
                    // A preamble or a session header: not part of a message.
                    continue;
                };
                if let Some(turn) = c.conv.turns.last_mut() {
                    let s = turn.text.to_mut();
                    if !s.is_empty() {
                        for _ in 0..=c.blanks {
                            s.push('\n');
                        }
                    }
                    s.push_str(t);
                }
                c.blanks = 0;
            }
        }
    }
    finish(current.take(), &mut done);

    if done.is_empty() {
        out.errors.push(ImportError::file(
            "no chat messages found: expected lines like `2026-10-01 09:15:02 店小二:您好` \
             or `买家昵称 2026-10-01 09:15:02` followed by the message",
        ));
        return out;
    }
    if !senders.any_agent() {
        let reason = if opts.agent_names.is_empty() {
            format!(
                "cannot tell which sender is the agent: no name looks like one (客服, 店小二, \
                 官方, 旗舰店, `店铺:子账号` …); senders: {}; name the agent with \
                 --agent-name NAME",
                senders.describe()
            )
        } else {
            format!(
                "no sender matches the agent names {}; senders: {}; check --agent-name",
                opts.agent_names.join(", "),
                senders.describe()
            )
        };
        out.errors.push(ImportError::file(reason));
        return out;
    }
    // Ids and agent names from the file are held to a native record's
    // limits (a conversation has no single line to report).
    for conv in done {
        match crate::native::validate(&conv) {
            Ok(()) => out.conversations.push(conv),
            Err(reason) => out.errors.push(ImportError::file(reason)),
        }
    }
    out
}

fn new_conversation(id: String, at: DateTime<FixedOffset>) -> Conversation<'static> {
    Conversation {
        id: Cow::Owned(id),
        channel: Channel::Chat,
        agent_id: None,
        agent_name: None,
        customer_id: None,
        customer_name: None,
        started_at: Some(at),
        wait_ms: None,
        ended_by: None,
        turns: Vec::new(),
        meta: Meta::new(),
    }
}

/// The account part of `店铺:客服A`, else the whole name.
fn display_name(name: &str) -> &str {
    match name.find([':', '：']) {
        Some(i) => strip_colon(&name[i..])
            .filter(|s| !s.is_empty())
            .unwrap_or(name),
        None => name,
    }
}

fn trim_end_in_place(text: &mut Cow<'static, str>) {
    let len = text.trim_end().len();
    if len < text.len() {
        text.to_mut().truncate(len);
    }
}

/// Whether `head` (the first few KB of a file) looks like a chat log: among
/// its first lines, at least one in five is a message header of a layout
/// above.
pub fn detect(head: &[u8]) -> bool {
    let text = decode_head(head);
    if text.trim_start().starts_with(['{', '[']) && !text.trim_start().starts_with("[20") {
        return false;
    }
    let (mut messages, mut lines) = (0, 0);
    for line in text.lines().take(60) {
        match classify(line, &[]) {
            Line::Blank | Line::Separator => {}
            Line::Message { .. } => {
                messages += 1;
                lines += 1;
            }
            Line::Other(_) => lines += 1,
        }
    }
    messages > 0 && messages * 5 >= lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(line: &str) -> Option<(&str, Option<&str>)> {
        match classify(line, &[]) {
            Line::Message { name, text, .. } => Some((name, text)),
            _ => None,
        }
    }

    #[test]
    fn layouts() {
        assert_eq!(
            msg("2026-10-01 09:15:02 店小二:亲，在的"),
            Some(("店小二", Some("亲，在的")))
        );
        assert_eq!(
            msg("2026-10-01 09:15:02 买家昵称：我的快递: 还没到"),
            Some(("买家昵称", Some("我的快递: 还没到")))
        );
        assert_eq!(
            msg("2026-10-01 09:15:02 某某旗舰店:小美:您好"),
            Some(("某某旗舰店:小美", Some("您好")))
        );
        assert_eq!(
            msg("买家昵称 2026-10-01 09:15:02"),
            Some(("买家昵称", None))
        );
        assert_eq!(
            msg("旗舰店:小美 (2026-10-01 09:15:02):"),
            Some(("旗舰店:小美", None))
        );
        assert_eq!(
            msg("[2026-10-01 09:15:02] tb_123: hi"),
            Some(("tb_123", Some("hi")))
        );
        assert_eq!(msg("订单号 2026040112875"), None);
        assert_eq!(msg("导出时间 2026-10-02 10:00:00"), None);
        assert_eq!(msg("2026-10-01 09:15:02，我们约好了，明天"), None);
        assert_eq!(classify("---- 会话 2 ----", &[]), Line::Separator);
        assert_eq!(classify("======", &[]), Line::Separator);
    }

    #[test]
    fn roles() {
        let none: &[String] = &[];
        assert_eq!(sender_role("店小二", none), Role::Agent);
        assert_eq!(sender_role("某某旗舰店:小美", none), Role::Agent);
        assert_eq!(sender_role("tb_8812", none), Role::Customer);
        assert_eq!(sender_role("店小蜜", none), Role::System);
        let names = vec!["小美".to_string()];
        assert_eq!(sender_role("某店:小美", &names), Role::Agent);
        assert_eq!(sender_role("店小二", &names), Role::Customer);
    }
}
