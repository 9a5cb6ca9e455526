//! Rule packs: the TOML a QA team writes, loaded and validated.
//!
//! Loading is two steps: `toml` parses the text into the raw `*Spec` structs
//! (typos in field names are errors, with a line number), then
//! [`RulePack::from_toml`] checks what serde cannot — that each rule has the
//! fields its kind needs and none it would silently ignore, that ids are
//! unique, regexes compile, dimensions exist — and reports every problem it
//! finds, each with the line of the rule it belongs to.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::{Channel, Role};

/// The default pack, built from the Chinese service standards.
pub const DEFAULT_PACK_ZH_CN: &str = include_str!("../packs/zh-CN.toml");

/// One problem in a pack, located by line (1-based) where possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackIssue {
    /// 1-based line of the offending table or value; 0 when unknown.
    pub line: usize,
    /// What is wrong, in words a pack author can act on.
    pub message: String,
}

impl fmt::Display for PackIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

/// Why a pack could not be loaded: every issue found, not only the first.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render_issues(.issues))]
pub struct PackError {
    /// The problems, in file order.
    pub issues: Vec<PackIssue>,
}

fn render_issues(issues: &[PackIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The raw file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackSpec {
    pack: PackMeta,
    #[serde(default)]
    scoring: ScoringSpec,
    #[serde(default)]
    dimensions: Vec<Spanned<DimensionSpec>>,
    #[serde(default)]
    rules: Vec<Spanned<RuleSpec>>,
    #[serde(default)]
    chat: crate::chat::ChatProfile,
}

/// Who a pack is and which version produced a result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackMeta {
    /// Stable identifier, e.g. `zh-CN`.
    pub id: String,
    /// Human name.
    #[serde(default)]
    pub name: String,
    /// Version string; results record it so history shows which version judged.
    #[serde(default)]
    pub version: String,
    /// Free text for the people who maintain the pack.
    #[serde(default)]
    pub description: String,
    /// The centre's time zone as a UTC offset (`+08:00`, the default; `Z`
    /// or `+00:00` for UTC). Time-of-day and festival rules read
    /// `started_at` converted to it, whatever offset the input carried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// The default centre time zone: China Standard Time.
pub const DEFAULT_TIMEZONE: &str = "+08:00";

/// Parses `+08:00`, `-05:30`, `+0800`, `Z` or `UTC`.
pub fn parse_offset(s: &str) -> Option<chrono::FixedOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return chrono::FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    chrono::FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// The scoring template of a pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringSpec {
    /// Score before deductions.
    #[serde(default = "default_base")]
    pub base: f64,
    /// A conversation passes at or above this score (and without a veto).
    #[serde(default = "default_pass_mark")]
    pub pass_mark: f64,
    /// Grade bands, any order; a score gets the band with the highest `min`
    /// not above it.
    #[serde(default = "default_grades")]
    pub grades: Vec<Grade>,
}

impl Default for ScoringSpec {
    fn default() -> Self {
        ScoringSpec {
            base: default_base(),
            pass_mark: default_pass_mark(),
            grades: default_grades(),
        }
    }
}

fn default_base() -> f64 {
    100.0
}
fn default_pass_mark() -> f64 {
    80.0
}
fn default_grades() -> Vec<Grade> {
    [
        ("优秀", 90.0),
        ("良好", 85.0),
        ("合格", 80.0),
        ("不合格", 0.0),
    ]
    .into_iter()
    .map(|(name, min)| Grade {
        name: name.to_string(),
        min,
    })
    .collect()
}

/// One grade band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    /// Label shown in reports, e.g. 优秀.
    pub name: String,
    /// Lowest score in the band.
    pub min: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DimensionSpec {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
}

/// A dimension (维度) that groups rules in reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dimension {
    /// Stable identifier, e.g. `language`.
    pub id: String,
    /// Display name, e.g. 用语规范.
    pub name: String,
    /// What the dimension covers.
    pub description: String,
}

/// Which speaker a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RoleFilter {
    /// Agent turns only (the default: the standard is about agents).
    #[default]
    Agent,
    /// Customer turns only.
    Customer,
    /// Turns of any role.
    Any,
}

