//! Conversations and their inspection results.
//!
//! Imports are idempotent by conversation id and atomic per batch: a
//! conversation, its current result and its findings are written in one
//! transaction, so an import killed half-way leaves only whole batches, and
//! running it again skips what is there and completes the rest.

use std::collections::{HashMap, HashSet};

use kefu_engine::{Conversation, Inspection, Inspector, Scratch};
use sqlx::{AssertSqlSafe, Row};

use crate::dialect::{ordered_join, placeholders, AnyQuery};
use crate::packed::{pack, unpack};
use crate::quality::RetiredResult;
use crate::{now_ms, Backend, Context, Store, StoreError, Tx};

/// A rule with at most this many findings is "rare": listing by it starts
/// from its findings.
const RARE_RULE_FINDINGS: i64 = 5_000;

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's limits on
/// bound parameters (32,766 and 65,535) for the widest table here.
const ROWS_PER_STATEMENT: usize = 400;

/// The first slice of an import batch or a re-inspection page, before the
/// [`crate::slice::Slicer`] has measured anything.
const IMPORT_FIRST_SLICE: usize = 100;

/// The most conversations an [`Importer`] writes in one transaction (and so
/// holds in memory).
const IMPORT_MAX_SLICE: usize = 2048;

/// One conversation ready to store: the columns kefu filters on, the
/// record as it arrived, and its result already serialised (so that
/// workers, not the single writer, pay for the JSON).
#[derive(Debug, Clone)]
pub struct ImportItem {
    /// Conversation id.
    pub id: String,
    /// `phone` or `chat`.
    pub channel: &'static str,
    /// Agent id.
    pub agent_id: Option<String>,
    /// Agent name.
    pub agent_name: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Customer name.
    pub customer_name: Option<String>,
    /// Start, Unix ms.
    pub started_at: Option<i64>,
    /// UTC offset of the start, seconds east.
    pub utc_offset_s: Option<i64>,
    /// Wait before answer.
    pub wait_ms: Option<i64>,
    /// Who ended it.
    pub ended_by: Option<&'static str>,
    /// Number of turns.
    pub turn_count: i64,
    /// The record as JSON (the native format), compressed.
    pub record: Vec<u8>,
    /// The inspection result.
    pub inspection: Inspection,
    /// The inspection result as JSON, compressed.
    pub result: Vec<u8>,
    /// What KPIs need to know about the conversation.
    pub facts: ConversationFacts,
    /// The transcript as the full-text index keeps it.
    pub text: String,
    /// Identity keys that link the conversation to a customer.
    pub customer_keys: Vec<crate::customers::CustomerKey>,
}

/// Facts about a conversation that KPIs count, copied onto its results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConversationFacts {
    /// Calendar day of the start in the rule pack's time zone (days since
    /// 1970-01-01), so a UTC export counts on the same KPI days as the same
    /// data stamped +08:00; `None` without a start time.
    pub local_day: Option<i64>,
    /// Wait before an agent answered, ms.
    pub wait_ms: Option<i64>,
    /// Whether an agent answered. A call with no agent turn, or marked
    /// `abandoned: true` / `answered: false` in its metadata, was offered
    /// but not answered (it counts against the answer rate, not in quality).
    pub answered: bool,
    /// Post-contact satisfaction 0–10 (metadata `satisfaction` or `满意度`).
    pub satisfaction: Option<i64>,
}

impl ConversationFacts {
    /// Reads the facts off a conversation and its inspection (whose start
    /// time is already in the pack's time zone).
    pub fn of(conv: &Conversation<'_>, inspection: &Inspection) -> ConversationFacts {
        use kefu_engine::Role;
        let flag = |key: &str| conv.meta.get(key).and_then(serde_json::Value::as_bool);
        let has_agent_turn = conv
            .turns
            .iter()
            .any(|t| t.role == Role::Agent && !t.text.trim().is_empty());
        let answered =
            has_agent_turn && flag("abandoned") != Some(true) && flag("answered") != Some(false);
        let satisfaction = ["satisfaction", "满意度"]
            .iter()
            .find_map(|k| conv.meta.get(*k))
            .and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            })
            .filter(|v| (0.0..=10.0).contains(v))
            .map(|v| v.round() as i64);
        ConversationFacts {
            local_day: inspection.started_at.map(|t| local_day(t.date_naive())),
            wait_ms: conv.wait_ms.map(|w| i64::try_from(w).unwrap_or(i64::MAX)),
            answered,
            satisfaction,
        }
    }
}

/// Days since 1970-01-01 of a calendar date.
pub fn local_day(date: chrono::NaiveDate) -> i64 {
    i64::from(chrono::Datelike::num_days_from_ce(&date)) - 719_163
}

/// The calendar date of a day number from [`local_day`].
pub fn day_date(day: i64) -> Option<chrono::NaiveDate> {
    i32::try_from(day + 719_163)
        .ok()
        .and_then(chrono::NaiveDate::from_num_days_from_ce_opt)
}

/// An inspection's JSON ([`Inspection::write_json`]: serde's bytes, faster).
fn inspection_json(inspection: &Inspection) -> Vec<u8> {
    let mut json = Vec::with_capacity(1024);
    inspection.write_json(&mut json);
    json
}

