//! Finding customers by part of their name without reading every name.
//!
//! `customer_name_grams` (migration 0023, kept by triggers) holds each
//! customer's name as **grams**: every character paired with the next one,
//! the last character alone, so every character of the name starts
//! exactly one gram (`张伟明` → `张伟`, `伟明`, `明`). On SQLite the name is
//! lower-cased first (ASCII only, as `LIKE` folds case); PostgreSQL's
//! `LIKE` is case-sensitive and its grams are too.
//!
//! A search text of two characters or more occurs in a name only if each
//! of its pairs is a gram of that name; one of a single character only if
//! some gram starts with it. [`Store::name_candidates`] yields the
//! customers holding all of those grams that are not common — a superset
//! of the matches, still checked with `LIKE`, so the grams decide only how
//! many names are read, never what is found. When every gram is common,
//! the list reads names in its own order instead and stops at a page of
//! matches, which is then the cheaper way.

use sqlx::{AssertSqlSafe, Row};

use crate::dialect::{Arg, Where};
use crate::{Backend, Context, Store, StoreError};

/// At most this many distinct pairs of a search are weighed.
const MAX_PAIRS: usize = 6;

/// A gram held by more customers than this is common: reading names in
/// list order finds a page of matches sooner than reading every holder.
const COMMON_GRAM: i64 = 10_000;

/// Names longer than this (in characters) have grams only for their first
/// characters on SQLite, whose triggers number positions from a table of
/// this size; they are always candidates (migration 0023's
/// `customers_long_names` index finds them).
const SQLITE_GRAM_POSITIONS: usize = 1000;

/// One way a search's grams are looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GramLookup {
    /// A gram equal to this pair of characters.
    Pair(String),
    /// Every gram starting with this character.
    Lead(char),
}

impl GramLookup {
    /// The condition on `customer_name_grams`, its values added to `w`.
    fn condition(&self, w: &mut Where) -> String {
        match self {
            GramLookup::Pair(pair) => {
                let p = w.arg(Arg::Text(pair.clone()));
                format!("gram = {p}")
            }
            GramLookup::Lead(c) => {
                // The character alone, and followed by anything up to
                // U+10FFFF, the greatest in byte order.
                let from = w.arg(Arg::Text(c.to_string()));
                let to = w.arg(Arg::Text(format!("{c}{}", char::MAX)));
                format!("gram >= {from} AND gram <= {to}")
            }
        }
    }
}

/// The gram lookups any name containing `needle` satisfies: its distinct
/// pairs (at most [`MAX_PAIRS`]), or its one character.
fn lookups(backend: Backend, needle: &str) -> Vec<GramLookup> {
    let folded: Vec<char> = match backend {
        Backend::Sqlite => needle.chars().map(|c| c.to_ascii_lowercase()).collect(),
        Backend::Postgres => needle.chars().collect(),
    };
    if let [only] = folded[..] {
        return vec![GramLookup::Lead(only)];
    }
    let mut pairs = Vec::new();
    for p in folded.windows(2) {
        let pair = GramLookup::Pair(p.iter().collect());
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
    }
    pairs.truncate(MAX_PAIRS);
    pairs
}

impl Store {
    /// A `SELECT customer_id …` of the customers whose names could contain
    /// `needle` (what the list's `LIKE '%…%'` looks for), with its values
    /// added to `w`: the holders of each of its grams that is not common.
    /// `None` when `needle` is empty, or every gram of it is common (see
    /// the module docs).
    pub(crate) async fn name_candidates(
        &self,
        w: &mut Where,
        needle: &str,
    ) -> Result<Option<String>, StoreError> {
        let lookups = lookups(self.backend(), needle);
        if lookups.is_empty() {
            return Ok(None);
        }
        // How many hold each gram, counted up to the cap: one statement.
        let mut counts = Where::default();
        let sql = lookups
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let cond = l.condition(&mut counts);
                format!(
                    "SELECT {i} AS k, COUNT(*) AS n FROM (SELECT 1 FROM customer_name_grams \
                     WHERE {cond} LIMIT {}) t{i}",
                    COMMON_GRAM + 1
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let rows = counts
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_all(self.pool())
            .await
            .context("weighing a name search")?;
        // The holders of every gram that is not common: each holds all of
        // those grams (INTERSECT); common ones would add work, not narrow.
        let mut narrowing = Vec::new();
        for row in &rows {
            let k: i64 = row.try_get("k").context("gram")?;
            let n: i64 = row.try_get("n").context("holders")?;
            if n <= COMMON_GRAM {
                if let Some(l) = usize::try_from(k).ok().and_then(|k| lookups.get(k)) {
                    narrowing.push(l);
                }
            }
        }
        if narrowing.is_empty() {
            return Ok(None);
        }
        let mut select = narrowing
            .into_iter()
            .map(|l| {
                let cond = l.condition(w);
                format!("SELECT customer_id FROM customer_name_grams WHERE {cond}")
            })
            .collect::<Vec<_>>()
            .join(" INTERSECT ");
        if self.backend() == Backend::Sqlite {
            select.push_str(&format!(
                " UNION SELECT id FROM customers WHERE length(name) > {SQLITE_GRAM_POSITIONS}"
            ));
        }
        Ok(Some(select))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_are_distinct_folded_pairs_or_one_lead() {
        use GramLookup::{Lead, Pair};
        assert_eq!(
            lookups(Backend::Sqlite, "AbAb"),
            vec![Pair("ab".into()), Pair("ba".into())]
        );
        assert_eq!(
            lookups(Backend::Postgres, "AbA"),
            vec![Pair("Ab".into()), Pair("bA".into())]
        );
        assert_eq!(
            lookups(Backend::Postgres, "一二三四五六七八九十").len(),
            MAX_PAIRS
        );
        assert_eq!(lookups(Backend::Sqlite, "张"), vec![Lead('张')]);
        assert!(lookups(Backend::Sqlite, "").is_empty());
    }
}