impl RoleFilter {
    /// Whether a turn by `role` is looked at.
    pub fn admits(self, role: Role) -> bool {
        match self {
            RoleFilter::Agent => role == Role::Agent,
            RoleFilter::Customer => role == Role::Customer,
            RoleFilter::Any => true,
        }
    }
}

/// Whether a `regex` rule forbids or requires its pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RegexMode {
    /// Every match is a finding.
    #[default]
    Forbid,
    /// No match in scope is a finding.
    Require,
}

/// The raw rule table: every field any kind uses, checked per kind later.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    #[serde(default)]
    name: String,
    dimension: String,
    kind: String,
    #[serde(default)]
    role: Option<RoleFilter>,
    #[serde(default)]
    channels: Option<Vec<Channel>>,
    #[serde(default)]
    deduction: Option<f64>,
    #[serde(default)]
    cap: Option<f64>,
    #[serde(default)]
    veto: bool,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    when: Option<WhenSpec>,
    // forbidden / required
    #[serde(default)]
    phrases: Option<Vec<String>>,
    #[serde(default)]
    unless: Option<Vec<String>>,
    // forbidden: phrases that count but never veto (ambiguous tier)
    #[serde(default)]
    weak: Option<Vec<String>>,
    // any phrase kind: contexts that cancel a hit
    #[serde(default)]
    guards: Option<Vec<crate::guard::GuardSpec>>,
    #[serde(default)]
    first_turns: Option<usize>,
    #[serde(default)]
    last_turns: Option<usize>,
    // response
    #[serde(default)]
    trigger: Option<Vec<String>>,
    #[serde(default)]
    trigger_unless: Option<Vec<String>>,
    #[serde(default)]
    trigger_role: Option<RoleFilter>,
    #[serde(default)]
    within_turns: Option<usize>,
    // silence
    #[serde(default)]
    max_ms: Option<u64>,
    #[serde(default)]
    hold_phrases: Option<Vec<String>>,
    #[serde(default)]
    hold_cap_ms: Option<u64>,
    #[serde(default)]
    thanks_phrases: Option<Vec<String>>,
    // interrupt
    #[serde(default)]
    min_overlap_ms: Option<u64>,
    #[serde(default)]
    backchannels: Option<Vec<String>>,
    #[serde(default)]
    backchannel_max_chars: Option<usize>,
    // ended_by
    #[serde(default)]
    exempt_phrases: Option<Vec<String>>,
    // speech_rate
    #[serde(default)]
    min_cpm: Option<f64>,
    #[serde(default)]
    max_cpm: Option<f64>,
    #[serde(default)]
    min_speech_ms: Option<u64>,
    // response_time
    #[serde(default)]
    max_wait_ms: Option<u64>,
    #[serde(default)]
    max_reply_ms: Option<u64>,
    // regex
    #[serde(default)]
    pattern: Option<String>,
    #[serde(default)]
    mode: Option<RegexMode>,
    // holiday_greeting
    #[serde(default)]
    festivals: Option<Vec<FestivalSpec>>,
}

fn yes() -> bool {
    true
}

/// A condition on when a conversation took place (local time of `started_at`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WhenSpec {
    /// `["HH:MM", "HH:MM"]`, start inclusive, end exclusive; `24:00` allowed as end.
    #[serde(default)]
    pub time: Option<[String; 2]>,
}

/// A local time-of-day window in minutes since midnight, `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeWindow {
    /// First minute inside the window.
    pub from_minute: u32,
    /// First minute after the window.
    pub to_minute: u32,
}

impl TimeWindow {
    /// Whether `minute` (since midnight) lies in the window.
    pub fn contains(self, minute: u32) -> bool {
        if self.from_minute <= self.to_minute {
            minute >= self.from_minute && minute < self.to_minute
        } else {
            // Wraps midnight, e.g. 22:00–06:00.
            minute >= self.from_minute || minute < self.to_minute
        }
    }
}

