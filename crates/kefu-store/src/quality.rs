//! Daily rollups behind KPIs, ratings and assessments.
//!
//! Reports over a month of a million conversations must not scan a million
//! rows, so results are summed per local day and agent into `kpi_daily`,
//! `rule_daily` and `dimension_daily`. Every write that changes results
//! (import, re-inspection, review, appeal decision) lists the days it
//! touched in `rollup_dirty` inside its own transaction; [`Store::refresh_rollups`]
//! rebuilds exactly those days. A day is rebuilt from the base tables, never
//! patched, so a rollup is always what a full recount would give.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sqlx::{Any, AssertSqlSafe, Row};

use crate::conversations::{placeholders, AnyQuery};
use crate::{Backend, Context, Store, StoreError};

/// Waits are kept per whole second up to this many seconds; longer waits
/// share the last bucket.
pub const WAIT_HIST_MAX_S: i64 = 600;

/// Post-contact satisfaction at or above this (0–10) counts as satisfied:
/// the standard's bands are 0–4 unsatisfied, 5–7 neutral, 8–10 satisfied.
pub const SATISFIED_MIN: i64 = 8;

/// Lists `days` in `rollup_dirty` inside `tx`.
pub(crate) async fn mark_days_dirty(
    tx: &mut sqlx::Transaction<'_, Any>,
    backend: Backend,
    days: impl Iterator<Item = i64>,
) -> Result<(), StoreError> {
    let days: Vec<i64> = days.collect();
    for chunk in days.chunks(500) {
        let sql = format!(
            "INSERT INTO rollup_dirty (day) VALUES {} ON CONFLICT (day) DO NOTHING",
            placeholders(backend, chunk.len(), 1)
        );
        let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
        for d in chunk {
            q = q.bind(*d);
        }
        q.execute(&mut **tx)
            .await
            .context("marking report days for refresh")?;
    }
    Ok(())
}

/// Marks `days` for refresh, for writers outside this crate (reviews and
/// appeals run in the service's own transactions).
pub async fn mark_days_dirty_in(
    tx: &mut sqlx::Transaction<'_, Any>,
    backend: Backend,
    days: &[i64],
) -> Result<(), StoreError> {
    mark_days_dirty(tx, backend, days.iter().copied()).await
}

/// One agent's sums for one day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KpiDay {
    /// Local day number.
    pub day: i64,
    /// Agent id ('' when the conversations had none).
    pub agent_id: String,
    /// Conversations offered (answered or not).
    pub offered: i64,
    /// Conversations answered (and inspected).
    pub answered: i64,
    /// Sum of scores of answered conversations.
    pub score_sum: f64,
    /// Answered conversations that passed.
    pub passed: i64,
    /// Answered conversations with a veto.
    pub vetoes: i64,
    /// Results reviewed by a person.
    pub reviewed: i64,
    /// Answered conversations with a known wait.
    pub wait_count: i64,
    /// Sum of those waits, ms.
    pub wait_sum: i64,
    /// Waits per second, rounded up (a wait of exactly 15 000 ms is in bucket
    /// 15, 15 001 ms in 16), capped at [`WAIT_HIST_MAX_S`].
    pub wait_hist: BTreeMap<i64, i64>,
    /// Conversations with a satisfaction score.
    pub sat_count: i64,
    /// Sum of the scores.
    pub sat_sum: i64,
    /// Scores at or above [`SATISFIED_MIN`].
    pub sat_satisfied: i64,
}

/// One agent's findings of one rule on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleDay {
    /// Local day number.
    pub day: i64,
    /// Agent id ('' when unknown).
    pub agent_id: String,
    /// Rule id.
    pub rule: String,
    /// Dimension name of the rule.
    pub dimension: String,
    /// Answered conversations with at least one such finding.
    pub conversations: i64,
    /// Findings.
    pub findings: i64,
    /// Points deducted.
    pub deduction: f64,
}

/// One agent's findings in one dimension on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct DimensionDay {
    /// Local day number.
    pub day: i64,
    /// Agent id ('' when unknown).
    pub agent_id: String,
    /// Dimension name.
    pub dimension: String,
    /// Answered conversations with at least one finding in it.
    pub conversations: i64,
    /// Points deducted.
    pub deduction: f64,
}

/// The rollups of a range of days.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollups {
    /// Per day and agent.
    pub kpi: Vec<KpiDay>,
    /// Per day, agent and rule.
    pub rules: Vec<RuleDay>,
    /// Per day, agent and dimension.
    pub dimensions: Vec<DimensionDay>,
}

fn encode_hist(h: &BTreeMap<i64, i64>) -> String {
    let mut s = String::with_capacity(h.len() * 6);
    for (sec, n) in h {
        if !s.is_empty() {
            s.push(' ');
        }
        let _ = write!(s, "{sec}:{n}");
    }
    s
}

