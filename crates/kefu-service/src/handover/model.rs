//! The handover's parts: states, severities, item kinds, shifts, the
//! settings, and the pure shift-window arithmetic.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// China time, in which shift times are given and ids are dated.
pub const LOCAL_OFFSET_MS: i64 = 8 * 3600 * 1000;
const DAY_MS: i64 = 24 * 3600 * 1000;
const MINUTE_MS: i64 = 60 * 1000;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => ($s:literal, $zh:literal, $en:literal)),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vm])* $v),+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$v),+];

            /// The stored name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => $s),+ }
            }

            /// The Chinese label.
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$v => $zh),+ }
            }

            /// The English label.
            pub fn label_en(self) -> &'static str {
                match self { $($name::$v => $en),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<$name> {
                match s {
                    $($s => Ok($name::$v),)+
                    other => Err(Error::Invalid(format!(
                        "unknown {} `{other}`", stringify!($name)
                    ))),
                }
            }
        }
    };
}

text_enum! {
    /// Where a handover is.
    HandoverState {
        /// 草稿: being prepared by the outgoing user.
        Draft => ("draft", "草稿", "draft"),
        /// 待接班: waiting for the next shift.
        Submitted => ("submitted", "待接班", "submitted"),
        /// 已接班: every item acknowledged.
        Acknowledged => ("acknowledged", "已接班", "acknowledged"),
        /// 有异议: every item answered, some disputed.
        Disputed => ("disputed", "有异议", "disputed"),
    }
}

text_enum! {
    /// How much an item matters.
    Severity {
        /// 正常.
        Normal => ("normal", "正常", "normal"),
        /// 关注: watch it.
        Watch => ("watch", "关注", "watch"),
        /// 紧急: escalates when not acknowledged in time.
        Urgent => ("urgent", "紧急", "urgent"),
    }
}

text_enum! {
    /// Where an item is.
    ItemState {
        /// 待确认.
        Pending => ("pending", "待确认", "pending"),
        /// 已确认.
        Acknowledged => ("acknowledged", "已确认", "acknowledged"),
        /// 有异议.
        Disputed => ("disputed", "有异议", "disputed"),
    }
}

text_enum! {
    /// What an item is about.
    ItemKind {
        /// A complaint whose first-response deadline falls in the window.
        ComplaintReply => ("complaint_reply", "投诉首次答复到期", "complaint first response due"),
        /// A complaint whose resolution deadline falls in the window.
        ComplaintResolve => ("complaint_resolve", "投诉解决到期", "complaint resolution due"),
        /// A complaint revisit (回访) due.
        Revisit => ("revisit", "回访到期", "revisit due"),
        /// A customer follow-up due.
        FollowUp => ("follow_up", "客户跟进到期", "customer follow-up due"),
        /// A care reminder (birthday, festival …).
        Care => ("care", "客户关怀", "care reminder"),
        /// An open appeal (申诉).
        Appeal => ("appeal", "待处理申诉", "open appeal"),
        /// Information feedback due.
        Feedback => ("feedback", "信息反馈到期", "feedback due"),
        /// Anything else the outgoing user writes.
        Free => ("free", "其他事项", "other"),
    }
}

impl ItemKind {
    /// Whether acknowledging the item moves a complaint to the
    /// acknowledging user.
    pub fn is_complaint(self) -> bool {
        matches!(self, ItemKind::ComplaintReply | ItemKind::ComplaintResolve)
    }

    /// The dashboard page of the object an item links to.
    pub fn link(self, object_id: &str) -> Option<String> {
        let seg = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
                        c.to_string()
                    } else {
                        let mut b = [0u8; 4];
                        c.encode_utf8(&mut b)
                            .bytes()
                            .map(|x| format!("%{x:02X}"))
                            .collect()
                    }
                })
                .collect()
        };
        // A revisit's object is its complaint (the task has no page).
        match self {
            ItemKind::ComplaintReply | ItemKind::ComplaintResolve => {
                Some(format!("/complaints/{}", seg(object_id)))
            }
            ItemKind::Revisit => Some(format!("/complaints/{}", seg(object_id))),
            ItemKind::FollowUp | ItemKind::Care => Some(format!("/customers/{}", seg(object_id))),
            ItemKind::Appeal => Some(format!("/appeals/{}", seg(object_id))),
            ItemKind::Feedback => Some(format!("/feedback/{}", seg(object_id))),
            ItemKind::Free => None,
        }
    }
}

/// A shift of a team; times are `HH:MM` local (China time); a shift whose
/// end is not after its start ends the next day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// 早班, 中班, 晚班 …
    pub name: String,
    /// Start, `HH:MM`.
    pub start: String,
    /// End, `HH:MM`.
    pub end: String,
}