/// Which festival a greeting belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Festival {
    /// New Year's Day, 1 January.
    #[serde(rename = "元旦")]
    NewYear,
    /// Spring Festival, lunar 1/1.
    #[serde(rename = "春节")]
    SpringFestival,
    /// Lantern Festival, lunar 1/15.
    #[serde(rename = "元宵")]
    Lantern,
    /// Labour Day, 1 May.
    #[serde(rename = "劳动节")]
    LabourDay,
    /// Dragon Boat Festival, lunar 5/5.
    #[serde(rename = "端午")]
    DragonBoat,
    /// Mid-Autumn Festival, lunar 8/15.
    #[serde(rename = "中秋")]
    MidAutumn,
    /// National Day, 1 October.
    #[serde(rename = "国庆")]
    NationalDay,
}

impl Festival {
    /// The Chinese name used in packs.
    pub fn name(self) -> &'static str {
        match self {
            Festival::NewYear => "元旦",
            Festival::SpringFestival => "春节",
            Festival::Lantern => "元宵",
            Festival::LabourDay => "劳动节",
            Festival::DragonBoat => "端午",
            Festival::MidAutumn => "中秋",
            Festival::NationalDay => "国庆",
        }
    }
}

/// One festival of a `holiday_greeting` rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FestivalSpec {
    /// Which festival.
    pub festival: Festival,
    /// Greetings that satisfy the rule on this festival.
    pub phrases: Vec<String>,
    /// Days before the festival day when the greeting is already expected.
    #[serde(default)]
    pub days_before: u32,
    /// Days after the festival day when the greeting is still expected.
    #[serde(default)]
    pub days_after: u32,
}

/// Where in the conversation a phrase rule looks, counted in turns of the
/// rule's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum Scope {
    /// Every turn of the role.
    #[default]
    All,
    /// The first N turns of the role (the opening).
    First(usize),
    /// The last N turns of the role (the closing).
    Last(usize),
}

/// What a rule checks, with the parameters of its kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleKind {
    /// Phrases that must not occur, except inside an `unless` context.
    Forbidden {
        /// The forbidden phrases.
        phrases: Vec<String>,
        /// Longer phrases that make a hit harmless when they contain it.
        unless: Vec<String>,
        /// Phrases that are violations but too ambiguous to veto: on a veto
        /// rule, only hits of `phrases` veto.
        weak: Vec<String>,
        /// Which turns are looked at.
        scope: Scope,
    },
    /// At least one of the phrases must occur within the scope.
    Required {
        /// Any one satisfies the rule.
        phrases: Vec<String>,
        /// Which turns are looked at.
        scope: Scope,
    },
    /// A trigger turn must be answered by a matching turn soon after.
    Response {
        /// Phrases that start the obligation.
        trigger: Vec<String>,
        /// Contexts that make a trigger hit harmless.
        trigger_unless: Vec<String>,
        /// Whose turns trigger.
        trigger_role: RoleFilter,
        /// Phrases that meet the obligation.
        response: Vec<String>,
        /// How many turns of the rule's role may pass.
        within_turns: usize,
    },
    /// No gap longer than `max_ms` before a turn of the role unless a hold
    /// notice came just before it.
    Silence {
        /// Longest acceptable gap.
        max_ms: u64,
        /// Hold notices that excuse a gap.
        hold_phrases: Vec<String>,
        /// A hold notice excuses a gap only up to this long; a longer wait
        /// needs a renewed notice (请您再稍等).
        hold_cap_ms: Option<u64>,
        /// When set, the rule checks waits instead of silence: every gap of
        /// at least `max_ms` before a turn of the role must be followed by one
        /// of these phrases in that turn or the next one of the role (thanks
        /// for waiting), unless a hold notice announced it (the `hold` rule
        /// judges those).
        thanks_phrases: Vec<String>,
    },
    /// The role must not start speaking more than `min_overlap_ms` before the
    /// other party's turn ends.
    Interrupt {
        /// Tolerated overlap.
        min_overlap_ms: u64,
        /// Short acknowledgements (嗯, 好的, 明白) that are listening cues,
        /// not interruptions, when a turn consists only of them.
        backchannels: Vec<String>,
        /// Longest backchannel turn in content characters.
        backchannel_max_chars: usize,
    },
    /// Characters per minute of the role must lie in `[min_cpm, max_cpm]`.
    SpeechRate {
        /// Slowest acceptable rate.
        min_cpm: f64,
        /// Fastest acceptable rate.
        max_cpm: f64,
        /// Below this much timed speech the rate is not judged.
        min_speech_ms: u64,
    },
    /// Answer and reply delays.
    ResponseTime {
        /// Longest acceptable `wait_ms` (answering a call or a chat).
        max_wait_ms: Option<u64>,
        /// Longest acceptable delay of a chat reply after a customer message.
        max_reply_ms: Option<u64>,
    },
    /// The agent must not be the one who ends the conversation.
    EndedBy {
        /// Agent phrases that excuse hanging up first (the silent-call
        /// script: 听不到您的声音…请您稍后再拨).
        exempt: Vec<String>,
    },
    /// A regular expression, forbidden or required, over normalised text.
    Regex {
        /// The pattern as written.
        pattern: String,
        /// Forbid or require.
        mode: RegexMode,
        /// Which turns are looked at.
        scope: Scope,
    },
    /// Judged by a person; listed in results as waiting for review.
    Manual,
    /// On a festival, the opening must carry the festival's greeting.
    HolidayGreeting {
        /// The festivals and their greetings.
        festivals: Vec<FestivalSpec>,
        /// Which turns are looked at (default: the first agent turn).
        scope: Scope,
    },
}

