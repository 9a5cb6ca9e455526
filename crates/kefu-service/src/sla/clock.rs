//! SLA targets and policy, pauses, and the clock that evaluates a
//! complaint's first-reply and resolution targets at an instant.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{duration_text, nanos, opt_duration, BusinessCalendar, SlaError, ZERO};

// ---------------------------------------------------------------------------
// Policy
// ---------------------------------------------------------------------------

/// A pair of targets. `None` means no target: the clock is shown but can
/// never breach.
///
/// Serde: durations as text (`"24h"`, `"1h30m"`) or `"none"`; both fields
/// are required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaTargets {
    /// Time allowed until the first reply.
    #[serde(with = "opt_duration")]
    pub first_reply: Option<TimeDelta>,
    /// Time allowed until the complaint is resolved.
    #[serde(with = "opt_duration")]
    pub resolution: Option<TimeDelta>,
}

/// SLA settings, stored as JSON or TOML:
///
/// ```toml
/// first_reply = "12h"
/// resolution = "48h"
/// near_breach_ratio = 0.8
/// business_hours = false
/// special = { first_reply = "24h", resolution = "72h" }   # or "standard"
/// ```
///
/// Missing keys take the defaults; a target of `"none"` means no target.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlaPolicy {
    /// Target for the first reply (standard: 12 h).
    #[serde(with = "opt_duration")]
    pub first_reply: Option<TimeDelta>,
    /// Target for resolution (standard: 48 h).
    #[serde(with = "opt_duration")]
    pub resolution: Option<TimeDelta>,
    /// Share of a target after which a running clock is a near breach
    /// (default 0.8).
    pub near_breach_ratio: f64,
    /// Targets of special / difficult complaints (特殊疑难). `None` = they
    /// use the standard targets (serialised as `"standard"`). kefu's default
    /// is 24 h reply / 72 h resolution: the standard itself only says such
    /// cases are handled separately.
    #[serde(with = "special_targets")]
    pub special: Option<SlaTargets>,
    /// Count only the calendar's business hours (`false` = 24×7 regardless
    /// of the calendar).
    pub business_hours: bool,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        SlaPolicy {
            first_reply: Some(TimeDelta::hours(12)),
            resolution: Some(TimeDelta::hours(48)),
            near_breach_ratio: 0.8,
            special: Some(SlaTargets {
                first_reply: Some(TimeDelta::hours(24)),
                resolution: Some(TimeDelta::hours(72)),
            }),
            business_hours: false,
        }
    }
}

impl SlaPolicy {
    /// The targets that apply to a complaint, special or not.
    pub fn targets(&self, special: bool) -> SlaTargets {
        match (special, self.special) {
            (true, Some(t)) => t,
            _ => SlaTargets {
                first_reply: self.first_reply,
                resolution: self.resolution,
            },
        }
    }

    /// Checks the settings: no negative target, a ratio in `0..=1`.
    ///
    /// # Errors
    ///
    /// [`SlaError::NegativeTarget`] or [`SlaError::InvalidRatio`].
    pub fn validate(&self) -> Result<(), SlaError> {
        let special = self.special.unwrap_or(SlaTargets {
            first_reply: None,
            resolution: None,
        });
        for (name, t) in [
            ("first_reply", self.first_reply),
            ("resolution", self.resolution),
            ("special.first_reply", special.first_reply),
            ("special.resolution", special.resolution),
        ] {
            if t.is_some_and(|t| t < ZERO) {
                return Err(SlaError::NegativeTarget { name });
            }
        }
        if !(0.0..=1.0).contains(&self.near_breach_ratio) {
            return Err(SlaError::InvalidRatio(self.near_breach_ratio));
        }
        Ok(())
    }
}

/// Serde for `SlaPolicy::special`: a table of targets, or `"standard"`.
pub(crate) mod special_targets {
    use std::fmt;

    use serde::de::{self, Deserializer, Visitor};
    use serde::{Deserialize, Serialize, Serializer};

    use super::SlaTargets;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<SlaTargets>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(t) => t.serialize(s),
            None => s.serialize_str("standard"),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SlaTargets>, D::Error> {
        d.deserialize_any(SpecialVisitor)
    }

    struct SpecialVisitor;

    impl<'de> Visitor<'de> for SpecialVisitor {
        type Value = Option<SlaTargets>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a table with first_reply and resolution, or \"standard\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.trim().eq_ignore_ascii_case("standard") {
                Ok(None)
            } else {
                Err(E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }

        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            SlaTargets::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }
}

// ---------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------

/// A stretch of time during which the clock stops (waiting on the customer).
/// `end == None` means the complaint is still waiting. A pause whose end is
/// not after its start is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// When the wait began.
    pub start: DateTime<Utc>,
    /// When it ended, `None` while still waiting.
    #[serde(default)]
    pub end: Option<DateTime<Utc>>,
}

impl Pause {
    /// A finished pause.
    pub fn closed(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        Pause {
            start,
            end: Some(end),
        }
    }

