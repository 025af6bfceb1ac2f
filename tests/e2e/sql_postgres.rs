//! The `sql` capability against a real PostgreSQL server that the tests
//! start on 127.0.0.1 in a temporary directory (Debian's `postgresql`,
//! installed by `scripts/test.sh`; run as the `postgres` user when the tests
//! run as root, since the server refuses root). The same `sqlrun` tool is
//! granted per role over HTTP: admins write as the host's login, users read
//! as a database role that may only read `customers`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::sql::{call_as, client_as, crm_callers};
use crate::support::*;

static SERVERS: AtomicU64 = AtomicU64::new(0);

/// A PostgreSQL server of the test's own, stopped and removed on drop.
pub(crate) struct Postgres {
    child: Option<std::process::Child>,
    dir: PathBuf,
    pub(crate) port: u16,
}

/// The server's programs: Debian keeps them out of PATH.
fn bin(program: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (scripts/test.sh installs it)")
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join(program).exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("no PostgreSQL version has {program}"))
        .join(program)
}

fn running_as_root() -> bool {
    rustix::process::geteuid().is_root()
}

impl Postgres {
    /// `program` of the server, run as `postgres` when the tests are root.
    fn command(&self, program: &str) -> std::process::Command {
        let mut command = if running_as_root() {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
                .arg(bin(program));
            c
        } else {
            std::process::Command::new(bin(program))
        };
        command.current_dir(&self.dir);
        command
    }

    pub(crate) async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "mcp-wasm-host-pg-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        if running_as_root() {
            let id = |flag: &str| -> u32 {
                let out = std::process::Command::new("id")
                    .args([flag, "postgres"])
                    .output()
                    .expect("the postgres user exists");
                String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
            };
            std::os::unix::fs::chown(&dir, Some(id("-u")), Some(id("-g"))).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let mut server = Self {
            child: None,
            dir,
            port,
        };
        let status = server
            .command("initdb")
            .args(["-D", "data", "-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .args(["--no-locale", "--no-sync"])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "initdb in {}", server.dir.display());
        server.run();
        server
    }

    /// Start (or restart) the server and wait until it answers.
    fn run(&mut self) {
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        let child = self
            .command("postgres")
            .args(["-D", "data", "-k"])
            .arg(&self.dir)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "postgres did not listen on {}: {}",
                self.port,
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stop the server (fast shutdown) and wait for it.
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
            }
            let _ = child.wait();
        }
    }

    /// A superuser session on `database` (waiting while the server still
    /// starts up).
    pub(crate) async fn superuser(&self, database: &str) -> tokio_postgres::Client {
        let settings = format!(
            "host=127.0.0.1 port={} user=postgres dbname={database}",
            self.port
        );
        let started = Instant::now();
        loop {
            match tokio_postgres::connect(&settings, tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    return client;
                }
                Err(_) if started.elapsed() < Duration::from_secs(30) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("postgres on {} does not answer: {e}", self.port),
            }
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A server with database `shop`: `customers` (typed columns) and
/// `secrets`; the host's login `mcp` may change both, the role
/// `shop_reader` may only read `customers`.
async fn shop() -> Postgres {
    let server = Postgres::start().await;
    let admin = server.superuser("postgres").await;
    admin
        .batch_execute(
            "CREATE ROLE mcp LOGIN PASSWORD 'mcp-secret';
             CREATE ROLE shop_reader NOLOGIN;
             GRANT shop_reader TO mcp;",
        )
        .await
        .unwrap();
    admin.batch_execute("CREATE DATABASE shop").await.unwrap();
    let shop = server.superuser("shop").await;
    shop.batch_execute(
        "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL,
             vip boolean NOT NULL DEFAULT false, balance numeric(10, 2), joined date,
             meta jsonb, photo bytea);
         INSERT INTO customers (name, vip, balance, joined, meta) VALUES
             ('Ada', true, 1234.50, '2024-02-29', '{\"tier\": \"gold\"}'),
             ('Bob', false, -0.05, '1999-12-31', NULL),
             ('Cy', false, NULL, NULL, NULL);
         CREATE TABLE secrets (value text);
         INSERT INTO secrets VALUES ('the launch code');
         GRANT SELECT, INSERT, UPDATE, DELETE ON customers, secrets TO mcp;
         GRANT USAGE ON SEQUENCE customers_id_seq TO mcp;
         GRANT SELECT ON customers TO shop_reader;",
    )
    .await
    .unwrap();
    server
}

