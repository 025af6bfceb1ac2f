//! The `sql` capability (`mcp:plugin/sql`): parameterized statements
//! against databases the operator names in a databases file
//! (`--databases`), SQLite files ([`sqlite`]) and PostgreSQL servers
//! ([`postgres`]). The manifest declares the database names a plugin needs
//! and whether it writes (`[capabilities.sql]`); policy rules grant them,
//! per caller when a rule names roles, with `sql-databases`, `sql-write`,
//! `sql-tables`, `sql-role` and the caps `sql-max-rows` and
//! `sql-max-result-kib`.
//!
//! What a grant allows is enforced by the database, never by reading the
//! statement: a read-only grant runs in a read-only transaction (SQLite
//! `query_only`, PostgreSQL `READ ONLY`), a table list is SQLite's
//! authorizer or, on PostgreSQL, the privileges of the role the grant names
//! (`SET LOCAL ROLE`). Each call is one transaction, bounded by the
//! request's deadline and the database's statement timeout, and cancelled
//! with the request.

mod config;
mod postgres;
mod sqlite;
mod value;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use wasmtime::component::{HasSelf, Linker};

use super::HostCapability;
use super::client_requests::FacadeResult;
use super::services::{Opening, Setting, SettingValues};
use crate::bindings::mcp::plugin::sql;
use crate::bindings::{FacadeFailure, types};
use crate::capability::{
    Capability, CapabilityKind, Narrowed, Narrowing, Params, ParamsRef, Toml, TomlProblem,
    downcast, from_toml,
};
use crate::runtime::{HostServices, HostState, PluginCounters};

pub use config::{DatabaseConfig, DatabasesError, DatabasesFile};

/// SQL against the operator's databases (`mcp:plugin/sql`).
pub const SQL: Capability = Capability::named("sql");

/// `[capabilities.sql]`: the databases a plugin uses, and whether it
/// writes to them.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SqlParams {
    pub databases: Vec<String>,
    #[serde(default)]
    pub write: bool,
}

/// A rule's keys of the `sql` capability.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct SqlRule {
    sql_databases: Option<Vec<String>>,
    sql_write: Option<bool>,
    sql_tables: Option<Vec<String>>,
    sql_role: Option<String>,
    sql_max_rows: Option<u64>,
    sql_max_result_kib: Option<u64>,
}

/// What a caller may do with the databases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlGrant {
    pub databases: Vec<String>,
    /// Whether statements may change data (else every transaction is
    /// read-only).
    pub write: bool,
    /// The only tables statements may touch; `None` is every table.
    pub tables: Option<Vec<String>>,
    /// The PostgreSQL role statements run as (`SET LOCAL ROLE`).
    pub role: Option<String>,
    /// Caps on what a query returns (the lowest of the rules that set one).
    pub max_rows: Option<u64>,
    pub max_result_kib: Option<u64>,
}

/// The `sql` capability.
pub struct Sql;

impl CapabilityKind for Sql {
    fn id(&self) -> Capability {
        SQL
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["mcp:plugin/sql"]
    }

    fn granted_by_default(&self) -> bool {
        false
    }

