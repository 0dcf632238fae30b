//! The store's SQL schema as an ordered list of migrations. `PRAGMA user_version` holds how many
//! have been applied; a migration is never edited once released — add a new one.

pub const MIGRATIONS: &[&str] = &[
    // 1: initial schema
    r#"
    CREATE TABLE experiments (
        name        TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        spec_path   TEXT NOT NULL,
        varying     TEXT NOT NULL DEFAULT '[]',   -- JSON list of dotted keys that vary
        updated_at  TEXT NOT NULL
    );
    CREATE TABLE experiment_runs (
        experiment  TEXT NOT NULL REFERENCES experiments(name),
        position    INTEGER NOT NULL,
        label       TEXT NOT NULL,
        name        TEXT NOT NULL,                -- label + sweep point
        point       TEXT NOT NULL,                -- JSON object axis -> value
        seed        INTEGER NOT NULL,
        run_id      TEXT NOT NULL REFERENCES runs(id),
        init_from   TEXT,                         -- run id this one starts from
        paper       TEXT NOT NULL DEFAULT '{}',   -- JSON metric -> reference value
        PRIMARY KEY (experiment, run_id, label)
    );
    CREATE TABLE runs (
        id            TEXT PRIMARY KEY,
        config        TEXT NOT NULL,              -- canonical JSON
        status        TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','running','done','failed')),
        created_at    TEXT NOT NULL,
        started_at    TEXT,
        finished_at   TEXT,
        heartbeat_at  INTEGER,                    -- unix seconds
        worker_host   TEXT,
        worker_pid    INTEGER,
        git_commit    TEXT,
        git_dirty     INTEGER,
        acdc_version  TEXT,
        device        TEXT,
        error         TEXT
    );
    CREATE TABLE stages (
        run_id      TEXT NOT NULL REFERENCES runs(id),
        stage       TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('running','done','failed')),
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        info        TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (run_id, stage)
    );
    CREATE TABLE step_metrics (
        run_id TEXT NOT NULL,
        step   INTEGER NOT NULL,
        name   TEXT NOT NULL,
        value  REAL NOT NULL,
        PRIMARY KEY (run_id, name, step)
    );
    CREATE TABLE evals (
        run_id TEXT NOT NULL,
        task   TEXT NOT NULL,
        metric TEXT NOT NULL,
        value  REAL NOT NULL,
        n      INTEGER NOT NULL,
        PRIMARY KEY (run_id, task, metric)
    );
    CREATE TABLE predictions (
        run_id     TEXT NOT NULL,
        task       TEXT NOT NULL,
        item_id    TEXT NOT NULL,
        prompt     TEXT NOT NULL,
        output     TEXT NOT NULL,
        refs       TEXT NOT NULL,                 -- JSON list
        PRIMARY KEY (run_id, task, item_id)
    );
    CREATE TABLE artifacts (
        run_id     TEXT NOT NULL,
        path       TEXT NOT NULL,
        kind       TEXT NOT NULL,
        sha256     TEXT NOT NULL,
        bytes      INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (run_id, path)
    );
    CREATE TABLE target_sets (
        key        TEXT PRIMARY KEY,              -- hash of what determines the targets
        spec       TEXT NOT NULL,                 -- JSON of that
        complete   INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE targets (
        set_key TEXT NOT NULL REFERENCES target_sets(key),
        item_id TEXT NOT NULL,
        sample  INTEGER NOT NULL,
        source  TEXT NOT NULL,                    -- the caption the reply answers
        text    TEXT NOT NULL,
        PRIMARY KEY (set_key, item_id, sample)
    );
    "#,
    // 2: the judge cache (AudioBench-style judged QA): one judgment per (judge, template, item text)
    r#"
    CREATE TABLE judgments (
        key           TEXT PRIMARY KEY,           -- sha256 of [judge, template_hash, question, reference, answer]
        judge         TEXT NOT NULL,              -- engine, model and decoding settings
        template_hash TEXT NOT NULL,
        question      TEXT NOT NULL,
        reference     TEXT NOT NULL,
        answer        TEXT NOT NULL,
        reply         TEXT NOT NULL,              -- the judge's whole reply
        rating        REAL NOT NULL,              -- 0 when unparsed
        parsed        INTEGER NOT NULL,
        created_at    TEXT NOT NULL
    );
    "#,
    // 3: whether a cached reply was cut off at the length limit (NULL for older rows)
    r#"
    ALTER TABLE targets ADD COLUMN truncated INTEGER;
    "#,
    // 4: per-item scores behind every score that is a mean over items (probe verdicts, QA
    // token-F1 / exact match / judge ratings, CIDEr-D and ROUGE-L of captions), for the report's
    // paired bootstrap; and the pairs a spec names for comparison (NULL: inferred from the rows)
    r#"
    CREATE TABLE item_scores (
        run_id  TEXT NOT NULL,
        task    TEXT NOT NULL,
        metric  TEXT NOT NULL,
        item_id TEXT NOT NULL,
        value   REAL NOT NULL,
        PRIMARY KEY (run_id, task, metric, item_id)
    );
    ALTER TABLE experiments ADD COLUMN compare TEXT;   -- JSON list of [row A, row B] names
    "#,
    // 5: the token of the claim a running run is held under: heartbeats and the run's end are
    // recorded only by the worker that holds it (NULL for runs claimed by older releases)
    r#"
    ALTER TABLE runs ADD COLUMN claim_token TEXT;
    "#,
    // 6: a running run's heartbeat count (another worker judges a run stale by how long it has
    // itself seen the count unchanged, never by comparing its clock with the worker's), and its
    // worker's start time (clock ticks after boot, /proc/<pid>/stat), so a reused pid is not
    // taken for the worker
    r#"
    ALTER TABLE runs ADD COLUMN beat_seq INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN worker_started INTEGER;
    "#,
    // 7: whether a prediction was cut off at decode.max_new_tokens (NULL for rows recorded by
    // older releases), so an evaluation resumed after a kill still counts the cut-off outputs
    // it reuses
    r#"
    ALTER TABLE predictions ADD COLUMN cut_off INTEGER;
    "#,
];
