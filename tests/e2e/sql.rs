//! The `sql` capability against real databases: the `crm` example over
//! HTTP with an auth file (the same tools, granted per role), and the
//! `sqlrun` fixture trying what a grant must not allow on SQLite. The
//! PostgreSQL tests are in `sql_postgres.rs`.

use rmcp::ServiceExt as _;
use rmcp::model::CallToolResult;
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceError};
use serde_json::{Value, json};

use crate::support::*;

/// An auth file: `ada` is an admin, `uma` a user, `gus` holds a role no
/// rule names; all may use every plugin.
pub(crate) fn crm_callers() -> PluginDir {
    let config = PluginDir::empty();
    config.write(
        "auth.toml",
        format!(
            "[[role]]\nname = \"admin\"\nplugins = [\"*\"]\n\
             [[role]]\nname = \"user\"\nplugins = [\"*\"]\n\
             [[role]]\nname = \"guest\"\nplugins = [\"*\"]\n\
             [[principal]]\nid = \"ada\"\nroles = [\"admin\"]\ntoken-sha256 = \"{}\"\n\
             [[principal]]\nid = \"uma\"\nroles = [\"user\"]\ntoken-sha256 = \"{}\"\n\
             [[principal]]\nid = \"gus\"\nroles = [\"guest\"]\ntoken-sha256 = \"{}\"\n",
            token_digest("ada-token"),
            token_digest("uma-token"),
            token_digest("gus-token"),
        ),
    );
    config
}

/// A client of `url` with a bearer token.
pub(crate) async fn client_as(url: &str, token: &str) -> RunningService<RoleClient, ()> {
    ().serve(http_client_transport_with(url.to_string(), Some(token)))
        .await
        .unwrap()
}

pub(crate) async fn call_as(
    client: &RunningService<RoleClient, ()>,
    tool: &str,
    arguments: Value,
) -> Result<CallToolResult, ServiceError> {
    client.call_tool(params(tool, arguments)).await
}

/// A copy of the example `crm` database, and a databases file naming it.
fn crm_database(config: &PluginDir) -> std::path::PathBuf {
    let seed = std::fs::read_to_string(repo_root().join("plugins/crm/seed.sql")).unwrap();
    let db = rusqlite_like::create(&config.path.join("crm.sqlite3"), &seed);
    config.write(
        "databases.toml",
        format!("[databases.crm]\nurl = \"sqlite://{}\"\n", db.display()),
    );
    config.path.join("databases.toml")
}

/// SQLite files for the tests, made with the system's `python3` (the build
/// makes the example's database the same way).
pub(crate) mod rusqlite_like {
    use std::path::{Path, PathBuf};

    pub(crate) fn create(path: &Path, script: &str) -> PathBuf {
        let status = std::process::Command::new("python3")
            .args([
                "-c",
                "import sqlite3, sys\n\
                 db = sqlite3.connect(sys.argv[1])\n\
                 db.executescript(sys.stdin.read())\n\
                 db.commit()\n",
            ])
            .arg(path)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write as _;
                child.stdin.take().unwrap().write_all(script.as_bytes())?;
                child.wait()
            })
            .unwrap();
        assert!(status.success(), "python3 made {}", path.display());
        path.to_path_buf()
    }

    /// The first column of the first row of `query` on the file.
    pub(crate) fn scalar(path: &Path, query: &str) -> String {
        let output = std::process::Command::new("python3")
            .args([
                "-c",
                "import sqlite3, sys\n\
                 print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])\n",
            ])
            .arg(path)
            .arg(query)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_string()
    }
}

const CRM_POLICY: &str = "[[rule]]\nplugins = \"crm\"\nroles = [\"admin\"]\ngrant = [\"sql\"]\n\
    sql-write = true\n\n\
    [[rule]]\nplugins = \"crm\"\nroles = [\"user\"]\ngrant = [\"sql\"]\n\
    sql-tables = [\"customers\", \"orders\"]\n\n\
    [[rule]]\nplugins = \"crm\"\ndeny = [\"sql\"]\n";