impl ImportItem {
    /// Prepares a conversation and its result. `raw` is the record's JSON
    /// text when the caller has it (kept as it arrived); otherwise the
    /// conversation is serialised.
    pub fn new(conv: &Conversation<'_>, raw: Option<&str>, inspection: Inspection) -> ImportItem {
        let record = match raw {
            Some(r) => pack(r.as_bytes()),
            None => pack(&serde_json::to_vec(conv).unwrap_or_default()),
        };
        let result = pack(&inspection_json(&inspection));
        let facts = ConversationFacts::of(conv, &inspection);
        ImportItem {
            id: conv.id.to_string(),
            channel: conv.channel.as_str(),
            agent_id: conv.agent_id.as_deref().map(str::to_string),
            agent_name: conv.agent_name.as_deref().map(str::to_string),
            customer_id: conv.customer_id.as_deref().map(str::to_string),
            customer_name: conv.customer_name.as_deref().map(str::to_string),
            started_at: conv.started_at.map(|t| t.timestamp_millis()),
            utc_offset_s: conv
                .started_at
                .map(|t| i64::from(t.offset().local_minus_utc())),
            wait_ms: conv.wait_ms.map(|w| i64::try_from(w).unwrap_or(i64::MAX)),
            ended_by: conv.ended_by.map(|e| match e {
                kefu_engine::EndedBy::Agent => "agent",
                kefu_engine::EndedBy::Customer => "customer",
                kefu_engine::EndedBy::System => "system",
            }),
            turn_count: conv.turns.len() as i64,
            record,
            inspection,
            result,
            facts,
            text: crate::search::transcript_text(conv),
            customer_keys: crate::customers::conversation_keys(conv),
        }
    }
}

/// What an import batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// Conversations stored now.
    pub inserted: u64,
    /// Conversations already stored (same id), left as they were.
    pub skipped: u64,
}

impl ImportOutcome {
    /// Adds another outcome.
    pub fn add(&mut self, other: ImportOutcome) {
        self.inserted += other.inserted;
        self.skipped += other.skipped;
    }
}

/// Writes a stream of conversations in time-bounded slices
/// ([`Store::importer`]).
pub struct Importer {
    store: Store,
    pack_version_id: i64,
    slicer: crate::slice::Slicer,
    /// Conversations not written yet: fewer than one slice after a push.
    pending: Vec<ImportItem>,
    /// When the last slice committed and how long it held the lock.
    last: Option<(std::time::Instant, std::time::Duration)>,
    outcome: ImportOutcome,
}

impl Importer {
    /// Queues conversations and writes every full slice. A conversation
    /// whose id is already stored (or repeats one in its slice) is skipped.
    pub async fn push(&mut self, items: Vec<ImportItem>) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            self.pending = items;
        } else {
            self.pending.extend(items);
        }
        while self.pending.len() >= self.slicer.size() {
            self.write_slice(self.slicer.size()).await?;
        }
        Ok(())
    }

    /// Writes what is still queued; returns what the whole import did.
    pub async fn finish(mut self) -> Result<ImportOutcome, StoreError> {
        while !self.pending.is_empty() {
            self.write_slice(self.slicer.size().min(self.pending.len()))
                .await?;
        }
        Ok(self.outcome)
    }

    async fn write_slice(&mut self, n: usize) -> Result<(), StoreError> {
        let slice: Vec<ImportItem> = self.pending.drain(..n).collect();
        let inserted = self.write(&first_of_each_id(&slice)).await?;
        self.outcome.add(ImportOutcome {
            inserted,
            skipped: slice.len() as u64 - inserted,
        });
        Ok(())
    }

    /// Writes one slice in one transaction, after leaving the lock free
    /// for interactive writers since the last one
    /// ([`crate::slice::pause_between`]; time spent waiting for the
    /// caller counts); returns how many conversations were new.
    async fn write(&mut self, slice: &[&ImportItem]) -> Result<u64, StoreError> {
        if let Some((ended, took)) = self.last {
            let pause = crate::slice::pause_between(self.store.backend(), took);
            if let Some(rest) = pause.checked_sub(ended.elapsed()) {
                tokio::time::sleep(rest).await;
            }
        }
        let started = std::time::Instant::now();
        let inserted = self.store.import_slice(self.pack_version_id, slice).await?;
        let took = started.elapsed();
        self.slicer.record(slice.len(), took);
        self.last = Some((std::time::Instant::now(), took));
        Ok(inserted)
    }
}

/// The first item of each id, in order.
fn first_of_each_id(items: &[ImportItem]) -> Vec<&ImportItem> {
    let mut seen = HashSet::with_capacity(items.len());
    items
        .iter()
        .filter(|i| seen.insert(i.id.as_str()))
        .collect()
}

/// What a re-inspection did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReinspectOutcome {
    /// Conversations given a new current result.
    pub reinspected: u64,
    /// Conversations whose current result already came from this pack.
    pub unchanged: u64,
    /// Stored records that could not be read back.
    pub unreadable: u64,
    /// Conversations whose current result a person reviewed or appealed:
    /// kept current, not re-inspected.
    pub kept: u64,
}

/// A stored inspection, as listed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InspectionRow {
    /// Row id.
    pub id: i64,
    /// Conversation id.
    pub conversation_id: String,
    /// Pack version row that produced it.
    pub pack_version_id: i64,
    /// Whether it is the conversation's current result.
    pub is_current: bool,
    /// Agent id.
    pub agent_id: Option<String>,
    /// Conversation start, Unix ms.
    #[serde(with = "crate::json_time::opt_unix_ms")]
    pub started_at: Option<i64>,
    /// Score.
    pub score: f64,
    /// Passed.
    pub passed: bool,
    /// Veto.
    pub veto: bool,
    /// Grade.
    pub grade: Option<String>,
    /// Number of findings.
    pub finding_count: i64,
    /// The full result (findings, not applicable, manual …).
    pub result: serde_json::Value,
    /// When it was computed, Unix ms.
    #[serde(with = "crate::json_time::unix_ms")]
    pub created_at: i64,
}

