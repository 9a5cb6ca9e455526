//! Daily rollups behind KPIs, ratings and assessments.
//!
//! Reports over a month of a million conversations must not scan a million
//! rows, so results are summed per local day and agent into `kpi_daily`,
//! `wait_daily`, `rule_daily` and `dimension_daily`.
//!
//! * Imports add their new conversations to the rollups in the import's own
//!   transaction (sums computed in memory, one upsert per day and agent), so
//!   a report right after an import reads current figures at no extra cost.
//! * Writes that change existing results change the rollups in their own
//!   transaction too: a review or an appeal decision swaps the result's
//!   contribution (`replace_contribution`); a re-inspection takes back
//!   what each retired result counted (read off its row and findings) and
//!   adds the new result, one set of upserts per slice, and deletes the
//!   rows that fall to zero. So a report during a running re-inspection
//!   reads current rollups as well.
//! * Days listed in `rollup_dirty` (by [`Tx::mark_days_stale`], or by a
//!   re-inspection of an earlier version that was interrupted) are rebuilt
//!   from the base tables by [`Store::refresh_rollups`] before the next
//!   report. A rebuilt day is what a full recount gives, and what the
//!   in-place changes keep.

use std::collections::BTreeMap;

use sqlx::{AssertSqlSafe, Row};

use crate::dialect::{placeholders, AnyQuery};
use crate::{Context, Store, StoreError, Tx};

/// Waits are kept per whole second up to this many seconds; longer waits
/// share the last bucket.
pub const WAIT_HIST_MAX_S: i64 = 600;

/// Post-contact satisfaction at or above this (0–10) counts as satisfied:
/// the standard's bands are 0–4 unsatisfied, 5–7 neutral, 8–10 satisfied.
pub const SATISFIED_MIN: i64 = 8;

/// Lists `days` in `rollup_dirty` inside `tx`.
pub(crate) async fn mark_days_dirty(
    tx: &mut Tx,
    days: impl Iterator<Item = i64>,
) -> Result<(), StoreError> {
    let days: Vec<i64> = days.collect();
    for chunk in crate::dialect::row_chunks(&days, 500) {
        let sql = format!(
            "INSERT INTO rollup_dirty (day) VALUES {} ON CONFLICT (day) DO NOTHING",
            placeholders(tx.backend(), chunk.len(), 1)
        );
        let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
        for d in chunk {
            q = q.bind(*d);
        }
        q.execute(tx.conn())
            .await
            .context("marking report days for refresh")?;
    }
    Ok(())
}

impl Tx {
    /// Marks `days` for refresh: their rollups are rebuilt from the base
    /// tables before the next report.
    pub async fn mark_days_stale(&mut self, days: &[i64]) -> Result<(), StoreError> {
        mark_days_dirty(self, days.iter().copied()).await
    }
}

/// One agent's sums (for one day, or a whole range when read back with
/// [`Store::rollups`]).
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

/// One agent's findings of one rule (per day, or summed over a range).
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

/// One agent's findings in one dimension (per day, or summed over a range).
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