#[tokio::test]
async fn the_crm_example_writes_for_admins_reads_for_users_and_denies_the_rest() {
    let dir = PluginDir::with(&["crm"], &[]);
    let config = crm_callers();
    let databases = crm_database(&config);
    dir.write("policy.toml", CRM_POLICY);
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .arg("--auth-file")
        .arg(config.path.join("auth.toml").to_str().unwrap())
        .arg("--policy")
        .arg(dir.path.join("policy.toml").to_str().unwrap())
        .arg("--databases")
        .arg(databases.to_str().unwrap())
        .bearer("ada-token");
    let host = Connected::start(&dir, options).await.unwrap();
    let url = host.url.clone().unwrap();
    let order = json!({"email": "grace@example.com", "item": "Nanosecond wire", "quantity": 3,
        "total_cents": 300});

    // The admin finds and writes.
    let found = host
        .call_ok("find_customer", json!({"query": "grace"}))
        .await;
    assert!(text_of(&found).contains("Grace Hopper"), "{found:?}");
    let structured = found.structured_content.clone().unwrap();
    assert_eq!(structured["customers"][0]["orders"], 1, "{structured}");
    let recorded = host.call_ok("record_order", order.clone()).await;
    assert!(
        text_of(&recorded).contains("2 order(s) in all"),
        "{recorded:?}"
    );

    // A user reads, and is told it may not write before anything runs.
    let uma = client_as(&url, "uma-token").await;
    let found = call_as(&uma, "find_customer", json!({"query": "example.com"}))
        .await
        .unwrap();
    assert_ne!(found.is_error, Some(true), "{found:?}");
    assert!(text_of(&found).contains("Ada Lovelace"), "{found:?}");
    let refused = call_as(&uma, "record_order", order.clone()).await.unwrap();
    assert_eq!(refused.is_error, Some(true));
    assert!(
        text_of(&refused).contains("needs write access to `crm`, which your role lacks"),
        "{refused:?}"
    );

    // A caller no rule grants is denied, naming the rule and the caller.
    let gus = client_as(&url, "gus-token").await;
    let denied = call_as(&gus, "find_customer", json!({"query": "ada"}))
        .await
        .unwrap();
    assert_eq!(denied.is_error, Some(true));
    let text = text_of(&denied);
    assert!(
        text.contains("`sql` capability is not granted to this caller")
            && text.contains("principal `gus` (roles: guest)"),
        "{text}"
    );
    let orders = rusqlite_like::scalar(
        &config.path.join("crm.sqlite3"),
        "SELECT count(*) FROM orders",
    );
    assert_eq!(orders, "4", "only the admin's order was added");
    uma.cancel().await.unwrap();
    gus.cancel().await.unwrap();
    host.shutdown().await;
}

/// `sqlrun` over stdio on a SQLite database `lite` with `customers` and
/// `secrets`, under `policy`.
async fn sqlrun_on_sqlite(
    transport: Transport,
    policy: &str,
    database_settings: &str,
) -> (Connected, PluginDir) {
    let dir = PluginDir::with(&[], &["sqlrun"]);
    let db = rusqlite_like::create(
        &dir.path.join("lite.sqlite3"),
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, note BLOB);\n\
         INSERT INTO customers (name) VALUES ('Ada'), ('Bob'), ('Cy');\n\
         CREATE TABLE secrets (value TEXT);\n\
         INSERT INTO secrets VALUES ('the launch code');\n",
    );
    dir.write(
        "databases.toml",
        format!(
            "[databases.lite]\nurl = \"sqlite://{}\"\n{database_settings}",
            db.display()
        ),
    );
    dir.write("policy.toml", policy);
    let options = HostOptions::new(Era::Handshake, transport)
        .arg("--policy")
        .arg(dir.path.join("policy.toml").to_str().unwrap())
        .arg("--databases")
        .arg(dir.path.join("databases.toml").to_str().unwrap());
    let host = Connected::start(&dir, options).await.unwrap();
    (host, dir)
}

fn run(sql: &str, params: Value) -> Value {
    json!({"database": "lite", "sql": sql, "params": params})
}

