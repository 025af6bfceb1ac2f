//! SQLite databases: a pool of connections to one file, each call run on a
//! blocking thread in a transaction of its own. The grant is enforced by
//! SQLite: `query_only` for read-only grants, and an authorizer callback
//! that refuses tables outside the grant's list and every statement that
//! would reach past the call's transaction (ATTACH, PRAGMA, BEGIN/COMMIT,
//! savepoints, virtual tables, temporary objects, which would outlive the
//! call on its connection). Statements are prepared fresh for each call,
//! never cached, because SQLite authorizes a statement when it prepares it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::Semaphore;

use super::value::RowsBuilder;
use super::{Bounds, Done, SqlError, Statement, Work};
use crate::bindings::mcp::plugin::sql::SqlValue;

/// Connections to one SQLite file.
pub(crate) struct SqlitePool {
    path: PathBuf,
    /// The largest string or blob a statement may make (the database's
    /// result cap): a larger one fails in SQLite instead of being built in
    /// the host's memory.
    max_value_bytes: i32,
    idle: Arc<Mutex<Vec<Connection>>>,
    slots: Arc<Semaphore>,
    opened: Arc<AtomicU64>,
}

/// How often (in virtual machine steps) a running statement checks its
/// deadline.
const PROGRESS_STEPS: i32 = 1000;

impl SqlitePool {
    pub(crate) fn new(path: PathBuf, size: usize, max_value_bytes: u64) -> Self {
        Self {
            path,
            max_value_bytes: i32::try_from(max_value_bytes).unwrap_or(i32::MAX),
            idle: Arc::default(),
            slots: Arc::new(Semaphore::new(size)),
            opened: Arc::default(),
        }
    }

    /// Connections opened so far (the tests show they are reused).
    #[cfg(test)]
    pub(crate) fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Run `work` within `bounds`. Dropping the future stops the statement.
    pub(crate) async fn run(&self, work: Work, bounds: Bounds) -> Result<Done, SqlError> {
        let permit =
            tokio::time::timeout_at(bounds.deadline.into(), self.slots.clone().acquire_owned())
                .await
                .map_err(|_| SqlError::Timeout)?
                .map_err(|_| SqlError::Failed("the pool is closed".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let interrupt = Arc::new(Mutex::new(None::<rusqlite::InterruptHandle>));
        let _stopper = Stopper {
            stop: stop.clone(),
            interrupt: interrupt.clone(),
        };
        let idle = self.idle.clone();
        let path = self.path.clone();
        let max_value_bytes = self.max_value_bytes;
        let opened = self.opened.clone();
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match taken {
                Some(conn) => conn,
                None => {
                    let conn = open(&path, max_value_bytes)?;
                    opened.fetch_add(1, Ordering::Relaxed);
                    conn
                }
            };
            *interrupt.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(conn.get_interrupt_handle());
            let outcome = run_on(&conn, work, &bounds, &stop);
            *interrupt.lock().unwrap_or_else(|e| e.into_inner()) = None;
            if release(&conn) {
                idle.lock().unwrap_or_else(|e| e.into_inner()).push(conn);
            }
            outcome
        });
        match job.await {
            Ok(outcome) => outcome,
            Err(e) => Err(SqlError::Failed(format!(
                "the statement's thread failed: {e}"
            ))),
        }
    }
}

/// Stops a call's statement when the call's future is dropped (its
/// deadline passed or it was cancelled): the progress handler sees the flag,
/// and a statement waiting in SQLite is interrupted.
struct Stopper {
    stop: Arc<AtomicBool>,
    interrupt: Arc<Mutex<Option<rusqlite::InterruptHandle>>>,
}

impl Drop for Stopper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = &*self.interrupt.lock().unwrap_or_else(|e| e.into_inner()) {
            handle.interrupt();
        }
    }
}

