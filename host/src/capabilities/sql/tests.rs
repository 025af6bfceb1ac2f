//! The `sql` capability's grants, and the SQLite engine against real files.

use std::time::{Duration, Instant};

use super::*;
use crate::bindings::mcp::plugin::sql::SqlValue;
use crate::capability::testing::{declaring, policy};
use crate::policy::Caller;

const DECLARES_CRM: &str = "[capabilities]\noptional = [\"sql\"]\n\
    [capabilities.sql]\ndatabases = [\"crm\", \"audit\"]\nwrite = true\n";

const PER_ROLE: &str = "default = \"deny\"\n\n\
    [[rule]]\nplugins = \"p\"\nroles = [\"admin\"]\ngrant = [\"sql\"]\nsql-write = true\n\n\
    [[rule]]\nplugins = \"p\"\nroles = [\"user\"]\ngrant = [\"sql\"]\nsql-databases = [\"crm\"]\n\
    sql-tables = [\"customers\"]\nsql-max-rows = 5\n";

fn caller(roles: &[&str]) -> Caller {
    Caller::Principal {
        id: "someone".into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    }
}

#[test]
fn the_grant_depends_on_the_callers_role() {
    let policy = policy(PER_ROLE).unwrap();
    let declared = declaring(DECLARES_CRM);
    let admin = policy.evaluate_for("p", &declared, &caller(&["admin"]));
    let grant = admin.params::<SqlGrant>(SQL).unwrap();
    assert_eq!(grant.databases, ["crm", "audit"]);
    assert!(grant.write && grant.tables.is_none());

    let user = policy.evaluate_for("p", &declared, &caller(&["user"]));
    let grant = user.params::<SqlGrant>(SQL).unwrap();
    assert_eq!(grant.databases, ["crm"]);
    assert!(!grant.write);
    assert_eq!(
        grant.tables.as_deref(),
        Some(&["customers".to_string()][..])
    );
    assert_eq!(grant.max_rows, Some(5));
    assert!(
        user.withheld.iter().any(|w| w.contains("writing")),
        "{:?}",
        user.withheld
    );

    let nobody = policy.evaluate_for("p", &declared, &caller(&[]));
    assert!(!nobody.allows(SQL));
    assert!(nobody.denial(SQL).contains("not granted to this caller"));
}

#[test]
fn sql_needs_a_rule_and_bad_keys_are_refused() {
    let declared = declaring(DECLARES_CRM);
    let none = crate::capability::testing::no_policy().evaluate("p", &declared);
    assert!(!none.allows(SQL));
    for (rule, expected) in [
        ("sql-max-rows = 0", "at least 1"),
        ("sql-databases = [\"Bad\"]", "not a database name"),
        ("sql-role = \"\"", "sql-role is empty"),
        ("sql-write = \"yes\"", "invalid type"),
    ] {
        let err = policy(&format!(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"sql\"]\n{rule}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains(expected), "{rule}: {err}");
    }
    let err = crate::capability::testing::manifest(
        "[capabilities]\noptional = [\"sql\"]\n[capabilities.sql]\ndatabases = []\n",
    )
    .unwrap_err();
    assert!(err.contains("lists no database"), "{err}");
}

/// A SQLite file with `customers` and `orders`, and a pool on it.
struct Fixture {
    _dir: tempfile_dir::TempDir,
    pool: sqlite::SqlitePool,
    path: std::path::PathBuf,
}

mod tempfile_dir {
    /// A directory removed when dropped.
    pub struct TempDir(pub std::path::PathBuf);

    impl TempDir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(format!(
                "mcp-wasm-host-sql-{}-{}",
                std::process::id(),
                crate::auth::sha256_hex(&rand_bytes())
            ));
            std::fs::create_dir_all(&path).unwrap();
            Self(path)
        }
    }

    fn rand_bytes() -> [u8; 16] {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).unwrap();
        bytes
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile_dir::TempDir::new();
        let path = dir.0.join("crm.sqlite3");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, vip INTEGER);\n\
             CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, total REAL);\n\
             INSERT INTO customers (name, vip) VALUES ('Ada', 1), ('Bob', 0), ('Cy', NULL);\n\
             INSERT INTO orders (customer, total) VALUES (1, 12.5);",
        )
        .unwrap();
        Self {
            pool: sqlite::SqlitePool::new(path.clone(), 2, 1 << 20),
            path,
            _dir: dir,
        }
    }

    async fn run(&self, work: Work, bounds: Bounds) -> Result<Done, SqlError> {
        self.pool.run(work, bounds).await
    }
}

