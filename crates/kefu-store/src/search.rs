//! Full-text search over conversation transcripts, for Chinese as well as
//! Latin text, on SQLite and PostgreSQL.
//!
//! Records are stored LZ4-compressed, so SQL cannot look inside them; each
//! conversation's transcript is therefore indexed once more, in its
//! **search form** ([`search_form`]):
//!
//! - every character as the inspection engine matches it — NFKC (full-width
//!   `ＡＢＣ１２３`/`％` → `abc123`/`%`), Traditional → Simplified, case
//!   folded ([`kefu_engine::normalize`]), so a query in either width, script
//!   or case finds the text;
//! - whitespace (and zero-width characters) dropped, so `不 知 道` from a
//!   speech engine that spaces its words is found by `不知道`;
//! - punctuation kept (full-width forms folded to ASCII), so that `"`, `%`,
//!   `_`, `'` and `*` in a query are searched literally — they are neither
//!   SQL wildcards nor FTS5 syntax;
//! - each turn on a line of its own ([`transcript_text`]), with no role
//!   prefix (a prefix would make `客服` match every conversation): a term
//!   never spans two turns.
//!
//! A query is trimmed and split at whitespace; each term goes through the
//! same search form and all terms must occur (AND), each anywhere in the
//! transcript. Terms are plain substrings: there is no operator syntax.
//!
//! **SQLite** keeps a contentless FTS5 table, `conversation_fts`, whose
//! tokens are the **character bigrams** of each line: every character
//! paired with the next one, and the last one of a line with the line
//! break, so every character starts exactly one token. Chinese needs no
//! word segmentation this way, and every query is an index lookup:
//!
//! - a term of two characters — most Chinese words — is one token;
//! - a longer one is the phrase of its bigrams (consecutive positions:
//!   exactly the substring);
//! - a single character is a prefix query on the tokens it starts.
//!
//! (FTS5's built-in `trigram` tokenizer cannot look up terms shorter than
//! three characters at all.) Each bigram is written as two four-digit
//! base-36 code points (`4e0d` → `0ytp`…), tokenized by FTS5's `ascii`
//! tokenizer, so no character of the text or the query can collide with
//! FTS5 syntax or tokenizer rules: user input never reaches the MATCH
//! expression as text. The FTS rowid (`doc`) maps to the conversation
//! through `conversation_search`, which also tells which conversations are
//! indexed.
//!
//! **Queued transcripts** (SQLite). Writing a conversation's bigrams costs
//! more than the rest of its import, so an import stores the transcript's
//! search form in `search_backlog` instead ([`queue_transcripts`]), and
//! [`Store::index_backlog`] moves it into the index later, in time-bounded
//! slices (`kefu serve` every few seconds, `kefu import --index-now`,
//! `kefu migrate`). Search does not wait for it: every text condition is
//! "indexed and matched by the index, or queued and holding every term"
//! (`instr` on the queued text — the same substring test the bigram phrase
//! answers). A conversation is in exactly one of the two, and each move is
//! one transaction, so each statement sees every conversation once. A
//! queued transcript costs a search ~2 µs per scan (~0.2 s per 100,000
//! queued; a list with a text filter scans up to three times).
//!
//! **PostgreSQL** keeps the search form in `conversation_texts` with a GIN
//! `gin_trgm_ops` index, queried with `LIKE '%term%'` (`%`, `_` and `\` in
//! the term escaped; the pattern is a bound parameter). pg_trgm uses the index for terms of three characters or
//! more; shorter ones are answered by a scan (correct, slower). pg_trgm
//! only indexes CJK text when the database's `LC_CTYPE` classifies it as
//! letters (any `*.UTF-8` locale does; plain `C` does not) — results stay
//! correct either way, only the index is not used.
//!
//! **Cost** (SQLite). [`TextQuery::match_count`] asks the full-text index
//! alone how many conversations match (milliseconds per 100,000). A
//! condition can then start from the matching conversations
//! ([`Strategy::Drive`], cost growing with their number), or check the rows
//! an ORDER BY index or another indexed filter yields against them
//! ([`Strategy::Probe`], [`Strategy::Lookup`]: a page stops early when many
//! match). [`TextFilter`] (from [`Store::text_filter`]) picks per query;
//! `list_inspections` uses `Drive` for page and count alike, whose cost
//! grows with the matches (see the crate's `tests/search.rs` benchmark).
//! Probing assumes matches are spread over time; a term found only in old
//! conversations makes a newest-first page with many matches scan far.

use std::cell::RefCell;
use std::collections::HashMap;

use kefu_engine::normalize::{is_separator, NormalizedText};
use kefu_engine::Conversation;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe, Row};

use crate::dialect::placeholders;
use crate::packed::unpack;
use crate::{Backend, Context, Store, StoreError, Tx};

/// Rows per multi-row INSERT into the index (two parameters a row).
const ROWS_PER_STATEMENT: usize = 500;

/// Conversations per transaction when back-filling the index.
const REINDEX_PAGE: i64 = 2000;

/// At most this many terms of a query are used: the longest (the most
/// selective). Keeps the SQL of a pathological query within the databases'
/// limits on expression depth.
pub const MAX_QUERY_TERMS: usize = 16;

