//! Tasks: `countdown {seconds: 0}` of the hello plugin as a plain call and as
//! a task (the 2025-11-25 format: create, then `tasks/get` until it is
//! completed), sequential over stdio and over HTTP; then tasks created and
//! run to completion per second by 16 HTTP clients, each creating a task and
//! polling it to its end before the next. Task records go to SQLite in a
//! fresh data directory, as on a single host by default.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::http_load::{HttpHost, Session};
use super::{HOST_ENV, Host, report, spawn_host};

const SEQUENTIAL: usize = 2_000;
const WARM_UP: usize = 200;
const CLIENTS: usize = 16;
const CONCURRENT_TASKS: usize = 10_000;
/// The most `tasks/get` polls one task may take before the run fails.
const MAX_POLLS: usize = 10_000;

fn plain_call(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "countdown", "arguments": {"seconds": 0}}})
}

fn task_call(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "countdown", "arguments": {"seconds": 0}, "task": {"ttl": 60000}}})
}

fn get(id: u64, task: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tasks/get", "params": {"taskId": task}})
}

fn done_plain(r: &Value) -> bool {
    r["result"]["content"][0]["text"] == "done after 0 steps"
}

/// What one task took: creation, creation plus the first `tasks/get`, and
/// creation to the `tasks/get` that saw it completed.
struct TaskTimes {
    create: Duration,
    first_get: Duration,
    completed: Duration,
}

/// Run one task to its end through `ask` (a request-response round trip).
async fn one_task<F, Fut>(next_id: &mut u64, mut ask: F) -> anyhow::Result<TaskTimes>
where
    F: FnMut(Value) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Value>>,
{
    let start = Instant::now();
    *next_id += 1;
    let created = ask(task_call(*next_id)).await?;
    let create = start.elapsed();
    let task = created["result"]["task"]["taskId"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no task was created: {created}"))?
        .to_string();
    let mut first_get = None;
    for _ in 0..MAX_POLLS {
        *next_id += 1;
        let got = ask(get(*next_id, &task)).await?;
        first_get.get_or_insert(start.elapsed());
        match got["result"]["status"].as_str() {
            Some("completed") => {
                return Ok(TaskTimes {
                    create,
                    first_get: first_get.unwrap_or_default(),
                    completed: start.elapsed(),
                });
            }
            Some("working") => {}
            _ => anyhow::bail!("task {task} did not complete: {got}"),
        }
    }
    anyhow::bail!("task {task} was still working after {MAX_POLLS} polls")
}

fn report_tasks(transport: &str, times: Vec<TaskTimes>, total: Duration) {
    let n = times.len();
    let pick = |f: fn(&TaskTimes) -> Duration| times.iter().map(f).collect::<Vec<_>>();
    report(
        &format!("{transport} `countdown` 0 steps as a task: create"),
        pick(|t| t.create),
        n,
        total,
    );
    report(
        &format!("{transport} `countdown` 0 steps as a task: create + first `tasks/get`"),
        pick(|t| t.first_get),
        n,
        total,
    );
    report(
        &format!("{transport} `countdown` 0 steps as a task: create to `completed` seen"),
        pick(|t| t.completed),
        n,
        total,
    );
}

/// A fresh data directory for the host's task records, set for the next
/// host spawned.
fn fresh_data_dir(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let dir = super::repo().join("target").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    *HOST_ENV.lock().unwrap() = vec![
        (
            "MCP_WASM_HOST_DATA_DIR".into(),
            dir.to_string_lossy().into_owned(),
        ),
        // The concurrent run keeps up to 16 tasks running; a task is
        // released just after its outcome is stored.
        ("MCP_WASM_HOST_MAX_TASKS_PER_PRINCIPAL".into(), "64".into()),
    ];
    Ok(dir)
}

fn stdio(plugins: &Path, cache: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let data = fresh_data_dir("bench-tasks-stdio")?;
    let mut host = Host::attach(spawn_host(plugins, cache)?)?;
    HOST_ENV.lock().unwrap().clear();
    let init = host.request(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {"tasks": {"list": {}, "cancel": {}}},
                   "clientInfo": {"name": "bench", "version": "0"}}}))?;
    anyhow::ensure!(
        init["result"]["capabilities"]["tasks"].is_object(),
        "no tasks capability: {init}"
    );
    use std::io::Write as _;
    host.stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n")?;

    let mut id = 0u64;
    for _ in 0..WARM_UP {
        id += 1;
        anyhow::ensure!(done_plain(&host.request(&plain_call(id))?));
    }
    let mut samples = Vec::with_capacity(SEQUENTIAL);
    let start = Instant::now();
    for _ in 0..SEQUENTIAL {
        id += 1;
        let t = Instant::now();
        let r = host.request(&plain_call(id))?;
        samples.push(t.elapsed());
        anyhow::ensure!(done_plain(&r), "plain call failed: {r}");
    }
    report(
        "stdio `countdown` 0 steps as a plain call",
        samples,
        SEQUENTIAL,
        start.elapsed(),
    );

    let host = std::cell::RefCell::new(host);
    let ask = |message: Value| {
        let r = host.borrow_mut().request(&message);
        async move { r }
    };
    rt.block_on(async {
        for _ in 0..WARM_UP {
            one_task(&mut id, ask).await?;
        }
        let mut times = Vec::with_capacity(SEQUENTIAL);
        let start = Instant::now();
        for _ in 0..SEQUENTIAL {
            times.push(one_task(&mut id, ask).await?);
        }
        report_tasks("stdio", times, start.elapsed());
        Ok::<_, anyhow::Error>(())
    })?;
    host.into_inner().close();
    let _ = std::fs::remove_dir_all(data);
    Ok(())
}

