-- Customer name search (issue 16): a name substring search (`q` on the
-- customer list) used to read every customer's name. This table holds,
-- for each customer, every character of the name paired with the next one
-- — the last character alone — so each character starts exactly one gram.
-- A search of two characters or more starts from the customers holding
-- all of its grams; one of a single character from the grams it starts
-- (hence byte order, `COLLATE "C"`, for the range). The name is still
-- checked with LIKE: the grams only narrow down whom to check. Kept by a
-- trigger, so every path that creates, renames or deletes a customer keeps
-- it right.
CREATE TABLE customer_name_grams (
    gram         TEXT COLLATE "C" NOT NULL,
    customer_id  TEXT NOT NULL,
    PRIMARY KEY (gram, customer_id)
);

INSERT INTO customer_name_grams (gram, customer_id)
    SELECT DISTINCT substr(c.name, p.i, 2), c.id
    FROM customers c, generate_series(1, char_length(c.name)) AS p(i);

CREATE FUNCTION customer_name_grams_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM customer_name_grams WHERE customer_id = OLD.id
            AND gram IN (SELECT substr(OLD.name, p.i, 2)
                         FROM generate_series(1, char_length(OLD.name)) AS p(i));
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO customer_name_grams (gram, customer_id)
            SELECT DISTINCT substr(NEW.name, p.i, 2), NEW.id
            FROM generate_series(1, char_length(NEW.name)) AS p(i)
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER customers_name_grams_insert AFTER INSERT OR DELETE ON customers
    FOR EACH ROW EXECUTE FUNCTION customer_name_grams_sync();
CREATE TRIGGER customers_name_grams_update AFTER UPDATE OF id, name ON customers
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.id IS DISTINCT FROM NEW.id)
    EXECUTE FUNCTION customer_name_grams_sync();

-- The list's search also looks the text up as any identity key's value
-- (a phone, a shop nick …), whatever its kind: without this index that
-- read every key.
CREATE INDEX customer_keys_value ON customer_keys (value);