fn bounds(write: bool, tables: Option<&[&str]>) -> Bounds {
    Bounds {
        write,
        tables: tables.map(|t| t.iter().map(|s| s.to_string()).collect()),
        role: None,
        max_rows: 1000,
        max_bytes: 1 << 20,
        deadline: Instant::now() + Duration::from_secs(10),
    }
}

fn statement(sql: &str, params: Vec<SqlValue>) -> Statement {
    Statement {
        sql: sql.into(),
        params,
    }
}

fn rows(done: Done) -> crate::bindings::mcp::plugin::sql::QueryResult {
    match done {
        Done::Rows(rows) => rows,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn queries_bind_parameters_and_return_typed_columns() {
    let db = Fixture::new();
    let done = db
        .run(
            Work::Query(statement(
                "SELECT id, name, vip, 2.5 AS ratio, x'00ff' AS raw FROM customers WHERE name = ?1",
                vec![SqlValue::Text("Ada".into())],
            )),
            bounds(false, None),
        )
        .await
        .unwrap();
    let result = rows(done);
    assert_eq!(result.columns, ["id", "name", "vip", "ratio", "raw"]);
    assert_eq!(result.rows.len(), 1);
    assert!(matches!(result.rows[0][0], SqlValue::Integer(1)));
    assert!(matches!(&result.rows[0][1], SqlValue::Text(n) if n == "Ada"));
    assert!(matches!(result.rows[0][3], SqlValue::Real(r) if r == 2.5));
    assert!(matches!(&result.rows[0][4], SqlValue::Blob(b) if b == &[0, 255]));

    // An injection attempt through a parameter stays data.
    let result = rows(
        db.run(
            Work::Query(statement(
                "SELECT count(*) FROM customers WHERE name = ?1",
                vec![SqlValue::Text("x' OR '1'='1".into())],
            )),
            bounds(false, None),
        )
        .await
        .unwrap(),
    );
    assert!(matches!(result.rows[0][0], SqlValue::Integer(0)));

    let err = db
        .run(
            Work::Query(statement("SELECT ?1, ?2", vec![SqlValue::Null])),
            bounds(false, None),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("takes 2 parameter(s) and 1"),
        "{err}"
    );
    let err = db
        .run(
            Work::Query(statement("SELECT 1; DELETE FROM customers", vec![])),
            bounds(true, None),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than one statement"), "{err}");
}

#[tokio::test]
async fn a_read_only_grant_is_refused_writes_by_sqlite() {
    let db = Fixture::new();
    let err = db
        .run(
            Work::Execute(statement(
                "DELETE FROM customers WHERE id = ?1",
                vec![SqlValue::Integer(1)],
            )),
            bounds(false, None),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SqlError::Refused(_)), "{err}");
    assert!(err.to_string().contains("read-only"), "{err}");
    // A plugin cannot lift it: PRAGMA is never authorized.
    for sneaky in [
        "PRAGMA query_only = 0",
        "COMMIT",
        "BEGIN",
        "SAVEPOINT s",
        "ATTACH DATABASE '/tmp/elsewhere.db' AS other",
        // A temporary table would shadow `customers` for later callers of
        // the same pooled connection.
        "CREATE TEMP TABLE customers (name TEXT)",
        "CREATE TEMP VIEW customers AS SELECT 'fake' AS name",
        "VACUUM INTO '/tmp/mcp-wasm-host-copy.db'",
    ] {
        let err = db
            .run(Work::Execute(statement(sneaky, vec![])), bounds(true, None))
            .await
            .unwrap_err();
        assert!(
            matches!(err, SqlError::Refused(_) | SqlError::Failed(_)),
            "{sneaky}: {err}"
        );
    }
    assert!(!std::path::Path::new("/tmp/mcp-wasm-host-copy.db").exists());
    let count = rusqlite::Connection::open(&db.path)
        .unwrap()
        .query_row("SELECT count(*) FROM customers", [], |r| r.get::<_, i64>(0))
        .unwrap();
    assert_eq!(count, 3);
}

#[tokio::test]
async fn tables_outside_the_grant_are_refused_by_the_authorizer() {
    let db = Fixture::new();
    let only_customers = Some(&["customers"][..]);
    assert!(
        db.run(
            Work::Query(statement("SELECT name FROM customers", vec![])),
            bounds(false, only_customers),
        )
        .await
        .is_ok()
    );
    for sql in [
        "SELECT total FROM orders",
        "SELECT c.name FROM customers c JOIN orders o ON o.customer = c.id",
        "SELECT name FROM sqlite_master",
        "SELECT (SELECT count(*) FROM orders)",
    ] {
        let err = db
            .run(
                Work::Query(statement(sql, vec![])),
                bounds(false, only_customers),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, SqlError::Refused(_)) && err.to_string().contains("customers"),
            "{sql}: {err}"
        );
    }
    let err = db
        .run(
            Work::Execute(statement("DROP TABLE orders", vec![])),
            bounds(true, only_customers),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SqlError::Refused(_)), "{err}");
}