thread_local! {
    static NORMALIZED: RefCell<NormalizedText> = RefCell::new(NormalizedText::untracked());
}

/// Whether `c` is the full-width form of an ASCII character the engine
/// skips (`＊`, `＿`, `＂` …): NFKC would turn it into that character, which
/// the engine then drops; here it is kept like its ASCII twin.
fn is_full_width_separator(c: char) -> bool {
    ('\u{FF01}'..='\u{FF5E}').contains(&c)
        && char::from_u32(c as u32 - 0xFEE0).is_some_and(is_separator)
}

/// Appends the search form of `text` to `out`: runs of content through the
/// engine's normaliser (NFKC, T→S, case folding); whitespace and zero-width
/// characters dropped; the punctuation the engine skips kept, full-width
/// forms folded to their ASCII twins.
fn push_search_form(out: &mut String, buf: &mut NormalizedText, text: &str) {
    let mut run_start: Option<usize> = None;
    for (at, c) in text.char_indices() {
        if !is_separator(c) && !is_full_width_separator(c) {
            run_start.get_or_insert(at);
            continue;
        }
        if let Some(from) = run_start.take() {
            buf.fill(&text[from..at]);
            out.push_str(buf.as_str());
        }
        match c {
            _ if c.is_whitespace() => {}
            '\0' | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
            // Full-width ASCII forms (NFKC).
            '\u{FF01}'..='\u{FF5E}' => {
                out.push(char::from_u32(c as u32 - 0xFEE0).unwrap_or(c));
            }
            '…' => out.push_str("..."),
            '‥' => out.push_str(".."),
            '﹏' => out.push('_'),
            _ => out.push(c),
        }
    }
    if let Some(from) = run_start {
        buf.fill(&text[from..]);
        out.push_str(buf.as_str());
    }
}

/// The search form of a piece of text (see the module documentation): what
/// is indexed, and what each query term is turned into.
pub fn search_form(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    NORMALIZED.with(|buf| push_search_form(&mut out, &mut buf.borrow_mut(), text));
    out
}

/// The text to index for a conversation: the search form of each turn's
/// text on a line of its own, each line ending in a line break, no role
/// prefixes. Cheap enough to compute in import workers; pass the result to
/// `index_transcripts`.
pub fn transcript_text(conv: &Conversation<'_>) -> String {
    let len: usize = conv.turns.iter().map(|t| t.text.len() + 1).sum();
    let mut out = String::with_capacity(len + 1);
    NORMALIZED.with(|buf| {
        let mut buf = buf.borrow_mut();
        for turn in &conv.turns {
            push_search_form(&mut out, &mut buf, &turn.text);
            out.push('\n');
        }
    });
    out
}

/// Appends `c` as four base-36 digits (every code point fits: 36⁴ > 0x10FFFF).
fn push_code(out: &mut String, c: char) {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut v = c as u32;
    let mut d = [0u8; 4];
    for slot in d.iter_mut().rev() {
        *slot = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    out.extend(d.iter().map(|&b| char::from(b)));
}

/// The FTS5 document of a transcript (SQLite): its character bigrams, each
/// character with the next one on its line or with the line break, as
/// space-separated tokens of eight base-36 digits.
fn bigram_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        push_code(&mut out, c);
        push_code(&mut out, chars.peek().copied().unwrap_or('\n'));
    }
    out
}

/// A query term (search form, no line break) as an FTS5 expression: one
/// bigram token, the phrase of its bigrams, or for a single character the
/// prefix query on the tokens it starts. Only base-36 digits and spaces go
/// inside the quotes.
fn fts5_term(term: &str) -> String {
    let chars: Vec<char> = term.chars().collect();
    let mut out = String::with_capacity(chars.len() * 9 + 4);
    out.push('"');
    if let [c] = chars.as_slice() {
        push_code(&mut out, *c);
        out.push_str("\"*");
        return out;
    }
    for (i, pair) in chars.windows(2).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        push_code(&mut out, pair[0]);
        push_code(&mut out, pair[1]);
    }
    out.push('"');
    out
}