impl RuleKind {
    /// The kind's name as written in packs.
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Forbidden { .. } => "forbidden",
            RuleKind::Required { .. } => "required",
            RuleKind::Response { .. } => "response",
            RuleKind::Silence { .. } => "silence",
            RuleKind::Interrupt { .. } => "interrupt",
            RuleKind::SpeechRate { .. } => "speech_rate",
            RuleKind::ResponseTime { .. } => "response_time",
            RuleKind::EndedBy { .. } => "ended_by",
            RuleKind::Regex { .. } => "regex",
            RuleKind::Manual => "manual",
            RuleKind::HolidayGreeting { .. } => "holiday_greeting",
        }
    }
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// Stable identifier; results and history refer to it.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Name of the dimension it counts towards.
    pub dimension: String,
    /// Whose turns it looks at.
    pub role: RoleFilter,
    /// Channels it applies to.
    pub channels: Vec<Channel>,
    /// Points deducted per hit.
    pub deduction: f64,
    /// Most points this rule can deduct from one conversation.
    pub cap: f64,
    /// A hit sets the score to zero.
    pub veto: bool,
    /// Message template; `{text}` is replaced by the evidence.
    pub message: Option<String>,
    /// The sentence of the standard the rule comes from.
    pub source: Option<String>,
    /// Local time-of-day window outside which the rule does not apply.
    pub time_window: Option<TimeWindow>,
    /// Contexts that cancel a phrase, trigger or hold-notice hit.
    pub guards: Vec<crate::guard::GuardSpec>,
    /// 1-based line of the rule in its pack file, for error messages.
    pub line: usize,
    /// What it checks.
    #[serde(flatten)]
    pub kind: RuleKind,
}

impl Rule {
    /// Whether the rule applies to conversations on `channel`.
    pub fn applies_to(&self, channel: Channel) -> bool {
        self.channels.contains(&channel)
    }
}

/// A validated rule pack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RulePack {
    /// Identity and version.
    pub meta: PackMeta,
    /// Scoring template.
    pub scoring: ScoringSpec,
    /// Dimensions, in pack order.
    pub dimensions: Vec<Dimension>,
    /// Enabled rules, in pack order.
    pub rules: Vec<Rule>,
    /// Ids of rules written in the pack but switched off.
    pub disabled: Vec<String>,
    /// The e-commerce chat profile (`[chat]`).
    pub chat: crate::chat::ChatProfile,
}

/// 1-based line number of a byte offset.
fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

impl RulePack {
    /// The built-in `zh-CN` pack.
    pub fn default_zh_cn() -> Result<RulePack, PackError> {
        RulePack::from_toml(DEFAULT_PACK_ZH_CN)
    }