/// Filters for listing current results.
#[derive(Debug, Clone, Default)]
pub struct ConversationFilter {
    /// Only this agent.
    pub agent_id: Option<String>,
    /// Conversations starting at or after (Unix ms).
    pub from_ms: Option<i64>,
    /// Conversations starting before (Unix ms).
    pub to_ms: Option<i64>,
    /// Only passed (true) or failed (false).
    pub passed: Option<bool>,
    /// Only with a finding of this rule.
    pub rule: Option<String>,
    /// Score at least.
    pub min_score: Option<f64>,
    /// Score at most.
    pub max_score: Option<f64>,
    /// Page size (default 50, at most 1000).
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
    /// Only conversations whose transcript contains every whitespace-
    /// separated term of this text, as a plain substring (no operators;
    /// full/half width, Traditional/Simplified and case do not matter; see
    /// `search.rs`). Transcripts still queued for the index (SQLite,
    /// after an import) match too, by a slower substring test.
    pub text: Option<String>,
    /// Only this channel (`phone`, `chat`).
    pub channel: Option<String>,
    /// Only agents of this team (`users.team`).
    pub team: Option<String>,
    /// Only results reviewed by a person (true) or not yet (false).
    pub reviewed: Option<bool>,
    /// Only results produced by this pack version.
    pub pack_version_id: Option<i64>,
    /// Keyset pagination: the page starts after this result (the `next` of
    /// the previous [`InspectionPage`]); `offset` is then ignored.
    pub after: Option<InspectionKey>,
}

/// A position in the newest-first order of results (`started_at DESC, id
/// DESC`; results without a start time come last on SQLite and first on
/// PostgreSQL, as each sorts NULL): the last result of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InspectionKey {
    /// Its conversation's start, Unix ms (`None`: unknown).
    pub started_at: Option<i64>,
    /// The result's id.
    pub id: i64,
}

/// One page of current results ([`Store::list_inspections_page`]).
#[derive(Debug, Clone)]
pub struct InspectionPage {
    /// The results, newest conversations first.
    pub items: Vec<InspectionRow>,
    /// How many match: exact unless `total_estimated`, then a lower bound
    /// (counting stops at [`crate::COUNT_CAP`]).
    pub total: i64,
    /// `total` is a lower bound.
    pub total_estimated: bool,
    /// Where the next page starts, if there is one.
    pub next: Option<InspectionKey>,
}

pub(crate) fn flag(b: bool) -> i64 {
    i64::from(b)
}

impl Store {
    /// Stores conversations with their results from `pack_version_id`, in
    /// time-bounded slices of one write transaction each
    /// ([`crate::slice`]); a conversation, its result and its findings always
    /// commit together. Conversations whose id is already stored (or that
    /// repeat an id earlier in the batch) are skipped.
    pub async fn import_batch(
        &self,
        pack_version_id: i64,
        items: &[ImportItem],
    ) -> Result<ImportOutcome, StoreError> {
        let unique = first_of_each_id(items);
        let mut importer = self.importer_up_to(pack_version_id, unique.len());
        let mut rest = unique.as_slice();
        let mut inserted = 0;
        while !rest.is_empty() {
            let (slice, after) = rest.split_at(importer.slicer.size().min(rest.len()));
            rest = after;
            inserted += importer.write(slice).await?;
        }
        Ok(ImportOutcome {
            inserted,
            skipped: items.len() as u64 - inserted,
        })
    }

    /// A writer for a stream of conversations with their results from
    /// `pack_version_id` (`kefu import`): [`Importer::push`] what the
    /// workers produce, [`Importer::finish`] at the end. Unlike
    /// [`Store::import_batch`] it keeps sizing its slices across pushes
    /// (one slicer for the whole import, not one per batch), and it holds at
    /// most one slice of conversations: memory does not depend on how the
    /// caller batches.
    pub fn importer(&self, pack_version_id: i64) -> Importer {
        self.importer_up_to(pack_version_id, IMPORT_MAX_SLICE)
    }

    /// An [`Importer`] whose slices hold at most `max_slice` conversations.
    fn importer_up_to(&self, pack_version_id: i64, max_slice: usize) -> Importer {
        Importer {
            store: self.clone(),
            pack_version_id,
            slicer: crate::slice::Slicer::with_target(
                IMPORT_FIRST_SLICE,
                max_slice,
                self.slice_target,
            ),
            pending: Vec::new(),
            last: None,
            outcome: ImportOutcome::default(),
        }
    }

