-- Full-text search over conversation transcripts (see src/search.rs).
--
-- Records are stored compressed, so the transcript is indexed once more in
-- its search form (NFKC, Traditional → Simplified, case folded, whitespace
-- dropped, one line per turn), as the character bigrams of each line —
-- each character with the next one, or with the line break — so Chinese
-- needs no word segmentation and terms of any length are index lookups.
-- Each bigram is written as eight base-36 digits and split by the `ascii`
-- tokenizer. The FTS5 table is contentless: the index alone answers every
-- query, the text is not kept a second time.
--
-- `doc` (the FTS rowid) maps to the conversation; this table also tells
-- which conversations are indexed (`reindex_missing`). An explicit INTEGER
-- PRIMARY KEY keeps `doc` stable across VACUUM.
CREATE TABLE conversation_search (
    doc              INTEGER PRIMARY KEY,
    conversation_id  TEXT NOT NULL UNIQUE REFERENCES conversations (id)
);

-- contentless_delete lets a conversation's entry be deleted by rowid.
CREATE VIRTUAL TABLE conversation_fts USING fts5 (
    bigrams,
    content = '',
    contentless_delete = 1,
    tokenize = 'ascii'
);
