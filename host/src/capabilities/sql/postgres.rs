//! PostgreSQL databases: a pool of `tokio-postgres` connections
//! (`deadpool-postgres`, reset when reused) and each call in a transaction
//! of its own. The grant is enforced by the server: a read-only grant runs
//! in a `READ ONLY` transaction, and a grant naming a role runs its
//! statements as that role (`SET LOCAL ROLE`), so the role's privileges
//! decide which tables they reach. After every statement the host checks
//! that the transaction still has the role and access mode it began with,
//! and rolls everything back when a statement changed them.
//!
//! Parameters are sent in the type the server expects where the value fits
//! it (text otherwise, parsed by the server); columns come back typed, and
//! types without a plugin value (dates, numerics, UUIDs) as text.

mod convert;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use futures_util::StreamExt as _;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Transaction};

use super::value::RowsBuilder;
use super::{Bounds, DatabasesError, Done, SqlError, Statement, Work};
use convert::{Cell, Param};

/// Connections to one PostgreSQL database.
pub(crate) struct PostgresPool {
    pool: Pool,
    /// How the operator's settings name the server, for errors (never the
    /// password).
    server: String,
}

impl PostgresPool {
    pub(crate) fn new(
        name: &str,
        config: &tokio_postgres::Config,
        size: usize,
    ) -> Result<Self, DatabasesError> {
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Clean,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| DatabasesError::Database {
                name: name.to_string(),
                message: e.to_string(),
            })?;
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(host) => host.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let port = config.get_ports().first().copied().unwrap_or(5432);
        Ok(Self {
            pool,
            server: format!(
                "{}:{port}/{}",
                hosts.join(","),
                config.get_dbname().unwrap_or_default()
            ),
        })
    }

    /// Run `work` within `bounds`. Dropping the future cancels the
    /// statement on the server and closes its connection.
    pub(crate) async fn run(&self, work: Work, bounds: Bounds) -> Result<Done, SqlError> {
        if bounds.tables.is_some() && bounds.role.is_none() {
            // PostgreSQL enforces a table list only through a role's
            // privileges: without one, the list would hold nothing back.
            return Err(SqlError::Refused(
                "the grant limits which tables statements may touch (`sql-tables`), which \
                 PostgreSQL enforces only through the privileges of a role: the operator's \
                 rule must also name `sql-role`"
                    .into(),
            ));
        }
        let mut client = tokio::time::timeout_at(bounds.deadline.into(), self.pool.get())
            .await
            .map_err(|_| SqlError::Timeout)?
            .map_err(|e| SqlError::Failed(format!("cannot reach {}: {e}", self.server)))?;
        let mut guard = CancelOnDrop {
            token: Some(client.cancel_token()),
        };
        let outcome =
            tokio::time::timeout_at(bounds.deadline.into(), run_on(&mut client, work, &bounds))
                .await;
        match outcome {
            Ok(Ok(done)) => {
                guard.token = None;
                Ok(done)
            }
            Ok(Err(e)) => {
                guard.token = None;
                if client.is_closed() {
                    let _ = deadpool_postgres::Object::take(client);
                }
                Err(e)
            }
            Err(_) => {
                // The guard cancels the statement; the connection, in the
                // middle of a transaction, is closed rather than reused.
                let _ = deadpool_postgres::Object::take(client);
                Err(SqlError::Timeout)
            }
        }
    }
}

/// Cancels the statement in flight on the server when a call stops early.
struct CancelOnDrop {
    token: Option<tokio_postgres::CancelToken>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(token) = self.token.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = token.cancel_query(NoTls).await;
            });
        }
    }
}

/// What the transaction must still be after each statement.
#[derive(PartialEq, Debug)]
struct Standing {
    user: String,
    read_only: String,
}

/// The transaction's role and access mode, asked in one round trip (an
/// unnamed statement parsed, bound and run together).
async fn standing(tx: &Transaction<'_>) -> Result<Standing, tokio_postgres::Error> {
    let rows = tx
        .query_typed(
            "SELECT current_user::text, current_setting('transaction_read_only')",
            &[],
        )
        .await?;
    // One row always; none would read as a changed standing and refuse.
    Ok(rows.first().map_or(
        Standing {
            user: String::new(),
            read_only: String::new(),
        },
        |row| Standing {
            user: row.get(0),
            read_only: row.get(1),
        },
    ))
}

async fn run_on(
    client: &mut deadpool_postgres::Object,
    work: Work,
    bounds: &Bounds,
) -> Result<Done, SqlError> {
    let remaining = bounds
        .deadline
        .saturating_duration_since(std::time::Instant::now());
    let tx = client
        .build_transaction()
        .read_only(!bounds.write)
        .start()
        .await
        .map_err(|e| describe(&e, bounds))?;
    let mut setup = format!(
        "SET LOCAL statement_timeout = {}",
        remaining.as_millis().max(1)
    );
    if let Some(role) = &bounds.role {
        setup.push_str(&format!("; SET LOCAL ROLE {}", quote_identifier(role)));
    }
    // The settings and the first check travel together (the connection
    // sends requests in the order they are made). Taking a snapshot in the
    // check also fixes the access mode for the rest of the transaction.
    let (set, began) = tokio::join!(tx.batch_execute(&setup), standing(&tx));
    set.map_err(|e| describe(&e, bounds))?;
    let began = began.map_err(|e| describe(&e, bounds))?;
    let done = match work {
        Work::Query(statement) => Done::Rows(query(&tx, &statement, bounds, &began).await?),
        Work::Execute(statement) => Done::Changed(execute(&tx, &statement, bounds, &began).await?),
        Work::Transaction(statements) => {
            let mut each = Vec::with_capacity(statements.len());
            for statement in &statements {
                each.push(execute(&tx, statement, bounds, &began).await?);
            }
            Done::EachChanged(each)
        }
    };
    tx.commit().await.map_err(|e| describe(&e, bounds))?;
    Ok(done)
}