#[tokio::test]
async fn a_transaction_is_all_or_nothing() {
    let db = Fixture::new();
    let done = db
        .run(
            Work::Transaction(vec![
                statement(
                    "INSERT INTO orders (customer, total) VALUES (?1, ?2)",
                    vec![SqlValue::Integer(2), SqlValue::Real(3.0)],
                ),
                statement(
                    "UPDATE customers SET vip = ?1 WHERE id = ?2",
                    vec![SqlValue::Boolean(true), SqlValue::Integer(2)],
                ),
            ]),
            bounds(true, None),
        )
        .await
        .unwrap();
    assert!(
        matches!(done, Done::EachChanged(ref n) if n == &[1, 1]),
        "{done:?}"
    );
    let err = db
        .run(
            Work::Transaction(vec![
                statement("DELETE FROM orders", vec![]),
                statement("INSERT INTO nowhere VALUES (1)", vec![]),
            ]),
            bounds(true, None),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such table"), "{err}");
    let count = rusqlite::Connection::open(&db.path)
        .unwrap()
        .query_row("SELECT count(*) FROM orders", [], |r| r.get::<_, i64>(0))
        .unwrap();
    assert_eq!(count, 2, "the failed transaction's delete was rolled back");
}

#[tokio::test]
async fn caps_truncate_and_deadlines_stop_statements() {
    let db = Fixture::new();
    let mut capped = bounds(false, None);
    capped.max_rows = 2;
    let result = rows(
        db.run(
            Work::Query(statement("SELECT name FROM customers ORDER BY id", vec![])),
            capped,
        )
        .await
        .unwrap(),
    );
    assert_eq!((result.rows.len(), result.truncated), (2, true));

    // A value larger than the database's result cap (1 MiB here) is never
    // built: SQLite refuses to make it.
    let err = db
        .run(
            Work::Query(statement(
                "SELECT length(zeroblob(?1))",
                vec![SqlValue::Integer(500 << 20)],
            )),
            bounds(false, None),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too big"), "{err}");

    let mut soon = bounds(false, None);
    soon.deadline = Instant::now() + Duration::from_millis(200);
    let started = Instant::now();
    let err = db
        .run(
            Work::Query(statement(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
                 SELECT count(*) FROM n",
                vec![],
            )),
            soon,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, SqlError::Timeout), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The pool still serves.
    assert!(
        db.run(
            Work::Query(statement("SELECT 1", vec![])),
            bounds(false, None)
        )
        .await
        .is_ok()
    );
    assert_eq!(db.pool.opened(), 1, "one connection, reused");
}

#[tokio::test]
async fn a_missing_file_is_a_clear_error_and_never_created() {
    let dir = tempfile_dir::TempDir::new();
    let path = dir.0.join("absent.sqlite3");
    let pool = sqlite::SqlitePool::new(path.clone(), 1, 1 << 20);
    let err = pool
        .run(
            Work::Query(statement("SELECT 1", vec![])),
            bounds(false, None),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("cannot open"), "{err}");
    assert!(!path.exists());
}
