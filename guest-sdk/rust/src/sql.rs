//! SQL against the databases the operator configures: statements with
//! bound parameters, never text spliced together. The manifest names the
//! databases and whether the plugin writes:
//!
//! ```toml
//! [capabilities]
//! required = ["sql"]
//!
//! [capabilities.sql]
//! databases = ["crm"]
//! write = true
//! ```
//!
//! The policy decides, per caller, what each call may do: a read-only
//! grant makes every write fail, a table list makes other tables fail.
//! [`Context::grant`] tells a tool beforehand.
//!
//! ```no_run
//! # use mcp_plugin::{Context, ToolError};
//! fn customer(ctx: &Context, name: &str) -> Result<serde_json::Value, ToolError> {
//!     let rows = ctx
//!         .sql("crm")
//!         .query("SELECT id, name FROM customers WHERE name = ?1", &[name.into()])?;
//!     Ok(rows.to_json())
//! }
//! ```

use crate::bindings::mcp::plugin::sql as host;
use crate::context::Context;
use crate::error::FacadeError;

pub use host::SqlValue;

/// One database, from [`Context::sql`]. Each method runs in a transaction
/// of its own.
#[derive(Debug, Clone, Copy)]
pub struct Database<'a> {
    _context: &'a Context,
    name: &'a str,
}

/// What a query returned.
#[derive(Debug, Clone)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
    /// Whether rows were left out at the grant's row or size cap.
    pub truncated: bool,
}

impl Context {
    /// The database the operator calls `name` (one the manifest declares;
    /// others answer [`FacadeError::Denied`]).
    pub fn sql<'a>(&'a self, name: &'a str) -> Database<'a> {
        Database {
            _context: self,
            name,
        }
    }
}

impl Database<'_> {
    /// Run a statement that returns rows, with `params` bound to its
    /// placeholders in order.
    pub fn query(&self, statement: &str, params: &[SqlValue]) -> Result<Rows, FacadeError> {
        let result = host::query(self.name, statement, params)?;
        Ok(Rows {
            columns: result.columns,
            rows: result.rows,
            truncated: result.truncated,
        })
    }

    /// Run a statement that changes data; how many rows it changed.
    pub fn execute(&self, statement: &str, params: &[SqlValue]) -> Result<u64, FacadeError> {
        Ok(host::execute(self.name, statement, params)?)
    }

    /// Run statements atomically: all take effect, or none. The rows each
    /// changed.
    pub fn transaction(
        &self,
        statements: &[(&str, Vec<SqlValue>)],
    ) -> Result<Vec<u64>, FacadeError> {
        let statements: Vec<host::Statement> = statements
            .iter()
            .map(|(sql, params)| host::Statement {
                sql: (*sql).to_string(),
                params: params.clone(),
            })
            .collect();
        Ok(host::transaction(self.name, &statements)?)
    }
}

impl Rows {
    /// The rows as JSON objects keyed by column name (blobs as arrays of
    /// bytes, JSON columns as their values).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.rows
                .iter()
                .map(|row| {
                    serde_json::Value::Object(
                        self.columns
                            .iter()
                            .cloned()
                            .zip(row.iter().map(value_to_json))
                            .collect(),
                    )
                })
                .collect(),
        )
    }

    /// The value in `column` of row `row`, if both exist.
    pub fn get(&self, row: usize, column: &str) -> Option<&SqlValue> {
        let index = self.columns.iter().position(|c| c == column)?;
        self.rows.get(row)?.get(index)
    }
}

/// A value as JSON.
pub fn value_to_json(value: &SqlValue) -> serde_json::Value {
    match value {
        SqlValue::Null => serde_json::Value::Null,
        SqlValue::Integer(n) => (*n).into(),
        SqlValue::Real(x) => {
            serde_json::Number::from_f64(*x).map_or(serde_json::Value::Null, Into::into)
        }
        SqlValue::Text(s) => s.clone().into(),
        SqlValue::Blob(b) => b.clone().into(),
        SqlValue::Boolean(b) => (*b).into(),
        SqlValue::Json(text) => serde_json::from_str(text).unwrap_or_else(|_| text.clone().into()),
    }
}

macro_rules! integer_values {
    ($($t:ty),*) => {$(
        impl From<$t> for SqlValue {
            fn from(n: $t) -> Self {
                SqlValue::Integer(n.into())
            }
        }
    )*};
}

integer_values!(i8, i16, i32, i64, u8, u16, u32);

impl From<f64> for SqlValue {
    fn from(x: f64) -> Self {
        SqlValue::Real(x)
    }
}

impl From<bool> for SqlValue {
    fn from(b: bool) -> Self {
        SqlValue::Boolean(b)
    }
}

impl From<&str> for SqlValue {
    fn from(s: &str) -> Self {
        SqlValue::Text(s.to_string())
    }
}

impl From<String> for SqlValue {
    fn from(s: String) -> Self {
        SqlValue::Text(s)
    }
}

impl From<Vec<u8>> for SqlValue {
    fn from(b: Vec<u8>) -> Self {
        SqlValue::Blob(b)
    }
}

impl From<serde_json::Value> for SqlValue {
    fn from(v: serde_json::Value) -> Self {
        SqlValue::Json(v.to_string())
    }
}

impl<T: Into<SqlValue>> From<Option<T>> for SqlValue {
    fn from(v: Option<T>) -> Self {
        v.map_or(SqlValue::Null, Into::into)
    }
}

impl SqlValue {
    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            SqlValue::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The text, if this is text (or JSON text).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) | SqlValue::Json(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a real or an integer.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            SqlValue::Real(x) => Some(*x),
            SqlValue::Integer(n) => Some(*n as f64),
            _ => None,
        }
    }
}