    /// Stores one slice of an import in one write transaction; returns how
    /// many conversations were new.
    async fn import_slice(
        &self,
        pack_version_id: i64,
        unique: &[&ImportItem],
    ) -> Result<u64, StoreError> {
        let now = now_ms();
        let t0 = std::time::Instant::now();
        let mut tx = self.write().await?;
        let t_lock = t0.elapsed();
        let mut inserted_ids: HashSet<String> = HashSet::with_capacity(unique.len());
        for chunk in crate::dialect::row_chunks(unique, ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO conversations (id, channel, agent_id, agent_name, customer_id, customer_name, \
                 started_at, utc_offset_s, wait_ms, ended_by, turn_count, record, imported_at) VALUES {} \
                 ON CONFLICT (id) DO NOTHING RETURNING id",
                placeholders(tx.backend(), chunk.len(), 13)
            );
            let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
            for item in chunk {
                q = q
                    .bind(item.id.as_str())
                    .bind(item.channel)
                    .bind(item.agent_id.as_deref())
                    .bind(item.agent_name.as_deref())
                    .bind(item.customer_id.as_deref())
                    .bind(item.customer_name.as_deref())
                    .bind(item.started_at)
                    .bind(item.utc_offset_s)
                    .bind(item.wait_ms)
                    .bind(item.ended_by)
                    .bind(item.turn_count)
                    .bind(item.record.as_slice())
                    .bind(now);
            }
            let rows = q
                .fetch_all(tx.conn())
                .await
                .context("storing conversations")?;
            for row in rows {
                inserted_ids.insert(row.try_get::<String, _>("id").context("conversations.id")?);
            }
        }
        let texts: Vec<(&str, &str)> = unique
            .iter()
            .filter(|i| inserted_ids.contains(&i.id))
            .map(|i| (i.id.as_str(), i.text.as_str()))
            .collect();
        let t_conv = t0.elapsed();
        crate::search::queue_transcripts(&mut tx, &texts).await?;
        let t_fts = t0.elapsed();
        let fresh: Vec<(&Inspection, &[u8], ConversationFacts)> = unique
            .iter()
            .filter(|i| inserted_ids.contains(&i.id))
            .map(|i| (&i.inspection, i.result.as_slice(), i.facts))
            .collect();
        insert_inspections(&mut tx, pack_version_id, &fresh, now).await?;
        let t_ins = t0.elapsed();
        let mut sums = crate::quality::BatchSums::default();
        for (ins, _, facts) in &fresh {
            sums.add(ins, facts);
        }
        sums.write(&mut tx).await?;
        let t_sums = t0.elapsed();
        crate::customers::link_new(&mut tx, unique, &inserted_ids, now).await?;
        let t_link = t0.elapsed();
        tx.commit().await?;
        tracing::debug!(
            items = unique.len(),
            lock = ?t_lock,
            conversations = ?t_conv,
            fts = ?t_fts,
            inspections = ?t_ins,
            sums = ?t_sums,
            link = ?t_link,
            commit = ?t0.elapsed(),
            "import slice"
        );
        Ok(inserted_ids.len() as u64)
    }

    /// Runs `inspector` over every stored conversation whose current result
    /// did not come from `pack_version_id`, keeping the old results as
    /// history. Reads pages of `page` conversations and writes each page's
    /// results in time-bounded slices ([`crate::slice`]), one transaction
    /// each, so it can be interrupted and run again.
    ///
    /// A current result that a person judged — reviewed, or appealed (open
    /// or decided) — stays current: re-inspection never replaces a human
    /// judgement. Such conversations are counted as `kept`; this holds also
    /// for one reviewed while the page was being inspected, because the
    /// retiring `UPDATE` re-checks it under the write lock (SQLite) or the
    /// row lock the review holds (PostgreSQL).
    pub async fn reinspect(
        &self,
        inspector: &Inspector,
        pack_version_id: i64,
        page: i64,
    ) -> Result<ReinspectOutcome, StoreError> {
        self.reinspect_with_progress(inspector, pack_version_id, page, &mut |_| {})
            .await
    }

    /// [`Store::reinspect`], calling `progress` with the counts so far after
    /// every page read and every slice written (for a progress bar: the
    /// conversations handled are the sum of the four counts).
    pub async fn reinspect_with_progress(
        &self,
        inspector: &Inspector,
        pack_version_id: i64,
        page: i64,
        progress: &mut (dyn FnMut(&ReinspectOutcome) + Send),
    ) -> Result<ReinspectOutcome, StoreError> {
        let mut outcome = ReinspectOutcome::default();
        let mut scratch = Scratch::default();
        let mut slicer = crate::slice::Slicer::with_target(
            IMPORT_FIRST_SLICE,
            page.max(1) as usize,
            self.slice_target,
        );
        let mut after = String::new();
        loop {
            let rows = sqlx::query(
                "SELECT c.id, c.record, i.pack_version_id, i.reviewed_at, \
                 (SELECT COUNT(*) FROM appeals a WHERE a.inspection_id = i.id) AS appeals \
                 FROM conversations c \
                 LEFT JOIN inspections i ON i.conversation_id = c.id AND i.is_current = 1 \
                 WHERE c.id > $1 ORDER BY c.id LIMIT $2",
            )
            .bind(&after)
            .bind(page.max(1))
            .fetch_all(self.pool())
            .await
            .context("reading conversations to re-inspect")?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("id").context("conversations.id")?;
            let mut results = Vec::new();
            for row in &rows {
                let id: String = row.try_get("id").context("conversations.id")?;
                let current: Option<i64> = row
                    .try_get("pack_version_id")
                    .context("inspections.pack_version_id")?;
                if current == Some(pack_version_id) {
                    outcome.unchanged += 1;
                    continue;
                }
                let reviewed: Option<i64> = row
                    .try_get("reviewed_at")
                    .context("inspections.reviewed_at")?;
                let appeals: Option<i64> = row.try_get("appeals").context("appeals")?;
                if reviewed.is_some() || appeals.unwrap_or(0) > 0 {
                    outcome.kept += 1;
                    continue;
                }
                let record: Vec<u8> = row.try_get("record").context("conversations.record")?;
                let json = unpack(&record).unwrap_or_default();
                match serde_json::from_slice::<Conversation<'_>>(&json) {
                    Ok(conv) => {
                        let inspection = inspector.inspect(&conv, &mut scratch);
                        let facts = ConversationFacts::of(&conv, &inspection);
                        results.push((inspection, facts, current.is_some()));
                    }
                    Err(e) => {
                        tracing::warn!(conversation = %id, error = %e, "stored conversation unreadable");
                        outcome.unreadable += 1;
                    }
                }
            }
            let mut rest = results.as_slice();
            while !rest.is_empty() {
                let (slice, more) = rest.split_at(slicer.size().min(rest.len()));
                rest = more;
                let started = std::time::Instant::now();
                let (written, kept) = self.reinspect_slice(pack_version_id, slice).await?;
                let took = started.elapsed();
                slicer.record(slice.len(), took);
                tokio::time::sleep(crate::slice::pause_between(self.backend(), took)).await;
                outcome.reinspected += written;
                outcome.kept += kept;
                progress(&outcome);
            }
            progress(&outcome);
        }
        Ok(outcome)
    }

    /// Writes one slice of re-inspection results in one write transaction:
    /// retires the current results no person judged meanwhile and adds the
    /// new ones. Returns (results written, conversations kept because their
    /// result was reviewed or appealed after the page was read).
    async fn reinspect_slice(
        &self,
        pack_version_id: i64,
        slice: &[(Inspection, ConversationFacts, bool)],
    ) -> Result<(u64, u64), StoreError> {
        let mut tx = self.write().await?;
        let mut retired: HashMap<String, RetiredResult> = HashMap::with_capacity(slice.len());
        let mut retired_ids: HashMap<i64, String> = HashMap::with_capacity(slice.len());
        for chunk in crate::dialect::row_chunks(slice, ROWS_PER_STATEMENT) {
            let list = placeholders(tx.backend(), chunk.len(), 1).replace(['(', ')'], "");
            // The retired rows' columns are what they contributed to the
            // rollups, which this slice takes back.
            let sql = format!(
                "UPDATE inspections SET is_current = 0 WHERE is_current = 1 AND reviewed_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM appeals a WHERE a.inspection_id = inspections.id) \
                 AND conversation_id IN ({list}) \
                 RETURNING id, conversation_id, agent_id, score, passed, veto, local_day, wait_ms, answered, satisfaction"
            );
            let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
            for (ins, _, _) in chunk {
                q = q.bind(ins.id.clone());
            }
            for row in q
                .fetch_all(tx.conn())
                .await
                .context("retiring old results")?
            {
                let (id, conversation_id, old) = retired_from_row(&row)?;
                if old.facts.local_day.is_some() && old.facts.answered {
                    retired_ids.insert(id, conversation_id.clone());
                }
                retired.insert(conversation_id, old);
            }
        }
        // Findings count only for answered conversations with a day.
        let ids: Vec<i64> = retired_ids.keys().copied().collect();
        for chunk in crate::dialect::row_chunks(&ids, ROWS_PER_STATEMENT) {
            let list = placeholders(tx.backend(), chunk.len(), 1).replace(['(', ')'], "");
            let sql = format!(
                "SELECT inspection_id, rule, dimension, deduction FROM findings \
                 WHERE inspection_id IN ({list})"
            );
            let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q
                .fetch_all(tx.conn())
                .await
                .context("reading retired findings")?
            {
                let id: i64 = row
                    .try_get("inspection_id")
                    .context("findings.inspection_id")?;
                if let Some(old) = retired_ids.get(&id).and_then(|c| retired.get_mut(c)) {
                    old.findings.push((
                        row.try_get("rule").context("findings.rule")?,
                        row.try_get("dimension").context("findings.dimension")?,
                        row.try_get("deduction").context("findings.deduction")?,
                    ));
                }
            }
        }
        // A conversation that had a current result but none retired now was
        // judged by a person meanwhile: its result stays current.
        let write: Vec<&(Inspection, ConversationFacts, bool)> = slice
            .iter()
            .filter(|(ins, _, had_current)| !had_current || retired.contains_key(&*ins.id))
            .collect();
        let kept = (slice.len() - write.len()) as u64;
        let packed: Vec<Vec<u8>> = write
            .iter()
            .map(|(r, _, _)| pack(&inspection_json(r)))
            .collect();
        let refs: Vec<(&Inspection, &[u8], ConversationFacts)> = write
            .iter()
            .zip(packed.iter())
            .map(|((r, f, _), j)| (r, j.as_slice(), *f))
            .collect();
        insert_inspections(&mut tx, pack_version_id, &refs, now_ms()).await?;
        // The rollups change in place: each retired result out, each new
        // one in (a report meanwhile reads them current, nothing to rebuild).
        let mut sums = crate::quality::BatchSums::default();
        for old in retired.values() {
            sums.remove(old);
        }
        for (ins, _, facts) in &refs {
            sums.add(ins, facts);
        }
        sums.write(&mut tx).await?;
        tx.commit().await?;
        Ok((refs.len() as u64, kept))
    }

    /// Number of stored conversations.
    pub async fn conversation_count(&self) -> Result<i64, StoreError> {
        sqlx::query("SELECT COUNT(*) AS n FROM conversations")
            .fetch_one(self.pool())
            .await
            .context("counting conversations")?
            .try_get("n")
            .context("count")
    }

    /// A stored conversation, owned.
    pub async fn conversation(
        &self,
        id: &str,
    ) -> Result<Option<Conversation<'static>>, StoreError> {
        let row = sqlx::query("SELECT record FROM conversations WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await
            .context("reading a conversation")?;
        let Some(row) = row else { return Ok(None) };
        let record: Vec<u8> = row.try_get("record").context("conversations.record")?;
        let json = unpack(&record).map_err(|reason| StoreError::Corrupt {
            what: format!("conversation {id}"),
            reason,
        })?;
        let conv: Conversation<'_> =
            serde_json::from_slice(&json).map_err(|e| StoreError::Corrupt {
                what: format!("conversation {id}"),
                reason: e.to_string(),
            })?;
        Ok(Some(conv.into_owned()))
    }

    /// Every result of a conversation, newest first (the first is current).
    pub async fn inspection_history(
        &self,
        conversation_id: &str,
    ) -> Result<Vec<InspectionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, conversation_id, pack_version_id, is_current, agent_id, started_at, score, passed, \
             veto, grade, finding_count, result, created_at FROM inspections WHERE conversation_id = $1 \
             ORDER BY is_current DESC, id DESC",
        )
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await
        .context("reading inspection history")?;
        rows.iter().map(inspection_from_row).collect()
    }

    /// Current results matching `filter`, newest conversations first, and
    /// the total number matching (for pagination; a lower bound past
    /// [`crate::COUNT_CAP`], see [`Store::list_inspections_page`]).
    pub async fn list_inspections(
        &self,
        filter: &ConversationFilter,
    ) -> Result<(Vec<InspectionRow>, i64), StoreError> {
        let page = self.list_inspections_page(filter).await?;
        Ok((page.items, page.total))
    }

    /// One page of the current results matching `filter`, newest
    /// conversations first: after [`ConversationFilter::after`] (keyset, by
    /// index at any depth, no repeats or gaps while results are added) or
    /// after `offset` rows. The total is counted up to [`crate::COUNT_CAP`]
    /// matches only (exact from the full-text index when only text
    /// filters); past that it is marked estimated.
    pub async fn list_inspections_page(
        &self,
        filter: &ConversationFilter,
    ) -> Result<InspectionPage, StoreError> {
        let empty = InspectionPage {
            items: Vec::new(),
            total: 0,
            total_estimated: false,
            next: None,
        };
        let limit = filter.limit.unwrap_or(50).clamp(1, 1000);
        let offset = filter.offset.unwrap_or(0).max(0);
        // The transcript search is planned first: on SQLite the full-text
        // index says how many conversations match, which picks how the page
        // and the count are found (and answers "none" at once).
        let text = match filter.text.as_deref() {
            Some(t) => self.text_filter(t).await?,
            None => None,
        };
        if text.as_ref().and_then(|t| t.matches()) == Some(0) {
            return Ok(empty);
        }
        // A rule filter drives from the findings index when the rule is rare
        // (a newest-first scan would read every result to find a few), and
        // is checked row by row on the newest results when it is common.
        let rare_rule = match &filter.rule {
            Some(rule) => {
                let n: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM findings WHERE rule = $1 LIMIT $2) AS x",
                )
                .bind(rule.as_str())
                .bind(RARE_RULE_FINDINGS + 1)
                .fetch_one(self.pool())
                .await
                .context("counting a rule's findings")?
                .try_get("n")
                .context("count")?;
                if n == 0 {
                    return Ok(empty);
                }
                n <= RARE_RULE_FINDINGS
            }
            None => false,
        };
        // The SQL is built in a block: its placeholder counter must not live
        // across the awaits below (the future has to be `Send`).
        let (page_where, count_where, limit_ph, offset_ph, other_filters, from, key_sql, tail_sql) = {
            let mut conditions = vec!["i.is_current = 1".to_string()];
            let n = std::cell::Cell::new(0);
            let mut next = || {
                n.set(n.get() + 1);
                format!("${}", n.get())
            };
            if filter.agent_id.is_some() {
                conditions.push(format!("i.agent_id = {}", next()));
            }
            if filter.from_ms.is_some() {
                conditions.push(format!("i.started_at >= {}", next()));
            }
            if filter.to_ms.is_some() {
                conditions.push(format!("i.started_at < {}", next()));
            }
            if filter.passed.is_some() {
                conditions.push(format!("i.passed = {}", next()));
            }
            let rule_ph = filter.rule.as_ref().map(|_| next());
            // A common rule: the page checks the newest results one by one
            // (it soon has a page full); the count starts from the rule's
            // findings instead of probing every result.
            let mut count_swap = None;
            if let (Some(ph), false) = (&rule_ph, rare_rule) {
                let exists = format!(
                    "EXISTS (SELECT 1 FROM findings f WHERE f.inspection_id = i.id AND f.rule = {ph})"
                );
                count_swap = Some((
                    exists.clone(),
                    format!("i.id IN (SELECT inspection_id FROM findings WHERE rule = {ph})"),
                ));
                conditions.push(exists);
            }
            if filter.min_score.is_some() {
                conditions.push(format!("i.score >= {}", next()));
            }
            if filter.channel.is_some() {
                conditions.push(format!("i.channel = {}", next()));
            }
            if filter.team.is_some() {
                // Checked along the list order: driving from the team's
                // agents would sort all their results for one page.
                conditions.push(format!(
                    "i.agent_id || '' IN (SELECT id FROM users WHERE team = {})",
                    next()
                ));
            }
            if filter.pack_version_id.is_some() {
                conditions.push(format!("i.pack_version_id = {}", next()));
            }
            match filter.reviewed {
                Some(true) => conditions.push("i.reviewed_at IS NOT NULL".into()),
                Some(false) => conditions.push("i.reviewed_at IS NULL".into()),
                None => {}
            }
            if filter.max_score.is_some() {
                conditions.push(format!("i.score <= {}", next()));
            }
            let other_filters = conditions.len() > 1 || rare_rule;
            // The page and the count take the same parameters; only the shape
            // of the text condition differs between them.
            let (page_where, count_where) = match &text {
                Some(t) => {
                    let before = n.get();
                    let page = t.page_condition("i.conversation_id", offset + limit, &mut next);
                    n.set(before);
                    let count = t.count_condition("i.conversation_id", &mut next);
                    (
                        format!("{} AND {page}", conditions.join(" AND ")),
                        format!("{} AND {count}", conditions.join(" AND ")),
                    )
                }
                None => (conditions.join(" AND "), conditions.join(" AND ")),
            };
            let count_where = match &count_swap {
                Some((exists, within)) => count_where.replace(exists.as_str(), within),
                None => count_where,
            };
            let limit_ph = next();
            let offset_ph = next();
            // The keyset placeholders come last, so the query of the second
            // segment (below), which has none, binds a prefix.
            let (key_sql, tail_sql) = match filter.after {
                None => (None, None),
                Some(key) => {
                    let nulls_last = self.backend() == Backend::Sqlite;
                    match key.started_at {
                        Some(_) => {
                            let (at, id) = (next(), next());
                            (
                                Some(format!(
                                    "i.started_at <= {at} AND (i.started_at < {at} OR i.id < {id})"
                                )),
                                nulls_last.then(|| "i.started_at IS NULL".to_string()),
                            )
                        }
                        None => {
                            let id = next();
                            (
                                Some(format!("i.started_at IS NULL AND i.id < {id}")),
                                (!nulls_last).then(|| "i.started_at IS NOT NULL".to_string()),
                            )
                        }
                    }
                }
            };
            // SQLite keeps the written join order with CROSS JOIN; the
            // rule's few results come first, then the other conditions.
            let from = match (&rule_ph, rare_rule) {
                (Some(ph), true) => format!(
                    "(SELECT DISTINCT inspection_id FROM findings WHERE rule = {ph}) AS fr \
                     {} inspections i ON i.id = fr.inspection_id",
                    ordered_join(self.backend())
                ),
                _ => "inspections i".to_string(),
            };
            (
                page_where,
                count_where,
                limit_ph,
                offset_ph,
                other_filters,
                from,
                key_sql,
                tail_sql,
            )
        };
        let bind_filters = |mut q: AnyQuery<'static>| {
            if let Some(a) = &filter.agent_id {
                q = q.bind(a.clone());
            }
            if let Some(v) = filter.from_ms {
                q = q.bind(v);
            }
            if let Some(v) = filter.to_ms {
                q = q.bind(v);
            }
            if let Some(v) = filter.passed {
                q = q.bind(flag(v));
            }
            if let Some(r) = &filter.rule {
                q = q.bind(r.clone());
            }
            if let Some(v) = filter.min_score {
                q = q.bind(v);
            }
            if let Some(c) = &filter.channel {
                q = q.bind(c.clone());
            }
            if let Some(t) = &filter.team {
                q = q.bind(t.clone());
            }
            if let Some(v) = filter.pack_version_id {
                q = q.bind(v);
            }
            if let Some(v) = filter.max_score {
                q = q.bind(v);
            }
            if let Some(t) = &text {
                q = t.bind(q);
            }
            q
        };
        let select = |extra: Option<&str>| {
            let condition = match extra {
                Some(e) => format!("{page_where} AND {e}"),
                None => page_where.clone(),
            };
            format!(
                "SELECT i.id, i.conversation_id, i.pack_version_id, i.is_current, i.agent_id, i.started_at, \
                 i.score, i.passed, i.veto, i.grade, i.finding_count, i.result, i.created_at \
                 FROM {from} WHERE {condition} ORDER BY i.started_at DESC, i.id DESC LIMIT {limit_ph} OFFSET {offset_ph}"
            )
        };
        // One row more than asked says whether there is a next page.
        let want = limit + 1;
        let mut q = bind_filters(sqlx::query(AssertSqlSafe(select(key_sql.as_deref()))))
            .bind(want)
            .bind(if filter.after.is_some() { 0 } else { offset });
        if let Some(key) = filter.after {
            if let Some(at) = key.started_at {
                q = q.bind(at);
            }
            q = q.bind(key.id);
        }
        let mut rows = q
            .fetch_all(self.pool())
            .await
            .context("listing inspections")?;
        // The page reached the end of its segment (known or unknown start
        // times): go on with the other one.
        if let Some(tail) = &tail_sql {
            let got = i64::try_from(rows.len()).unwrap_or(i64::MAX);
            if got < want {
                let more = bind_filters(sqlx::query(AssertSqlSafe(select(Some(tail)))))
                    .bind(want - got)
                    .bind(0_i64)
                    .fetch_all(self.pool())
                    .await
                    .context("listing inspections")?;
                rows.extend(more);
            }
        }
        let (total, total_estimated) = match text.as_ref().and_then(|t| t.matches()) {
            // Every indexed conversation has a current result: with no
            // other filter the index's count is the total.
            Some(m) if !other_filters => (m, false),
            _ => {
                // The count takes the page's parameters but LIMIT's.
                let count_sql = format!(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {from} WHERE {count_where} LIMIT {limit_ph}) AS counted"
                );
                let n: i64 = bind_filters(sqlx::query(AssertSqlSafe(count_sql)))
                    .bind(crate::COUNT_CAP)
                    .fetch_one(self.pool())
                    .await
                    .context("counting inspections")?
                    .try_get("n")
                    .context("count")?;
                (n, n >= crate::COUNT_CAP)
            }
        };
        let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
        rows.truncate(usize::try_from(limit).unwrap_or(0));
        let items = rows
            .iter()
            .map(inspection_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next = match items.last() {
            Some(last) if more => Some(InspectionKey {
                started_at: last.started_at,
                id: last.id,
            }),
            _ => None,
        };
        Ok(InspectionPage {
            items,
            total,
            total_estimated,
            next,
        })
    }
}