/// `post` with the answer required.
async fn ask(session: &mut Session, message: Value) -> anyhow::Result<Value> {
    session
        .post(message)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no answer"))
}

fn http(plugins: &Path, cache: &Path, rt: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    let data = fresh_data_dir("bench-tasks-http")?;
    let host = HttpHost::spawn(plugins, cache)?;
    HOST_ENV.lock().unwrap().clear();
    let url = host.url.clone();
    let capabilities = json!({"tasks": {"list": {}, "cancel": {}}});
    rt.block_on(async {
        let mut session = Session::connect_with(&url, capabilities.clone()).await?;
        let mut id = 0u64;
        for _ in 0..WARM_UP {
            id += 1;
            anyhow::ensure!(done_plain(&ask(&mut session, plain_call(id)).await?));
        }
        let mut samples = Vec::with_capacity(SEQUENTIAL);
        let start = Instant::now();
        for _ in 0..SEQUENTIAL {
            id += 1;
            let t = Instant::now();
            let r = ask(&mut session, plain_call(id)).await?;
            samples.push(t.elapsed());
            anyhow::ensure!(done_plain(&r), "plain call failed: {r}");
        }
        report(
            "HTTP `countdown` 0 steps as a plain call",
            samples,
            SEQUENTIAL,
            start.elapsed(),
        );

        let session = tokio::sync::Mutex::new(session);
        let asking = |message: Value| {
            let session = &session;
            async move { ask(&mut *session.lock().await, message).await }
        };
        for _ in 0..WARM_UP {
            one_task(&mut id, asking).await?;
        }
        let mut times = Vec::with_capacity(SEQUENTIAL);
        let start = Instant::now();
        for _ in 0..SEQUENTIAL {
            times.push(one_task(&mut id, asking).await?);
        }
        report_tasks("HTTP", times, start.elapsed());
        session.into_inner().close().await;

        // Many clients at once.
        let mut sessions = Vec::with_capacity(CLIENTS);
        for _ in 0..CLIENTS {
            sessions.push(Session::connect_with(&url, capabilities.clone()).await?);
        }
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut clients = tokio::task::JoinSet::new();
        for session in sessions {
            let next = next.clone();
            clients.spawn(async move {
                let session = tokio::sync::Mutex::new(session);
                let asking = |message: Value| {
                    let session = &session;
                    async move { ask(&mut *session.lock().await, message).await }
                };
                let mut id = 0u64;
                let mut times = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < CONCURRENT_TASKS {
                    times.push(one_task(&mut id, asking).await?);
                }
                session.into_inner().close().await;
                Ok::<_, anyhow::Error>(times)
            });
        }
        let mut completed = Vec::with_capacity(CONCURRENT_TASKS);
        while let Some(done) = clients.join_next().await {
            completed.extend(done??.into_iter().map(|t| t.completed));
        }
        report(
            &format!(
                "HTTP tasks created and run to completion, {CLIENTS} concurrent clients (create to `completed` seen)"
            ),
            completed,
            CONCURRENT_TASKS,
            start.elapsed(),
        );
        Ok::<_, anyhow::Error>(())
    })?;
    drop(host);
    let _ = std::fs::remove_dir_all(data);
    Ok(())
}

pub fn tasks(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    stdio(plugins, cache, &rt)?;
    http(plugins, cache, &rt)?;
    Ok(())
}