const POLICY: &str = "[[rule]]\nplugins = \"sqlrun\"\nroles = [\"admin\"]\ngrant = [\"sql\"]\n\
    sql-write = true\n\n\
    [[rule]]\nplugins = \"sqlrun\"\nroles = [\"user\"]\ngrant = [\"sql\"]\n\
    sql-role = \"shop_reader\"\nsql-max-rows = 3\n\n\
    [[rule]]\nplugins = \"sqlrun\"\nroles = [\"guest\"]\ngrant = [\"sql\"]\n\
    sql-tables = [\"customers\"]\n";

fn pg(sql: &str, params: Value) -> Value {
    json!({"database": "pg", "sql": sql, "params": params})
}

/// The JSON a `sqlrun` tool answered, or its error text.
fn answer(result: &rmcp::model::CallToolResult) -> Result<Value, String> {
    let text = text_of(result);
    if result.is_error == Some(true) {
        Err(text)
    } else {
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }
}

#[tokio::test]
async fn on_postgresql_each_role_gets_what_the_server_allows_it() {
    let mut server = shop().await;
    let dir = PluginDir::with(&[], &["sqlrun"]);
    let config = crm_callers();
    config.write(
        "databases.toml",
        format!(
            "[databases.pg]\nurl = \"postgres://mcp@127.0.0.1:{}/shop\"\n\
             password-env = \"E2E_PG_PASSWORD\"\npool-size = 2\nstatement-timeout-ms = 800\n",
            server.port
        ),
    );
    config.write("policy.toml", POLICY);
    let options = HostOptions::new(Era::Handshake, Transport::Http)
        .arg("--auth-file")
        .arg(config.path.join("auth.toml").to_str().unwrap())
        .arg("--policy")
        .arg(config.path.join("policy.toml").to_str().unwrap())
        .arg("--databases")
        .arg(config.path.join("databases.toml").to_str().unwrap())
        .env("E2E_PG_PASSWORD", "mcp-secret")
        .bearer("ada-token");
    let host = Connected::start(&dir, options).await.unwrap();
    let url = host.url.clone().unwrap();
    let ada = &host.client;
    let call = |client, tool: &'static str, args: Value| async move {
        answer(&call_as_any(client, tool, args).await)
    };

    // The admin writes, binding text to numeric and date parameters.
    let inserted = call(
        Who::Main(ada),
        "execute",
        pg(
            "INSERT INTO customers (name, vip, balance, joined, photo) VALUES ($1, $2, $3, $4, $5)",
            json!(["Dee", true, "12.30", "2025-01-02", {"blob": [0, 255]}]),
        ),
    )
    .await;
    assert_eq!(inserted, Ok(json!(1)));
    // Columns come back typed.
    let ada_row = call(
        Who::Main(ada),
        "query",
        pg(
            "SELECT id, name, vip, balance, joined, meta, photo FROM customers WHERE name = $1",
            json!(["Ada"]),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        ada_row["rows"][0],
        json!([{"integer": 1}, {"text": "Ada"}, {"boolean": true}, {"text": "1234.50"},
               {"text": "2024-02-29"}, {"json": "{\"tier\": \"gold\"}"}, null]),
        "{ada_row}"
    );

    // A user reads `customers` as `shop_reader`...
    let uma = client_as(&url, "uma-token").await;
    let found = call(
        Who::Other(&uma),
        "query",
        pg(
            "SELECT count(*) AS n FROM customers WHERE name = $1",
            json!(["x' OR '1'='1"]),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        found["rows"][0][0],
        json!({"integer": 0}),
        "an injection stays data"
    );
    // ...but the server refuses it another table, and any write.
    let secret = call(
        Who::Other(&uma),
        "query",
        pg("SELECT value FROM secrets", json!([])),
    )
    .await
    .unwrap_err();
    assert!(
        secret.contains("denied")
            && secret.contains("permission denied for table secrets")
            && secret.contains("`shop_reader`"),
        "{secret}"
    );
    let write = call(
        Who::Other(&uma),
        "execute",
        pg("UPDATE customers SET vip = true", json!([])),
    )
    .await
    .unwrap_err();
    assert!(write.contains("read-only"), "{write}");
    // A statement that drops the role is caught and undone.
    let escape = call(
        Who::Other(&uma),
        "transaction",
        json!({"database": "pg", "statements": [["RESET ROLE", []]]}),
    )
    .await
    .unwrap_err();
    assert!(
        escape.contains("changed the transaction's role"),
        "{escape}"
    );
    // Rows past the user's cap are left out.
    let capped = call(
        Who::Other(&uma),
        "query",
        pg("SELECT name FROM customers ORDER BY id", json!([])),
    )
    .await
    .unwrap();
    assert_eq!(capped["rows"].as_array().unwrap().len(), 3, "{capped}");
    assert_eq!(capped["truncated"], true);

    // A table list without a role would hold nothing back on PostgreSQL:
    // refused before anything reaches the server.
    let gus = client_as(&url, "gus-token").await;
    let denied = call(
        Who::Other(&gus),
        "query",
        pg("SELECT value FROM secrets", json!([])),
    )
    .await
    .unwrap_err();
    assert!(
        denied.contains("denied") && denied.contains("must also name `sql-role`"),
        "{denied}"
    );

    // A statement past its deadline is cancelled on the server, and the
    // pool goes on serving on at most its two connections.
    let started = Instant::now();
    let slow = call(
        Who::Main(ada),
        "query",
        pg("SELECT pg_sleep(30)", json!([])),
    )
    .await
    .unwrap_err();
    assert!(slow.contains("timed out"), "{slow}");
    assert!(started.elapsed() < Duration::from_secs(15));
    let mut backends = std::collections::BTreeSet::new();
    for _ in 0..10 {
        let pid = call(
            Who::Main(ada),
            "query",
            pg("SELECT pg_backend_pid()", json!([])),
        )
        .await
        .unwrap();
        backends.insert(pid["rows"][0][0].to_string());
    }
    assert!(backends.len() <= 2, "connections are reused: {backends:?}");
    let sleeping = server
        .superuser("shop")
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%' \
             AND state = 'active'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(sleeping, 0, "the cancelled statement no longer runs");

    // The database goes down: calls fail clearly and the host serves on.
    server.stop();
    let down = call(Who::Main(ada), "query", pg("SELECT 1", json!([])))
        .await
        .unwrap_err();
    assert!(
        down.contains("database `pg`")
            && (down.contains("cannot reach") || down.contains("connection")),
        "{down}"
    );
    let grant = call(Who::Main(ada), "grant", json!({"capability": "sql"}))
        .await
        .unwrap();
    assert_eq!(grant["scope"]["write"], true);
    uma.cancel().await.unwrap();
    gus.cancel().await.unwrap();
    host.shutdown().await;
}

/// The host's own client, or another one.
#[derive(Clone, Copy)]
enum Who<'a> {
    Main(&'a rmcp::service::RunningService<rmcp::RoleClient, RecordingClient>),
    Other(&'a rmcp::service::RunningService<rmcp::RoleClient, ()>),
}

async fn call_as_any(who: Who<'_>, tool: &str, args: Value) -> rmcp::model::CallToolResult {
    match who {
        Who::Main(client) => client.call_tool(params(tool, args)).await.unwrap(),
        Who::Other(client) => call_as(client, tool, args).await.unwrap(),
    }
}