fn inspection_from_row(row: &sqlx::any::AnyRow) -> Result<InspectionRow, StoreError> {
    let packed: Vec<u8> = row.try_get("result").context("inspections.result")?;
    let id: i64 = row.try_get("id").context("inspections.id")?;
    let result = unpack(&packed).map_err(|reason| StoreError::Corrupt {
        what: format!("inspection {id}"),
        reason,
    })?;
    Ok(InspectionRow {
        id,
        conversation_id: row
            .try_get("conversation_id")
            .context("inspections.conversation_id")?,
        pack_version_id: row
            .try_get("pack_version_id")
            .context("inspections.pack_version_id")?,
        is_current: row
            .try_get::<i64, _>("is_current")
            .context("inspections.is_current")?
            != 0,
        agent_id: row.try_get("agent_id").context("inspections.agent_id")?,
        started_at: row
            .try_get("started_at")
            .context("inspections.started_at")?,
        score: row.try_get("score").context("inspections.score")?,
        passed: row
            .try_get::<i64, _>("passed")
            .context("inspections.passed")?
            != 0,
        veto: row.try_get::<i64, _>("veto").context("inspections.veto")? != 0,
        grade: row.try_get("grade").context("inspections.grade")?,
        finding_count: row
            .try_get("finding_count")
            .context("inspections.finding_count")?,
        result: serde_json::from_slice(&result).map_err(|e| StoreError::Corrupt {
            what: format!("inspection {id}"),
            reason: e.to_string(),
        })?,
        created_at: row
            .try_get("created_at")
            .context("inspections.created_at")?,
    })
}