/// A connection to `path`, which must exist, with the settings every call
/// relies on.
fn open(path: &std::path::Path, max_value_bytes: i32) -> Result<Connection, SqlError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| SqlError::Failed(format!("cannot open {}: {e}", path.display())))?;
    let settings = || -> rusqlite::Result<()> {
        use rusqlite::config::DbConfig;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false)?;
        conn.set_limit(rusqlite::limits::Limit::SQLITE_LIMIT_ATTACHED, 0)?;
        conn.set_limit(
            rusqlite::limits::Limit::SQLITE_LIMIT_LENGTH,
            max_value_bytes,
        )?;
        Ok(())
    };
    settings().map_err(|e| SqlError::Failed(format!("cannot set up {}: {e}", path.display())))?;
    Ok(conn)
}

/// Undo a call's settings; false when the connection is not fit to reuse.
fn release(conn: &Connection) -> bool {
    conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>);
    conn.progress_handler(0, None::<fn() -> bool>);
    conn.is_autocommit() || conn.execute_batch("ROLLBACK").is_ok()
}

fn run_on(
    conn: &Connection,
    work: Work,
    bounds: &Bounds,
    stop: &Arc<AtomicBool>,
) -> Result<Done, SqlError> {
    let remaining = bounds.deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(SqlError::Timeout);
    }
    let prepare = || -> rusqlite::Result<()> {
        conn.pragma_update(None, "query_only", !bounds.write)?;
        conn.busy_timeout(remaining.min(Duration::from_secs(10)))?;
        conn.execute_batch(if bounds.write {
            "BEGIN IMMEDIATE"
        } else {
            "BEGIN"
        })
    };
    prepare().map_err(|e| describe(e, bounds))?;
    let deadline = bounds.deadline;
    let flag = stop.clone();
    conn.progress_handler(
        PROGRESS_STEPS,
        Some(move || flag.load(Ordering::Relaxed) || Instant::now() >= deadline),
    );
    conn.authorizer(Some(authorizer(bounds.tables.clone(), bounds.write)));
    let outcome = match work {
        Work::Query(statement) => query(conn, &statement, bounds).map(Done::Rows),
        Work::Execute(statement) => execute(conn, &statement).map(Done::Changed),
        Work::Transaction(statements) => statements
            .iter()
            .map(|s| execute(conn, s))
            .collect::<Result<Vec<_>, _>>()
            .map(Done::EachChanged),
    };
    conn.authorizer(None::<fn(AuthContext<'_>) -> Authorization>);
    let outcome = outcome.map_err(|e| describe(e, bounds));
    let end = if outcome.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    conn.execute_batch(end).map_err(|e| describe(e, bounds))?;
    outcome
}

/// The authorizer of a call: tables outside `tables` (when given) are
/// refused, and so is everything that reaches past the call's transaction
/// or the one database.
fn authorizer(
    tables: Option<Vec<String>>,
    write: bool,
) -> impl for<'r> FnMut(AuthContext<'r>) -> Authorization + Send + 'static {
    move |context: AuthContext<'_>| {
        let allowed = |table: &str| {
            tables
                .as_ref()
                .is_none_or(|list| list.iter().any(|t| t.eq_ignore_ascii_case(table)))
        };
        let schema_changes = write && tables.is_none();
        let verdict = match context.action {
            AuthAction::Select | AuthAction::Recursive | AuthAction::Function { .. } => true,
            AuthAction::Read { table_name, .. }
            | AuthAction::Insert { table_name }
            | AuthAction::Update { table_name, .. }
            | AuthAction::Delete { table_name } => allowed(table_name),
            AuthAction::CreateTable { .. }
            | AuthAction::CreateIndex { .. }
            | AuthAction::CreateView { .. }
            | AuthAction::CreateTrigger { .. }
            | AuthAction::DropTable { .. }
            | AuthAction::DropIndex { .. }
            | AuthAction::DropView { .. }
            | AuthAction::DropTrigger { .. }
            | AuthAction::AlterTable { .. }
            | AuthAction::Reindex { .. }
            | AuthAction::Analyze { .. } => schema_changes,
            // Temporary objects would outlive the call on its pooled
            // connection, and a temporary table shadows the table of its
            // name for every later caller: never.
            _ => false,
        };
        if verdict {
            Authorization::Allow
        } else {
            Authorization::Deny
        }
    }
}

