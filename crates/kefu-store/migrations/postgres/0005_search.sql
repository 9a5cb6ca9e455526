-- Full-text search over conversation transcripts (see src/search.rs).
--
-- Records are stored compressed, so the transcript is kept once more in
-- its search form (NFKC, Traditional → Simplified, case folded, whitespace
-- dropped, one line per turn) and searched with LIKE '%term%' through a
-- trigram index. pg_trgm is a trusted extension (PostgreSQL 13+): a
-- database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE conversation_texts (
    conversation_id  TEXT PRIMARY KEY REFERENCES conversations (id),
    text             TEXT NOT NULL
);
CREATE INDEX conversation_texts_trgm ON conversation_texts USING gin (text gin_trgm_ops);