    /// Parses and validates a pack, reporting every problem found.
    pub fn from_toml(source: &str) -> Result<RulePack, PackError> {
        let spec: PackSpec = toml::from_str(source).map_err(|e| {
            let line = e.span().map(|s| line_of(source, s.start)).unwrap_or(0);
            PackError {
                issues: vec![PackIssue {
                    line,
                    message: e.message().trim().to_string(),
                }],
            }
        })?;
        let mut issues = Vec::new();
        let mut dimensions = Vec::new();
        let mut dimension_names = HashSet::new();
        for d in spec.dimensions {
            let line = line_of(source, d.span().start);
            let d = d.into_inner();
            if !dimension_names.insert(d.name.clone()) || !dimension_names.insert(d.id.clone()) {
                issues.push(PackIssue {
                    line,
                    message: format!("dimension `{}` ({}) is defined twice", d.id, d.name),
                });
            }
            dimensions.push(Dimension {
                id: d.id,
                name: d.name,
                description: d.description,
            });
        }
        if let Some(tz) = &spec.pack.timezone {
            if parse_offset(tz).is_none() {
                issues.push(PackIssue {
                    line: 0,
                    message: format!(
                        "pack.timezone {tz:?} is not a UTC offset such as \"+08:00\" or \"Z\""
                    ),
                });
            }
        }
        let scoring = spec.scoring;
        if scoring.base.is_nan() || scoring.base <= 0.0 {
            issues.push(PackIssue {
                line: 0,
                message: "scoring.base must be above 0".into(),
            });
        }
        if scoring.pass_mark < 0.0 || scoring.pass_mark > scoring.base {
            issues.push(PackIssue {
                line: 0,
                message: format!(
                    "scoring.pass_mark {} must lie between 0 and base {}",
                    scoring.pass_mark, scoring.base
                ),
            });
        }
        issues.extend(grade_issues(&scoring));
        let mut rules = Vec::new();
        let mut disabled = Vec::new();
        let mut ids = HashSet::new();
        for r in spec.rules {
            let line = line_of(source, r.span().start);
            let r = r.into_inner();
            if !ids.insert(r.id.clone()) {
                issues.push(PackIssue {
                    line,
                    message: format!("rule id `{}` is used twice", r.id),
                });
            }
            let before = issues.len();
            let rule = validate_rule(r, line, &dimensions, scoring.base, &mut issues);
            match rule {
                Some((rule, true)) if issues.len() == before => rules.push(rule),
                Some((rule, false)) if issues.len() == before => disabled.push(rule.id),
                _ => {}
            }
        }
        if !issues.is_empty() {
            issues.sort_by_key(|i| i.line);
            return Err(PackError { issues });
        }
        Ok(RulePack {
            meta: spec.pack,
            scoring,
            dimensions,
            rules,
            disabled,
            chat: spec.chat,
        })
    }

    /// The centre's time zone (`[pack] timezone`, default `+08:00`).
    pub fn timezone(&self) -> chrono::FixedOffset {
        self.meta
            .timezone
            .as_deref()
            .and_then(parse_offset)
            .or_else(|| parse_offset(DEFAULT_TIMEZONE))
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("UTC is valid"))
    }

    /// The grade band of a score.
    pub fn grade(&self, score: f64) -> Option<&str> {
        self.scoring
            .grades
            .iter()
            .filter(|g| score >= g.min)
            .max_by(|a, b| a.min.total_cmp(&b.min))
            .map(|g| g.name.as_str())
    }
}

/// Grades must agree with the pass mark: the pass mark is a grade boundary
/// (or lies at or below every grade), so no grade holds both passing and
/// failing scores — a 合格 from 60 under a pass mark of 80 would call a
/// failed conversation 合格.
fn grade_issues(scoring: &ScoringSpec) -> Vec<PackIssue> {
    let mut issues = Vec::new();
    let mut mins: Vec<f64> = scoring.grades.iter().map(|g| g.min).collect();
    mins.sort_by(f64::total_cmp);
    let pass = scoring.pass_mark;
    for g in &scoring.grades {
        if !g.min.is_finite() {
            issues.push(PackIssue {
                line: 0,
                message: format!("grade `{}`: min must be a number", g.name),
            });
            continue;
        }
        // The grade's band is [min, next higher min).
        let upper = mins
            .iter()
            .copied()
            .find(|&m| m > g.min)
            .unwrap_or(f64::INFINITY);
        if g.min < pass && upper > pass {
            issues.push(PackIssue {
                line: 0,
                message: format!(
                    "grade `{}` starts at {} below pass_mark {} but reaches above it: it would \
                     hold both failed and passed conversations; start a grade at {}",
                    g.name, g.min, pass, pass
                ),
            });
        }
    }
    issues
}