/// Indexes transcripts inside `tx`: `rows` are `(conversation id, text)`
/// with the text from [`transcript_text`]. The conversations must already
/// be stored (in `tx` or before). A conversation already indexed keeps its
/// entry, so this is safe to run twice and alongside [`Store::reindex_missing`]
/// and [`Store::index_backlog`].
pub(crate) async fn index_transcripts(
    tx: &mut Tx,
    rows: &[(&str, &str)],
) -> Result<(), StoreError> {
    let backend = tx.backend();
    for chunk in crate::dialect::row_chunks(rows, ROWS_PER_STATEMENT) {
        match backend {
            Backend::Postgres => {
                let sql = format!(
                    "INSERT INTO conversation_texts (conversation_id, text) VALUES {} \
                     ON CONFLICT (conversation_id) DO NOTHING",
                    placeholders(backend, chunk.len(), 2)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for (id, text) in chunk {
                    q = q.bind(*id).bind(*text);
                }
                q.execute(tx.conn()).await.context("indexing transcripts")?;
            }
            Backend::Sqlite => {
                let sql = format!(
                    "INSERT INTO conversation_search (conversation_id) VALUES {} \
                     ON CONFLICT (conversation_id) DO NOTHING RETURNING doc, conversation_id",
                    placeholders(backend, chunk.len(), 1)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for (id, _) in chunk {
                    q = q.bind(*id);
                }
                let docs = q
                    .fetch_all(tx.conn())
                    .await
                    .context("indexing transcripts")?;
                if docs.is_empty() {
                    continue;
                }
                let texts: HashMap<&str, &str> = chunk.iter().copied().collect();
                let mut fresh: Vec<(i64, &str)> = Vec::with_capacity(docs.len());
                for row in &docs {
                    let doc: i64 = row.try_get("doc").context("conversation_search.doc")?;
                    let id: String = row
                        .try_get("conversation_id")
                        .context("conversation_search.conversation_id")?;
                    if let Some(text) = texts.get(id.as_str()) {
                        fresh.push((doc, text));
                    }
                }
                let sql = format!(
                    "INSERT INTO conversation_fts (rowid, bigrams) VALUES {}",
                    placeholders(backend, fresh.len(), 2)
                );
                let mut q = sqlx::query(AssertSqlSafe(sql));
                for (doc, text) in &fresh {
                    q = q.bind(*doc).bind(bigram_tokens(text));
                }
                q.execute(tx.conn()).await.context("indexing transcripts")?;
            }
        }
    }
    Ok(())
}

/// Queues transcripts for the full-text index inside `tx` (an import's
/// transaction): `rows` as for [`index_transcripts`]. On SQLite they wait in
/// `search_backlog` for [`Store::index_backlog`] — search finds them there
/// meanwhile — because writing FTS5 bigrams costs more than the rest of an
/// import; on PostgreSQL they are indexed at once (the GIN index already
/// defers its own work to a pending list).
pub(crate) async fn queue_transcripts(
    tx: &mut Tx,
    rows: &[(&str, &str)],
) -> Result<(), StoreError> {
    let backend = tx.backend();
    if backend == Backend::Postgres {
        return index_transcripts(tx, rows).await;
    }
    for chunk in crate::dialect::row_chunks(rows, ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO search_backlog (conversation_id, text) VALUES {} \
             ON CONFLICT (conversation_id) DO NOTHING",
            placeholders(backend, chunk.len(), 2)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, text) in chunk {
            q = q.bind(*id).bind(*text);
        }
        q.execute(tx.conn())
            .await
            .context("queueing transcripts for the search index")?;
    }
    Ok(())
}

/// How a text condition is evaluated (SQLite; PostgreSQL plans by its own
/// statistics and gets the same SQL for each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Start from the matching conversations (`column IN (…)`): cost grows
    /// with how many match (~1–5 µs each at 1,000,000 conversations). For
    /// counts, and for pages when few match.
    Drive,
    /// Check rows found otherwise — through the ORDER BY index of a page,
    /// or another indexed condition — against the set of matching
    /// documents, built once from the index (~0.15 µs a match), ~3 µs a
    /// row checked. For a page when many match (the LIMIT stops the scan
    /// early), or a count restricted by another selective condition. Never
    /// for an unrestricted count: that would check every row.
    Probe,
    /// Like [`Strategy::Probe`], but each row asks the full-text index
    /// about its own document (~25 µs a bigram token of the query), so
    /// nothing is built up front: for a page when most conversations match.
    /// Not for single-character terms (a prefix query is rebuilt per row).
    Lookup,
}

/// Up to this many matching conversations, [`Strategy::Drive`] is the
/// cheapest for a page (and always fine for a count).
const DRIVE_UP_TO: i64 = 20_000;

/// A parsed search query, ready to become an SQL condition.
#[derive(Debug, Clone)]
pub(crate) struct TextQuery {
    backend: Backend,
    /// SQLite: one FTS5 expression, every term ANDed.
    fts: String,
    /// SQLite: the terms in search form, for transcripts still in the
    /// backlog (`instr` on their text).
    terms: Vec<String>,
    /// SQLite: bigram tokens in the expression (the cost of a lookup).
    tokens: usize,
    /// SQLite: some term is a single character (a prefix query).
    prefix: bool,
    /// PostgreSQL: a `LIKE` pattern per term.
    patterns: Vec<String>,
}

/// The terms of a query in search form: split at whitespace, empty ones
/// and repeats dropped, as are terms contained in another term (implied by
/// it); at most [`MAX_QUERY_TERMS`], the longest.
fn query_terms(query: &str) -> Vec<String> {
    let mut terms: Vec<String> = query
        .split_whitespace()
        .map(search_form)
        .filter(|t| !t.is_empty())
        .collect();
    terms.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
    terms.dedup();
    let mut kept: Vec<String> = Vec::with_capacity(terms.len());
    for t in terms {
        if !kept.iter().any(|k| k.contains(t.as_str())) {
            kept.push(t);
        }
    }
    kept.truncate(MAX_QUERY_TERMS);
    kept
}