    fn section_lists(&self) -> Option<&'static str> {
        Some("database")
    }

    fn declaration(&self, section: Toml<'_>) -> Result<ParamsRef, TomlProblem> {
        let params: SqlParams = from_toml(section)?;
        if params.databases.is_empty() {
            return Err("capabilities.sql.databases lists no database".into());
        }
        if let Some(name) = params
            .databases
            .iter()
            .find(|n| !config::is_database_name(n))
        {
            return Err(format!("capabilities.sql.databases: {}", config::name_error(name)).into());
        }
        Ok(Arc::new(params))
    }

    fn rule_keys(&self) -> &'static [&'static str] {
        &[
            "sql-databases",
            "sql-write",
            "sql-tables",
            "sql-role",
            "sql-max-rows",
            "sql-max-result-kib",
        ]
    }

    fn rule(&self, keys: Toml<'_>, _grants_it: bool) -> Result<Option<ParamsRef>, TomlProblem> {
        let rule: SqlRule = from_toml(keys)?;
        if rule.sql_max_rows == Some(0) || rule.sql_max_result_kib == Some(0) {
            return Err("a ceiling or quota must be at least 1".into());
        }
        if let Some(name) = rule
            .sql_databases
            .iter()
            .flatten()
            .find(|n| !config::is_database_name(n))
        {
            return Err(format!("sql-databases: {}", config::name_error(name)).into());
        }
        if let Some(table) = rule.sql_tables.iter().flatten().find(|t| t.is_empty()) {
            return Err(format!("sql-tables: `{table}` is not a table name").into());
        }
        if rule.sql_role.as_deref().is_some_and(str::is_empty) {
            return Err("sql-role is empty".into());
        }
        if rule == SqlRule::default() {
            return Ok(None);
        }
        Ok(Some(Arc::new(rule)))
    }

    fn narrow(&self, narrowing: Narrowing<'_>) -> Narrowed {
        let declared = narrowing
            .declared
            .and_then(downcast::<SqlParams>)
            .cloned()
            .unwrap_or_default();
        let granting = narrowing
            .granting_rule
            .and_then(downcast::<SqlRule>)
            .cloned()
            .unwrap_or_default();
        let mut withheld = Vec::new();
        let databases = declared
            .databases
            .iter()
            .filter(|name| {
                let allowed = granting
                    .sql_databases
                    .as_ref()
                    .is_none_or(|list| list.contains(name));
                if !allowed {
                    withheld.push(format!(
                        "sql: database `{name}` (the granting rule's sql-databases does not list it)"
                    ));
                }
                allowed
            })
            .cloned()
            .collect();
        let write = declared.write && granting.sql_write == Some(true);
        if declared.write && !write {
            withheld.push(
                "sql: writing (the granting rule does not set sql-write = true; statements run \
                 read-only)"
                    .to_string(),
            );
        }
        let rules: Vec<&SqlRule> = narrowing
            .matching_rules
            .iter()
            .filter_map(|r| downcast::<SqlRule>(*r))
            .collect();
        let lowest = |f: fn(&SqlRule) -> Option<u64>| rules.iter().filter_map(|r| f(r)).min();
        let grant = SqlGrant {
            databases,
            write,
            tables: granting.sql_tables.clone(),
            role: granting.sql_role.clone(),
            max_rows: lowest(|r| r.sql_max_rows),
            max_result_kib: lowest(|r| r.sql_max_result_kib),
        };
        Narrowed {
            grant: Some(Arc::new(grant)),
            withheld,
        }
    }

    fn describe(&self, grant: Option<&dyn Params>) -> Vec<String> {
        let grant = grant
            .and_then(downcast::<SqlGrant>)
            .cloned()
            .unwrap_or_default();
        let mut lines = vec![format!(
            "databases: {} ({})",
            super::listed(&grant.databases),
            if grant.write {
                "read and write"
            } else {
                "read-only"
            }
        )];
        if let Some(tables) = &grant.tables {
            lines.push(format!("tables: {}", super::listed(tables)));
        }
        if let Some(role) = &grant.role {
            lines.push(format!("PostgreSQL role: {role}"));
        }
        if grant.max_rows.is_some() || grant.max_result_kib.is_some() {
            lines.push(format!(
                "at most {} rows and {} KiB a query",
                grant
                    .max_rows
                    .map_or("the database's".to_string(), |n| n.to_string()),
                grant
                    .max_result_kib
                    .map_or("the database's".to_string(), |n| n.to_string()),
            ));
        }
        lines
    }

    fn scope(&self, grant: Option<&dyn Params>) -> serde_json::Value {
        let grant = grant
            .and_then(downcast::<SqlGrant>)
            .cloned()
            .unwrap_or_default();
        serde_json::json!({
            "databases": grant.databases,
            "write": grant.write,
            "tables": grant.tables,
            "max-rows": grant.max_rows,
            "max-result-kib": grant.max_result_kib,
        })
    }
}

/// The setting naming the databases file.
const DATABASES: &str = "databases";

impl HostCapability for Sql {
    fn add_to_linker(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        sql::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
    }