    /// A pause still going on.
    pub fn open(start: DateTime<Utc>) -> Self {
        Pause { start, end: None }
    }
}

/// Where an SLA target stands.
///
/// Serde: internally tagged, e.g. `{"kind": "near_breach"}` or
/// `{"kind": "met", "on_time": true}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SlaState {
    /// The target was met (reply sent / resolved); `on_time` when the counted
    /// time then was within the target.
    Met {
        /// Whether `elapsed <= target` when it was met.
        on_time: bool,
    },
    /// Not met yet; the clock runs and less than the near-breach share of
    /// the target is used.
    Running,
    /// Not met yet, within the target, and the clock is stopped (waiting on
    /// the customer).
    Paused,
    /// Not met yet, running, and at least the near-breach share of the
    /// target is used (but not more than the target).
    NearBreach,
    /// Not met, and more than the target is used.
    Breached,
    /// There is no target for this clock.
    NoTarget,
}

impl SlaState {
    /// Whether the target was or is being missed: [`SlaState::Breached`] or
    /// a late [`SlaState::Met`].
    pub fn is_breach(&self) -> bool {
        matches!(self, SlaState::Breached | SlaState::Met { on_time: false })
    }

    /// Whether the target is still open (not met and a target exists).
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            SlaState::Running | SlaState::Paused | SlaState::NearBreach | SlaState::Breached
        )
    }
}

/// The state of one SLA target at `now`.
///
/// Serde: durations as text (`"11h30m"`), instants as RFC 3339.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaStatus {
    /// The target (zero when [`SlaState::NoTarget`]).
    #[serde(with = "duration_text")]
    pub target: TimeDelta,
    /// Counted time from opening until it was met, or until `now`: pauses
    /// and (in business-hours mode) non-working time excluded.
    #[serde(with = "duration_text")]
    pub elapsed: TimeDelta,
    /// `target - elapsed`, never below zero (zero when no target).
    #[serde(with = "duration_text")]
    pub remaining: TimeDelta,
    /// The deadline: the earliest instant at which the counted time reaches
    /// the target, given the pauses on record. For a met target, pauses after
    /// it was met are ignored. `None` while paused, without a target, or when
    /// an open pause makes the deadline unknowable.
    pub due_at: Option<DateTime<Utc>>,
    /// The state.
    pub state: SlaState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Interval {
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

/// The SLA clock of one complaint: counts time from `opened_at` on the
/// calendar, minus pauses (clipped to the opening and merged, so overlapping
/// pauses count once).
#[derive(Clone, Debug)]
pub struct SlaClock<'a> {
    calendar: &'a BusinessCalendar,
    opened_at: DateTime<Utc>,
    /// Sorted, disjoint, all starting at or after `opened_at`.
    pauses: Vec<Interval>,
}

impl<'a> SlaClock<'a> {
    /// A clock on `calendar` started at `opened_at`, stopped during `pauses`.
    pub fn new(calendar: &'a BusinessCalendar, opened_at: DateTime<Utc>, pauses: &[Pause]) -> Self {
        let mut v: Vec<Interval> = pauses
            .iter()
            .filter_map(|p| {
                let start = p.start.max(opened_at);
                match p.end {
                    Some(e) if e <= start => None,
                    end => Some(Interval { start, end }),
                }
            })
            .collect();
        v.sort_by_key(|i| i.start);
        let mut merged: Vec<Interval> = Vec::with_capacity(v.len());
        for i in v {
            if let Some(last) = merged.last_mut() {
                if last.end.is_none_or(|e| i.start <= e) {
                    last.end = match (last.end, i.end) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                    continue;
                }
            }
            merged.push(i);
        }
        SlaClock {
            calendar,
            opened_at,
            pauses: merged,
        }
    }

    /// When the clock started.
    pub fn opened_at(&self) -> DateTime<Utc> {
        self.opened_at
    }

    /// Counted time between the opening and `until`.
    pub fn counted(&self, until: DateTime<Utc>) -> TimeDelta {
        if until <= self.opened_at {
            return ZERO;
        }
        let cal = self.calendar;
        let mut total = cal.business_duration(self.opened_at, until);
        for p in &self.pauses {
            if p.start >= until {
                break;
            }
            let end = p.end.map_or(until, |e| e.min(until));
            total -= cal.business_duration(p.start, end);
        }
        total.max(ZERO)
    }

    /// Whether the clock is stopped at instant `t`.
    pub fn is_paused_at(&self, t: DateTime<Utc>) -> bool {
        self.pauses
            .iter()
            .any(|p| p.start <= t && p.end.is_none_or(|e| t < e))
    }

    /// The earliest instant at which the counted time reaches `target`,
    /// given all pauses on record; `None` when an open pause starts before
    /// that.
    pub fn due_at(&self, target: TimeDelta) -> Option<DateTime<Utc>> {
        self.deadline(target, None)
    }

