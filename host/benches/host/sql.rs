//! SQL: the `crm` example's `find_customer` on its SQLite database,
//! sequential over stdio (p50, calls/s); then a one-row query on
//! PostgreSQL (the `sqlrun` fixture, `SELECT ... WHERE id = $1`) from 16
//! HTTP clients, with the server's count of sessions before and after to
//! show the pool is reused. The PostgreSQL part runs when Debian's
//! `postgresql` is installed (scripts/test.sh installs it); its server is
//! started here on 127.0.0.1 in a temporary directory (as the `postgres`
//! user when the bench runs as root) and stopped at the end.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http_load::{HttpHost, Session};
use super::{HOST_ENV, Host, repo, report, spawn_host};

const SEQUENTIAL: usize = 5_000;
const WARM_UP: usize = 500;
const CLIENTS: usize = 16;
const CONCURRENT_CALLS: usize = 20_000;
const POOL_SIZE: usize = 4;

fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": tool, "arguments": arguments}})
}

/// A directory holding only the named plugins of `from`.
fn plugins_dir(from: &Path, names: &[&str], dir: &Path) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    for name in names {
        for ext in ["wasm", "toml"] {
            std::fs::copy(
                from.join(format!("{name}.{ext}")),
                dir.join(format!("{name}.{ext}")),
            )?;
        }
    }
    Ok(())
}

fn sqlite_stdio(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let work = repo().join("target/bench-sql-sqlite");
    let dir = work.join("plugins");
    plugins_dir(plugins, &["crm"], &dir)?;
    let db = work.join("crm.sqlite3");
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\nsqlite3.connect(sys.argv[1]).executescript(open(sys.argv[2]).read())",
        ])
        .arg(&db)
        .arg(repo().join("plugins/crm/seed.sql"))
        .status()?;
    anyhow::ensure!(status.success(), "python3 made the database");
    std::fs::write(
        work.join("databases.toml"),
        format!("[databases.crm]\nurl = \"sqlite://{}\"\n", db.display()),
    )?;
    *HOST_ENV.lock().unwrap() = vec![
        (
            "MCP_WASM_HOST_POLICY".into(),
            repo()
                .join("plugins/examples-policy.toml")
                .to_string_lossy()
                .into_owned(),
        ),
        (
            "MCP_WASM_HOST_DATABASES".into(),
            work.join("databases.toml").to_string_lossy().into_owned(),
        ),
    ];
    let mut host = Host::attach(spawn_host(&dir, cache)?)?;
    HOST_ENV.lock().unwrap().clear();
    host.request(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "bench", "version": "0"}}}))?;
    use std::io::Write as _;
    host.stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")?;
    let found =
        |r: &Value| r["result"]["structuredContent"]["customers"][0]["name"] == "Ada Lovelace";
    let mut id = 0u64;
    for _ in 0..WARM_UP {
        id += 1;
        let r = host.request(&call(id, "find_customer", json!({"query": "ada"})))?;
        anyhow::ensure!(found(&r), "find_customer failed: {r}");
    }
    let mut samples = Vec::with_capacity(SEQUENTIAL);
    let start = Instant::now();
    for _ in 0..SEQUENTIAL {
        id += 1;
        let t = Instant::now();
        let r = host.request(&call(id, "find_customer", json!({"query": "ada"})))?;
        samples.push(t.elapsed());
        anyhow::ensure!(found(&r), "find_customer failed: {r}");
    }
    report(
        "stdio `crm.find_customer` on SQLite (query, progress, log)",
        samples,
        SEQUENTIAL,
        start.elapsed(),
    );
    host.close();
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

/// A PostgreSQL server for the bench, stopped and removed on drop.
struct Postgres {
    child: Option<std::process::Child>,
    dir: PathBuf,
    port: u16,
}

fn postgres_bin(program: &str) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin").join(program))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

impl Postgres {
    fn command(dir: &Path, program: &str) -> anyhow::Result<std::process::Command> {
        let bin =
            postgres_bin(program).ok_or_else(|| anyhow::anyhow!("PostgreSQL has no {program}"))?;
        let mut command = if rustix::process::geteuid().is_root() {
            let mut c = std::process::Command::new("setpriv");
            c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
                .arg(bin);
            c
        } else {
            std::process::Command::new(bin)
        };
        command.current_dir(dir);
        Ok(command)
    }

    fn start() -> anyhow::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("mcp-wasm-host-bench-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        if rustix::process::geteuid().is_root() {
            let id = |flag: &str| -> anyhow::Result<u32> {
                let out = std::process::Command::new("id")
                    .args([flag, "postgres"])
                    .output()?;
                Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
            };
            std::os::unix::fs::chown(&dir, Some(id("-u")?), Some(id("-g")?))?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let status = Self::command(&dir, "initdb")?
            .args(["-D", "data", "-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .args(["--no-locale", "--no-sync"])
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "initdb failed");
        let child = Self::command(&dir, "postgres")?
            .args(["-D", "data", "-k"])
            .arg(&dir)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Self {
            child: Some(child),
            dir,
            port,
        })
    }