fn bind(stmt: &mut rusqlite::Statement<'_>, statement: &Statement) -> rusqlite::Result<()> {
    let expected = stmt.parameter_count();
    if expected != statement.params.len() {
        return Err(rusqlite::Error::InvalidParameterCount(
            statement.params.len(),
            expected,
        ));
    }
    for (i, value) in statement.params.iter().enumerate() {
        stmt.raw_bind_parameter(i + 1, to_sqlite(value))?;
    }
    Ok(())
}

fn query(
    conn: &Connection,
    statement: &Statement,
    bounds: &Bounds,
) -> rusqlite::Result<crate::bindings::mcp::plugin::sql::QueryResult> {
    let mut stmt = conn.prepare(&statement.sql)?;
    bind(&mut stmt, statement)?;
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let width = columns.len();
    let mut result = RowsBuilder::new(columns, bounds.max_rows, bounds.max_bytes);
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        let values = (0..width)
            .map(|i| row.get_ref(i).map(from_sqlite))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if !result.push(values) {
            break;
        }
    }
    Ok(result.finish())
}

fn execute(conn: &Connection, statement: &Statement) -> rusqlite::Result<u64> {
    let mut stmt = conn.prepare(&statement.sql)?;
    bind(&mut stmt, statement)?;
    stmt.raw_execute()?;
    Ok(conn.changes())
}

fn to_sqlite(value: &SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(n) => Value::Integer(*n),
        SqlValue::Real(x) => Value::Real(*x),
        SqlValue::Text(s) | SqlValue::Json(s) => Value::Text(s.clone()),
        SqlValue::Blob(b) => Value::Blob(b.clone()),
        SqlValue::Boolean(b) => Value::Integer(i64::from(*b)),
    }
}

fn from_sqlite(value: ValueRef<'_>) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(n) => SqlValue::Integer(n),
        ValueRef::Real(x) => SqlValue::Real(x),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
    }
}

/// What a SQLite error means to the plugin.
fn describe(error: rusqlite::Error, bounds: &Bounds) -> SqlError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let message = message.clone().unwrap_or_else(|| failure.to_string());
            match failure.code {
                ErrorCode::AuthorizationForStatementDenied => SqlError::Refused(format!(
                    "{message} ({})",
                    match &bounds.tables {
                        Some(tables) => format!(
                            "this caller's grant reaches only the tables {}; ATTACH, PRAGMA \
                             and transaction control are never allowed",
                            tables.join(", ")
                        ),
                        None => "ATTACH, PRAGMA and transaction control are never allowed, \
                                 nor schema changes under a read-only grant"
                            .to_string(),
                    }
                )),
                ErrorCode::ReadOnly => {
                    SqlError::Refused(format!("{message} (this caller's grant is read-only)"))
                }
                ErrorCode::OperationInterrupted => SqlError::Timeout,
                _ => SqlError::Failed(message),
            }
        }
        rusqlite::Error::MultipleStatement => SqlError::Invalid(
            "the text holds more than one statement: send one per call, or several with \
             `transaction`"
                .into(),
        ),
        rusqlite::Error::InvalidParameterCount(given, expected) => SqlError::Invalid(format!(
            "the statement takes {expected} parameter(s) and {given} were given"
        )),
        rusqlite::Error::ExecuteReturnedResults => {
            SqlError::Invalid("the statement returns rows: run it with `query`".into())
        }
        _ => SqlError::Failed(error.to_string()),
    }
}