/// The rollups of a range of days, summed per agent (`day` is the range's
/// first day).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rollups {
    /// Per day and agent.
    pub kpi: Vec<KpiDay>,
    /// Per day, agent and rule.
    pub rules: Vec<RuleDay>,
    /// Per day, agent and dimension.
    pub dimensions: Vec<DimensionDay>,
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
        let mut tx = self.write().await?;
        // Claim the day: on PostgreSQL a second node blocks here until the
        // first commits, then finds nothing to claim.
        let claimed = sqlx::query("DELETE FROM rollup_dirty WHERE day = $1 RETURNING day")
            .bind(day)
            .fetch_optional(tx.conn())
            .await
            .context("claiming a day to refresh")?;
        if claimed.is_none() {
            return Ok(false);
        }
        for table in [
            "kpi_daily",
            "wait_daily",
            "score_daily",
            "rule_daily",
            "dimension_daily",
        ] {
            sqlx::query(AssertSqlSafe(format!("DELETE FROM {table} WHERE day = $1")))
                .bind(day)
                .execute(tx.conn())
                .await
                .context("clearing a day's rollups")?;
        }
        sqlx::query(
            "INSERT INTO kpi_daily (day, agent_id, offered, answered, score_sum, passed, vetoes, reviewed, \
             wait_count, wait_sum, sat_count, sat_sum, sat_satisfied) \
             SELECT local_day, COALESCE(agent_id, ''), COUNT(*), SUM(answered), \
             COALESCE(SUM(CASE WHEN answered = 1 THEN score ELSE 0 END), 0), \
             SUM(CASE WHEN answered = 1 AND passed = 1 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN answered = 1 AND veto = 1 THEN 1 ELSE 0 END), \
             SUM(CASE WHEN reviewed_at IS NOT NULL THEN 1 ELSE 0 END), \
             SUM(CASE WHEN answered = 1 AND wait_ms IS NOT NULL THEN 1 ELSE 0 END), \
             COALESCE(SUM(CASE WHEN answered = 1 THEN wait_ms ELSE 0 END), 0), \
             COUNT(satisfaction), COALESCE(SUM(satisfaction), 0), \
             SUM(CASE WHEN satisfaction >= $2 THEN 1 ELSE 0 END) \
             FROM inspections WHERE is_current = 1 AND local_day = $1 \
             GROUP BY local_day, COALESCE(agent_id, '')",
        )
        .bind(day)
        .bind(SATISFIED_MIN)
        .execute(tx.conn())
        .await
        .context("summing a day's results")?;
        sqlx::query(
            "INSERT INTO wait_daily (day, agent_id, sec, n) \
             SELECT local_day, COALESCE(agent_id, ''), \
             CASE WHEN (wait_ms + 999) / 1000 > $2 THEN $2 ELSE (wait_ms + 999) / 1000 END, COUNT(*) \
             FROM inspections WHERE is_current = 1 AND local_day = $1 AND answered = 1 \
             AND wait_ms IS NOT NULL GROUP BY 1, 2, 3",
        )
        .bind(day)
        .bind(WAIT_HIST_MAX_S)
        .execute(tx.conn())
        .await
        .context("summing a day's waits")?;
        sqlx::query(
            "INSERT INTO score_daily (day, agent_id, bucket, n) \
             SELECT local_day, COALESCE(agent_id, ''), \
             CASE WHEN score >= 100 THEN 100 WHEN score < 0 THEN 0 ELSE CAST(score / 5 AS INTEGER) * 5 END, COUNT(*) \
             FROM inspections WHERE is_current = 1 AND local_day = $1 AND answered = 1 GROUP BY 1, 2, 3",
        )
        .bind(day)
        .execute(tx.conn())
        .await
        .context("summing a day's scores")?;
        sqlx::query(
            "INSERT INTO rule_daily (day, agent_id, rule, dimension, conversations, findings, deduction) \
             SELECT i.local_day, COALESCE(i.agent_id, ''), f.rule, MAX(f.dimension), \
             COUNT(DISTINCT f.inspection_id), COUNT(*), SUM(f.deduction) \
             FROM inspections i JOIN findings f ON f.inspection_id = i.id \
             WHERE i.is_current = 1 AND i.local_day = $1 AND i.answered = 1 \
             GROUP BY i.local_day, COALESCE(i.agent_id, ''), f.rule",
        )
        .bind(day)
        .execute(tx.conn())
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
        .execute(tx.conn())
        .await
        .context("summing a day's findings by dimension")?;
        tx.commit().await?;
        Ok(true)
    }

    /// The rollups of days `from..to` (local day numbers, `to` excluded)
    /// summed per agent, refreshing stale days first.
    pub async fn rollups(&self, from: i64, to: i64) -> Result<Rollups, StoreError> {
        self.refresh_rollups().await?;
        let parts = RollupParts::of(from, to);
        let kpi_sql = parts.sql(
            "kpi",
            "agent_id, offered, answered, score_sum, passed, vetoes, reviewed, wait_count, wait_sum, \
             sat_count, sat_sum, sat_satisfied",
            "agent_id, CAST(SUM(offered) AS BIGINT) AS offered, CAST(SUM(answered) AS BIGINT) AS answered, \
             SUM(score_sum) AS score_sum, CAST(SUM(passed) AS BIGINT) AS passed, \
             CAST(SUM(vetoes) AS BIGINT) AS vetoes, CAST(SUM(reviewed) AS BIGINT) AS reviewed, \
             CAST(SUM(wait_count) AS BIGINT) AS wait_count, CAST(SUM(wait_sum) AS BIGINT) AS wait_sum, \
             CAST(SUM(sat_count) AS BIGINT) AS sat_count, CAST(SUM(sat_sum) AS BIGINT) AS sat_sum, \
             CAST(SUM(sat_satisfied) AS BIGINT) AS sat_satisfied",
            "GROUP BY agent_id HAVING SUM(offered) > 0 ORDER BY agent_id",
        );
        // The histogram is the largest read (some 40 seconds an agent, ~21k
        // rows at 500 agents): one row an agent with its `sec:n` pairs as
        // text, because carrying each row through the driver cost more than
        // the query. Pairs of the same second from different parts (a
        // month and some days) are summed when parsed.
        let wait_sql = parts.sql(
            "wait",
            "agent_id, sec, n",
            &format!(
                "agent_id, {} AS hist",
                crate::dialect::join_texts(
                    self.backend(),
                    "CAST(sec AS TEXT) || ':' || CAST(n AS TEXT)"
                )
            ),
            "WHERE n > 0 GROUP BY agent_id",
        );
        let rule_sql = parts.sql(
            "rule",
            "agent_id, rule, dimension, conversations, findings, deduction",
            "agent_id, rule, MAX(dimension) AS dimension, CAST(SUM(conversations) AS BIGINT) AS conversations, \
             CAST(SUM(findings) AS BIGINT) AS findings, SUM(deduction) AS deduction",
            "GROUP BY agent_id, rule HAVING SUM(conversations) > 0",
        );
        let dim_sql = parts.sql(
            "dimension",
            "agent_id, dimension, conversations, deduction",
            "agent_id, dimension, CAST(SUM(conversations) AS BIGINT) AS conversations, \
             SUM(deduction) AS deduction",
            "GROUP BY agent_id, dimension HAVING SUM(conversations) > 0",
        );
        // The four reads are independent: run them side by side (SQLite
        // readers share the WAL; each takes its own pooled connection).
        let (kpi_rows, wait_rows, rule_rows, dim_rows) = tokio::try_join!(
            parts
                .bind(sqlx::query(AssertSqlSafe(kpi_sql)))
                .fetch_all(self.pool()),
            parts
                .bind(sqlx::query(AssertSqlSafe(wait_sql)))
                .fetch_all(self.pool()),
            parts
                .bind(sqlx::query(AssertSqlSafe(rule_sql)))
                .fetch_all(self.pool()),
            parts
                .bind(sqlx::query(AssertSqlSafe(dim_sql)))
                .fetch_all(self.pool()),
        )
        .context("reading report rollups")?;
        let mut kpi: Vec<KpiDay> = kpi_rows
            .iter()
            .map(|r| -> Result<KpiDay, sqlx::Error> {
                Ok(KpiDay {
                    day: from,
                    agent_id: r.try_get("agent_id")?,
                    offered: r.try_get("offered")?,
                    answered: r.try_get("answered")?,
                    score_sum: r.try_get("score_sum")?,
                    passed: r.try_get("passed")?,
                    vetoes: r.try_get("vetoes")?,
                    reviewed: r.try_get("reviewed")?,
                    wait_count: r.try_get("wait_count")?,
                    wait_sum: r.try_get("wait_sum")?,
                    wait_hist: BTreeMap::new(),
                    sat_count: r.try_get("sat_count")?,
                    sat_sum: r.try_get("sat_sum")?,
                    sat_satisfied: r.try_get("sat_satisfied")?,
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .context("kpi_daily")?;
        let index: std::collections::HashMap<String, usize> = kpi
            .iter()
            .enumerate()
            .map(|(i, k)| (k.agent_id.clone(), i))
            .collect();
        for r in &wait_rows {
            let agent: &str = r.try_get("agent_id").context("wait_daily.agent_id")?;
            let hist: &str = r.try_get("hist").context("wait_daily histogram")?;
            if let Some(&i) = index.get(agent) {
                add_wait_pairs(&mut kpi[i].wait_hist, hist)?;
            }
        }
        let rules = rule_rows
            .iter()
            .map(|r| -> Result<RuleDay, sqlx::Error> {
                Ok(RuleDay {
                    day: from,
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
        let dimensions = dim_rows
            .iter()
            .map(|r| -> Result<DimensionDay, sqlx::Error> {
                Ok(DimensionDay {
                    day: from,
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

/// Days `from..to` split for reading rollups: whole calendar months from
/// the `*_monthly` tables (kept by triggers, migration 0016), the days
/// before the first and after the last whole month from the `*_daily`
/// tables. A month is named by its first day's number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RollupParts {
    /// Days before the first whole month: `head.0..head.1`.
    head: (i64, i64),
    /// Whole months: first days `months.0..months.1`.
    months: (i64, i64),
    /// Days after the last whole month.
    tail: (i64, i64),
}

/// The number of the first day of the month of local day `day`.
fn month_start(day: i64) -> Option<i64> {
    let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?
        .checked_add_signed(chrono::Duration::days(day))?;
    let first = chrono::NaiveDate::from_ymd_opt(
        chrono::Datelike::year(&date),
        chrono::Datelike::month(&date),
        1,
    )?;
    Some(day - (date - first).num_days())
}

/// The number of the first day of the month after the month starting on
/// day `first`.
fn next_month(first: i64) -> Option<i64> {
    let date = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?
        .checked_add_signed(chrono::Duration::days(first))?;
    let next = date.checked_add_months(chrono::Months::new(1))?;
    Some(first + (next - date).num_days())
}

impl RollupParts {
    fn of(from: i64, to: i64) -> RollupParts {
        let all_days = RollupParts {
            head: (from, to),
            months: (0, 0),
            tail: (0, 0),
        };
        // The first month that starts on or after `from`.
        let Some(first) =
            month_start(from).and_then(|m| if m == from { Some(m) } else { next_month(m) })
        else {
            return all_days;
        };
        let mut end = first;
        while let Some(next) = next_month(end).filter(|n| *n <= to) {
            end = next;
        }
        if end == first {
            return all_days;
        }
        RollupParts {
            head: (from, first),
            months: (first, end),
            tail: (end, to),
        }
    }

    /// `SELECT {select} FROM (head days ∪ months ∪ tail days) {group}` over
    /// `{table}_daily` and `{table}_monthly`, which share `columns`.
    fn sql(&self, table: &str, columns: &str, select: &str, group: &str) -> String {
        format!(
            "SELECT {select} FROM (\
             SELECT {columns} FROM {table}_daily WHERE day >= $1 AND day < $2 \
             UNION ALL SELECT {columns} FROM {table}_monthly WHERE month >= $3 AND month < $4 \
             UNION ALL SELECT {columns} FROM {table}_daily WHERE day >= $5 AND day < $6\
             ) AS r {group}"
        )
    }

    fn bind<'q>(&self, q: crate::dialect::AnyQuery<'q>) -> crate::dialect::AnyQuery<'q> {
        q.bind(self.head.0)
            .bind(self.head.1)
            .bind(self.months.0)
            .bind(self.months.1)
            .bind(self.tail.0)
            .bind(self.tail.1)
    }
}

/// Adds `sec:n,sec:n,…` (the report's aggregated wait histogram) to `hist`.
fn add_wait_pairs(hist: &mut BTreeMap<i64, i64>, text: &str) -> Result<(), StoreError> {
    for pair in text.split(',').filter(|p| !p.is_empty()) {
        let parsed = pair.split_once(':').and_then(|(sec, n)| {
            Some((
                sec.trim().parse::<i64>().ok()?,
                n.trim().parse::<i64>().ok()?,
            ))
        });
        let Some((sec, n)) = parsed else {
            return Err(StoreError::Corrupt {
                what: "wait histogram".into(),
                reason: format!("{pair:?} is not seconds:count"),
            });
        };
        *hist.entry(sec).or_insert(0) += n;
    }
    Ok(())
}

#[cfg(test)]
mod parts_tests {
    use super::*;

    #[test]
    fn wait_pairs_sum_by_second_and_refuse_garbage() {
        let mut hist = BTreeMap::new();
        add_wait_pairs(&mut hist, "10:3,5:1,10:2").expect("pairs");
        add_wait_pairs(&mut hist, "").expect("empty");
        assert_eq!(hist, BTreeMap::from([(5, 1), (10, 5)]));
        assert!(add_wait_pairs(&mut hist, "10:3,x").is_err());
        assert!(add_wait_pairs(&mut hist, "10:3:4").is_err());
    }

    /// Local day number of a date.
    fn day(y: i32, m: u32, d: u32) -> i64 {
        let date = chrono::NaiveDate::from_ymd_opt(y, m, d).expect("date");
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        (date - epoch).num_days()
    }

    #[test]
    fn periods_split_into_whole_months_and_days() {
        // A month: one whole month, no days.
        let oct = RollupParts::of(day(2026, 10, 1), day(2026, 11, 1));
        assert_eq!(oct.months, (day(2026, 10, 1), day(2026, 11, 1)));
        assert_eq!(oct.head.0, oct.head.1);
        assert_eq!(oct.tail.0, oct.tail.1);
        // A quarter starting mid-month: days, two months, days.
        let q = RollupParts::of(day(2026, 1, 15), day(2026, 4, 10));
        assert_eq!(q.head, (day(2026, 1, 15), day(2026, 2, 1)));
        assert_eq!(q.months, (day(2026, 2, 1), day(2026, 4, 1)));
        assert_eq!(q.tail, (day(2026, 4, 1), day(2026, 4, 10)));
        // A week: days only.
        let w = RollupParts::of(day(2026, 3, 9), day(2026, 3, 16));
        assert_eq!(w.head, (day(2026, 3, 9), day(2026, 3, 16)));
        assert_eq!(w.months.0, w.months.1);
        // A year, and February of a leap year.
        let y = RollupParts::of(day(2028, 1, 1), day(2029, 1, 1));
        assert_eq!(y.months, (day(2028, 1, 1), day(2029, 1, 1)));
        assert_eq!(month_start(day(2028, 2, 29)), Some(day(2028, 2, 1)));
        assert_eq!(next_month(day(2028, 2, 1)), Some(day(2028, 3, 1)));
        assert_eq!(month_start(day(1969, 12, 31)), Some(day(1969, 12, 1)));
    }
}

/// One day's totals, for trend charts.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct DayTotals {
    /// Local day number.
    pub day: i64,
    /// Conversations offered.
    pub offered: i64,
    /// Conversations answered.
    pub answered: i64,
    /// Sum of scores of answered conversations.
    pub score_sum: f64,
    /// Answered conversations that passed.
    pub passed: i64,
    /// Vetoes.
    pub vetoes: i64,
    /// Answered conversations with a known wait.
    pub wait_count: i64,
    /// Of those, answered within `within_s` seconds.
    pub timely: i64,
    /// Conversations with a satisfaction score.
    pub sat_count: i64,
    /// Of those, satisfied.
    pub sat_satisfied: i64,
}

impl Store {
    /// Per-day totals of days `from..to` (one agent, or everyone), for
    /// trends; `within_s` is the answer limit counted as timely.
    pub async fn daily_totals(
        &self,
        from: i64,
        to: i64,
        agent_id: Option<&str>,
        within_s: i64,
    ) -> Result<Vec<DayTotals>, StoreError> {
        self.refresh_rollups().await?;
        let rows = sqlx::query(
            "SELECT day, CAST(SUM(offered) AS BIGINT) AS offered, CAST(SUM(answered) AS BIGINT) AS answered, \
             SUM(score_sum) AS score_sum, CAST(SUM(passed) AS BIGINT) AS passed, \
             CAST(SUM(vetoes) AS BIGINT) AS vetoes, CAST(SUM(wait_count) AS BIGINT) AS wait_count, \
             CAST(SUM(sat_count) AS BIGINT) AS sat_count, CAST(SUM(sat_satisfied) AS BIGINT) AS sat_satisfied \
             FROM kpi_daily WHERE day >= $1 AND day < $2 AND ($3 IS NULL OR agent_id = $3) \
             GROUP BY day ORDER BY day",
        )
        .bind(from)
        .bind(to)
        .bind(agent_id)
        .fetch_all(self.pool())
        .await
        .context("reading daily totals")?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(DayTotals {
                day: r.try_get("day").context("day")?,
                offered: r.try_get("offered").context("offered")?,
                answered: r.try_get("answered").context("answered")?,
                score_sum: r.try_get("score_sum").context("score_sum")?,
                passed: r.try_get("passed").context("passed")?,
                vetoes: r.try_get("vetoes").context("vetoes")?,
                wait_count: r.try_get("wait_count").context("wait_count")?,
                timely: 0,
                sat_count: r.try_get("sat_count").context("sat_count")?,
                sat_satisfied: r.try_get("sat_satisfied").context("sat_satisfied")?,
            });
        }
        let timely = sqlx::query(
            "SELECT day, CAST(SUM(n) AS BIGINT) AS n FROM wait_daily WHERE day >= $1 AND day < $2 \
             AND ($3 IS NULL OR agent_id = $3) AND sec <= $4 GROUP BY day",
        )
        .bind(from)
        .bind(to)
        .bind(agent_id)
        .bind(within_s)
        .fetch_all(self.pool())
        .await
        .context("reading daily waits")?;
        for r in &timely {
            let day: i64 = r.try_get("day").context("day")?;
            let n: i64 = r.try_get("n").context("n")?;
            if let Some(t) = out.iter_mut().find(|t| t.day == day) {
                t.timely = n;
            }
        }
        Ok(out)
    }

    /// How many answered conversations of days `from..to` scored in each
    /// 5-point bucket (0, 5, …, 100), for one agent or everyone.
    pub async fn score_histogram(
        &self,
        from: i64,
        to: i64,
        agent_id: Option<&str>,
    ) -> Result<BTreeMap<i64, i64>, StoreError> {
        self.refresh_rollups().await?;
        let rows = sqlx::query(
            // Summed per day and band first (in index order), then per band.
            "SELECT bucket, CAST(SUM(n) AS BIGINT) AS n FROM (SELECT day, bucket, SUM(n) AS n FROM score_daily \
             WHERE day >= $1 AND day < $2 AND ($3 IS NULL OR agent_id = $3) GROUP BY day, bucket) AS d \
             GROUP BY bucket HAVING SUM(n) > 0",
        )
        .bind(from)
        .bind(to)
        .bind(agent_id)
        .fetch_all(self.pool())
        .await
        .context("reading the score histogram")?;
        let mut out = BTreeMap::new();
        for r in &rows {
            out.insert(
                r.try_get::<i64, _>("bucket").context("bucket")?,
                r.try_get::<i64, _>("n").context("n")?,
            );
        }
        Ok(out)
    }
}

/// The conversations of a range of days that broke one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleTotal {
    /// Rule id.
    pub rule: String,
    /// Its dimension.
    pub dimension: String,
    /// Answered conversations with a finding of it.
    pub conversations: i64,
}

impl Store {
    /// Per rule, the conversations of days `from..to` (of one agent, or
    /// everyone) that broke it. Reads the rollups as they are: call
    /// [`Store::daily_totals`] or [`Store::refresh_rollups`] first.
    pub async fn rule_totals(
        &self,
        from: i64,
        to: i64,
        agent_id: Option<&str>,
    ) -> Result<Vec<RuleTotal>, StoreError> {
        let rows = sqlx::query(
            // Summed per day and rule first (in the order of the day-rule
            // index), then per rule.
            "SELECT rule, MAX(dimension) AS dimension, CAST(SUM(conversations) AS BIGINT) AS conversations \
             FROM (SELECT day, rule, MAX(dimension) AS dimension, SUM(conversations) AS conversations \
             FROM rule_daily WHERE day >= $1 AND day < $2 AND ($3 IS NULL OR agent_id = $3) GROUP BY day, rule) AS d \
             GROUP BY rule",
        )
        .bind(from)
        .bind(to)
        .bind(agent_id)
        .fetch_all(&self.pool)
        .await
        .context("reading rule rollups")?;
        rows.iter()
            .map(|r| {
                Ok(RuleTotal {
                    rule: r.try_get("rule")?,
                    dimension: r.try_get("dimension")?,
                    conversations: r.try_get("conversations")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .context("rule_daily")
    }
}

/// Sums of one import batch per day and agent, added to the rollups in the
/// batch's transaction.
#[derive(Debug, Default)]
pub(crate) struct BatchSums {
    kpi: BTreeMap<(i64, String), KpiDay>,
    /// (day, agent, rule) → (dimension, conversations, findings, deduction)
    rules: BTreeMap<DayAgentKey, (String, i64, i64, f64)>,
    /// (day, agent, dimension) → (conversations, deduction)
    dimensions: BTreeMap<DayAgentKey, (i64, f64)>,
    /// (day, agent, score bucket) → conversations
    scores: BTreeMap<(i64, String, i64), i64>,
    /// Some result was taken back: rows may have fallen to zero.
    removed: bool,
}

/// One result as the rollups count it, besides its findings.
struct Counted<'a> {
    agent_id: &'a str,
    score: f64,
    passed: bool,
    veto: bool,
    facts: crate::ConversationFacts,
}

/// A current result a re-inspection retired, as its row and findings
/// stored it: what it contributed to the rollups.
#[derive(Debug, Clone)]
pub(crate) struct RetiredResult {
    /// Agent id ('' when unknown).
    pub(crate) agent_id: String,
    /// Score.
    pub(crate) score: f64,
    /// Passed.
    pub(crate) passed: bool,
    /// Veto.
    pub(crate) veto: bool,
    /// The facts copied onto the row.
    pub(crate) facts: crate::ConversationFacts,
    /// Findings: (rule, dimension, points).
    pub(crate) findings: Vec<(String, String, f64)>,
}

impl RetiredResult {
    fn counted(&self) -> Counted<'_> {
        Counted {
            agent_id: &self.agent_id,
            score: self.score,
            passed: self.passed,
            veto: self.veto,
            facts: self.facts,
        }
    }
}

/// (day, agent, rule or dimension).
type DayAgentKey = (i64, String, String);

/// The 5-point bucket of a score (0, 5, …, 100).
pub fn score_bucket(score: f64) -> i64 {
    ((score.clamp(0.0, 100.0) / 5.0).floor() as i64 * 5).min(100)
}

impl BatchSums {
    /// Counts one new, current result.
    pub(crate) fn add(&mut self, ins: &kefu_engine::Inspection, facts: &crate::ConversationFacts) {
        let counted = Counted {
            agent_id: ins.agent_id.as_deref().unwrap_or_default(),
            score: ins.score,
            passed: ins.passed,
            veto: ins.veto,
            facts: *facts,
        };
        let findings = ins
            .findings
            .iter()
            .map(|f| (&*f.rule, &*f.dimension, f.deduction));
        self.count(&counted, findings, 1);
    }

    /// Takes back what a result the rollups counted contributed (a
    /// re-inspection retiring it): the sums become negative deltas.
    pub(crate) fn remove(&mut self, old: &RetiredResult) {
        let findings = old
            .findings
            .iter()
            .map(|(rule, dim, points)| (rule.as_str(), dim.as_str(), *points));
        self.count(&old.counted(), findings, -1);
    }

    /// Adds (`sign` 1) or takes away (`sign` -1) one result, as a rebuild
    /// from the base tables would count it (`refresh_day`).
    fn count<'f>(
        &mut self,
        r: &Counted<'_>,
        findings: impl Iterator<Item = (&'f str, &'f str, f64)>,
        sign: i64,
    ) {
        let Some(day) = r.facts.local_day else { return };
        let facts = &r.facts;
        let agent = r.agent_id.to_string();
        let k = self
            .kpi
            .entry((day, agent.clone()))
            .or_insert_with(|| KpiDay {
                day,
                agent_id: agent.clone(),
                ..KpiDay::default()
            });
        k.offered += sign;
        if let Some(s) = facts.satisfaction {
            k.sat_count += sign;
            k.sat_sum += sign * s;
            k.sat_satisfied += sign * i64::from(s >= SATISFIED_MIN);
        }
        if !facts.answered {
            return;
        }
        k.answered += sign;
        k.score_sum += sign as f64 * r.score;
        k.passed += sign * i64::from(r.passed);
        k.vetoes += sign * i64::from(r.veto);
        if let Some(w) = facts.wait_ms {
            k.wait_count += sign;
            k.wait_sum += sign * w;
            let sec = ((w + 999) / 1000).min(WAIT_HIST_MAX_S);
            *k.wait_hist.entry(sec).or_insert(0) += sign;
        }
        *self
            .scores
            .entry((day, agent.clone(), score_bucket(r.score)))
            .or_insert(0) += sign;
        let mut rules_seen: Vec<&str> = Vec::new();
        let mut dims_seen: Vec<&str> = Vec::new();
        for (rule, dimension, deduction) in findings {
            let e = self
                .rules
                .entry((day, agent.clone(), rule.to_string()))
                .or_insert_with(|| (dimension.to_string(), 0, 0, 0.0));
            if !rules_seen.contains(&rule) {
                rules_seen.push(rule);
                e.1 += sign;
            }
            e.2 += sign;
            e.3 += sign as f64 * deduction;
            let d = self
                .dimensions
                .entry((day, agent.clone(), dimension.to_string()))
                .or_insert((0, 0.0));
            if !dims_seen.contains(&dimension) {
                dims_seen.push(dimension);
                d.0 += sign;
            }
            d.1 += sign as f64 * deduction;
        }
        if sign < 0 {
            self.removed = true;
        }
    }

    /// Adds the sums to the rollup tables inside `tx`.
    pub(crate) async fn write(&self, tx: &mut Tx) -> Result<(), StoreError> {
        let kpi: Vec<&KpiDay> = self.kpi.values().collect();
        for chunk in crate::dialect::row_chunks(&kpi, 200) {
            let sql = format!(
                "INSERT INTO kpi_daily (day, agent_id, offered, answered, score_sum, passed, vetoes, reviewed, \
                 wait_count, wait_sum, sat_count, sat_sum, sat_satisfied) VALUES {} \
                 ON CONFLICT (day, agent_id) DO UPDATE SET offered = kpi_daily.offered + excluded.offered, \
                 answered = kpi_daily.answered + excluded.answered, \
                 score_sum = kpi_daily.score_sum + excluded.score_sum, \
                 passed = kpi_daily.passed + excluded.passed, vetoes = kpi_daily.vetoes + excluded.vetoes, \
                 reviewed = kpi_daily.reviewed + excluded.reviewed, \
                 wait_count = kpi_daily.wait_count + excluded.wait_count, \
                 wait_sum = kpi_daily.wait_sum + excluded.wait_sum, \
                 sat_count = kpi_daily.sat_count + excluded.sat_count, \
                 sat_sum = kpi_daily.sat_sum + excluded.sat_sum, \
                 sat_satisfied = kpi_daily.sat_satisfied + excluded.sat_satisfied",
                placeholders(tx.backend(), chunk.len(), 13)
            );
            let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
            for k in chunk {
                q = q
                    .bind(k.day)
                    .bind(k.agent_id.as_str())
                    .bind(k.offered)
                    .bind(k.answered)
                    .bind(k.score_sum)
                    .bind(k.passed)
                    .bind(k.vetoes)
                    .bind(k.reviewed)
                    .bind(k.wait_count)
                    .bind(k.wait_sum)
                    .bind(k.sat_count)
                    .bind(k.sat_sum)
                    .bind(k.sat_satisfied);
            }
            q.execute(tx.conn())
                .await
                .context("adding to KPI rollups")?;
        }
        let waits: Vec<(i64, &str, i64, i64)> = self
            .kpi
            .values()
            .flat_map(|k| {
                k.wait_hist
                    .iter()
                    .map(move |(s, n)| (k.day, k.agent_id.as_str(), *s, *n))
            })
            .collect();
        for chunk in crate::dialect::row_chunks(&waits, 500) {
            let sql = format!(
                "INSERT INTO wait_daily (day, agent_id, sec, n) VALUES {} \
                 ON CONFLICT (day, agent_id, sec) DO UPDATE SET n = wait_daily.n + excluded.n",
                placeholders(tx.backend(), chunk.len(), 4)
            );
            let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
            for (day, agent, sec, n) in chunk {
                q = q.bind(*day).bind(*agent).bind(*sec).bind(*n);
            }
            q.execute(tx.conn())
                .await
                .context("adding to wait rollups")?;
        }
        let scores: Vec<_> = self.scores.iter().collect();
        for chunk in crate::dialect::row_chunks(&scores, 500) {
            let sql = format!(
                "INSERT INTO score_daily (day, agent_id, bucket, n) VALUES {} \
                 ON CONFLICT (day, agent_id, bucket) DO UPDATE SET n = score_daily.n + excluded.n",
                placeholders(tx.backend(), chunk.len(), 4)
            );
            let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
            for ((day, agent, bucket), n) in chunk {
                q = q.bind(*day).bind(agent.as_str()).bind(*bucket).bind(*n);
            }
            q.execute(tx.conn())
                .await
                .context("adding to score rollups")?;
        }
        let rules: Vec<_> = self.rules.iter().collect();
        for chunk in crate::dialect::row_chunks(&rules, 300) {
            let sql = format!(
                "INSERT INTO rule_daily (day, agent_id, rule, dimension, conversations, findings, deduction) \
                 VALUES {} ON CONFLICT (day, agent_id, rule) DO UPDATE SET \
                 conversations = rule_daily.conversations + excluded.conversations, \
                 findings = rule_daily.findings + excluded.findings, \
                 deduction = rule_daily.deduction + excluded.deduction",
                placeholders(tx.backend(), chunk.len(), 7)
            );
            let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
            for ((day, agent, rule), (dim, convs, findings, deduction)) in chunk {
                q = q
                    .bind(*day)
                    .bind(agent.as_str())
                    .bind(rule.as_str())
                    .bind(dim.as_str())
                    .bind(*convs)
                    .bind(*findings)
                    .bind(*deduction);
            }
            q.execute(tx.conn())
                .await
                .context("adding to rule rollups")?;
        }
        let dims: Vec<_> = self.dimensions.iter().collect();
        for chunk in crate::dialect::row_chunks(&dims, 400) {
            let sql = format!(
                "INSERT INTO dimension_daily (day, agent_id, dimension, conversations, deduction) VALUES {} \
                 ON CONFLICT (day, agent_id, dimension) DO UPDATE SET \
                 conversations = dimension_daily.conversations + excluded.conversations, \
                 deduction = dimension_daily.deduction + excluded.deduction",
                placeholders(tx.backend(), chunk.len(), 5)
            );
            let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
            for ((day, agent, dim), (convs, deduction)) in chunk {
                q = q
                    .bind(*day)
                    .bind(agent.as_str())
                    .bind(dim.as_str())
                    .bind(*convs)
                    .bind(*deduction);
            }
            q.execute(tx.conn())
                .await
                .context("adding to dimension rollups")?;
        }
        if self.removed {
            self.prune_empty(tx).await?;
        }
        Ok(())
    }

    /// Deletes the rows of the touched days that taking results back left
    /// at zero: a rebuild of the day would not have them (every rebuilt row
    /// counts at least one result), so the rollups stay what a rebuild gives.
    async fn prune_empty(&self, tx: &mut Tx) -> Result<(), StoreError> {
        let days: std::collections::BTreeSet<i64> = self.kpi.keys().map(|(day, _)| *day).collect();
        let days: Vec<i64> = days.into_iter().collect();
        for chunk in crate::dialect::row_chunks(&days, 500) {
            let list = placeholders(tx.backend(), chunk.len(), 1).replace(['(', ')'], "");
            for (table, empty) in [
                ("kpi_daily", "offered = 0"),
                ("wait_daily", "n = 0"),
                ("score_daily", "n = 0"),
                ("rule_daily", "conversations = 0 AND findings = 0"),
                ("dimension_daily", "conversations = 0"),
            ] {
                let sql = format!("DELETE FROM {table} WHERE {empty} AND day IN ({list})");
                let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
                for day in chunk {
                    q = q.bind(*day);
                }
                q.execute(tx.conn())
                    .await
                    .context("removing emptied rollup rows")?;
            }
        }
        Ok(())
    }
}

/// What one result contributes to the rollups (for changing it in place).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultContribution {
    /// Score.
    pub score: f64,
    /// Passed.
    pub passed: bool,
    /// Veto.
    pub veto: bool,
    /// Reviewed by a person.
    pub reviewed: bool,
    /// Findings: (rule, dimension, points).
    pub findings: Vec<(String, String, f64)>,
}

impl Tx {
    /// Counts `delta` more reviewed results for `agent_id` on `day`. A call
    /// that was never answered counts only as offered (and by its survey),
    /// so this is all its review changes in the rollups.
    pub async fn add_reviewed(
        &mut self,
        day: i64,
        agent_id: &str,
        delta: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE kpi_daily SET reviewed = reviewed + $1 WHERE day = $2 AND agent_id = $3",
        )
        .bind(delta)
        .bind(day)
        .bind(agent_id)
        .execute(self.conn())
        .await
        .context("counting a reviewed result")?;
        Ok(())
    }

    /// Replaces one answered conversation's contribution to the rollups of
    /// `day` (`old` out, `new` in): what a review or an appeal decision
    /// changes, without rebuilding the day.
    pub async fn replace_contribution(
        &mut self,
        day: i64,
        agent_id: &str,
        old: &ResultContribution,
        new: &ResultContribution,
    ) -> Result<(), StoreError> {
        replace_contribution(self, day, agent_id, old, new).await
    }
}

async fn replace_contribution(
    tx: &mut Tx,
    day: i64,
    agent_id: &str,
    old: &ResultContribution,
    new: &ResultContribution,
) -> Result<(), StoreError> {
    let flag = |b: bool| i64::from(b);
    sqlx::query(
        "UPDATE kpi_daily SET score_sum = score_sum + $1, passed = passed + $2, vetoes = vetoes + $3, \
         reviewed = reviewed + $4 WHERE day = $5 AND agent_id = $6",
    )
    .bind(new.score - old.score)
    .bind(flag(new.passed) - flag(old.passed))
    .bind(flag(new.veto) - flag(old.veto))
    .bind(flag(new.reviewed) - flag(old.reviewed))
    .bind(day)
    .bind(agent_id)
    .execute(tx.conn())
    .await
    .context("adjusting KPI rollups")?;
    let (ob, nb) = (score_bucket(old.score), score_bucket(new.score));
    if ob != nb {
        for (bucket, delta) in [(ob, -1i64), (nb, 1)] {
            sqlx::query(
                "INSERT INTO score_daily (day, agent_id, bucket, n) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (day, agent_id, bucket) DO UPDATE SET n = score_daily.n + excluded.n",
            )
            .bind(day)
            .bind(agent_id)
            .bind(bucket)
            .bind(delta)
            .execute(tx.conn())
            .await
            .context("adjusting score rollups")?;
        }
    }
    // Per rule and per dimension: (conversations, findings, points) before
    // and after.
    type Tally = BTreeMap<String, (String, i64, f64)>;
    let tally = |c: &ResultContribution, by_dimension: bool| -> Tally {
        let mut t: Tally = BTreeMap::new();
        for (rule, dim, points) in &c.findings {
            let key = if by_dimension {
                dim.clone()
            } else {
                rule.clone()
            };
            let e = t.entry(key).or_insert_with(|| (dim.clone(), 0, 0.0));
            e.1 += 1;
            e.2 += points;
        }
        t
    };
    for by_dimension in [false, true] {
        let (before, after) = (tally(old, by_dimension), tally(new, by_dimension));
        let keys: std::collections::BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for key in keys {
            let b = before.get(key);
            let a = after.get(key);
            let dim = a.or(b).map(|x| x.0.clone()).unwrap_or_default();
            let convs = i64::from(a.is_some()) - i64::from(b.is_some());
            let findings = a.map_or(0, |x| x.1) - b.map_or(0, |x| x.1);
            let points = a.map_or(0.0, |x| x.2) - b.map_or(0.0, |x| x.2);
            if convs == 0 && findings == 0 && points == 0.0 {
                continue;
            }
            if by_dimension {
                sqlx::query(
                    "INSERT INTO dimension_daily (day, agent_id, dimension, conversations, deduction) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day, agent_id, dimension) DO UPDATE SET \
                     conversations = dimension_daily.conversations + excluded.conversations, \
                     deduction = dimension_daily.deduction + excluded.deduction",
                )
                .bind(day)
                .bind(agent_id)
                .bind(key.as_str())
                .bind(convs)
                .bind(points)
                .execute(tx.conn())
                .await
                .context("adjusting dimension rollups")?;
            } else {
                sqlx::query(
                    "INSERT INTO rule_daily (day, agent_id, rule, dimension, conversations, findings, deduction) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (day, agent_id, rule) DO UPDATE SET \
                     conversations = rule_daily.conversations + excluded.conversations, \
                     findings = rule_daily.findings + excluded.findings, \
                     deduction = rule_daily.deduction + excluded.deduction",
                )
                .bind(day)
                .bind(agent_id)
                .bind(key.as_str())
                .bind(dim.as_str())
                .bind(convs)
                .bind(findings)
                .bind(points)
                .execute(tx.conn())
                .await
                .context("adjusting rule rollups")?;
            }
        }
    }
    Ok(())
}
