-- Customer name search (issue 16): a name substring search (`q` on the
-- customer list) used to read every customer's name. This table holds,
-- for each customer, every character of the name (ASCII letters folded
-- to lower case, as LIKE folds them) paired with the next one — the last
-- character alone — so each character starts exactly one gram. A search
-- of two characters or more starts from the customers holding all of its
-- grams; one of a single character from the grams it starts. The name is
-- still checked with LIKE: the grams only narrow down whom to check.
-- Kept by triggers, so every path that creates, renames or deletes a
-- customer keeps it right.
CREATE TABLE customer_name_grams (
    gram         TEXT NOT NULL,
    customer_id  TEXT NOT NULL,
    PRIMARY KEY (gram, customer_id)
) WITHOUT ROWID;

-- Character positions 1..1000 for the triggers (SQLite triggers cannot
-- use recursive queries). Names longer than 1000 characters are found
-- through `customers_long_names` instead.
CREATE TABLE name_gram_positions (i INTEGER PRIMARY KEY);
INSERT INTO name_gram_positions (i)
    SELECT a.n * 100 + b.n * 10 + c.n + 1
    FROM (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
          UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) a,
         (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
          UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) b,
         (SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
          UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) c;
CREATE INDEX customers_long_names ON customers (id) WHERE length(name) > 1000;

INSERT OR IGNORE INTO customer_name_grams (gram, customer_id)
    SELECT substr(lower(c.name), p.i, 2), c.id
    FROM customers c JOIN name_gram_positions p ON p.i <= length(c.name);

CREATE TRIGGER customers_name_grams_insert AFTER INSERT ON customers BEGIN
    INSERT OR IGNORE INTO customer_name_grams (gram, customer_id)
        SELECT substr(lower(NEW.name), p.i, 2), NEW.id
        FROM name_gram_positions p WHERE p.i <= length(NEW.name);
END;
CREATE TRIGGER customers_name_grams_update AFTER UPDATE OF id, name ON customers
    WHEN OLD.name IS NOT NEW.name OR OLD.id IS NOT NEW.id BEGIN
    DELETE FROM customer_name_grams WHERE customer_id = OLD.id
        AND gram IN (SELECT substr(lower(OLD.name), p.i, 2)
                     FROM name_gram_positions p WHERE p.i <= length(OLD.name));
    INSERT OR IGNORE INTO customer_name_grams (gram, customer_id)
        SELECT substr(lower(NEW.name), p.i, 2), NEW.id
        FROM name_gram_positions p WHERE p.i <= length(NEW.name);
END;
CREATE TRIGGER customers_name_grams_delete AFTER DELETE ON customers BEGIN
    DELETE FROM customer_name_grams WHERE customer_id = OLD.id
        AND gram IN (SELECT substr(lower(OLD.name), p.i, 2)
                     FROM name_gram_positions p WHERE p.i <= length(OLD.name));
END;

-- The list's search also looks the text up as any identity key's value
-- (a phone, a shop nick …), whatever its kind: without this index that
-- read every key.
CREATE INDEX customer_keys_value ON customer_keys (value);
