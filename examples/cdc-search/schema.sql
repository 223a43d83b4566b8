-- The example's database: customers, products and orders.
CREATE TABLE customers (
    id serial PRIMARY KEY,
    name text NOT NULL,
    email text NOT NULL UNIQUE,
    city text
);
CREATE TABLE products (
    id serial PRIMARY KEY,
    name text NOT NULL,
    description text,
    price_cents integer NOT NULL
);
CREATE TABLE orders (
    id serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers (id),
    product_id integer NOT NULL REFERENCES products (id),
    quantity integer NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- Deletes carry the whole old row in the change event (the key alone would do for the index).
ALTER TABLE customers REPLICA IDENTITY FULL;
ALTER TABLE products REPLICA IDENTITY FULL;
INSERT INTO customers (name, email, city) VALUES
    ('Ada Lovelace', 'ada@example.org', 'London'),
    ('Grace Hopper', 'grace@example.org', 'New York');
INSERT INTO products (name, description, price_cents) VALUES
    ('Kettle', 'Stainless steel electric kettle', 2999),
    ('Teapot', 'Cast iron teapot', 4599);
INSERT INTO orders (customer_id, product_id, quantity)
    SELECT c.id, p.id, 2 FROM customers c, products p
    WHERE c.email = 'ada@example.org' AND p.name = 'Kettle';
INSERT INTO orders (customer_id, product_id, quantity)
    SELECT c.id, p.id, 1 FROM customers c, products p
    WHERE c.email = 'grace@example.org' AND p.name = 'Teapot';
