//! Compiling a pack and inspecting conversations with it.
//!
//! Every phrase of every rule goes into one Aho-Corasick automaton, so each
//! turn is normalised once and scanned once, whatever the size of the pack;
//! the rules then read the hits that concern them. Timing rules read the
//! turns' offsets. Nothing here allocates per character, and the buffers of a
//! [`Scratch`] are reused from one conversation to the next.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Timelike;
use daachorse::CharwiseDoubleArrayAhoCorasick;
use regex::Regex;
use serde::{Serialize, Serializer};

use crate::calendar::in_festival_period;
use crate::chat::ChatProfile;
use crate::guard::Guard;
use crate::message::MessageTemplate;
use crate::model::{Channel, Conversation, EndedBy, Role, Turn};
use crate::normalize::{char_slice, normalize_phrase, NormalizedText};
use crate::pack::{PackError, PackIssue, RegexMode, RoleFilter, Rule, RuleKind, RulePack, Scope};

/// Entries kept in the festival memo before it starts again.
const FESTIVAL_MEMO_CAP: usize = 4096;

/// What a phrase means to the rule that listed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// `phrases` of forbidden/required, the response phrases of `response`.
    Phrase,
    /// `unless` of forbidden.
    Unless,
    /// `trigger` of response.
    Trigger,
    /// `trigger_unless` of response.
    TriggerUnless,
    /// `hold_phrases` of silence.
    Hold,
    /// Phrases of the n-th festival of a holiday greeting.
    Festival(u16),
    /// A word a regex rule's pattern needs ([`crate::required`]): the
    /// regex runs only on the turns holding one.
    Gate,
}

/// One use of an automaton pattern by a rule.
#[derive(Debug, Clone, Copy)]
struct PatternUse {
    rule: u32,
    slot: Slot,
    /// Index into `Inspector::guard_sets`, or `u32::MAX` when unguarded.
    guard: u32,
    /// An ambiguous phrase of a veto rule: counts, never vetoes.
    weak: bool,
    /// A forbidden phrase that is normal address on chat (`[chat] allow`).
    chat_ok: bool,
}

/// A phrase hit in one turn, in normalised byte offsets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit {
    pub(crate) turn: u32,
    pub(crate) slot: Slot,
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) weak: bool,
}

/// Per-rule data fixed at compile time.
#[derive(Debug)]
struct CompiledRule {
    rule: Rule,
    id: Arc<str>,
    name: Arc<str>,
    dimension: Arc<str>,
    regex: Option<Regex>,
    /// The regex's required words are in the phrase automaton as
    /// [`Slot::Gate`]: only turns with a gate hit are searched.
    gated: bool,
    /// The regex has a group named `hit` that marks the evidence.
    evidence_group: bool,
    /// The rule's message template, cut at its placeholders.
    message: Option<MessageTemplate>,
}

/// A pack compiled for matching. Build once, share across threads.
pub struct Inspector {
    pack: RulePack,
    pack_label: Arc<str>,
    rules: Vec<CompiledRule>,
    automaton: Option<CharwiseDoubleArrayAhoCorasick<u32>>,
    uses: Vec<Vec<PatternUse>>,
    /// The guards that apply to one (phrase, rule) pair.
    guard_sets: Vec<Vec<Guard>>,
    manual: Vec<Arc<str>>,
    /// The pack's centre time zone.
    timezone: chrono::FixedOffset,
    /// Per rule: a system turn (the platform's rating card) satisfies it on chat.
    rating_card: Vec<bool>,
    /// `[chat] continuation`, normalised.
    continuation: Vec<String>,
    /// Every dimension of the pack with no deduction yet: each result
    /// starts from a copy (shared names, no allocation per name).
    dimensions: Vec<DimensionScore>,
}

impl std::fmt::Debug for Inspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspector")
            .field("pack", &self.pack_label)
            .field("rules", &self.rules.len())
            .field("phrases", &self.uses.len())
            .finish()
    }
}

/// Reusable per-thread buffers for [`Inspector::inspect`].
#[derive(Debug)]
pub struct Scratch {
    /// All turns of the conversation, normalised, NUL between turns.
    norm: NormalizedText,
    /// Byte range of each turn in `norm`.
    turn_ranges: Vec<(usize, usize)>,
    /// Content characters of each turn.
    turn_content: Vec<u32>,
    hits: Vec<Vec<Hit>>,
    ordinals: Vec<[u32; 3]>,
    role_counts: [u32; 3],
    chosen: Vec<(u32, u32)>,
    /// One turn normalised with origins, to map finding spans back.
    span_buf: NormalizedText,
    /// Per (rule, date): the bit set of festivals due; cleared when full.
    festival_memo: std::collections::HashMap<(usize, chrono::NaiveDate), u64>,
    /// Which turn `span_buf` holds.
    span_turn: Option<usize>,
    /// The conversation is a chat excerpt that starts mid-session.
    excerpt: bool,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            norm: NormalizedText::untracked(),
            turn_ranges: Vec::new(),
            turn_content: Vec::new(),
            hits: Vec::new(),
            ordinals: Vec::new(),
            role_counts: [0; 3],
            chosen: Vec::new(),
            span_buf: NormalizedText::default(),
            span_turn: None,
            festival_memo: std::collections::HashMap::new(),
            excerpt: false,
        }
    }
}