/// Parses `HH:MM` into minutes after midnight.
pub fn parse_hhmm(field: &str, s: &str) -> Result<i64> {
    let bad = || Error::Invalid(format!("`{field}` must be a time HH:MM, not `{s}`"));
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let h: i64 = h.parse().map_err(|_| bad())?;
    let m: i64 = m.parse().map_err(|_| bad())?;
    if !(0..24).contains(&h) || !(0..60).contains(&m) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// Minutes after midnight as `HH:MM`.
pub fn hhmm(min: i64) -> String {
    format!("{:02}:{:02}", min / 60, min % 60)
}

/// A validated shift, in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShiftTimes {
    /// Start, minutes after local midnight.
    pub start: i64,
    /// End, minutes after local midnight.
    pub end: i64,
}

impl ShiftTimes {
    /// How long the shift lasts, in minutes (a whole day when end = start).
    pub fn length_min(self) -> i64 {
        let d = (self.end - self.start).rem_euclid(1440);
        if d == 0 {
            1440
        } else {
            d
        }
    }
}

/// The window a handover covers: from the outgoing shift's end (the
/// occurrence running at `now`, else the one that ended last) to the end
/// of the next shift, which starts at that end or the first start after it.
pub fn handover_window(outgoing: ShiftTimes, next: ShiftTimes, now: i64) -> (i64, i64) {
    let local_day = (now + LOCAL_OFFSET_MS).div_euclid(DAY_MS);
    let mut ended_last = i64::MIN;
    let mut running = None;
    for d in [local_day - 1, local_day, local_day + 1] {
        let start = d * DAY_MS - LOCAL_OFFSET_MS + outgoing.start * MINUTE_MS;
        let end = start + outgoing.length_min() * MINUTE_MS;
        if start <= now && now < end {
            running = Some(end);
        } else if end <= now {
            ended_last = ended_last.max(end);
        }
    }
    let from = running.unwrap_or(ended_last);
    let from_min = (outgoing.end).rem_euclid(1440);
    let gap = (next.start - from_min).rem_euclid(1440);
    let to = from + (gap + next.length_min()) * MINUTE_MS;
    (from, to)
}

/// Which shift follows `current` among `shifts` (index): the one starting
/// at its end, else the first to start after it (cyclically).
pub fn next_shift(shifts: &[ShiftTimes], current: usize) -> Option<usize> {
    let cur = *shifts.get(current)?;
    (0..shifts.len())
        .filter(|&i| i != current)
        .min_by_key(|&i| (shifts[i].start - cur.end).rem_euclid(1440))
        .or(Some(current))
}

/// The handover settings (settings key `handover`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandoverSettings {
    /// Minutes after submission an urgent item may wait for
    /// acknowledgement before it escalates to the supervisor (default 30).
    pub escalate_after_minutes: i64,
}

impl Default for HandoverSettings {
    fn default() -> HandoverSettings {
        HandoverSettings {
            escalate_after_minutes: 30,
        }
    }
}

impl HandoverSettings {
    /// Checks the values.
    pub fn validate(&self) -> Result<()> {
        if !(1..=7 * 24 * 60).contains(&self.escalate_after_minutes) {
            return Err(Error::Invalid(
                "`escalate_after_minutes` must be 1 to 10080".into(),
            ));
        }
        Ok(())
    }
}

/// An item as the outgoing user writes it (pre-filled or free).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// What it is about (default: free).
    #[serde(default = "free_kind")]
    pub kind: ItemKind,
    /// The object it links to (required unless free).
    #[serde(default)]
    pub object_id: Option<String>,
    /// The complaint of a revisit, the conversation of an appeal.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// What it is.
    pub title: String,
    /// 正常 / 关注 / 紧急 (default normal).
    #[serde(default = "normal")]
    pub severity: Severity,
    /// What to do.
    #[serde(default)]
    pub action: String,
    /// Who does it.
    #[serde(default)]
    pub owner: Option<String>,
    /// By when; RFC 3339 in JSON.
    #[serde(default, with = "kefu_store::json_time::opt_unix_ms")]
    pub due_at: Option<i64>,
    /// 若…则…
    #[serde(default)]
    pub contingency: String,
}

fn free_kind() -> ItemKind {
    ItemKind::Free
}

fn normal() -> Severity {
    Severity::Normal
}

/// The longest text of an item field, in characters.
pub const MAX_ITEM_TEXT: usize = 2000;

/// Trims `value` and checks it is at most `max` characters (and not empty
/// when `required`).
pub(crate) fn checked(field: &str, value: &str, max: usize, required: bool) -> Result<String> {
    let v = value.trim();
    if required && v.is_empty() {
        return Err(Error::Invalid(format!("`{field}` is required")));
    }
    if v.chars().count() > max {
        return Err(Error::Invalid(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    Ok(v.to_string())
}