    fn settings(&self) -> &'static [Setting] {
        &[Setting {
            name: DATABASES,
            env: "MCP_WASM_HOST_DATABASES",
            value_name: "FILE",
            help: "The databases plugins granted `sql` may use (TOML, `[databases.<name>]` \
                   tables with `url = \"sqlite://PATH\"` or `\"postgres://…\"`, a pool size, \
                   a statement timeout and caps on results). An unreadable or invalid file \
                   stops the host; a database that is down answers errors until it is up.",
            host_file: true,
        }]
    }

    fn open<'a>(
        &'a self,
        settings: &'a SettingValues,
        services: &'a mut HostServices,
    ) -> Opening<'a> {
        Box::pin(async move {
            let file = match settings.get(DATABASES) {
                Some(path) => DatabasesFile::load(std::path::Path::new(path))?,
                None => DatabasesFile::default(),
            };
            services.insert(Databases::open(file)?);
            Ok(())
        })
    }
}

/// The operator's databases, each with its connection pool, opened once
/// and shared by every call.
#[derive(Default)]
pub struct Databases {
    by_name: std::collections::BTreeMap<String, Database>,
}

/// One configured database.
struct Database {
    config: DatabaseConfig,
    engine: Engine,
}

enum Engine {
    Sqlite(sqlite::SqlitePool),
    Postgres(postgres::PostgresPool),
}

impl Databases {
    /// Pools for every database of `file`. Nothing connects yet: a
    /// database that is down fails the calls that use it, not the host.
    pub fn open(file: DatabasesFile) -> Result<Self, DatabasesError> {
        let mut by_name = std::collections::BTreeMap::new();
        for (name, config) in file.databases {
            let engine = match &config.location {
                config::Location::Sqlite(path) => Engine::Sqlite(sqlite::SqlitePool::new(
                    path.clone(),
                    config.pool_size,
                    config.max_result_kib.saturating_mul(1024),
                )),
                config::Location::Postgres(url) => {
                    Engine::Postgres(postgres::PostgresPool::new(&name, url, config.pool_size)?)
                }
            };
            by_name.insert(name, Database { config, engine });
        }
        Ok(Self { by_name })
    }
}

/// What one call asks of a database.
#[derive(Debug)]
pub(crate) enum Work {
    Query(Statement),
    Execute(Statement),
    Transaction(Vec<Statement>),
}

/// One statement and its parameters.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub sql: String,
    pub params: Vec<sql::SqlValue>,
}

/// What a call did.
#[derive(Debug)]
pub(crate) enum Done {
    Rows(sql::QueryResult),
    Changed(u64),
    EachChanged(Vec<u64>),
}

/// How a grant bounds one call, as the engines apply it.
#[derive(Debug, Clone)]
pub(crate) struct Bounds {
    pub write: bool,
    pub tables: Option<Vec<String>>,
    pub role: Option<String>,
    pub max_rows: u64,
    pub max_bytes: u64,
    /// When the statement must have finished.
    pub deadline: Instant,
}

/// Why a call to a database did not succeed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SqlError {
    /// The database refused it under the grant (a write on a read-only
    /// grant, a table outside the allowed ones).
    #[error("{0}")]
    Refused(String),
    /// The statement is not one this call can run (bad parameters, several
    /// statements, rows from `execute`).
    #[error("{0}")]
    Invalid(String),
    #[error("the statement ran past its deadline and was cancelled")]
    Timeout,
    #[error("the request was cancelled, and the statement with it")]
    Cancelled,
    #[error("{0}")]
    Failed(String),
}

impl SqlError {
    fn into_facade(self, database: &str) -> types::FacadeError {
        match self {
            SqlError::Refused(m) => {
                types::FacadeError::Denied(format!("database `{database}` refused it: {m}"))
            }
            SqlError::Invalid(m) => types::FacadeError::InvalidInput(m),
            SqlError::Timeout => types::FacadeError::Timeout,
            SqlError::Cancelled => types::FacadeError::Cancelled,
            SqlError::Failed(m) => {
                types::FacadeError::Failed(format!("database `{database}`: {m}"))
            }
        }
    }
}