/// One violation, with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Rule id.
    pub rule: Arc<str>,
    /// Rule name.
    pub name: Arc<str>,
    /// Dimension name.
    pub dimension: Arc<str>,
    /// Rule kind.
    pub kind: &'static str,
    /// 0-based index into `turns`; `null` for conversation-wide findings
    /// (a missing closing, an overall speech rate).
    pub turn: Option<usize>,
    /// `[start, end)` in characters of the original turn text.
    pub span: Option<[usize; 2]>,
    /// The original text at `span`.
    pub text: Option<String>,
    /// Points this finding deducted (0 once the rule's cap is reached).
    #[serde(serialize_with = "number")]
    pub deduction: f64,
    /// Whether the rule is a veto.
    pub veto: bool,
    /// What is wrong, for people.
    pub message: String,
    /// The measured quantity for timing rules (ms of silence, characters per
    /// minute, ms of overlap or wait).
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_number")]
    pub value: Option<f64>,
}

/// Points deducted within one dimension.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DimensionScore {
    /// Dimension name.
    pub dimension: Arc<str>,
    /// Sum of the deductions of its findings.
    #[serde(serialize_with = "number")]
    pub deduction: f64,
}

/// The result of inspecting one conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    /// Conversation id.
    pub id: String,
    /// Agent id, when known.
    pub agent_id: Option<String>,
    /// Agent name, when known.
    pub agent_name: Option<String>,
    /// Channel of the conversation.
    pub channel: Channel,
    /// When the conversation started, when known, in the pack's time zone
    /// (the centre's clock, whatever offset the input carried).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// Final score.
    #[serde(serialize_with = "number")]
    pub score: f64,
    /// Grade band of the score.
    pub grade: Option<String>,
    /// Score at or above the pass mark and no veto.
    pub passed: bool,
    /// A veto rule fired.
    pub veto: bool,
    /// Violations, in rule order then turn order.
    pub findings: Vec<Finding>,
    /// Rules that could not be judged for lack of data (timings, start time,
    /// `ended_by`, turns of the role).
    pub not_applicable: Vec<Arc<str>>,
    /// Manual rules waiting for a reviewer.
    pub manual: Vec<Arc<str>>,
    /// Deductions per dimension, in pack order.
    pub dimensions: Vec<DimensionScore>,
    /// `id@version` of the pack that judged.
    pub pack: Arc<str>,
}

impl Inspection {
    /// Start of the conversation in Unix milliseconds, when known.
    pub fn started_at_ms(&self) -> Option<i64> {
        self.started_at.map(|t| t.timestamp_millis())
    }
}

/// Serialises whole numbers without a fraction (85, not 85.0).
fn number<S: Serializer>(value: &f64, s: S) -> Result<S::Ok, S::Error> {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        s.serialize_i64(*value as i64)
    } else {
        s.serialize_f64((value * 100.0).round() / 100.0)
    }
}

fn opt_number<S: Serializer>(value: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => number(v, s),
        None => s.serialize_none(),
    }
}

const AGENT: usize = 0;
const CUSTOMER: usize = 1;
const ANY: usize = 2;

fn filter_slot(filter: RoleFilter) -> usize {
    match filter {
        RoleFilter::Agent => AGENT,
        RoleFilter::Customer => CUSTOMER,
        RoleFilter::Any => ANY,
    }
}

/// Outcome of evaluating one rule.
pub(crate) enum Outcome {
    /// Rule does not concern this conversation (channel, time of day, no festival).
    Skipped,
    /// Rule needs data the conversation lacks.
    NotApplicable,
    /// Evaluated; zero or more violations.
    Evaluated,
}

/// A violation before scoring.
pub(crate) struct Raw {
    pub(crate) turn: Option<usize>,
    /// Byte range in the conversation's normalised buffer.
    pub(crate) span: Option<(usize, usize)>,
    pub(crate) value: Option<f64>,
    pub(crate) detail: Option<String>,
    /// From an ambiguous phrase: never vetoes.
    pub(crate) weak: bool,
}

impl Raw {
    fn whole(value: Option<f64>) -> Raw {
        Raw {
            turn: None,
            span: None,
            value,
            detail: None,
            weak: false,
        }
    }
}

