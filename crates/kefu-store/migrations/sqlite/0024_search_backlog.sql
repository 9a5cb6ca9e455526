-- Transcripts waiting for the full-text index (issue 16). Writing a
-- conversation's bigrams into FTS5 costs more than storing the
-- conversation, its result and its findings together, so imports store the
-- transcript's search form here instead, in the import's own transaction;
-- `Store::index_backlog` (run by `kefu serve` in the background, by
-- `kefu import --index-now` and by `kefu migrate`) moves it into
-- `conversation_fts` later, a page per transaction.
--
-- Search stays exact while indexing lags: a text condition matches an
-- indexed conversation through the index, and a queued one by a substring
-- test (`instr`) on its text here. A conversation is in exactly one of the
-- two, and each move from here to the index is one transaction, so every
-- statement sees each conversation once.
--
-- `seq` orders the queue (oldest first) and is never reused
-- (AUTOINCREMENT), so a drainer that read rows up to `seq` N deletes
-- exactly those, even when another node emptied the queue meanwhile and
-- an import queued more.
CREATE TABLE search_backlog (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  TEXT NOT NULL UNIQUE REFERENCES conversations (id),
    text             TEXT NOT NULL
);