/// Refuse when a statement changed the transaction's role or access mode
/// (the transaction is rolled back when it is dropped).
async fn still(tx: &Transaction<'_>, began: &Standing, bounds: &Bounds) -> Result<(), SqlError> {
    match standing(tx).await {
        Ok(now) if now == *began => Ok(()),
        Ok(_) => Err(SqlError::Refused(
            "a statement changed the transaction's role or access mode; everything it did is \
             rolled back"
                .into(),
        )),
        Err(e) => Err(describe(&e, bounds)),
    }
}

async fn prepared(
    tx: &Transaction<'_>,
    statement: &Statement,
    bounds: &Bounds,
) -> Result<(tokio_postgres::Statement, Vec<Param>), SqlError> {
    let prepared = tx
        .prepare(&statement.sql)
        .await
        .map_err(|e| describe(&e, bounds))?;
    if prepared.params().len() != statement.params.len() {
        return Err(SqlError::Invalid(format!(
            "the statement takes {} parameter(s) and {} were given",
            prepared.params().len(),
            statement.params.len()
        )));
    }
    let params = statement.params.iter().cloned().map(Param).collect();
    Ok((prepared, params))
}

/// Run a statement that returns rows, then check the transaction still
/// stands as it `began` (the check sent right behind the statement).
async fn query(
    tx: &Transaction<'_>,
    statement: &Statement,
    bounds: &Bounds,
    began: &Standing,
) -> Result<crate::bindings::mcp::plugin::sql::QueryResult, SqlError> {
    let (prepared, params) = prepared(tx, statement, bounds).await?;
    let columns = prepared
        .columns()
        .iter()
        .map(|c| c.name().to_string())
        .collect::<Vec<_>>();
    let width = columns.len();
    let mut result = RowsBuilder::new(columns, bounds.max_rows, bounds.max_bytes);
    // A portal fetches one row past the cap, never the whole result.
    let portal = tx
        .bind_raw(
            &prepared,
            params
                .iter()
                .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync)),
        )
        .await
        .map_err(|e| describe(&e, bounds))?;
    let fetch = i32::try_from(bounds.max_rows.saturating_add(1)).unwrap_or(i32::MAX);
    let rows = tx
        .query_portal_raw(&portal, fetch)
        .await
        .map_err(|e| describe(&e, bounds))?;
    let read = async {
        futures_util::pin_mut!(rows);
        while let Some(row) = rows.next().await {
            let row = row.map_err(|e| describe(&e, bounds))?;
            let values = (0..width)
                .map(|i| {
                    row.try_get::<_, Cell>(i).map(|c| c.0).map_err(|e| {
                        SqlError::Invalid(format!(
                            "column `{}`: {e}; cast it to text (`::text`) to read it",
                            row.columns()[i].name()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            if !result.push(values) {
                break;
            }
        }
        Ok::<_, SqlError>(())
    };
    let (read, check) = tokio::join!(read, still(tx, began, bounds));
    read?;
    check?;
    Ok(result.finish())
}

/// Run a statement that changes data, then check the transaction still
/// stands as it `began` (the check sent right behind the statement).
async fn execute(
    tx: &Transaction<'_>,
    statement: &Statement,
    bounds: &Bounds,
    began: &Standing,
) -> Result<u64, SqlError> {
    let (prepared, params) = prepared(tx, statement, bounds).await?;
    if !prepared.columns().is_empty() {
        return Err(SqlError::Invalid(
            "the statement returns rows: run it with `query`".into(),
        ));
    }
    let run = tx.execute_raw(
        &prepared,
        params
            .iter()
            .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync)),
    );
    let (changed, check) = tokio::join!(run, still(tx, began, bounds));
    let changed = changed.map_err(|e| describe(&e, bounds))?;
    check?;
    Ok(changed)
}

/// `name` as a quoted SQL identifier.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// What a PostgreSQL error means to the plugin.
fn describe(error: &tokio_postgres::Error, bounds: &Bounds) -> SqlError {
    let Some(db) = error.as_db_error() else {
        return SqlError::Failed(format!("the connection failed: {error}"));
    };
    let message = db.message().to_string();
    match *db.code() {
        SqlState::INSUFFICIENT_PRIVILEGE => SqlError::Refused(match &bounds.role {
            Some(role) => format!("{message} (statements run as role `{role}`)"),
            None => message,
        }),
        SqlState::READ_ONLY_SQL_TRANSACTION => {
            SqlError::Refused(format!("{message} (this caller's grant is read-only)"))
        }
        SqlState::QUERY_CANCELED => SqlError::Timeout,
        SqlState::SYNTAX_ERROR if message.contains("multiple commands") => SqlError::Invalid(
            "the text holds more than one statement: send one per call, or several with \
             `transaction`"
                .into(),
        ),
        _ => SqlError::Failed(message),
    }
}
