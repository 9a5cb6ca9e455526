//! Time-aware waits: a long wait the agent caused needs thanks afterwards,
//! whether or not the agent announced it (服务规范: 要求客户等待后, 感谢您的耐心等待).

use crate::inspect::{Hit, Outcome, Raw, Slot};
use crate::model::{Conversation, Role};
use crate::pack::RoleFilter;

/// Every gap of at least `min_ms` before a turn of `role` (the customer was
/// waiting for it) must be followed by a thanks phrase (`Slot::Phrase`) in
/// that turn or the next turn of the role. Gaps announced by a hold notice
/// (`Slot::Hold`) in the role's previous turn are left to the `hold` rule, so
/// one wait is never deducted twice. The finding sits on the turn after the
/// gap; its value is the gap in ms.
pub(crate) fn wait_thanks(
    conv: &Conversation<'_>,
    role: RoleFilter,
    min_ms: u64,
    hits: &[Hit],
    out: &mut Vec<Raw>,
) -> Outcome {
    let has = |t: usize, slot: Slot| hits.iter().any(|h| h.slot == slot && h.turn as usize == t);
    let mut timed = 0usize;
    let mut latest_end: Option<u64> = None;
    let mut last_own: Option<usize> = None;
    for (t, turn) in conv.turns.iter().enumerate() {
        let (Some(start), Some(end)) = (turn.start_ms, turn.end_ms) else {
            continue;
        };
        timed += 1;
        if let (Some(prev_end), true) = (latest_end, role.admits(turn.role)) {
            let gap = start.saturating_sub(prev_end);
            let announced = last_own.is_some_and(|a| has(a, Slot::Hold));
            if gap >= min_ms && !announced {
                let next_own = conv
                    .turns
                    .iter()
                    .enumerate()
                    .skip(t + 1)
                    .find(|(_, x)| role.admits(x.role))
                    .map(|(n, _)| n);
                let thanked =
                    has(t, Slot::Phrase) || next_own.is_some_and(|n| has(n, Slot::Phrase));
                if !thanked {
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
        if role.admits(turn.role) && turn.role != Role::System {
            last_own = Some(t);
        }
    }
    if timed < 2 {
        Outcome::NotApplicable
    } else {
        Outcome::Evaluated
    }
}

/// Whether a turn (normalised text, content characters) is only a listening
/// cue: at most `max_chars` characters made up of the listed backchannels
/// (嗯, 是, 好的, 明白), with sentence marks allowed between them.
pub(crate) fn is_backchannel(
    text: &str,
    content_chars: usize,
    backchannels: &[String],
    max_chars: usize,
) -> bool {
    if backchannels.is_empty() || content_chars == 0 || content_chars > max_chars {
        return false;
    }
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(c) = rest
            .chars()
            .next()
            .filter(|&c| crate::normalize::is_barrier(c))
        {
            rest = &rest[c.len_utf8()..];
            continue;
        }
        // Longest first: 明白了 before 明白.
        let longest = backchannels
            .iter()
            .map(|b| crate::normalize::normalize_phrase(b))
            .filter(|b| !b.is_empty() && rest.starts_with(b.as_str()))
            .map(|b| b.len())
            .max();
        match longest {
            Some(n) => rest = &rest[n..],
            None => return false,
        }
    }
    true
}