#[tokio::test]
async fn on_sqlite_a_grant_holds_whatever_sql_the_plugin_sends() {
    let policy = "[[rule]]\nplugins = \"sqlrun\"\ngrant = [\"sql\"]\n\
                  sql-databases = [\"lite\"]\nsql-tables = [\"customers\"]\nsql-max-rows = 2\n";
    let (host, dir) = sqlrun_on_sqlite(Transport::Stdio, policy, "max-result-kib = 1\n").await;

    // Parameters stay data, whatever they hold.
    let injected = outcome(
        &host,
        "query",
        run(
            "SELECT count(*) AS n FROM customers WHERE name = ?1",
            json!(["x' OR '1'='1"]),
        ),
    )
    .await;
    assert!(
        text_of(&injected).contains(r#""rows":[[{"integer":0}]]"#),
        "{injected:?}"
    );

    // Writes fail in the database: the grant is read-only.
    let write = outcome(
        &host,
        "execute",
        run("DELETE FROM customers WHERE id = ?1", json!([1])),
    )
    .await;
    let text = text_of(&write);
    assert!(
        text.contains("denied") && text.contains("read-only"),
        "{text}"
    );
    // Another table, a PRAGMA to lift the read-only mode, ATTACH: refused.
    for sql in [
        "SELECT value FROM secrets",
        "PRAGMA query_only = 0",
        "ATTACH DATABASE 'elsewhere.db' AS other",
    ] {
        let refused = outcome(&host, "query", run(sql, json!([]))).await;
        let text = text_of(&refused);
        assert!(
            text.contains("denied: database `lite` refused it")
                && (text.contains("not authorized") || text.contains("prohibited")),
            "{sql}: {text}"
        );
    }
    // Rows past the cap are left out and the result says so.
    let capped = outcome(
        &host,
        "query",
        run("SELECT name FROM customers ORDER BY id", json!([])),
    )
    .await;
    let capped: Value = serde_json::from_str(&text_of(&capped)).unwrap();
    assert_eq!(capped["rows"].as_array().unwrap().len(), 2, "{capped}");
    assert_eq!(capped["truncated"], true);
    // So are rows past the byte cap (1 KiB here).
    let big = outcome(
        &host,
        "query",
        run("SELECT zeroblob(700) FROM customers", json!([])),
    )
    .await;
    let big: Value = serde_json::from_str(&text_of(&big)).unwrap();
    assert_eq!(big["rows"].as_array().unwrap().len(), 1, "{big}");
    assert_eq!(big["truncated"], true);
    // The plugin can ask what it may do.
    let grant = outcome(&host, "grant", json!({"capability": "sql"})).await;
    let grant: Value = serde_json::from_str(&text_of(&grant)).unwrap();
    assert_eq!(grant["granted"], true);
    assert_eq!(grant["scope"]["write"], false);
    assert_eq!(grant["scope"]["tables"], json!(["customers"]));
    let unknown = outcome(&host, "grant", json!({"capability": "teleport"})).await;
    assert!(text_of(&unknown).contains("no capability `teleport`"));
    assert_eq!(
        rusqlite_like::scalar(
            &dir.path.join("lite.sqlite3"),
            "SELECT count(*) FROM customers"
        ),
        "3"
    );
    host.shutdown().await;
}

#[tokio::test]
async fn on_sqlite_a_slow_statement_stops_at_its_deadline_and_the_host_keeps_serving() {
    let policy = "[[rule]]\nplugins = \"sqlrun\"\ngrant = [\"sql\"]\nsql-write = true\n";
    let (host, dir) =
        sqlrun_on_sqlite(Transport::Stdio, policy, "statement-timeout-ms = 300\n").await;
    let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
                   SELECT count(*) FROM n";
    let started = std::time::Instant::now();
    let stopped = outcome(&host, "query", run(endless, json!([]))).await;
    assert!(text_of(&stopped).contains("timed out"), "{stopped:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // A transaction that fails half-way leaves nothing behind.
    let half = outcome(
        &host,
        "transaction",
        json!({"database": "lite", "statements": [
            ["INSERT INTO customers (name) VALUES (?1)", ["Dee"]],
            ["INSERT INTO nowhere VALUES (1)", []],
        ]}),
    )
    .await;
    assert!(text_of(&half).contains("no such table"), "{half:?}");
    let whole = outcome(
        &host,
        "transaction",
        json!({"database": "lite", "statements": [
            ["INSERT INTO customers (name, note) VALUES (?1, ?2)", ["Eve", {"blob": [1, 2]}]],
            ["UPDATE customers SET name = ?1 WHERE name = ?2", ["Ada L.", "Ada"]],
        ]}),
    )
    .await;
    assert_eq!(text_of(&whole), "[1, 1]");
    let db = dir.path.join("lite.sqlite3");
    assert_eq!(
        rusqlite_like::scalar(&db, "SELECT count(*) FROM customers"),
        "4"
    );
    // A database the manifest declares but the file does not configure.
    let absent = outcome(
        &host,
        "query",
        json!({"database": "pg", "sql": "SELECT 1", "params": []}),
    )
    .await;
    assert!(
        text_of(&absent).contains("has not configured database `pg`"),
        "{absent:?}"
    );
    host.shutdown().await;
}

#[test]
fn a_bad_databases_file_stops_the_host_naming_the_problem() {
    let dir = PluginDir::empty();
    dir.write(
        "databases.toml",
        "[databases.crm]\nurl = \"mysql://db/crm\"\n",
    );
    let stderr = serve_refuses([
        "--plugins",
        dir.path.to_str().unwrap(),
        "--databases",
        dir.path.join("databases.toml").to_str().unwrap(),
    ]);
    assert!(
        stderr.contains("invalid databases file") && stderr.contains("must start with `sqlite://`"),
        "{stderr}"
    );
}

/// What a call answered, error or not.
async fn outcome(host: &Connected, tool: &str, arguments: Value) -> CallToolResult {
    host.call(tool, arguments).await.unwrap()
}

#[test]
fn every_command_that_loads_plugins_takes_the_examples_configuration() {
    let dir = PluginDir::with(&["crm"], &[]);
    let config = PluginDir::empty();
    let databases = crm_database(&config);
    config.write(
        "examples.toml",
        format!(
            "plugins = \"{}\"\npolicy = \"{}\"\ndatabases = \"{}\"\n",
            dir.path.display(),
            repo_root().join("plugins/examples-policy.toml").display(),
            databases.display()
        ),
    );
    let examples = config.path.join("examples.toml");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(host_binary())
            .args(args)
            .arg("--config")
            .arg(&examples)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{args:?}: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let found = run(&["call", "find_customer", r#"{"query": "hopper"}"#]);
    assert!(found.contains("Grace Hopper"), "{found}");
    let listed = run(&["list"]);
    assert!(listed.contains("record_order"), "{listed}");
    let crm = dir.path.join("crm.wasm");
    let checked = run(&["plugin", "check", crm.to_str().unwrap()]);
    assert!(
        checked.contains("sql: granted by policy rule 1")
            && checked.contains("crm (read and write)"),
        "{checked}"
    );
}

#[tokio::test]
async fn on_sqlite_a_cancelled_request_stops_its_statement() {
    // One connection, statements allowed a minute: only the cancellation
    // can free the connection for the next call in time. Over HTTP, so that
    // the client gives up only once the host reports the call running.
    let policy = "[[rule]]\nplugins = \"sqlrun\"\ngrant = [\"sql\"]\n";
    let (host, _dir) = sqlrun_on_sqlite(
        Transport::Http,
        policy,
        "pool-size = 1\nstatement-timeout-ms = 60000\n",
    )
    .await;
    let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
                   SELECT count(*) FROM n";
    let started = std::time::Instant::now();
    give_up_once_running(&host, host.call("query", run(endless, json!([])))).await;
    let next = outcome(
        &host,
        "query",
        run("SELECT count(*) FROM customers", json!([])),
    )
    .await;
    assert_ne!(next.is_error, Some(true), "{next:?}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "the cancelled statement held the connection"
    );
    host.shutdown().await;
}