/// `%term%` with `\`, `%` and `_` escaped by `\`.
fn like_pattern(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

impl TextQuery {
    /// Parses a user's query. `None` when it has nothing to search for
    /// (empty or only whitespace): then it filters nothing out.
    pub(crate) fn parse(backend: Backend, query: &str) -> Option<TextQuery> {
        let terms = query_terms(query);
        if terms.is_empty() {
            return None;
        }
        let lengths = terms.iter().map(|t| t.chars().count());
        Some(TextQuery {
            backend,
            fts: terms
                .iter()
                .map(|t| fts5_term(t))
                .collect::<Vec<_>>()
                .join(" AND "),
            terms: terms.clone(),
            tokens: lengths.clone().map(|n| n.saturating_sub(1).max(1)).sum(),
            prefix: lengths.clone().any(|n| n == 1),
            patterns: terms.iter().map(|t| like_pattern(t)).collect(),
        })
    }

    /// [`TextQuery::condition_as`] with [`Strategy::Drive`]: cost grows with
    /// the matches, never with the table; right for a count.
    pub(crate) fn condition(&self, column: &str, next: &mut dyn FnMut() -> String) -> String {
        self.condition_as(column, Strategy::Drive, next)
    }

    /// The condition "the conversation in `column` matches", for a column
    /// holding conversation ids, evaluated per `strategy`. `next` yields the
    /// placeholder for each parameter in turn (`$1`, `$2`, …); bind them with
    /// [`TextQuery::bind`] in the same order. Every strategy takes the same
    /// parameters.
    pub(crate) fn condition_as(
        &self,
        column: &str,
        strategy: Strategy,
        next: &mut dyn FnMut() -> String,
    ) -> String {
        match self.backend {
            Backend::Postgres => {
                let likes: Vec<String> = self
                    .patterns
                    .iter()
                    // Backslash is LIKE's escape character by default (and
                    // the one pg_trgm understands).
                    .map(|_| format!("t.text LIKE {}", next()))
                    .collect();
                format!(
                    "{column} IN (SELECT t.conversation_id FROM conversation_texts t WHERE {})",
                    likes.join(" AND ")
                )
            }
            Backend::Sqlite => {
                let ph = next();
                let queued = self.queued_condition(next);
                match strategy {
                    Strategy::Drive => format!(
                        "{column} IN (SELECT s.conversation_id FROM conversation_search s WHERE s.doc IN \
                         (SELECT rowid FROM conversation_fts WHERE conversation_fts MATCH {ph}) \
                         UNION ALL SELECT b.conversation_id FROM search_backlog b WHERE {queued})"
                    ),
                    // `+` keeps SQLite from driving the lookup by the
                    // document set: the set is built once, each row probes it.
                    Strategy::Probe => format!(
                        "(EXISTS (SELECT 1 FROM conversation_search s WHERE s.conversation_id = {column} \
                         AND +s.doc IN (SELECT rowid FROM conversation_fts WHERE conversation_fts MATCH {ph})) \
                         OR EXISTS (SELECT 1 FROM search_backlog b WHERE b.conversation_id = {column} AND {queued}))"
                    ),
                    Strategy::Lookup => format!(
                        "(EXISTS (SELECT 1 FROM conversation_search s JOIN conversation_fts f ON f.rowid = s.doc \
                         WHERE s.conversation_id = {column} AND conversation_fts MATCH {ph}) \
                         OR EXISTS (SELECT 1 FROM search_backlog b WHERE b.conversation_id = {column} AND {queued}))"
                    ),
                }
            }
        }
    }

    /// SQLite: the condition on a queued transcript `b` (not indexed yet):
    /// its text holds every term — the substring test the bigram index
    /// answers for indexed ones. One placeholder a term, after the FTS5
    /// expression's.
    fn queued_condition(&self, next: &mut dyn FnMut() -> String) -> String {
        let tests: Vec<String> = self
            .terms
            .iter()
            .map(|_| format!("instr(b.text, {}) > 0", next()))
            .collect();
        tests.join(" AND ")
    }

    /// Binds the parameters of [`TextQuery::condition`], in order.
    pub(crate) fn bind<'q>(
        &self,
        mut q: Query<'q, Any, AnyArguments>,
    ) -> Query<'q, Any, AnyArguments> {
        match self.backend {
            Backend::Postgres => {
                for p in &self.patterns {
                    q = q.bind(p.clone());
                }
            }
            Backend::Sqlite => {
                q = q.bind(self.fts.clone());
                for t in &self.terms {
                    q = q.bind(t.clone());
                }
            }
        }
        q
    }

    /// How many conversations match: on SQLite from the full-text index
    /// alone (no join; milliseconds per 100,000 matches) plus the queued
    /// transcripts that hold every term.
    pub(crate) async fn match_count(&self, pool: &sqlx::AnyPool) -> Result<i64, StoreError> {
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let sql = match self.backend {
            Backend::Sqlite => {
                let fts = next();
                let queued = self.queued_condition(&mut next);
                format!(
                    "SELECT (SELECT COUNT(*) FROM conversation_fts WHERE conversation_fts MATCH {fts}) \
                     + (SELECT COUNT(*) FROM search_backlog b WHERE {queued}) AS n"
                )
            }
            Backend::Postgres => format!(
                "SELECT COUNT(*) AS n FROM conversations c WHERE {}",
                self.condition("c.id", &mut next)
            ),
        };
        self.bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_one(pool)
            .await
            .context("counting search matches")?
            .try_get("n")
            .context("count")
    }

    /// The cheapest strategy for `rows` rows in index order, when `matches`
    /// of about `docs` indexed conversations match (SQLite; see
    /// [`Strategy`] for the costs).
    fn page_strategy(&self, matches: i64, docs: i64, rows: i64) -> Strategy {
        if matches <= DRIVE_UP_TO.max(rows) {
            return Strategy::Drive;
        }
        // Rows checked before `rows` match, if matches are spread evenly.
        let checked = rows.max(1) as f64 * docs.max(matches) as f64 / matches as f64;
        let probe_us = matches as f64 * 0.15 + checked * 3.0;
        let lookup_us = checked * 25.0 * self.tokens as f64;
        if !self.prefix && lookup_us < probe_us {
            Strategy::Lookup
        } else {
            Strategy::Probe
        }
    }
}