/// Most statements one transaction may hold.
const MAX_STATEMENTS: usize = 1000;

impl HostState {
    /// Run `work` on `database` under this caller's grant.
    async fn run_sql(&mut self, database: String, work: Work) -> FacadeResult<Done> {
        self.check_grant(SQL)?;
        let grant = self
            .grants
            .params::<SqlGrant>(SQL)
            .cloned()
            .unwrap_or_default();
        if !grant.databases.contains(&database) {
            PluginCounters::bump(&self.counters.denials);
            return Err(FacadeFailure::Guest(types::FacadeError::Denied(format!(
                "database `{database}` is not among the databases granted to this caller ({})",
                super::listed(&grant.databases)
            ))));
        }
        let databases = self.service::<Databases>()?;
        let Some(db) = databases.by_name.get(&database) else {
            return Err(FacadeFailure::Guest(types::FacadeError::Failed(format!(
                "the operator has not configured database `{database}` (add \
                 [databases.{database}] to the --databases file)"
            ))));
        };
        if let Work::Transaction(statements) = &work
            && statements.len() > MAX_STATEMENTS
        {
            return Err(FacadeFailure::Guest(types::FacadeError::InvalidInput(
                format!("a transaction holds at most {MAX_STATEMENTS} statements"),
            )));
        }
        let timeout = Duration::from_millis(db.config.statement_timeout_ms);
        let bounds = Bounds {
            write: grant.write,
            tables: grant.tables.clone(),
            role: grant.role.clone(),
            max_rows: grant
                .max_rows
                .map_or(db.config.max_rows, |n| n.min(db.config.max_rows)),
            max_bytes: grant
                .max_result_kib
                .map_or(db.config.max_result_kib, |n| {
                    n.min(db.config.max_result_kib)
                })
                .saturating_mul(1024),
            deadline: Instant::now() + timeout,
        };
        let _span = self.facade_span(match &work {
            Work::Query(_) => "sql.query",
            Work::Execute(_) => "sql.execute",
            Work::Transaction(_) => "sql.transaction",
        });
        let running = async {
            match &db.engine {
                Engine::Sqlite(pool) => pool.run(work, bounds).await,
                Engine::Postgres(pool) => pool.run(work, bounds).await,
            }
        };
        let outcome = tokio::select! {
            outcome = running => outcome,
            () = self.clock.expired() => Err(SqlError::Timeout),
            () = self.call.cancel.cancelled() => Err(SqlError::Cancelled),
        };
        outcome.map_err(|e| {
            if matches!(e, SqlError::Refused(_)) {
                PluginCounters::bump(&self.counters.denials);
            }
            FacadeFailure::Guest(e.into_facade(&database))
        })
    }
}

impl sql::Host for HostState {
    async fn query(
        &mut self,
        database: String,
        statement: String,
        params: Vec<sql::SqlValue>,
    ) -> FacadeResult<sql::QueryResult> {
        let work = Work::Query(Statement {
            sql: statement,
            params,
        });
        match self.run_sql(database, work).await? {
            Done::Rows(rows) => Ok(rows),
            other => Err(unexpected(&other)),
        }
    }

    async fn execute(
        &mut self,
        database: String,
        statement: String,
        params: Vec<sql::SqlValue>,
    ) -> FacadeResult<u64> {
        let work = Work::Execute(Statement {
            sql: statement,
            params,
        });
        match self.run_sql(database, work).await? {
            Done::Changed(n) => Ok(n),
            other => Err(unexpected(&other)),
        }
    }

    async fn transaction(
        &mut self,
        database: String,
        statements: Vec<sql::Statement>,
    ) -> FacadeResult<Vec<u64>> {
        let work = Work::Transaction(
            statements
                .into_iter()
                .map(|s| Statement {
                    sql: s.sql,
                    params: s.params,
                })
                .collect(),
        );
        match self.run_sql(database, work).await? {
            Done::EachChanged(n) => Ok(n),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(done: &Done) -> FacadeFailure {
    FacadeFailure::Trap(wasmtime::Error::msg(format!(
        "the database answered a different kind of work: {done:?}"
    )))
}

#[cfg(test)]
mod tests;