    /// Like [`Self::due_at`], with pauses cut off at `cutoff` when given.
    fn deadline(&self, target: TimeDelta, cutoff: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
        let cal = self.calendar;
        let mut cursor = self.opened_at;
        let mut rem = target.max(ZERO);
        for p in &self.pauses {
            let end = match cutoff {
                Some(c) if p.start >= c => break,
                Some(c) => Some(p.end.map_or(c, |e| e.min(c))),
                None => p.end,
            };
            let avail = cal.business_duration(cursor, p.start);
            if avail >= rem {
                return Some(cal.add_business(cursor, rem));
            }
            rem -= avail;
            cursor = end?;
        }
        Some(cal.add_business(cursor, rem))
    }

    /// The status of one target at `now`. `met_at` is when the target was
    /// met (first reply / resolution); a `met_at` after `now` is treated as
    /// not met yet. `near_breach_ratio` is the share of the target after
    /// which a running clock is [`SlaState::NearBreach`].
    pub fn status(
        &self,
        target: Option<TimeDelta>,
        met_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
        near_breach_ratio: f64,
    ) -> SlaStatus {
        let met = met_at.filter(|m| *m <= now);
        let elapsed = self.counted(met.unwrap_or(now));
        let Some(target) = target else {
            return SlaStatus {
                target: ZERO,
                elapsed,
                remaining: ZERO,
                due_at: None,
                state: SlaState::NoTarget,
            };
        };
        let remaining = (target - elapsed).max(ZERO);
        let (state, due_at) = match met {
            Some(m) => (
                SlaState::Met {
                    on_time: elapsed <= target,
                },
                self.deadline(target, Some(m)),
            ),
            None => {
                let due = self.deadline(target, None);
                let threshold = (nanos(target) as f64 * near_breach_ratio).round();
                if elapsed > target {
                    (SlaState::Breached, due)
                } else if self.is_paused_at(now) {
                    (SlaState::Paused, None)
                } else if nanos(elapsed) as f64 >= threshold {
                    (SlaState::NearBreach, due)
                } else {
                    (SlaState::Running, due)
                }
            }
        };
        SlaStatus {
            target,
            elapsed,
            remaining,
            due_at,
            state,
        }
    }
}

// ---------------------------------------------------------------------------
// Evaluation of a complaint
// ---------------------------------------------------------------------------

/// What the SLA needs to know about a complaint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaInput {
    /// When the complaint was received; both clocks start here.
    pub opened_at: DateTime<Utc>,
    /// Whether it is a special / difficult complaint (特殊疑难).
    #[serde(default)]
    pub special: bool,
    /// When the first reply was sent.
    #[serde(default)]
    pub first_reply_at: Option<DateTime<Utc>>,
    /// When the complaint was resolved.
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Times spent waiting on the customer; they stop both clocks.
    #[serde(default)]
    pub pauses: Vec<Pause>,
}

impl SlaInput {
    /// A complaint opened at `opened_at`, ordinary, not answered, no pauses.
    pub fn new(opened_at: DateTime<Utc>) -> Self {
        SlaInput {
            opened_at,
            special: false,
            first_reply_at: None,
            resolved_at: None,
            pauses: Vec::new(),
        }
    }
}

/// Both SLA clocks of a complaint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaReport {
    /// The first-reply target.
    pub first_reply: SlaStatus,
    /// The resolution target.
    pub resolution: SlaStatus,
}

impl SlaReport {
    /// Whether either target is breached (or was met late).
    pub fn any_breach(&self) -> bool {
        self.first_reply.state.is_breach() || self.resolution.state.is_breach()
    }

    /// Whether either open target is a near breach.
    pub fn any_near_breach(&self) -> bool {
        self.first_reply.state == SlaState::NearBreach
            || self.resolution.state == SlaState::NearBreach
    }
}

/// Evaluates both SLA clocks of a complaint at `now`.
///
/// * Special complaints use `policy.special` when set.
/// * Time counts on `calendar` when `policy.business_hours`, otherwise 24×7.
/// * The first-reply clock stops at `first_reply_at`, or at `resolved_at`
///   when the complaint was resolved without a recorded reply (resolving
///   answers the customer).
/// * Pauses stop both clocks.
pub fn evaluate(
    policy: &SlaPolicy,
    calendar: &BusinessCalendar,
    complaint: &SlaInput,
    now: DateTime<Utc>,
) -> SlaReport {
    let always = BusinessCalendar::always_open();
    let cal = if policy.business_hours {
        calendar
    } else {
        &always
    };
    let clock = SlaClock::new(cal, complaint.opened_at, &complaint.pauses);
    let targets = policy.targets(complaint.special);
    let ratio = policy.near_breach_ratio;
    SlaReport {
        first_reply: clock.status(
            targets.first_reply,
            complaint.first_reply_at.or(complaint.resolved_at),
            now,
            ratio,
        ),
        resolution: clock.status(targets.resolution, complaint.resolved_at, now, ratio),
    }
}