/// A transcript-search condition planned for one query
/// ([`Store::text_filter`]): knows how many conversations match, and builds
/// the SQL that is cheapest for a page of a list and for its count.
///
/// Use it in queries over `inspections i` (or anything with a conversation
/// id column), as `list_inspections` does:
///
/// - if [`TextFilter::matches`] is `Some(0)`, nothing matches: skip the
///   queries;
/// - the page query gets [`TextFilter::page_condition`] (for
///   `offset + limit` rows);
/// - the count query gets [`TextFilter::count_condition`] — or, when no
///   other filter applies, the total is [`TextFilter::matches`] itself
///   (every stored conversation has exactly one current result);
/// - bind with [`TextFilter::bind`] where the condition's placeholders are.
///
/// Both conditions take the same parameters, so one set of placeholders
/// (from the same `next`) serves both queries.
#[derive(Debug, Clone)]
pub struct TextFilter {
    query: TextQuery,
    /// SQLite: matching conversations, from the index.
    matches: Option<i64>,
    /// SQLite: about how many conversations are indexed.
    docs: i64,
}

impl TextFilter {
    /// Conversations matching, counted in the full-text index (SQLite);
    /// `None` on PostgreSQL, which is not asked in advance (its planner
    /// chooses by its own statistics).
    pub fn matches(&self) -> Option<i64> {
        self.matches
    }

    fn strategy_for_page(&self, rows: i64) -> Strategy {
        match self.matches {
            Some(m) => self.query.page_strategy(m, self.docs, rows),
            None => Strategy::Drive,
        }
    }

    /// The condition for a page of `rows` rows (offset + limit) of a query
    /// ordered by an index, `column` holding conversation ids.
    pub fn page_condition(
        &self,
        column: &str,
        rows: i64,
        next: &mut dyn FnMut() -> String,
    ) -> String {
        self.query
            .condition_as(column, self.strategy_for_page(rows), next)
    }

    /// The condition for counting rows. Starts from the matches when they
    /// are few; checks rows against them when there are many (assuming
    /// another, indexed condition narrows the rows: with none, take
    /// [`TextFilter::matches`] as the count instead).
    pub fn count_condition(&self, column: &str, next: &mut dyn FnMut() -> String) -> String {
        let strategy = match self.matches {
            Some(m) if m > DRIVE_UP_TO => Strategy::Probe,
            _ => Strategy::Drive,
        };
        self.query.condition_as(column, strategy, next)
    }

    /// Binds the condition's parameters, in order.
    pub fn bind<'q>(&self, q: Query<'q, Any, AnyArguments>) -> Query<'q, Any, AnyArguments> {
        self.query.bind(q)
    }
}

/// The table that says which conversations are indexed (both have
/// `conversation_id`).
fn index_table(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "conversation_search",
        Backend::Postgres => "conversation_texts",
    }
}

impl Store {
    /// Plans a transcript-search condition for `query` (see
    /// [`TextFilter`]); `None` when the query has no terms (then it filters
    /// nothing). On SQLite this asks the full-text index how many
    /// conversations match.
    pub async fn text_filter(&self, query: &str) -> Result<Option<TextFilter>, StoreError> {
        let Some(query) = TextQuery::parse(self.backend(), query) else {
            return Ok(None);
        };
        let (matches, docs) = match self.backend() {
            Backend::Postgres => (None, 0),
            Backend::Sqlite => {
                let matches = query.match_count(self.pool()).await?;
                // The highest doc is about the number indexed (docs are
                // rarely deleted), and costs one B-tree step.
                let docs: Option<i64> =
                    sqlx::query("SELECT MAX(doc) AS n FROM conversation_search")
                        .fetch_one(self.pool())
                        .await
                        .context("sizing the transcript index")?
                        .try_get("n")
                        .context("count")?;
                (Some(matches), docs.unwrap_or(0))
            }
        };
        Ok(Some(TextFilter {
            query,
            matches,
            docs,
        }))
    }

