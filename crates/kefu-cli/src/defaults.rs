//! `kefu import --agent`, `--started-at`, `--file-pattern`: the agent and
//! start time of conversations whose files do not carry them (ASR results,
//! chat-log exports). Without them a conversation is stored but never
//! counts towards an agent's KPIs or any period, so the import summary
//! also counts the ones still lacking them.

use std::borrow::Cow;

use anyhow::{bail, Context};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone};
use kefu_engine::Conversation;
use regex::Regex;

/// The flags.
#[derive(clap::Args, Default)]
pub(crate) struct DefaultsArgs {
    /// Agent id for imported conversations that name none (ASR files, chat
    /// logs). Does not override an agent the file gives.
    #[arg(long)]
    agent: Option<String>,
    /// Start time for imported conversations that have none: RFC 3339 or
    /// `YYYY-MM-DD HH:MM[:SS]` (China time).
    #[arg(long)]
    started_at: Option<String>,
    /// Read the agent and start time from each file's name (without
    /// extension), e.g. `{agent}_{date}_{time}` for `a-07_20261012_093000.json`.
    /// Placeholders: `{agent}`, `{date}` (20261012 or 2026-10-12), `{time}`
    /// (093000, 0930 or 09:30:00), `{*}` (anything). Takes precedence over
    /// `--agent` / `--started-at`; the file's own values win over both.
    #[arg(long)]
    file_pattern: Option<String>,
}

/// What to fill in, compiled from [`DefaultsArgs`].
#[derive(Debug, Default)]
pub(crate) struct ConversationDefaults {
    agent: Option<String>,
    started_at: Option<DateTime<FixedOffset>>,
    pattern: Option<Regex>,
}

impl DefaultsArgs {
    /// Checks and compiles the flags.
    pub(crate) fn compile(&self) -> anyhow::Result<ConversationDefaults> {
        let started_at = match &self.started_at {
            Some(s) => Some(kefu_engine::lenient::parse_time(s).with_context(|| {
                format!(
                    "--started-at {s:?}: expected 2026-10-12T09:30:00+08:00 or 2026-10-12 09:30"
                )
            })?),
            None => None,
        };
        let agent = match self.agent.as_deref().map(str::trim) {
            Some("") => bail!("--agent is empty"),
            a => a.map(str::to_string),
        };
        let pattern = self
            .file_pattern
            .as_deref()
            .map(compile_pattern)
            .transpose()?;
        Ok(ConversationDefaults {
            agent,
            started_at,
            pattern,
        })
    }
}

/// `{agent}_{date}_{time}` → an anchored regex with named groups.
fn compile_pattern(pattern: &str) -> anyhow::Result<Regex> {
    let mut re = String::from("^");
    let mut rest = pattern;
    let mut named = 0;
    while let Some(open) = rest.find('{') {
        re.push_str(&regex::escape(&rest[..open]));
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .with_context(|| format!("--file-pattern {pattern:?}: `{{` without `}}`"))?;
        re.push_str(match &rest[open + 1..close] {
            "agent" => r"(?P<agent>.+?)",
            "date" => r"(?P<date>\d{4}-?\d{2}-?\d{2})",
            "time" => r"(?P<time>\d{2}:?\d{2}(?::?\d{2})?)",
            "*" => ".*?",
            other => bail!(
                "--file-pattern {pattern:?}: unknown placeholder {{{other}}} (use {{agent}}, {{date}}, {{time}}, {{*}})"
            ),
        });
        named += 1;
        rest = &rest[close + 1..];
    }
    re.push_str(&regex::escape(rest));
    re.push('$');
    if named == 0 {
        bail!("--file-pattern {pattern:?} has no placeholder such as {{agent}} or {{date}}");
    }
    Regex::new(&re).with_context(|| format!("--file-pattern {pattern:?}"))
}

/// China time, the default offset of kefu's inputs.
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    NaiveDate::parse_from_str(&digits, "%Y%m%d").ok()
}

fn parse_clock(s: &str) -> Option<NaiveTime> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    match digits.len() {
        4 => NaiveTime::parse_from_str(&digits, "%H%M").ok(),
        6 => NaiveTime::parse_from_str(&digits, "%H%M%S").ok(),
        _ => None,
    }
}

impl ConversationDefaults {
    /// Whether any default is set.
    pub(crate) fn is_empty(&self) -> bool {
        self.agent.is_none() && self.started_at.is_none() && self.pattern.is_none()
    }

