-- A warehouse as reverse ETL reads it: application tables with the awkward types, and the schema
-- `refiner_sync` that meltano.yml's `warehouse` environment syncs (tap-postgres filter_schemas):
-- the view `users` (identify, with account) and the table `events` (track).

CREATE SCHEMA app;

CREATE TABLE app.accounts (
    id text PRIMARY KEY,
    name text NOT NULL,
    tier text,
    mrr numeric(12, 2)
);

CREATE TABLE app.people (
    id bigint PRIMARY KEY,
    email text,
    account_id text REFERENCES app.accounts,
    lifetime_value numeric(12, 2),
    score double precision,
    seats integer,
    plan_price decimal,
    signed_up_on date,
    last_login_at timestamptz,
    trial_ends_at timestamp,
    is_admin boolean,
    profile jsonb,
    settings json,
    tags text[],
    nickname text
);

INSERT INTO app.accounts VALUES
    ('acme', 'Acme Inc', 'gold', 1234.50),
    ('globex', 'Globex', NULL, NULL);

INSERT INTO app.people VALUES
    (1, 'ann@acme.test', 'acme', 1999.99, 0.75, 12, 49.5, '2024-02-29',
     '2024-03-01 10:15:00+01', '2024-04-01 00:00:00', true,
     '{"city": "Oslo", "level": 3}', '{"theme": "dark"}', '{vip,beta}', 'Annie'),
    (2, 'bob@globex.test', 'globex', NULL, NULL, NULL, NULL, NULL,
     NULL, NULL, NULL,
     NULL, NULL, NULL, NULL),
    (3, NULL, NULL, 0, 0.001, 0, 0.0, '1999-12-31',
     '2025-06-30 23:59:59.123456+00', '2025-01-01 12:00:00', false,
     '{}', 'null', '{}', '');

CREATE SCHEMA refiner_sync;

-- Every column but the identifiers and the account's becomes a trait; arrays are left out here
-- (Refiner has no array traits: target-refiner rejects a row that carries one).
CREATE VIEW refiner_sync.users AS
SELECT
    p.id, p.email, p.lifetime_value, p.score, p.seats, p.plan_price, p.signed_up_on,
    p.last_login_at, p.trial_ends_at, p.is_admin, p.profile, p.settings, p.nickname,
    a.id AS account_id, a.name AS account_name, a.tier AS account_tier, a.mrr AS account_mrr
FROM app.people AS p
LEFT JOIN app.accounts AS a ON a.id = p.account_id;

CREATE TABLE refiner_sync.events (
    id bigserial PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES app.people,
    event text NOT NULL,
    occurred_at timestamptz NOT NULL,
    amount numeric(10, 2),
    labels text[],
    properties jsonb
);

INSERT INTO refiner_sync.events (user_id, event, occurred_at, amount, labels, properties) VALUES
    (1, 'upgraded', '2024-03-02 08:00:00+00', 99.00, '{billing}', '{"from": "basic"}'),
    (2, 'invited_teammate', '2024-03-02 09:30:00-05', NULL, NULL, NULL),
    (1, 'exported_report', '2024-03-03 12:00:00+00', NULL, '{}', '{"rows": 10}');