    /// Ids of conversations whose transcript contains every term of
    /// `query` (see the module documentation), in id order, at most `limit`
    /// (1–10,000). An empty query finds nothing.
    pub async fn search_conversations(
        &self,
        query: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let Some(filter) = self.text_filter(query).await? else {
            return Ok(Vec::new());
        };
        if filter.matches() == Some(0) {
            return Ok(Vec::new());
        }
        let limit = limit.clamp(1, 10_000);
        let mut n = 0;
        let mut next = || {
            n += 1;
            format!("${n}")
        };
        let cond = filter.page_condition("c.id", limit, &mut next);
        let limit_ph = next();
        let sql =
            format!("SELECT c.id FROM conversations c WHERE {cond} ORDER BY c.id LIMIT {limit_ph}");
        let rows = filter
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .context("searching transcripts")?;
        rows.iter()
            .map(|r| r.try_get::<String, _>("id").context("conversations.id"))
            .collect()
    }

    /// Moves the transcripts imports queued (`search_backlog`, SQLite) into
    /// the full-text index, oldest first, in time-bounded slices of one
    /// transaction each ([`crate::slice`]: an interactive writer waits for
    /// at most about one slice); returns how many it indexed. Safe to run
    /// beside imports and on several nodes at once: a transcript indexed
    /// twice keeps its first entry. Returns at once when nothing is queued
    /// (and always on PostgreSQL, which indexes as it imports).
    pub async fn index_backlog(&self) -> Result<u64, StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(0);
        }
        let mut slicer =
            crate::slice::Slicer::with_target(100, REINDEX_PAGE as usize, self.slice_target);
        let mut done = 0u64;
        let mut last: Option<(std::time::Instant, std::time::Duration)> = None;
        // Looked at without the write lock first: this runs every few
        // seconds beside interactive writers, and the queue is usually empty.
        // After that, each slice's own read finds the end of the queue.
        let waiting = sqlx::query("SELECT 1 AS one FROM search_backlog LIMIT 1")
            .fetch_optional(self.pool())
            .await
            .context("looking for queued transcripts")?;
        if waiting.is_none() {
            return Ok(0);
        }
        loop {
            if let Some((ended, took)) = last {
                let pause = crate::slice::pause_between(self.backend(), took);
                if let Some(rest) = pause.checked_sub(ended.elapsed()) {
                    tokio::time::sleep(rest).await;
                }
            }
            let started = std::time::Instant::now();
            let mut tx = self.write().await?;
            let rows = sqlx::query(
                "SELECT seq, conversation_id, text FROM search_backlog ORDER BY seq LIMIT $1",
            )
            .bind(slicer.size() as i64)
            .fetch_all(tx.conn())
            .await
            .context("reading queued transcripts")?;
            let Some(last_row) = rows.last() else { break };
            let upto: i64 = last_row.try_get("seq").context("search_backlog.seq")?;
            let mut queued: Vec<(String, String)> = Vec::with_capacity(rows.len());
            for row in &rows {
                queued.push((
                    row.try_get("conversation_id")
                        .context("search_backlog.conversation_id")?,
                    row.try_get("text").context("search_backlog.text")?,
                ));
            }
            let refs: Vec<(&str, &str)> = queued
                .iter()
                .map(|(i, t)| (i.as_str(), t.as_str()))
                .collect();
            index_transcripts(&mut tx, &refs).await?;
            sqlx::query("DELETE FROM search_backlog WHERE seq <= $1")
                .bind(upto)
                .execute(tx.conn())
                .await
                .context("removing indexed transcripts from the queue")?;
            tx.commit().await?;
            let took = started.elapsed();
            slicer.record(refs.len(), took);
            last = Some((std::time::Instant::now(), took));
            done += refs.len() as u64;
        }
        Ok(done)
    }

    /// The position of the newest queued transcript (`None`: nothing
    /// waits): a cheap way to tell whether an import is still queueing.
    pub async fn newest_queued_transcript(&self) -> Result<Option<i64>, StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(None);
        }
        sqlx::query("SELECT MAX(seq) AS seq FROM search_backlog")
            .fetch_one(self.pool())
            .await
            .context("looking for queued transcripts")?
            .try_get("seq")
            .context("search_backlog.seq")
    }

    /// How many transcripts wait for the full-text index
    /// ([`Store::index_backlog`]; always 0 on PostgreSQL).
    pub async fn search_backlog(&self) -> Result<i64, StoreError> {
        if self.backend() != Backend::Sqlite {
            return Ok(0);
        }
        sqlx::query("SELECT COUNT(*) AS n FROM search_backlog")
            .fetch_one(self.pool())
            .await
            .context("counting queued transcripts")?
            .try_get("n")
            .context("count")
    }

    /// Indexes every transcript not in the full-text index yet: first those
    /// imports queued ([`Store::index_backlog`]), then stored conversations
    /// the index has never seen — those stored before it existed, or after
    /// [`Store::clear_search_index`] — read back from their records in pages
    /// of a few thousand, one transaction each (so it can be interrupted
    /// and run again). Returns how many it indexed. Records that cannot be
    /// read are logged and left out. Returns at once when every
    /// conversation is indexed.
    pub async fn reindex_missing(&self) -> Result<u64, StoreError> {
        let queued = self.index_backlog().await?;
        Ok(queued + self.index_unseen().await?)
    }

    /// Indexes stored conversations that are neither indexed nor queued.
    async fn index_unseen(&self) -> Result<u64, StoreError> {
        let table = index_table(self.backend());
        let queued = match self.backend() {
            Backend::Sqlite => " + (SELECT COUNT(*) FROM search_backlog)",
            Backend::Postgres => "",
        };
        let counts = sqlx::query(AssertSqlSafe(format!(
            "SELECT (SELECT COUNT(*) FROM conversations) AS stored, \
             (SELECT COUNT(*) FROM {table}){queued} AS indexed"
        )))
        .fetch_one(self.pool())
        .await
        .context("counting indexed transcripts")?;
        let stored: i64 = counts.try_get("stored").context("count")?;
        let indexed: i64 = counts.try_get("indexed").context("count")?;
        // Every index and queue row references a stored conversation, and a
        // conversation is in at most one of them, so equal counts mean
        // nothing is missing.
        if stored == indexed {
            return Ok(0);
        }
        // Queued transcripts are the backlog's to index (an import may
        // queue more while this runs).
        let not_queued = match self.backend() {
            Backend::Sqlite => {
                "AND NOT EXISTS (SELECT 1 FROM search_backlog b WHERE b.conversation_id = c.id)"
            }
            Backend::Postgres => "",
        };
        let select = format!(
            "SELECT c.id, c.record FROM conversations c WHERE c.id > $1 \
             AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.conversation_id = c.id) {not_queued} \
             ORDER BY c.id LIMIT $2"
        );
        let mut done = 0u64;
        let mut after = String::new();
        loop {
            let rows = sqlx::query(AssertSqlSafe(select.clone()))
                .bind(&after)
                .bind(REINDEX_PAGE)
                .fetch_all(self.pool())
                .await
                .context("reading conversations to index")?;
            let Some(last) = rows.last() else { break };
            after = last.try_get("id").context("conversations.id")?;
            let mut texts: Vec<(String, String)> = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: String = row.try_get("id").context("conversations.id")?;
                let record: Vec<u8> = row.try_get("record").context("conversations.record")?;
                let parsed = unpack(&record).and_then(|json| {
                    serde_json::from_slice::<Conversation<'_>>(&json)
                        .map(|c| transcript_text(&c))
                        .map_err(|e| e.to_string())
                });
                match parsed {
                    Ok(text) => texts.push((id, text)),
                    Err(e) => {
                        tracing::warn!(conversation = %id, error = %e, "stored conversation unreadable: not indexed");
                    }
                }
            }
            if texts.is_empty() {
                continue;
            }
            let refs: Vec<(&str, &str)> = texts
                .iter()
                .map(|(i, t)| (i.as_str(), t.as_str()))
                .collect();
            let mut tx = self.write().await?;
            index_transcripts(&mut tx, &refs).await?;
            tx.commit().await?;
            done += refs.len() as u64;
        }
        Ok(done)
    }

    /// Empties the transcript index; [`Store::reindex_missing`] then builds
    /// it again from the stored records (after a change to how text is
    /// indexed, or to test the backfill).
    pub async fn clear_search_index(&self) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        match self.backend() {
            Backend::Sqlite => {
                sqlx::query(
                    "INSERT INTO conversation_fts (conversation_fts) VALUES ('delete-all')",
                )
                .execute(tx.conn())
                .await
                .context("clearing the transcript index")?;
                sqlx::query("DELETE FROM conversation_search")
                    .execute(tx.conn())
                    .await
                    .context("clearing the transcript index")?;
            }
            Backend::Postgres => {
                sqlx::query("DELETE FROM conversation_texts")
                    .execute(tx.conn())
                    .await
                    .context("clearing the transcript index")?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both strategies find the same conversations, on both backends.
    #[cfg(feature = "testing")]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strategies_agree() {
        use crate::testing::TestDb;
        let mut dbs = vec![TestDb::sqlite("search_strategies_agree")];
        dbs.extend(TestDb::postgres("search_strategies_agree").await);
        for db in dbs {
            let store = db.open().await;
            let inspector =
                kefu_engine::Inspector::new(kefu_engine::RulePack::default_zh_cn().expect("pack"))
                    .expect("compile");
            let pack = store
                .register_pack("zh-CN", "t", kefu_engine::pack::DEFAULT_PACK_ZH_CN)
                .await
                .expect("register");
            let texts = [
                "我要退款",
                "退货退款",
                "投诉你们",
                "退",
                "好的，谢谢",
                "退款 投诉",
            ];
            let mut scratch = kefu_engine::Scratch::default();
            let items: Vec<crate::ImportItem> = (0..60)
                .map(|i| {
                    let line = serde_json::json!({
                        "id": format!("s{i:02}"),
                        "channel": "chat",
                        "agent_id": format!("a{}", i % 3),
                        "started_at": 1_700_000_000_000i64 + i * 60_000,
                        "turns": [{"role": "agent", "text": "您好"},
                                  {"role": "customer", "text": texts[i as usize % texts.len()]}],
                    })
                    .to_string();
                    let conv: Conversation<'_> = serde_json::from_str(&line).expect("parses");
                    let ins = inspector.inspect(&conv, &mut scratch);
                    crate::ImportItem::new(&conv, Some(&line), ins)
                })
                .collect();
            // Half indexed, half still queued (SQLite); then all indexed.
            store
                .import_batch(pack.id, &items[..30])
                .await
                .expect("import");
            store.reindex_missing().await.expect("index");
            store
                .import_batch(pack.id, &items[30..])
                .await
                .expect("import");
            let queued = match store.backend() {
                Backend::Sqlite => 30,
                Backend::Postgres => 0,
            };
            assert_eq!(store.search_backlog().await.expect("backlog"), queued);
            for round in 0..2 {
                if round == 1 {
                    assert_eq!(store.index_backlog().await.expect("index"), queued as u64);
                    assert_eq!(store.search_backlog().await.expect("backlog"), 0);
                }
                for query in ["退款", "退", "退款 投诉", "您好 谢谢", "没有", "a1"] {
                    let text = TextQuery::parse(store.backend(), query).expect("terms");
                    let expected = text.match_count(store.pool()).await.expect("count");
                    let truth = (0..60)
                        .filter(|i| {
                            let transcript =
                                format!("您好\n{}", search_form(texts[i % texts.len()]));
                            query_terms(query)
                                .iter()
                                .all(|t| transcript.contains(t.as_str()))
                        })
                        .count() as i64;
                    assert_eq!(expected, truth, "{query} round {round}");
                    let mut found = Vec::new();
                    for strategy in [Strategy::Drive, Strategy::Probe, Strategy::Lookup] {
                        for agent in [None, Some("a1")] {
                            let mut n = 0;
                            let mut next = || {
                                n += 1;
                                format!("${n}")
                            };
                            let cond = text.condition_as("i.conversation_id", strategy, &mut next);
                            let agent_cond = match agent {
                                Some(_) => format!(" AND i.agent_id = {}", next()),
                                None => String::new(),
                            };
                            let sql = format!(
                            "SELECT i.conversation_id FROM inspections i WHERE i.is_current = 1 \
                             AND {cond}{agent_cond} ORDER BY i.started_at DESC LIMIT 100"
                        );
                            let mut q = text.bind(sqlx::query(AssertSqlSafe(sql)));
                            if let Some(a) = agent {
                                q = q.bind(a);
                            }
                            let ids: Vec<String> = q
                                .fetch_all(store.pool())
                                .await
                                .expect("query")
                                .iter()
                                .map(|r| r.try_get("conversation_id").expect("id"))
                                .collect();
                            if agent.is_none() {
                                assert_eq!(ids.len() as i64, expected, "{query} {strategy:?}");
                            }
                            found.push(ids);
                        }
                    }
                    for pair in found.chunks(2).skip(1) {
                        assert_eq!(found[0], pair[0], "{query}");
                        assert_eq!(found[1], pair[1], "{query}");
                    }
                    assert!(found[1].iter().all(|id| found[0].contains(id)));
                }
            }
            store.close().await;
        }
    }

    #[test]
    fn search_form_folds_width_script_case_and_spaces() {
        assert_eq!(search_form("ＡＢＣ１２３"), "abc123");
        assert_eq!(search_form("退款問題"), "退款问题");
        assert_eq!(search_form("不 知　道"), "不知道");
        assert_eq!(search_form("100％"), "100%");
        assert_eq!(search_form("a_b ＊c＂'"), "a_b*c\"'");
        assert_eq!(search_form("您好，请问"), "您好,请问");
    }

    #[test]
    fn query_terms_drop_repeats_and_implied_terms() {
        assert_eq!(query_terms("  退款  退款申请 退款 "), vec!["退款申请"]);
        assert_eq!(query_terms("投诉 態度"), vec!["态度", "投诉"]);
        assert!(query_terms(" \u{3000} ").is_empty());
    }

    #[test]
    fn fts_and_like_quoting() {
        assert_eq!(like_pattern("5%_\\"), "%5\\%\\_\\\\%");
        // 不 = U+4E0D, 知 = U+77E5, "\n" = U+000A in base 36.
        let (bu, zhi, nl) = ("0ff1", "0nol", "000a");
        let mut code = String::new();
        push_code(&mut code, '知');
        assert_eq!(code, zhi);
        assert_eq!(
            bigram_tokens("不知\n不"),
            format!("{bu}{zhi} {zhi}{nl} {bu}{nl}")
        );
        assert_eq!(fts5_term("不"), format!("\"{bu}\"*"));
        assert_eq!(fts5_term("不知"), format!("\"{bu}{zhi}\""));
        assert_eq!(fts5_term("不知不"), format!("\"{bu}{zhi} {zhi}{bu}\""));
        let mut max = String::new();
        push_code(&mut max, char::MAX);
        assert_eq!(max.len(), 4);
    }
}