/// Field names that each kind accepts beyond the common ones.
fn kind_fields(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "forbidden" => &[
            "phrases",
            "unless",
            "weak",
            "guards",
            "first_turns",
            "last_turns",
        ],
        "required" => &["phrases", "guards", "first_turns", "last_turns"],
        "response" => &[
            "trigger",
            "trigger_unless",
            "trigger_role",
            "phrases",
            "guards",
            "within_turns",
        ],
        "silence" => &[
            "max_ms",
            "hold_phrases",
            "hold_cap_ms",
            "thanks_phrases",
            "guards",
        ],
        "interrupt" => &["min_overlap_ms", "backchannels", "backchannel_max_chars"],
        "speech_rate" => &["min_cpm", "max_cpm", "min_speech_ms"],
        "response_time" => &["max_wait_ms", "max_reply_ms"],
        "ended_by" => &["exempt_phrases"],
        "regex" => &["pattern", "mode", "first_turns", "last_turns"],
        "manual" => &[],
        "holiday_greeting" => &["festivals", "first_turns"],
        _ => return None,
    })
}

/// Which kind-specific fields a raw rule sets.
fn fields_set(r: &RuleSpec) -> Vec<&'static str> {
    let mut set = Vec::new();
    let mut mark = |present: bool, name: &'static str| {
        if present {
            set.push(name);
        }
    };
    mark(r.phrases.is_some(), "phrases");
    mark(r.unless.is_some(), "unless");
    mark(r.weak.is_some(), "weak");
    mark(r.guards.is_some(), "guards");
    mark(r.first_turns.is_some(), "first_turns");
    mark(r.last_turns.is_some(), "last_turns");
    mark(r.trigger.is_some(), "trigger");
    mark(r.trigger_unless.is_some(), "trigger_unless");
    mark(r.trigger_role.is_some(), "trigger_role");
    mark(r.within_turns.is_some(), "within_turns");
    mark(r.max_ms.is_some(), "max_ms");
    mark(r.hold_phrases.is_some(), "hold_phrases");
    mark(r.hold_cap_ms.is_some(), "hold_cap_ms");
    mark(r.thanks_phrases.is_some(), "thanks_phrases");
    mark(r.min_overlap_ms.is_some(), "min_overlap_ms");
    mark(r.backchannels.is_some(), "backchannels");
    mark(r.backchannel_max_chars.is_some(), "backchannel_max_chars");
    mark(r.exempt_phrases.is_some(), "exempt_phrases");
    mark(r.min_cpm.is_some(), "min_cpm");
    mark(r.max_cpm.is_some(), "max_cpm");
    mark(r.min_speech_ms.is_some(), "min_speech_ms");
    mark(r.max_wait_ms.is_some(), "max_wait_ms");
    mark(r.max_reply_ms.is_some(), "max_reply_ms");
    mark(r.pattern.is_some(), "pattern");
    mark(r.mode.is_some(), "mode");
    mark(r.festivals.is_some(), "festivals");
    set
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let h: u32 = h.trim().parse().ok()?;
    let m: u32 = m.trim().parse().ok()?;
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Checks one raw rule; pushes issues and returns the rule and whether it is
/// enabled. A disabled rule is still validated: switching it on later must
/// not reveal errors.
fn validate_rule(
    r: RuleSpec,
    line: usize,
    dimensions: &[Dimension],
    base: f64,
    issues: &mut Vec<PackIssue>,
) -> Option<(Rule, bool)> {
    let mut err = |message: String| issues.push(PackIssue { line, message });
    let id = r.id.clone();
    if id.trim().is_empty() {
        err("rule id must not be empty".into());
    }
    let Some(allowed) = kind_fields(&r.kind) else {
        err(format!(
            "rule `{id}`: unknown kind `{}` (expected one of forbidden, required, response, \
             silence, interrupt, speech_rate, response_time, ended_by, regex, manual, holiday_greeting)",
            r.kind
        ));
        return None;
    };
    for field in fields_set(&r) {
        if !allowed.contains(&field) {
            err(format!(
                "rule `{id}`: field `{field}` is not used by kind `{}`",
                r.kind
            ));
        }
    }
    let dimension = match dimensions
        .iter()
        .find(|d| d.id == r.dimension || d.name == r.dimension)
    {
        Some(d) => d.name.clone(),
        None if dimensions.is_empty() => r.dimension.clone(),
        None => {
            err(format!(
                "rule `{id}`: dimension `{}` is not declared in [[dimensions]]",
                r.dimension
            ));
            r.dimension.clone()
        }
    };
    let deduction = r.deduction.unwrap_or(0.0);
    if deduction < 0.0 || !deduction.is_finite() {
        err(format!("rule `{id}`: deduction must be 0 or more"));
    }
    let cap = r.cap.unwrap_or(base);
    if cap < 0.0 || !cap.is_finite() {
        err(format!("rule `{id}`: cap must be 0 or more"));
    }
    if r.first_turns.is_some() && r.last_turns.is_some() {
        err(format!(
            "rule `{id}`: set first_turns or last_turns, not both"
        ));
    }
    if r.first_turns == Some(0) || r.last_turns == Some(0) {
        err(format!(
            "rule `{id}`: first_turns/last_turns must be at least 1"
        ));
    }
    let scope = match (r.first_turns, r.last_turns) {
        (Some(n), _) => Scope::First(n),
        (None, Some(n)) => Scope::Last(n),
        (None, None) => Scope::All,
    };
    let channels = r
        .channels
        .clone()
        .unwrap_or_else(|| vec![Channel::Phone, Channel::Chat]);
    if channels.is_empty() {
        err(format!(
            "rule `{id}`: channels must name at least one channel"
        ));
    }
    let time_window = match r.when.as_ref().and_then(|w| w.time.as_ref()) {
        None => None,
        Some([from, to]) => match (parse_hhmm(from), parse_hhmm(to)) {
            (Some(from_minute), Some(to_minute)) if from_minute != to_minute => Some(TimeWindow {
                from_minute,
                to_minute,
            }),
            _ => {
                err(format!(
                    "rule `{id}`: when.time must be two different times \"HH:MM\", got [{from:?}, {to:?}]"
                ));
                None
            }
        },
    };
    let mut phrases_of = |field: &str, value: Option<Vec<String>>, required: bool| -> Vec<String> {
        let list = value.unwrap_or_default();
        if required && list.is_empty() {
            err(format!(
                "rule `{id}`: kind `{}` needs a non-empty `{field}` list",
                r.kind
            ));
        }
        for p in &list {
            if crate::normalize::normalize_phrase(p).is_empty() {
                err(format!(
                    "rule `{id}`: phrase {p:?} in `{field}` is empty once spaces and punctuation are skipped"
                ));
            }
        }
        list
    };
    let kind = match r.kind.as_str() {
        "forbidden" => RuleKind::Forbidden {
            phrases: phrases_of("phrases", r.phrases.clone(), true),
            unless: phrases_of("unless", r.unless.clone(), false),
            weak: phrases_of("weak", r.weak.clone(), false),
            scope,
        },
        "required" => RuleKind::Required {
            phrases: phrases_of("phrases", r.phrases.clone(), true),
            scope,
        },
        "response" => RuleKind::Response {
            trigger: phrases_of("trigger", r.trigger.clone(), true),
            trigger_unless: phrases_of("trigger_unless", r.trigger_unless.clone(), false),
            trigger_role: r.trigger_role.unwrap_or(RoleFilter::Customer),
            response: phrases_of("phrases", r.phrases.clone(), true),
            within_turns: r.within_turns.unwrap_or(1).max(1),
        },
        "silence" => RuleKind::Silence {
            max_ms: r.max_ms.unwrap_or(10_000),
            hold_phrases: phrases_of("hold_phrases", r.hold_phrases.clone(), false),
            hold_cap_ms: r.hold_cap_ms,
            thanks_phrases: phrases_of("thanks_phrases", r.thanks_phrases.clone(), false),
        },
        "interrupt" => RuleKind::Interrupt {
            min_overlap_ms: r.min_overlap_ms.unwrap_or(500),
            backchannels: phrases_of("backchannels", r.backchannels.clone(), false),
            backchannel_max_chars: r.backchannel_max_chars.unwrap_or(4),
        },
        "speech_rate" => {
            let (min_cpm, max_cpm) = (r.min_cpm.unwrap_or(0.0), r.max_cpm.unwrap_or(f64::MAX));
            if r.min_cpm.is_none() && r.max_cpm.is_none() {
                issues.push(PackIssue {
                    line,
                    message: format!("rule `{id}`: speech_rate needs min_cpm, max_cpm or both"),
                });
            } else if min_cpm >= max_cpm {
                issues.push(PackIssue {
                    line,
                    message: format!("rule `{id}`: min_cpm must be below max_cpm"),
                });
            }
            RuleKind::SpeechRate {
                min_cpm,
                max_cpm,
                min_speech_ms: r.min_speech_ms.unwrap_or(10_000),
            }
        }
        "response_time" => {
            if r.max_wait_ms.is_none() && r.max_reply_ms.is_none() {
                issues.push(PackIssue {
                    line,
                    message: format!(
                        "rule `{id}`: response_time needs max_wait_ms, max_reply_ms or both"
                    ),
                });
            }
            RuleKind::ResponseTime {
                max_wait_ms: r.max_wait_ms,
                max_reply_ms: r.max_reply_ms,
            }
        }
        "ended_by" => RuleKind::EndedBy {
            exempt: phrases_of("exempt_phrases", r.exempt_phrases.clone(), false),
        },
        "regex" => {
            let pattern = r.pattern.clone().unwrap_or_default();
            if pattern.is_empty() {
                issues.push(PackIssue {
                    line,
                    message: format!("rule `{id}`: kind `regex` needs a `pattern`"),
                });
            } else if let Err(e) = regex::Regex::new(&pattern) {
                issues.push(PackIssue {
                    line,
                    message: format!("rule `{id}`: pattern does not compile: {e}"),
                });
            }
            RuleKind::Regex {
                pattern,
                mode: r.mode.unwrap_or_default(),
                scope,
            }
        }
        "manual" => RuleKind::Manual,
        "holiday_greeting" => {
            let festivals = r.festivals.clone().unwrap_or_default();
            if festivals.is_empty() || festivals.len() > 64 {
                issues.push(PackIssue {
                    line,
                    message: format!(
                        "rule `{id}`: holiday_greeting needs between 1 and 64 [[rules.festivals]]"
                    ),
                });
            }
            for f in &festivals {
                if f.phrases.is_empty()
                    || f.phrases
                        .iter()
                        .any(|p| crate::normalize::normalize_phrase(p).is_empty())
                {
                    issues.push(PackIssue {
                        line,
                        message: format!(
                            "rule `{id}`: festival {} needs non-empty phrases",
                            f.festival.name()
                        ),
                    });
                }
            }
            RuleKind::HolidayGreeting {
                festivals,
                scope: match scope {
                    Scope::All => Scope::First(1),
                    other => other,
                },
            }
        }
        _ => unreachable!("kind_fields accepted the kind"),
    };
    let guards = r.guards.clone().unwrap_or_default();
    for g in &guards {
        if let Err(e) = crate::guard::Guard::compile(g) {
            issues.push(PackIssue {
                line,
                message: format!("rule `{id}`: {e}"),
            });
        }
    }
    let rule = Rule {
        id: r.id,
        name: if r.name.is_empty() {
            id.clone()
        } else {
            r.name
        },
        dimension,
        role: r.role.unwrap_or_default(),
        channels,
        deduction,
        cap,
        veto: r.veto,
        message: r.message,
        source: r.source,
        time_window,
        guards,
        line,
        kind,
    };
    Some((rule, r.enabled))
}
