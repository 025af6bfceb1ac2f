-- The example `crm` database: scripts/build-plugins.sh creates
-- target/examples/crm.sqlite3 from this file.
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    city TEXT,
    last_order_at TEXT
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id),
    item TEXT NOT NULL,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    total_cents INTEGER NOT NULL CHECK (total_cents >= 0),
    placed_at TEXT NOT NULL DEFAULT (datetime('now'))
);
INSERT INTO customers (name, email, city) VALUES
    ('Ada Lovelace', 'ada@example.com', 'London'),
    ('Grace Hopper', 'grace@example.com', 'Arlington'),
    ('Alan Turing', 'alan@example.com', 'Wilmslow'),
    ('Katherine Johnson', 'katherine@example.com', 'Hampton');
INSERT INTO orders (customer_id, item, quantity, total_cents) VALUES
    (1, 'Analytical engine punch cards', 500, 12500),
    (2, 'Compiler manual', 2, 4800),
    (3, 'Enigma rotor set', 1, 99000);