/// A retired result's row (`RETURNING` of the re-inspection's `UPDATE`):
/// its id, conversation and what it counted in the rollups (findings still
/// to be read).
fn retired_from_row(row: &sqlx::any::AnyRow) -> Result<(i64, String, RetiredResult), StoreError> {
    let flag = |name: &'static str| -> Result<bool, StoreError> {
        Ok(row.try_get::<i64, _>(name).context(name)? != 0)
    };
    let old = RetiredResult {
        agent_id: row
            .try_get::<Option<String>, _>("agent_id")
            .context("inspections.agent_id")?
            .unwrap_or_default(),
        score: row.try_get("score").context("inspections.score")?,
        passed: flag("passed")?,
        veto: flag("veto")?,
        facts: ConversationFacts {
            local_day: row.try_get("local_day").context("inspections.local_day")?,
            wait_ms: row.try_get("wait_ms").context("inspections.wait_ms")?,
            answered: flag("answered")?,
            satisfaction: row
                .try_get("satisfaction")
                .context("inspections.satisfaction")?,
        },
        findings: Vec::new(),
    };
    Ok((
        row.try_get("id").context("inspections.id")?,
        row.try_get("conversation_id")
            .context("inspections.conversation_id")?,
        old,
    ))
}

/// Inserts results (current) and their findings inside `tx`.
async fn insert_inspections(
    tx: &mut Tx,
    pack_version_id: i64,
    results: &[(&Inspection, &[u8], ConversationFacts)],
    now: i64,
) -> Result<(), StoreError> {
    for chunk in crate::dialect::row_chunks(results, ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO inspections (conversation_id, pack_version_id, is_current, agent_id, started_at, score, \
             passed, veto, grade, finding_count, result, created_at, local_day, wait_ms, answered, satisfaction, \
             channel) VALUES {} RETURNING id, conversation_id",
            placeholders(tx.backend(), chunk.len(), 17)
        );
        let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
        for (ins, result, facts) in chunk {
            q = q
                .bind(ins.id.as_str())
                .bind(pack_version_id)
                .bind(1i64)
                .bind(ins.agent_id.as_deref())
                .bind(ins.started_at_ms())
                .bind(ins.score)
                .bind(flag(ins.passed))
                .bind(flag(ins.veto))
                .bind(ins.grade.as_deref())
                .bind(ins.findings.len() as i64)
                .bind(*result)
                .bind(now)
                .bind(facts.local_day)
                .bind(facts.wait_ms)
                .bind(flag(facts.answered))
                .bind(facts.satisfaction)
                .bind(ins.channel.as_str());
        }
        let rows = q
            .fetch_all(tx.conn())
            .await
            .context("storing inspection results")?;
        let mut ids: HashMap<String, i64> = HashMap::with_capacity(rows.len());
        for row in rows {
            ids.insert(
                row.try_get("conversation_id")
                    .context("inspections.conversation_id")?,
                row.try_get("id").context("inspections.id")?,
            );
        }
        let findings: Vec<(i64, &kefu_engine::Finding)> = chunk
            .iter()
            .filter_map(|(ins, _, _)| ids.get(&ins.id).map(|&id| (id, *ins)))
            .flat_map(|(id, ins)| ins.findings.iter().map(move |f| (id, f)))
            .collect();
        for fchunk in crate::dialect::row_chunks(&findings, ROWS_PER_STATEMENT * 2) {
            let sql = format!(
                "INSERT INTO findings (inspection_id, rule, dimension, turn, deduction) VALUES {}",
                placeholders(tx.backend(), fchunk.len(), 5)
            );
            let mut q: AnyQuery<'_> = sqlx::query(AssertSqlSafe(sql));
            for (id, f) in fchunk {
                q = q
                    .bind(*id)
                    .bind(&*f.rule)
                    .bind(&*f.dimension)
                    .bind(f.turn.map(|t| t as i64))
                    .bind(f.deduction);
            }
            q.execute(tx.conn()).await.context("storing findings")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KPI days follow the pack's time zone (+08:00 by default), not the
    /// offset the export happened to carry: the same instant stamped `Z`,
    /// `+08:00` or as Unix milliseconds lands on the same day.
    #[test]
    fn kpi_day_is_the_packs_day_whatever_the_input_offset() {
        let pack = kefu_engine::RulePack::default_zh_cn().expect("default pack");
        let inspector = Inspector::new(pack).expect("compiles");
        let mut scratch = Scratch::default();
        let mut day_of = |started_at: serde_json::Value| {
            let line = serde_json::json!({
                "id": "tz-1",
                "channel": "phone",
                "started_at": started_at,
                "turns": [{"role": "agent", "text": "您好"}],
            })
            .to_string();
            let conv: Conversation<'_> = serde_json::from_str(&line).expect("parses");
            let item = ImportItem::new(&conv, Some(&line), inspector.inspect(&conv, &mut scratch));
            item.facts.local_day.and_then(day_date)
        };
        let first_of_december = chrono::NaiveDate::from_ymd_opt(2026, 12, 1);
        // 2026-11-30 17:30 UTC is 2026-12-01 01:30 in China.
        assert_eq!(day_of("2026-11-30T17:30:00Z".into()), first_of_december);
        assert_eq!(
            day_of("2026-11-30T17:30:00+00:00".into()),
            first_of_december
        );
        assert_eq!(
            day_of("2026-12-01T01:30:00+08:00".into()),
            first_of_december
        );
        assert_eq!(day_of(1_796_059_800_000i64.into()), first_of_december);
    }
}