impl Inspector {
    /// Compiles a validated pack. Fails only if the phrase automaton cannot
    /// be built (a pack of millions of phrases).
    pub fn new(pack: RulePack) -> Result<Inspector, PackError> {
        let mut patterns: Vec<String> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut uses: Vec<Vec<PatternUse>> = Vec::new();
        let mut guard_sets: Vec<Vec<Guard>> = Vec::new();
        let compiled_guards: Vec<Vec<Guard>> = pack
            .rules
            .iter()
            .map(|r| {
                r.guards
                    .iter()
                    .filter_map(|g| Guard::compile(g).ok())
                    .collect()
            })
            .collect();
        let chat_allow: Vec<String> = pack
            .chat
            .allow
            .iter()
            .map(|p| normalize_phrase(p))
            .collect();
        let mut add_use = |phrase: &str, rule: usize, slot: Slot, weak: bool| {
            let norm = normalize_phrase(phrase);
            if norm.is_empty() {
                return;
            }
            // Unless contexts are never guarded themselves, nor are gate
            // words (a cancelled gate hit would hide a regex match).
            let applicable: Vec<Guard> = match slot {
                Slot::Unless | Slot::TriggerUnless | Slot::Gate => Vec::new(),
                _ => compiled_guards[rule]
                    .iter()
                    .filter(|g| g.covers(&norm))
                    .cloned()
                    .collect(),
            };
            let guard = if applicable.is_empty() {
                u32::MAX
            } else {
                guard_sets.push(applicable);
                (guard_sets.len() - 1) as u32
            };
            let chat_ok = slot == Slot::Phrase
                && matches!(pack.rules[rule].kind, RuleKind::Forbidden { .. })
                && chat_allow.contains(&norm);
            let id = *index.entry(norm.clone()).or_insert_with(|| {
                patterns.push(norm);
                uses.push(Vec::new());
                patterns.len() - 1
            });
            let u = PatternUse {
                rule: rule as u32,
                slot,
                guard,
                weak,
                chat_ok,
            };
            if !uses[id]
                .iter()
                .any(|x| x.rule == u.rule && x.slot == u.slot)
            {
                uses[id].push(u);
            }
        };
        let mut add = |phrase: &str, rule: usize, slot: Slot| add_use(phrase, rule, slot, false);
        let mut rules = Vec::new();
        let mut manual = Vec::new();
        let mut weak_phrases = Vec::new();
        for (i, rule) in pack.rules.iter().enumerate() {
            let mut regex = None;
            let mut gated = false;
            match &rule.kind {
                RuleKind::Forbidden {
                    phrases,
                    unless,
                    weak,
                    ..
                } => {
                    phrases.iter().for_each(|p| add(p, i, Slot::Phrase));
                    unless.iter().for_each(|p| add(p, i, Slot::Unless));
                    weak_phrases.extend(weak.iter().map(|p| (p.clone(), i)));
                }
                RuleKind::Required { phrases, .. } => {
                    phrases.iter().for_each(|p| add(p, i, Slot::Phrase))
                }
                RuleKind::Response {
                    trigger,
                    trigger_unless,
                    response,
                    ..
                } => {
                    trigger.iter().for_each(|p| add(p, i, Slot::Trigger));
                    trigger_unless
                        .iter()
                        .for_each(|p| add(p, i, Slot::TriggerUnless));
                    response.iter().for_each(|p| add(p, i, Slot::Phrase));
                }
                RuleKind::Silence {
                    hold_phrases,
                    thanks_phrases,
                    ..
                } => {
                    hold_phrases.iter().for_each(|p| add(p, i, Slot::Hold));
                    thanks_phrases.iter().for_each(|p| add(p, i, Slot::Phrase));
                }
                RuleKind::HolidayGreeting { festivals, .. } => {
                    for (n, f) in festivals.iter().enumerate() {
                        f.phrases
                            .iter()
                            .for_each(|p| add(p, i, Slot::Festival(n as u16)));
                    }
                }
                RuleKind::Regex { pattern, .. } => {
                    // Validated when the pack was loaded.
                    regex = Regex::new(pattern).ok();
                    // A gate only for words that are already in matching
                    // form: a word normalisation would change could hide
                    // the turns the regex matches in.
                    if let Some(words) = crate::required::required_words(pattern)
                        .filter(|w| w.iter().all(|w| normalize_phrase(w) == *w))
                    {
                        words.iter().for_each(|w| add(w, i, Slot::Gate));
                        gated = true;
                    }
                }
                RuleKind::Manual => manual.push(Arc::from(rule.id.as_str())),
                RuleKind::Interrupt { .. }
                | RuleKind::SpeechRate { .. }
                | RuleKind::ResponseTime { .. } => {}
                RuleKind::EndedBy { exempt } => exempt.iter().for_each(|p| add(p, i, Slot::Phrase)),
            }
            let evidence_group = regex
                .as_ref()
                .is_some_and(|re: &Regex| re.capture_names().any(|n| n == Some("hit")));
            rules.push(CompiledRule {
                evidence_group,
                id: Arc::from(rule.id.as_str()),
                name: Arc::from(rule.name.as_str()),
                dimension: Arc::from(rule.dimension.as_str()),
                rule: rule.clone(),
                regex,
                gated,
                message: rule.message.as_deref().map(MessageTemplate::new),
            });
        }
        // Weak phrases last, so a phrase listed in both tiers stays strong.
        for (p, i) in weak_phrases {
            add_use(&p, i, Slot::Phrase, true);
        }
        let automaton = if patterns.is_empty() {
            None
        } else {
            Some(
                CharwiseDoubleArrayAhoCorasick::new(&patterns).map_err(|e| PackError {
                    issues: vec![PackIssue {
                        line: 0,
                        message: format!(
                            "the pack's {} phrases do not fit one automaton: {e}",
                            patterns.len()
                        ),
                    }],
                })?,
            )
        };
        let pack_label = Arc::from(format!("{}@{}", pack.meta.id, pack.meta.version));
        let timezone = pack.timezone();
        let rating_card = pack
            .rules
            .iter()
            .map(|r| pack.chat.rating_card_rules.contains(&r.id))
            .collect();
        let continuation = pack.chat.normalized_continuation();
        let dimensions = pack
            .dimensions
            .iter()
            .map(|d| DimensionScore {
                dimension: Arc::from(d.name.as_str()),
                deduction: 0.0,
            })
            .collect();
        Ok(Inspector {
            dimensions,
            pack,
            pack_label,
            rules,
            automaton,
            uses,
            guard_sets,
            manual,
            timezone,
            rating_card,
            continuation,
        })
    }

    /// The pack this inspector was compiled from.
    pub fn pack(&self) -> &RulePack {
        &self.pack
    }

    /// Inspects one conversation.
    pub fn inspect(&self, conv: &Conversation<'_>, scratch: &mut Scratch) -> Inspection {
        self.prepare(conv, scratch);
        scratch.span_turn = None;
        // Sized for a findings-heavy conversation: growing from empty cost
        // several copies per conversation.
        let mut findings = Vec::with_capacity(16);
        let mut not_applicable = Vec::new();
        let mut raws = Vec::new();
        for (i, cr) in self.rules.iter().enumerate() {
            raws.clear();
            match self.evaluate(i, cr, conv, scratch, &mut raws) {
                Outcome::Skipped => {}
                Outcome::NotApplicable => not_applicable.push(cr.id.clone()),
                Outcome::Evaluated => {
                    let mut used = 0.0;
                    for mut raw in raws.drain(..) {
                        let deduction = cr.rule.deduction.min((cr.rule.cap - used).max(0.0));
                        used += deduction;
                        raw.span = match (raw.turn, raw.span) {
                            (Some(t), Some((a, b))) => Some(original_span(scratch, conv, t, a, b)),
                            _ => None,
                        };
                        findings.push(self.finding(cr, conv, raw, deduction));
                    }
                }
            }
        }
        self.score(conv, findings, not_applicable)
    }