fn decode_hist(s: &str) -> BTreeMap<i64, i64> {
    s.split_ascii_whitespace()
        .filter_map(|pair| {
            let (a, b) = pair.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect()
}

impl Store {
    /// Rebuilds the rollups of every day marked dirty; returns how many days
    /// were rebuilt. Each day is one transaction; a day claimed by another
    /// node at the same time is left to it.
    pub async fn refresh_rollups(&self) -> Result<u64, StoreError> {
        let days: Vec<i64> = sqlx::query("SELECT day FROM rollup_dirty ORDER BY day")
            .fetch_all(self.pool())
            .await
            .context("listing days to refresh")?
            .iter()
            .map(|r| r.try_get::<i64, _>("day"))
            .collect::<Result<_, _>>()
            .context("rollup_dirty.day")?;
        let mut done = 0;
        for day in days {
            if self.refresh_day(day).await? {
                done += 1;
            }
        }
        Ok(done)
    }

    /// Marks every day with results for refresh and rebuilds them all (after
    /// a change the dirty marks could not follow, or to measure).
    pub async fn rebuild_rollups(&self) -> Result<u64, StoreError> {
        sqlx::query(
            "INSERT INTO rollup_dirty (day) SELECT DISTINCT local_day FROM inspections \
             WHERE local_day IS NOT NULL ON CONFLICT (day) DO NOTHING",
        )
        .execute(self.pool())
        .await
        .context("marking every day for refresh")?;
        self.refresh_rollups().await
    }

    /// Marks one day for refresh.
    pub async fn mark_day_stale(&self, day: i64) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO rollup_dirty (day) VALUES ($1) ON CONFLICT (day) DO NOTHING")
            .bind(day)
            .execute(self.pool())
            .await
            .context("marking a day for refresh")?;
        Ok(())
    }

    /// Whether any day is waiting for a refresh.
    pub async fn rollups_stale(&self) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM rollup_dirty")
            .fetch_one(self.pool())
            .await
            .context("counting days to refresh")?;
        Ok(row.try_get::<i64, _>("n").context("count")? > 0)
    }

    async fn refresh_day(&self, day: i64) -> Result<bool, StoreError> {
        let mut tx = self
            .pool()
            .begin()
            .await
            .context("starting a rollup refresh")?;
        // Claim the day: on PostgreSQL a second node blocks here until the
        // first commits, then finds nothing to claim.
        let claimed = sqlx::query("DELETE FROM rollup_dirty WHERE day = $1 RETURNING day")
            .bind(day)
            .fetch_optional(&mut *tx)
            .await
            .context("claiming a day to refresh")?;
        if claimed.is_none() {
            return Ok(false);
        }
        for table in ["kpi_daily", "rule_daily", "dimension_daily"] {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE day = $1")))
                .bind(day)
                .execute(&mut *tx)
                .await
                .context("clearing a day's rollups")?;
        }
        sqlx::query(
            "INSERT INTO kpi_daily (day, agent_id, offered, answered, score_sum, passed, vetoes, reviewed, \
             wait_count, wait_sum, wait_hist, sat_count, sat_sum, sat_satisfied) \
             SELECT local_day, COALESCE(agent_id, ''), COUNT(*), SUM(answered), \
             COALESCE(SUM(CASE WHEN answered = 1 THEN score ELSE 0 END), 0), \
             SUM(CASE WHEN answered = 1 AND passed = 1 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN answered = 1 AND veto = 1 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN reviewed_at IS NOT NULL THEN 1 ELSE 0 END), \
             SUM(CASE WHEN answered = 1 AND wait_ms IS NOT NULL THEN 1 ELSE 0 END), \
             COALESCE(SUM(CASE WHEN answered = 1 THEN wait_ms ELSE 0 END), 0), '', \
             COUNT(satisfaction), COALESCE(SUM(satisfaction), 0), \
             SUM(CASE WHEN satisfaction >= $2 THEN 1 ELSE 0 END) \
             FROM inspections WHERE is_current = 1 AND local_day = $1 \
             GROUP BY local_day, COALESCE(agent_id, '')",
        )
        .bind(day)
        .bind(SATISFIED_MIN)
        .execute(&mut *tx)
        .await
        .context("summing a day's results")?;
        let hist_rows = sqlx::query(
            "SELECT COALESCE(agent_id, '') AS agent, \
             CASE WHEN (wait_ms + 999) / 1000 > $2 THEN $2 ELSE (wait_ms + 999) / 1000 END AS sec, COUNT(*) AS n \
             FROM inspections WHERE is_current = 1 AND local_day = $1 AND answered = 1 \
             AND wait_ms IS NOT NULL GROUP BY 1, 2",
        )
        .bind(day)
        .bind(WAIT_HIST_MAX_S)
        .fetch_all(&mut *tx)
        .await
        .context("reading a day's waits")?;
        let mut hists: BTreeMap<String, BTreeMap<i64, i64>> = BTreeMap::new();
        for r in &hist_rows {
            let agent: String = r.try_get("agent").context("agent")?;
            let sec: i64 = r.try_get("sec").context("sec")?;
            let n: i64 = r.try_get("n").context("n")?;
            *hists.entry(agent).or_default().entry(sec).or_insert(0) += n;
        }
        for (agent, h) in &hists {
            sqlx::query("UPDATE kpi_daily SET wait_hist = $1 WHERE day = $2 AND agent_id = $3")
                .bind(encode_hist(h))
                .bind(day)
                .bind(agent.as_str())
                .execute(&mut *tx)
                .await
                .context("storing a day's waits")?;
        }
        sqlx::query(
            "INSERT INTO rule_daily (day, agent_id, rule, dimension, conversations, findings, deduction) \
             SELECT i.local_day, COALESCE(i.agent_id, ''), f.rule, MAX(f.dimension), \
             COUNT(DISTINCT f.inspection_id), COUNT(*), SUM(f.deduction) \
             FROM inspections i JOIN findings f ON f.inspection_id = i.id \
             WHERE i.is_current = 1 AND i.local_day = $1 AND i.answered = 1 \
             GROUP BY i.local_day, COALESCE(i.agent_id, ''), f.rule",
        )
        .bind(day)
        .execute(&mut *tx)
        .await
        .context("summing a day's findings by rule")?;
        sqlx::query(
            "INSERT INTO dimension_daily (day, agent_id, dimension, conversations, deduction) \
             SELECT i.local_day, COALESCE(i.agent_id, ''), f.dimension, \
             COUNT(DISTINCT f.inspection_id), SUM(f.deduction) \
             FROM inspections i JOIN findings f ON f.inspection_id = i.id \
             WHERE i.is_current = 1 AND i.local_day = $1 AND i.answered = 1 \
             GROUP BY i.local_day, COALESCE(i.agent_id, ''), f.dimension",
        )
        .bind(day)
        .execute(&mut *tx)
        .await
        .context("summing a day's findings by dimension")?;
        tx.commit().await.context("committing a rollup refresh")?;
        Ok(true)
    }

    /// The rollups of days `from..to` (local day numbers, `to` excluded),
    /// refreshing stale days first.
    pub async fn rollups(&self, from: i64, to: i64) -> Result<Rollups, StoreError> {
        self.refresh_rollups().await?;
        let kpi = sqlx::query(
            "SELECT day, agent_id, offered, answered, score_sum, passed, vetoes, reviewed, wait_count, \
             wait_sum, wait_hist, sat_count, sat_sum, sat_satisfied FROM kpi_daily \
             WHERE day >= $1 AND day < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await
        .context("reading KPI rollups")?
        .iter()
        .map(|r| -> Result<KpiDay, sqlx::Error> {
            Ok(KpiDay {
                day: r.try_get("day")?,
                agent_id: r.try_get("agent_id")?,
                offered: r.try_get("offered")?,
                answered: r.try_get("answered")?,
                score_sum: r.try_get("score_sum")?,
                passed: r.try_get("passed")?,
                vetoes: r.try_get("vetoes")?,
                reviewed: r.try_get("reviewed")?,
                wait_count: r.try_get("wait_count")?,
                wait_sum: r.try_get("wait_sum")?,
                wait_hist: decode_hist(&r.try_get::<String, _>("wait_hist")?),
                sat_count: r.try_get("sat_count")?,
                sat_sum: r.try_get("sat_sum")?,
                sat_satisfied: r.try_get("sat_satisfied")?,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .context("kpi_daily")?;
        let rules = sqlx::query(
            "SELECT day, agent_id, rule, dimension, conversations, findings, deduction FROM rule_daily \
             WHERE day >= $1 AND day < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await
        .context("reading rule rollups")?
        .iter()
        .map(|r| -> Result<RuleDay, sqlx::Error> {
            Ok(RuleDay {
                day: r.try_get("day")?,
                agent_id: r.try_get("agent_id")?,
                rule: r.try_get("rule")?,
                dimension: r.try_get("dimension")?,
                conversations: r.try_get("conversations")?,
                findings: r.try_get("findings")?,
                deduction: r.try_get("deduction")?,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .context("rule_daily")?;
        let dimensions = sqlx::query(
            "SELECT day, agent_id, dimension, conversations, deduction FROM dimension_daily \
             WHERE day >= $1 AND day < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await
        .context("reading dimension rollups")?
        .iter()
        .map(|r| -> Result<DimensionDay, sqlx::Error> {
            Ok(DimensionDay {
                day: r.try_get("day")?,
                agent_id: r.try_get("agent_id")?,
                dimension: r.try_get("dimension")?,
                conversations: r.try_get("conversations")?,
                deduction: r.try_get("deduction")?,
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .context("dimension_daily")?;
        Ok(Rollups {
            kpi,
            rules,
            dimensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_histograms_round_trip() {
        let h = BTreeMap::from([(0, 3), (15, 2), (600, 1)]);
        assert_eq!(decode_hist(&encode_hist(&h)), h);
        assert!(decode_hist("").is_empty());
        assert_eq!(decode_hist("x:1 2:y 3:4"), BTreeMap::from([(3, 4)]));
    }
}