    async fn superuser(&self, database: &str) -> anyhow::Result<tokio_postgres::Client> {
        let settings = format!(
            "host=127.0.0.1 port={} user=postgres dbname={database}",
            self.port
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match tokio_postgres::connect(&settings, tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    return Ok(client);
                }
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => anyhow::bail!("postgres does not answer: {e}"),
            }
        }
    }

    /// Sessions the server has opened on database `shop`.
    async fn sessions(&self) -> anyhow::Result<i64> {
        let admin = self.superuser("postgres").await?;
        let row = admin
            .query_one(
                "SELECT sessions FROM pg_stat_database WHERE datname = 'shop'",
                &[],
            )
            .await?;
        Ok(row.get(0))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
            }
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn postgres_http(cache: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    if postgres_bin("postgres").is_none() {
        println!("| PostgreSQL sections skipped: `postgresql` is not installed | | | |");
        return Ok(());
    }
    let server = Postgres::start()?;
    rt.block_on(async {
        let admin = server.superuser("postgres").await?;
        admin.batch_execute("CREATE ROLE mcp LOGIN").await?;
        admin
            .batch_execute("CREATE DATABASE shop OWNER mcp")
            .await?;
        let shop = server.superuser("shop").await?;
        shop.batch_execute(
            "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, city text);
             INSERT INTO customers (name, city)
                 SELECT 'customer ' || n, 'city ' || (n % 50) FROM generate_series(1, 1000) n;
             ALTER TABLE customers OWNER TO mcp;",
        )
        .await?;
        Ok::<_, anyhow::Error>(())
    })?;
    let work = repo().join("target/bench-sql-postgres");
    let dir = work.join("plugins");
    plugins_dir(&repo().join("target/fixture-plugins"), &["sqlrun"], &dir)?;
    std::fs::write(
        work.join("databases.toml"),
        format!(
            "[databases.pg]\nurl = \"postgres://mcp@127.0.0.1:{}/shop\"\npool-size = {POOL_SIZE}\n",
            server.port
        ),
    )?;
    std::fs::write(
        work.join("policy.toml"),
        "[[rule]]\nplugins = \"sqlrun\"\ngrant = [\"sql\"]\nsql-databases = [\"pg\"]\n",
    )?;
    *HOST_ENV.lock().unwrap() = vec![
        (
            "MCP_WASM_HOST_POLICY".into(),
            work.join("policy.toml").to_string_lossy().into_owned(),
        ),
        (
            "MCP_WASM_HOST_DATABASES".into(),
            work.join("databases.toml").to_string_lossy().into_owned(),
        ),
    ];
    let host = HttpHost::spawn(&dir, cache)?;
    HOST_ENV.lock().unwrap().clear();
    let url = host.url.clone();
    rt.block_on(async {
        let query = |id: u64, n: usize| {
            call(
                id,
                "query",
                json!({"database": "pg", "sql": "SELECT id, name, city FROM customers WHERE id = $1",
                       "params": [(n % 1000) + 1]}),
            )
        };
        let ok = |r: &Value| r["result"]["isError"] != true && r["result"]["content"][0]["text"].is_string();
        let mut warm = Session::connect_with(&url, json!({})).await?;
        for n in 0..WARM_UP {
            let r = warm.post(query(n as u64 + 1, n)).await?.unwrap_or_default();
            anyhow::ensure!(ok(&r), "query failed: {r}");
        }
        warm.close().await;
        let sessions_before = server.sessions().await?;
        let mut sessions = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            sessions.push(Session::connect_with(&url, json!({})).await?);
        }
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut clients = tokio::task::JoinSet::new();
        for mut session in sessions {
            let next = next.clone();
            clients.spawn(async move {
                let mut samples = Vec::new();
                let mut id = 0u64;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= CONCURRENT_CALLS {
                        break;
                    }
                    id += 1;
                    let t = Instant::now();
                    let r = session.post(query(id, n)).await?.unwrap_or_default();
                    samples.push(t.elapsed());
                    anyhow::ensure!(ok(&r), "query failed: {r}");
                }
                session.close().await;
                Ok::<_, anyhow::Error>(samples)
            });
        }
        let mut samples = Vec::with_capacity(CONCURRENT_CALLS);
        while let Some(done) = clients.join_next().await {
            samples.extend(done??);
        }
        let total = start.elapsed();
        let opened = server.sessions().await? - sessions_before;
        report(
            &format!(
                "HTTP `sqlrun.query` on PostgreSQL (one row by id), {CLIENTS} clients, pool of {POOL_SIZE}: {opened} server session(s) opened during {CONCURRENT_CALLS} calls"
            ),
            samples,
            CONCURRENT_CALLS,
            total,
        );
        Ok::<_, anyhow::Error>(())
    })?;
    drop(host);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

pub fn sql(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    sqlite_stdio(plugins, cache)?;
    postgres_http(cache, &rt)?;
    Ok(())
}