    fn score(
        &self,
        conv: &Conversation<'_>,
        findings: Vec<Finding>,
        not_applicable: Vec<Arc<str>>,
    ) -> Inspection {
        let base = self.pack.scoring.base;
        let total: f64 = findings.iter().map(|f| f.deduction).sum();
        let veto = findings.iter().any(|f| f.veto);
        let score = if veto { 0.0 } else { (base - total).max(0.0) };
        let mut dimensions: Vec<DimensionScore> = self.dimensions.clone();
        for f in &findings {
            match dimensions.iter_mut().find(|d| d.dimension == f.dimension) {
                Some(d) => d.deduction += f.deduction,
                None => dimensions.push(DimensionScore {
                    dimension: f.dimension.clone(),
                    deduction: f.deduction,
                }),
            }
        }
        Inspection {
            id: conv.id.to_string(),
            agent_id: conv.agent_id.as_deref().map(str::to_string),
            agent_name: conv.agent_name.as_deref().map(str::to_string),
            channel: conv.channel,
            started_at: conv.started_at.map(|t| t.with_timezone(&self.timezone)),
            score,
            grade: self.pack.grade(score).map(str::to_string),
            passed: !veto && score >= self.pack.scoring.pass_mark,
            veto,
            findings,
            not_applicable,
            manual: self.manual.clone(),
            dimensions,
            pack: self.pack_label.clone(),
        }
    }

    fn finding(
        &self,
        cr: &CompiledRule,
        conv: &Conversation<'_>,
        raw: Raw,
        deduction: f64,
    ) -> Finding {
        let text = match (raw.turn, raw.span) {
            (Some(t), Some((s, e))) => conv
                .turns
                .get(t)
                .map(|turn| char_slice(&turn.text, s, e).to_string()),
            _ => None,
        };
        let message = render_message(cr, text.as_deref(), raw.value, raw.detail.as_deref());
        Finding {
            rule: cr.id.clone(),
            name: cr.name.clone(),
            dimension: cr.dimension.clone(),
            kind: cr.rule.kind.name(),
            turn: raw.turn,
            span: raw.span.map(|(s, e)| [s, e]),
            text,
            deduction,
            veto: cr.rule.veto && !raw.weak,
            message,
            value: raw.value,
        }
    }

    /// Normalises every turn, scans it once, and files each hit under the
    /// rules that listed the phrase.
    fn prepare(&self, conv: &Conversation<'_>, scratch: &mut Scratch) {
        let n = conv.turns.len();
        if scratch.hits.len() < self.rules.len() {
            scratch.hits.resize_with(self.rules.len(), Vec::new);
        }
        for h in scratch.hits.iter_mut() {
            h.clear();
        }
        scratch.ordinals.clear();
        scratch.role_counts = [0; 3];
        scratch.norm.clear();
        scratch.turn_ranges.clear();
        scratch.turn_content.clear();
        for (t, turn) in conv.turns.iter().enumerate() {
            let mut ord = [u32::MAX; 3];
            match turn.role {
                Role::Agent => {
                    ord[AGENT] = scratch.role_counts[AGENT];
                    scratch.role_counts[AGENT] += 1;
                }
                Role::Customer => {
                    ord[CUSTOMER] = scratch.role_counts[CUSTOMER];
                    scratch.role_counts[CUSTOMER] += 1;
                }
                Role::System => {}
            }
            ord[ANY] = t as u32;
            scratch.ordinals.push(ord);
            if t > 0 {
                scratch.norm.push_boundary();
            }
            let start = scratch.norm.as_str().len();
            let content = scratch.norm.append(&turn.text);
            scratch
                .turn_ranges
                .push((start, scratch.norm.as_str().len()));
            scratch.turn_content.push(content as u32);
        }
        scratch.role_counts[ANY] = n as u32;
        // One scan over the whole conversation; no phrase spans a turn
        // boundary because none contains NUL.
        scratch.excerpt = ChatProfile::is_excerpt(
            conv,
            |t| {
                scratch
                    .turn_ranges
                    .get(t)
                    .map_or("", |&(a, b)| &scratch.norm.as_str()[a..b])
            },
            &self.continuation,
        );
        let is_chat = conv.channel == Channel::Chat;
        let Some(ac) = &self.automaton else { return };
        let mut t = 0usize;
        for m in ac.find_overlapping_iter(scratch.norm.as_str()) {
            while t < n && scratch.turn_ranges[t].1 < m.end() {
                t += 1;
            }
            let Some(turn) = conv.turns.get(t) else { break };
            for u in &self.uses[m.value() as usize] {
                let rule = &self.rules[u.rule as usize].rule;
                let filter = match (&rule.kind, u.slot) {
                    (
                        RuleKind::Response { trigger_role, .. },
                        Slot::Trigger | Slot::TriggerUnless,
                    ) => *trigger_role,
                    // Hold notices excuse silence only when the agent gives them.
                    (_, Slot::Hold) => RoleFilter::Agent,
                    _ => rule.role,
                };
                let admitted = filter.admits(turn.role)
                    || (turn.role == Role::System
                        && is_chat
                        && u.slot == Slot::Phrase
                        && self.rating_card[u.rule as usize]);
                if !admitted || (u.chat_ok && is_chat) {
                    continue;
                }
                if let Some(guards) = self.guard_sets.get(u.guard as usize) {
                    let (from, to) = scratch.turn_ranges[t];
                    let text = &scratch.norm.as_str()[from..to];
                    let (s, e) = (m.start() - from, m.end() - from);
                    if guards.iter().any(|g| g.cancels(text, s, e)) {
                        continue;
                    }
                }
                scratch.hits[u.rule as usize].push(Hit {
                    turn: t as u32,
                    slot: u.slot,
                    start: m.start() as u32,
                    end: m.end() as u32,
                    weak: u.weak,
                });
            }
        }
    }