    /// Fills a conversation's missing agent and start time from the file
    /// name (`stem`: the name without directory and extension), then from
    /// the flags. Values the file gives are kept.
    pub(crate) fn apply(&self, stem: &str, conv: &mut Conversation<'static>) {
        let caps = self.pattern.as_ref().and_then(|p| p.captures(stem));
        if conv.agent_id.is_none() {
            let from_name = caps
                .as_ref()
                .and_then(|c| c.name("agent"))
                .map(|m| m.as_str().to_string());
            if let Some(agent) = from_name.or_else(|| self.agent.clone()) {
                conv.agent_id = Some(Cow::Owned(agent));
            }
        }
        if conv.started_at.is_none() {
            let from_name = caps.as_ref().and_then(|c| {
                let date = parse_date(c.name("date")?.as_str())?;
                let time = c
                    .name("time")
                    .and_then(|t| parse_clock(t.as_str()))
                    .unwrap_or(NaiveTime::MIN);
                china().from_local_datetime(&date.and_time(time)).single()
            });
            conv.started_at = from_name.or(self.started_at);
        }
    }
}

/// Conversations stored without an agent or a start time.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Missing {
    /// No agent id.
    pub agent: u64,
    /// No start time.
    pub started_at: u64,
}

impl Missing {
    /// Counts one stored conversation.
    pub(crate) fn count(&mut self, agent: bool, started_at: bool) {
        self.agent += u64::from(!agent);
        self.started_at += u64::from(!started_at);
    }

    /// The import summary's warnings (none when nothing is missing).
    pub(crate) fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.agent > 0 {
            out.push(format!(
                "warning: {} conversations read have no agent: they are left out of agent KPIs, star ratings, \
                 the leaderboard, agent reports and assessments, and agents cannot see or appeal them \
                 (set one with --agent or --file-pattern '{{agent}}_…')",
                self.agent
            ));
        }
        if self.started_at > 0 {
            out.push(format!(
                "warning: {} conversations read have no start time: they belong to no day or period, so they are \
                 left out of the overview, KPIs, trends, review queues built for a period, reports and \
                 assessments (set one with --started-at or --file-pattern '…_{{date}}_{{time}}')",
                self.started_at
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kefu_engine::Channel;

    fn bare() -> Conversation<'static> {
        serde_json::from_str::<Conversation<'_>>(r#"{"id":"x","channel":"phone","turns":[]}"#)
            .map(Conversation::into_owned)
            .expect("conversation")
    }

    #[test]
    fn file_names_give_agent_and_start_time() {
        let d = DefaultsArgs {
            file_pattern: Some("{agent}_{date}_{time}".into()),
            agent: Some("fallback".into()),
            ..DefaultsArgs::default()
        }
        .compile()
        .expect("pattern");
        let mut c = bare();
        d.apply("a-07_20261012_093000", &mut c);
        assert_eq!(c.agent_id.as_deref(), Some("a-07"));
        assert_eq!(
            c.started_at.map(|t| t.to_rfc3339()),
            Some("2026-10-12T09:30:00+08:00".to_string())
        );
        // A name that does not match falls back to the flags.
        let mut c = bare();
        d.apply("recording-17", &mut c);
        assert_eq!(c.agent_id.as_deref(), Some("fallback"));
        assert_eq!(c.started_at, None);
        assert_eq!(c.channel, Channel::Phone);
    }

    #[test]
    fn the_files_own_values_win_and_bad_flags_are_refused() {
        let d = DefaultsArgs {
            agent: Some("a-01".into()),
            started_at: Some("2026-10-01 08:00".into()),
            ..DefaultsArgs::default()
        }
        .compile()
        .expect("flags");
        let mut c = bare();
        c.agent_id = Some(Cow::Borrowed("a-99"));
        d.apply("x", &mut c);
        assert_eq!(c.agent_id.as_deref(), Some("a-99"));
        assert_eq!(
            c.started_at.map(|t| t.to_rfc3339()),
            Some("2026-10-01T08:00:00+08:00".to_string())
        );
        for bad in [
            DefaultsArgs {
                started_at: Some("yesterday".into()),
                ..DefaultsArgs::default()
            },
            DefaultsArgs {
                file_pattern: Some("{who}_{date}".into()),
                ..DefaultsArgs::default()
            },
            DefaultsArgs {
                file_pattern: Some("plain".into()),
                ..DefaultsArgs::default()
            },
        ] {
            assert!(bad.compile().is_err());
        }
    }

    #[test]
    fn warnings_say_what_is_missing_from_what() {
        let mut m = Missing::default();
        m.count(false, true);
        m.count(true, false);
        m.count(true, true);
        let w = m.warnings();
        assert_eq!(w.len(), 2);
        assert!(
            w[0].starts_with("warning: 1 conversations read have no agent")
                && w[0].contains("KPIs")
        );
        assert!(w[1].contains("no start time") && w[1].contains("reports"));
        assert!(Missing::default().warnings().is_empty());
    }
}
