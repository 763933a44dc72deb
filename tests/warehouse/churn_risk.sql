-- An audience for mirror_segment (loaded after refiner_sync.sql): the users at churn risk.
-- `{segment_uuid}` is replaced by the test with a manual segment of the emulator. The view is what
-- the README cookbook "Survey the users at churn risk" shows: one row per member, identified by
-- user id (bigint) and email (mixed case, some NULL), and the segment the rows fill.

CREATE TABLE app.health (
    user_id bigint PRIMARY KEY,
    email text,
    churn_score numeric(4, 3) NOT NULL,
    last_active_on date
);

-- 200 users; every tenth has no email; scores spread evenly from 0.00 to 0.99.
INSERT INTO app.health
SELECT
    g,
    CASE WHEN g % 10 = 0 THEN NULL ELSE 'User' || g || '@Example.test' END,
    (g % 100) / 100.0,
    date '2025-01-01' + g
FROM generate_series(1, 200) AS g;

CREATE VIEW refiner_sync.churn_risk AS
SELECT
    h.user_id,
    h.email,
    '{segment_uuid}'::text AS segment_uuid,
    h.churn_score,
    h.last_active_on
FROM app.health AS h
WHERE h.churn_score >= 0.6;