    fn evaluate(
        &self,
        index: usize,
        cr: &CompiledRule,
        conv: &Conversation<'_>,
        scratch: &mut Scratch,
        out: &mut Vec<Raw>,
    ) -> Outcome {
        let rule = &cr.rule;
        if !rule.applies_to(conv.channel) {
            // Listed, so a chat's report says which phone rules it skipped;
            // manual rules are the reviewer's business either way.
            return match rule.kind {
                RuleKind::Manual => Outcome::Skipped,
                _ => Outcome::NotApplicable,
            };
        }
        if scratch.excerpt && session_edge_rule(&rule.kind) {
            return Outcome::Skipped;
        }
        // Local time in the centre's zone, whatever offset the input carried.
        let local_start = conv.started_at.map(|t| t.with_timezone(&self.timezone));
        if let Some(window) = rule.time_window {
            let Some(at) = local_start else {
                return Outcome::NotApplicable;
            };
            if !window.contains(at.hour() * 60 + at.minute()) {
                return Outcome::Skipped;
            }
        }
        let role = filter_slot(rule.role);
        let hits = &scratch.hits[index];
        match &rule.kind {
            RuleKind::Forbidden { scope, .. } => {
                if scratch.role_counts[role] == 0 {
                    return Outcome::Evaluated;
                }
                let mut chosen = std::mem::take(&mut scratch.chosen);
                forbidden_hits(
                    hits,
                    Slot::Phrase,
                    Slot::Unless,
                    |t| in_scope(scratch, role, *scope, t),
                    &mut chosen,
                );
                for &(turn, packed) in &chosen {
                    let h = hits[packed as usize];
                    out.push(Raw {
                        turn: Some(turn as usize),
                        span: Some((h.start as usize, h.end as usize)),
                        value: None,
                        detail: None,
                        weak: h.weak,
                    });
                }
                scratch.chosen = chosen;
                Outcome::Evaluated
            }
            RuleKind::Required { scope, .. } => {
                if scratch.role_counts[role] == 0 {
                    return Outcome::NotApplicable;
                }
                let card = self.rating_card[index];
                let found = hits.iter().any(|h| {
                    h.slot == Slot::Phrase
                        && (in_scope(scratch, role, *scope, h.turn)
                            || (card && conv.turns[h.turn as usize].role == Role::System))
                });
                if !found {
                    out.push(Raw::whole(None));
                }
                Outcome::Evaluated
            }
            RuleKind::Response {
                trigger_role,
                within_turns,
                ..
            } => {
                if scratch.role_counts[role] == 0 {
                    return Outcome::NotApplicable;
                }
                self.response(
                    hits,
                    &mut scratch.chosen,
                    conv,
                    *trigger_role,
                    rule.role,
                    *within_turns,
                    out,
                );
                Outcome::Evaluated
            }
            RuleKind::Silence {
                max_ms,
                hold_cap_ms,
                thanks_phrases,
                ..
            } => {
                if thanks_phrases.is_empty() {
                    silence(conv, rule.role, *max_ms, *hold_cap_ms, hits, out)
                } else {
                    crate::wait::wait_thanks(conv, rule.role, *max_ms, hits, out)
                }
            }
            RuleKind::Interrupt {
                min_overlap_ms,
                backchannels,
                backchannel_max_chars,
            } => {
                let is_backchannel = |t: usize| {
                    crate::wait::is_backchannel(
                        scratch
                            .turn_ranges
                            .get(t)
                            .map_or("", |&(a, b)| &scratch.norm.as_str()[a..b]),
                        scratch.turn_content.get(t).copied().unwrap_or(u32::MAX) as usize,
                        backchannels,
                        *backchannel_max_chars,
                    )
                };
                interrupt(conv, rule.role, *min_overlap_ms, is_backchannel, out)
            }
            RuleKind::SpeechRate {
                min_cpm,
                max_cpm,
                min_speech_ms,
            } => {
                let mut chars = 0usize;
                let mut ms = 0u64;
                for (t, turn) in conv.turns.iter().enumerate() {
                    if !rule.role.admits(turn.role) {
                        continue;
                    }
                    if let (Some(s), Some(e)) = (turn.start_ms, turn.end_ms) {
                        if e > s {
                            // Saturating: times come from input files, up to u64::MAX.
                            ms = ms.saturating_add(e - s);
                            chars += scratch.turn_content[t] as usize;
                        }
                    }
                }
                if ms < *min_speech_ms || ms == 0 {
                    return Outcome::NotApplicable;
                }
                let cpm = chars as f64 * 60_000.0 / ms as f64;
                if cpm < *min_cpm || cpm > *max_cpm {
                    let detail = if cpm < *min_cpm { "slow" } else { "fast" };
                    out.push(Raw {
                        detail: Some(detail.to_string()),
                        ..Raw::whole(Some((cpm * 10.0).round() / 10.0))
                    });
                }
                Outcome::Evaluated
            }
            RuleKind::ResponseTime {
                max_wait_ms,
                max_reply_ms,
            } => response_time(conv, *max_wait_ms, *max_reply_ms, out),
            RuleKind::EndedBy { .. } => match conv.ended_by {
                None => Outcome::NotApplicable,
                // The silent-call script lets the agent hang up.
                Some(EndedBy::Agent) if hits.iter().any(|h| h.slot == Slot::Phrase) => {
                    Outcome::Evaluated
                }
                Some(EndedBy::Agent) => {
                    out.push(Raw::whole(None));
                    Outcome::Evaluated
                }
                Some(_) => Outcome::Evaluated,
            },
            RuleKind::Regex { mode, scope, .. } => {
                let Some(re) = &cr.regex else {
                    return Outcome::Skipped;
                };
                if scratch.role_counts[role] == 0 {
                    return match mode {
                        RegexMode::Forbid => Outcome::Evaluated,
                        RegexMode::Require => Outcome::NotApplicable,
                    };
                }
                // Turn by turn, and only the turns the rule looks at: most
                // patterns have no literal prefix to skip ahead with, so
                // every byte searched costs. A gated rule searches only the
                // turns where the phrase scan saw one of its words.
                let mut found = false;
                let mut gate_hits = hits.iter().filter(|h| h.slot == Slot::Gate).peekable();
                for (t, turn) in conv.turns.iter().enumerate() {
                    if cr.gated {
                        while gate_hits.next_if(|h| (h.turn as usize) < t).is_some() {}
                        if gate_hits.next_if(|h| h.turn as usize == t).is_none() {
                            if gate_hits.peek().is_none() {
                                break;
                            }
                            continue;
                        }
                    }
                    if !rule.role.admits(turn.role) || !in_scope(scratch, role, *scope, t as u32) {
                        continue;
                    }
                    let (from, to) = scratch.turn_ranges[t];
                    let haystack = &scratch.norm.as_str()[from..to];
                    if *mode == RegexMode::Require {
                        found = re.is_match(haystack);
                    } else if cr.evidence_group {
                        // The group `hit` is the evidence; the rest is context.
                        for caps in re.captures_iter(haystack) {
                            found = true;
                            if let Some(m) = caps.name("hit").filter(|m| m.start() < m.end()) {
                                out.push(Raw {
                                    turn: Some(t),
                                    span: Some((from + m.start(), from + m.end())),
                                    value: None,
                                    detail: None,
                                    weak: false,
                                });
                            }
                        }
                    } else {
                        for m in re.find_iter(haystack) {
                            found = true;
                            if m.start() < m.end() {
                                out.push(Raw {
                                    turn: Some(t),
                                    span: Some((from + m.start(), from + m.end())),
                                    value: None,
                                    detail: None,
                                    weak: false,
                                });
                            }
                        }
                    }
                    if found && *mode == RegexMode::Require {
                        break;
                    }
                }
                if *mode == RegexMode::Require && !found {
                    out.push(Raw::whole(None));
                }
                Outcome::Evaluated
            }
            RuleKind::Manual => Outcome::Skipped,
            RuleKind::HolidayGreeting { festivals, scope } => {
                let Some(at) = local_start else {
                    return Outcome::NotApplicable;
                };
                let date = at.date_naive();
                // Festivals due on this date, as a bit set, remembered per
                // rule and date: a file spans a few weeks at most, and the
                // lunar calendar is slow to ask.
                let key = (index, date);
                let due: u64 = match scratch.festival_memo.get(&key) {
                    Some(&mask) => mask,
                    None => {
                        let mask = festivals
                            .iter()
                            .enumerate()
                            .take(64)
                            .filter(|(_, f)| {
                                in_festival_period(f.festival, date, f.days_before, f.days_after)
                            })
                            .fold(0u64, |m, (n, _)| m | (1 << n));
                        if scratch.festival_memo.len() >= FESTIVAL_MEMO_CAP {
                            scratch.festival_memo.clear();
                        }
                        scratch.festival_memo.insert(key, mask);
                        mask
                    }
                };
                if due == 0 {
                    return Outcome::Skipped;
                }
                if scratch.role_counts[role] == 0 {
                    return Outcome::NotApplicable;
                }
                let hits = &scratch.hits[index];
                let greeted = hits.iter().any(|h| {
                    matches!(h.slot, Slot::Festival(n) if n < 64 && due & (1 << n) != 0)
                        && in_scope(scratch, role, *scope, h.turn)
                });
                if !greeted {
                    let names: Vec<&str> = festivals
                        .iter()
                        .enumerate()
                        .filter(|(n, _)| *n < 64 && due & (1 << n) != 0)
                        .map(|(_, f)| f.festival.name())
                        .collect();
                    out.push(Raw {
                        detail: Some(names.join("、")),
                        ..Raw::whole(None)
                    });
                }
                Outcome::Evaluated
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn response(
        &self,
        hits: &[Hit],
        chosen: &mut Vec<(u32, u32)>,
        conv: &Conversation<'_>,
        trigger_role: RoleFilter,
        response_role: RoleFilter,
        within: usize,
        out: &mut Vec<Raw>,
    ) {
        // Valid triggers: trigger hits not inside a trigger_unless context.
        forbidden_hits(hits, Slot::Trigger, Slot::TriggerUnless, |_| true, chosen);
        let mut last_turn = u32::MAX;
        for &(turn, packed) in chosen.iter() {
            // One obligation per trigger turn, evidenced by its first trigger.
            if turn == last_turn {
                continue;
            }
            last_turn = turn;
            let trig = hits[packed as usize];
            let trigger_turn_role = conv.turns[turn as usize].role;
            let same_turn_ok = response_role.admits(trigger_turn_role)
                && trigger_role.admits(trigger_turn_role)
                && hits
                    .iter()
                    .any(|h| h.slot == Slot::Phrase && h.turn == turn && h.start >= trig.end);
            let mut answered = same_turn_ok;
            // Whether the responding side spoke at all after the trigger: a
            // customer's last words before hanging up (a final complaint, a
            // thank-you) leave the agent no turn to answer in.
            // A self-triggered rule answered in the same breath (policy
            // apology, `within_turns = 1`) had its chance in the trigger turn
            // itself, even when that turn is the last one.
            let self_answerable = within == 1
                && response_role.admits(trigger_turn_role)
                && trigger_role.admits(trigger_turn_role);
            let mut could_answer = same_turn_ok || self_answerable;
            if !answered {
                let mut seen = 0usize;
                for (t, later) in conv.turns.iter().enumerate().skip(turn as usize + 1) {
                    if !response_role.admits(later.role) {
                        continue;
                    }
                    could_answer = true;
                    if hits
                        .iter()
                        .any(|h| h.slot == Slot::Phrase && h.turn as usize == t)
                    {
                        answered = true;
                        break;
                    }
                    seen += 1;
                    if seen >= within {
                        break;
                    }
                }
            }
            if !answered && could_answer {
                out.push(Raw {
                    turn: Some(turn as usize),
                    span: Some((trig.start as usize, trig.end as usize)),
                    value: None,
                    detail: Some(within.to_string()),
                    weak: false,
                });
            }
        }
    }
}

/// Maps a byte range of the conversation's normalised buffer, inside turn
/// `t`, to a character span of the turn's original text. Matching keeps no
/// origins (it is the hot path); the few turns with findings are normalised
/// again here, with origins.
fn original_span(
    scratch: &mut Scratch,
    conv: &Conversation<'_>,
    t: usize,
    start: usize,
    end: usize,
) -> (usize, usize) {
    let Some(&(from, _)) = scratch.turn_ranges.get(t) else {
        return (0, 0);
    };
    if scratch.span_turn != Some(t) {
        scratch
            .span_buf
            .fill(conv.turns.get(t).map_or("", |turn| &turn.text));
        scratch.span_turn = Some(t);
    }
    scratch
        .span_buf
        .original_span(start.saturating_sub(from), end.saturating_sub(from))
}

/// Rules about the session's start or end (opening, greetings, closing,
/// survey): they mean nothing on an excerpt that starts mid-session.
fn session_edge_rule(kind: &RuleKind) -> bool {
    match kind {
        RuleKind::Required { scope, .. }
        | RuleKind::Forbidden { scope, .. }
        | RuleKind::Regex { scope, .. } => !matches!(scope, Scope::All),
        RuleKind::HolidayGreeting { .. } => true,
        _ => false,
    }
}

/// Whether turn `t` lies in `scope`, counted in turns of role slot `role`.
fn in_scope(scratch: &Scratch, role: usize, scope: Scope, t: u32) -> bool {
    let Some(ord) = scratch.ordinals.get(t as usize) else {
        return false;
    };
    let p = ord[role];
    if p == u32::MAX {
        return false;
    }
    match scope {
        Scope::All => true,
        Scope::First(n) => (p as usize) < n,
        Scope::Last(n) => (p as usize) + n >= scratch.role_counts[role] as usize,
    }
}

/// Picks, per turn, the hits of slot `want` that no `except` hit contains,
/// leftmost-longest and non-overlapping. Writes `(turn, index into hits)`.
fn forbidden_hits(
    hits: &[Hit],
    want: Slot,
    except: Slot,
    keep_turn: impl Fn(u32) -> bool,
    chosen: &mut Vec<(u32, u32)>,
) {
    chosen.clear();
    let mut candidates: Vec<(u32, u32, u32, u32)> = hits
        .iter()
        .enumerate()
        .filter(|(_, h)| h.slot == want && keep_turn(h.turn))
        .filter(|(_, h)| {
            !hits.iter().any(|u| {
                u.slot == except && u.turn == h.turn && u.start <= h.start && u.end >= h.end
            })
        })
        .map(|(i, h)| (h.turn, h.start, u32::MAX - h.end, i as u32))
        .collect();
    candidates.sort_unstable();
    let mut current_turn = u32::MAX;
    let mut last_end = 0u32;
    for (turn, start, inv_end, i) in candidates {
        if turn != current_turn {
            current_turn = turn;
            last_end = 0;
        }
        if start >= last_end {
            last_end = u32::MAX - inv_end;
            chosen.push((turn, i));
        }
    }
}

fn silence(
    conv: &Conversation<'_>,
    role: RoleFilter,
    max_ms: u64,
    hold_cap_ms: Option<u64>,
    hits: &[Hit],
    out: &mut Vec<Raw>,
) -> Outcome {
    let mut timed = 0usize;
    let mut latest_end: Option<u64> = None;
    let mut last_agent_turn: Option<usize> = None;
    for (t, turn) in conv.turns.iter().enumerate() {
        let (Some(start), Some(end)) = (turn.start_ms, turn.end_ms) else {
            if turn.role == Role::Agent {
                last_agent_turn = Some(t);
            }
            continue;
        };
        timed += 1;
        if let Some(prev_end) = latest_end {
            let gap = start.saturating_sub(prev_end);
            if gap > max_ms && role.admits(turn.role) {
                let excused = gap <= hold_cap_ms.unwrap_or(u64::MAX)
                    && last_agent_turn.is_some_and(|a| {
                        hits.iter()
                            .any(|h| h.slot == Slot::Hold && h.turn as usize == a)
                    });
                if !excused {
                    out.push(Raw {
                        turn: Some(t),
                        span: None,
                        value: Some(gap as f64),
                        detail: None,
                        weak: false,
                    });
                }
            }
        }
        latest_end = Some(latest_end.map_or(end.max(start), |e| e.max(end).max(start)));
        if turn.role == Role::Agent {
            last_agent_turn = Some(t);
        }
    }
    if timed < 2 {
        Outcome::NotApplicable
    } else {
        Outcome::Evaluated
    }
}

fn interrupt(
    conv: &Conversation<'_>,
    role: RoleFilter,
    min_overlap_ms: u64,
    is_backchannel: impl Fn(usize) -> bool,
    out: &mut Vec<Raw>,
) -> Outcome {
    let mut judged = false;
    // The most recent timed turn of the other party.
    let mut other: Option<&Turn<'_>> = None;
    for (t, turn) in conv.turns.iter().enumerate() {
        let (Some(start), Some(_)) = (turn.start_ms, turn.end_ms) else {
            continue;
        };
        if turn.role == Role::System {
            continue;
        }
        if role.admits(turn.role) {
            if let Some(o) = other {
                if let (Some(os), Some(oe)) = (o.start_ms, o.end_ms) {
                    judged = true;
                    // Saturating: a start near u64::MAX (input) cannot overlap anything.
                    if start >= os
                        && start.saturating_add(min_overlap_ms) < oe
                        && !is_backchannel(t)
                    {
                        out.push(Raw {
                            turn: Some(t),
                            span: None,
                            value: Some((oe - start) as f64),
                            detail: None,
                            weak: false,
                        });
                    }
                }
            }
        } else {
            other = Some(turn);
        }
    }
    if judged {
        Outcome::Evaluated
    } else {
        Outcome::NotApplicable
    }
}

fn response_time(
    conv: &Conversation<'_>,
    max_wait_ms: Option<u64>,
    max_reply_ms: Option<u64>,
    out: &mut Vec<Raw>,
) -> Outcome {
    let mut judged = false;
    if let (Some(max), Some(wait)) = (max_wait_ms, conv.wait_ms) {
        judged = true;
        if wait > max {
            out.push(Raw {
                detail: Some("wait".into()),
                ..Raw::whole(Some(wait as f64))
            });
        }
    }
    if let (Some(max), Channel::Chat) = (max_reply_ms, conv.channel) {
        // The first customer message not yet answered.
        let mut waiting_since: Option<u64> = None;
        for (t, turn) in conv.turns.iter().enumerate() {
            match turn.role {
                Role::Customer => {
                    if waiting_since.is_none() {
                        waiting_since = turn.end_ms.or(turn.start_ms);
                    }
                }
                Role::Agent => {
                    if let (Some(since), Some(at)) = (waiting_since, turn.start_ms) {
                        judged = true;
                        let delay = at.saturating_sub(since);
                        if delay > max {
                            out.push(Raw {
                                turn: Some(t),
                                span: None,
                                value: Some(delay as f64),
                                detail: Some("reply".into()),
                                weak: false,
                            });
                        }
                    }
                    waiting_since = None;
                }
                Role::System => {}
            }
        }
    }
    if judged {
        Outcome::Evaluated
    } else {
        Outcome::NotApplicable
    }
}

/// Fills a rule's message template, or writes the default message of its kind.
fn render_message(
    cr: &CompiledRule,
    text: Option<&str>,
    value: Option<f64>,
    detail: Option<&str>,
) -> String {
    let rule = &cr.rule;
    let text = text.unwrap_or("");
    let value_str = value.map(format_value).unwrap_or_default();
    if let Some(template) = &cr.message {
        return template.render(text, &value_str, detail.unwrap_or(""));
    }
    let seconds = |v: Option<f64>| {
        value
            .or(v)
            .map(|ms| format_value(ms / 1000.0))
            .unwrap_or_default()
    };
    match &rule.kind {
        RuleKind::Forbidden { .. } => format!("{}：「{}」", rule.name, text),
        RuleKind::Required { scope, .. } => match scope {
            Scope::First(n) => format!("{}：前 {} 句未出现规定用语", rule.name, n),
            Scope::Last(n) => format!("{}：最后 {} 句未出现规定用语", rule.name, n),
            Scope::All => format!("{}：全程未出现规定用语", rule.name),
        },
        RuleKind::Response { .. } => format!(
            "{}：「{}」之后 {} 句内未回应",
            rule.name,
            text,
            detail.unwrap_or("1")
        ),
        RuleKind::Silence { max_ms, .. } => format!(
            "{}：静音 {} 秒（上限 {} 秒），之前无等待提示",
            rule.name,
            seconds(None),
            format_value(*max_ms as f64 / 1000.0)
        ),
        RuleKind::Interrupt { .. } => {
            format!("{}：在客户说完前 {} 秒开始说话", rule.name, seconds(None))
        }
        RuleKind::SpeechRate {
            min_cpm, max_cpm, ..
        } => format!(
            "{}：语速 {} 字/分钟，{}（范围 {}–{}）",
            rule.name,
            value_str,
            if detail == Some("slow") {
                "过慢"
            } else {
                "过快"
            },
            format_value(*min_cpm),
            format_value(*max_cpm)
        ),
        RuleKind::ResponseTime {
            max_wait_ms,
            max_reply_ms,
        } => {
            if detail == Some("reply") {
                format!(
                    "{}：客户消息后 {} 秒才回复（上限 {} 秒）",
                    rule.name,
                    seconds(None),
                    format_value(max_reply_ms.unwrap_or(0) as f64 / 1000.0)
                )
            } else {
                format!(
                    "{}：客户等待 {} 秒才接通（上限 {} 秒）",
                    rule.name,
                    seconds(None),
                    format_value(max_wait_ms.unwrap_or(0) as f64 / 1000.0)
                )
            }
        }
        RuleKind::EndedBy { .. } => format!("{}：坐席先结束了会话", rule.name),
        RuleKind::Regex { mode, .. } => match mode {
            RegexMode::Forbid => format!("{}：「{}」", rule.name, text),
            RegexMode::Require => format!("{}：未出现规定内容", rule.name),
        },
        RuleKind::Manual => rule.name.clone(),
        RuleKind::HolidayGreeting { .. } => format!(
            "{}：{}期间开头未使用节日问候语",
            rule.name,
            detail.unwrap_or("")
        ),
    }
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as i64)
    } else {
        format!("{:.1}", v)
    }
}
