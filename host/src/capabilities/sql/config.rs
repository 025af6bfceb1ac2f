//! The operator's databases file (`--databases FILE`): each database by
//! the name manifests and policies use, where it is, and how calls to it
//! are bounded.
//!
//! ```toml
//! [databases.crm]
//! url = "sqlite://crm.sqlite3"     # relative to this file's directory
//!
//! [databases.shop]
//! url = "postgres://mcp@127.0.0.1:5432/shop"
//! password-env = "SHOP_DB_PASSWORD" # the password, from the environment
//! pool-size = 8
//! statement-timeout-ms = 5000
//! max-rows = 1000
//! max-result-kib = 1024
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why the databases file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DatabasesError {
    #[error("cannot read the databases file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid databases file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("database `{name}`: {message}")]
    Database { name: String, message: String },
}

/// Where a database is.
#[derive(Clone, PartialEq)]
pub enum Location {
    /// A SQLite file, which must exist (the host never creates one).
    Sqlite(PathBuf),
    /// A PostgreSQL server's connection settings (the password, if any,
    /// only ever in here).
    Postgres(Box<tokio_postgres::Config>),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "sqlite://{}", path.display()),
            Location::Postgres(config) => write!(
                f,
                "postgres://{}@{:?}/{}",
                config.get_user().unwrap_or(""),
                config.get_hosts(),
                config.get_dbname().unwrap_or("")
            ),
        }
    }
}

/// One database of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseConfig {
    pub location: Location,
    pub pool_size: usize,
    pub statement_timeout_ms: u64,
    pub max_rows: u64,
    pub max_result_kib: u64,
}

/// The databases file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DatabasesFile {
    pub databases: BTreeMap<String, DatabaseConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    #[serde(default)]
    databases: BTreeMap<String, EntryText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct EntryText {
    url: String,
    password_env: Option<String>,
    pool_size: Option<usize>,
    statement_timeout_ms: Option<u64>,
    max_rows: Option<u64>,
    max_result_kib: Option<u64>,
}

/// Defaults of a database's bounds.
pub const DEFAULT_POOL_SIZE: usize = 4;
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_MAX_ROWS: u64 = 1000;
pub const DEFAULT_MAX_RESULT_KIB: u64 = 1024;

/// 1-64 of a-z, 0-9, `-`, `_`, starting with a letter.
pub fn is_database_name(name: &str) -> bool {
    crate::capabilities::secrets::is_secret_name(name)
}

pub(crate) fn name_error(name: &str) -> String {
    format!("`{name}` is not a database name (1-64 of a-z, 0-9, `-`, `_`, starting with a letter)")
}

impl DatabasesFile {
    /// The file at `path`; relative SQLite paths are resolved against its
    /// directory, passwords named by `password-env` read from the
    /// environment.
    pub fn load(path: &Path) -> Result<Self, DatabasesError> {
        let text = std::fs::read_to_string(path).map_err(|source| DatabasesError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, base, |name| std::env::var(name).ok()).map_err(|message| {
            DatabasesError::Invalid {
                path: path.to_path_buf(),
                message,
            }
        })
    }

    pub(crate) fn parse(
        text: &str,
        base: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let file: FileText =
            toml::from_str(text).map_err(|e| crate::manifest::describe_toml_error(text, &e))?;
        let mut databases = BTreeMap::new();
        for (name, entry) in file.databases {
            let in_entry = |message: String| format!("database `{name}`: {message}");
            if !is_database_name(&name) {
                return Err(name_error(&name));
            }
            let location = location(&entry.url, base).map_err(in_entry)?;
            let location = match (location, &entry.password_env) {
                (Location::Postgres(mut config), Some(var)) => {
                    let config_mut: &mut tokio_postgres::Config = &mut config;
                    let password = env(var).ok_or_else(|| {
                        in_entry(format!("password-env names `{var}`, which is not set"))
                    })?;
                    config_mut.password(password);
                    Location::Postgres(config)
                }
                (Location::Sqlite(_), Some(_)) => {
                    return Err(in_entry("password-env applies to PostgreSQL only".into()));
                }
                (location, None) => location,
            };
            let at_least_one = |key: &str, value: Option<u64>| match value {
                Some(0) => Err(in_entry(format!("{key} must be at least 1"))),
                _ => Ok(()),
            };
            at_least_one("pool-size", entry.pool_size.map(|n| n as u64))?;
            at_least_one("statement-timeout-ms", entry.statement_timeout_ms)?;
            at_least_one("max-rows", entry.max_rows)?;
            at_least_one("max-result-kib", entry.max_result_kib)?;
            databases.insert(
                name,
                DatabaseConfig {
                    location,
                    pool_size: entry.pool_size.unwrap_or(DEFAULT_POOL_SIZE).min(256),
                    statement_timeout_ms: entry
                        .statement_timeout_ms
                        .unwrap_or(DEFAULT_STATEMENT_TIMEOUT_MS),
                    max_rows: entry.max_rows.unwrap_or(DEFAULT_MAX_ROWS),
                    max_result_kib: entry.max_result_kib.unwrap_or(DEFAULT_MAX_RESULT_KIB),
                },
            );
        }
        Ok(Self { databases })
    }
}

/// Where `url` points: `sqlite://PATH` (relative to `base`) or
/// `postgres://` / `postgresql://`.
fn location(url: &str, base: &Path) -> Result<Location, String> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err("url `sqlite://` names no file".into());
        }
        return Ok(Location::Sqlite(base.join(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| format!("url is not a PostgreSQL connection URL: {e}"))?;
        if config.get_dbname().is_none() {
            return Err("url names no database (postgres://USER@HOST:PORT/DATABASE)".into());
        }
        return Ok(Location::Postgres(Box::new(config)));
    }
    Err(format!(
        "url must start with `sqlite://` or `postgres://`, not `{}`",
        url.split(':').next().unwrap_or(url)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DatabasesFile, String> {
        DatabasesFile::parse(text, Path::new("/etc/host"), |name| {
            (name == "PW").then(|| "secret".to_string())
        })
    }

    #[test]
    fn databases_are_read_with_their_defaults() {
        let file = parse(
            "[databases.crm]\nurl = \"sqlite://crm.db\"\n\n\
             [databases.shop]\nurl = \"postgres://mcp@127.0.0.1:5433/shop\"\npassword-env = \"PW\"\n\
             pool-size = 2\nmax-rows = 10\n",
        )
        .unwrap();
        let crm = &file.databases["crm"];
        assert_eq!(
            crm.location,
            Location::Sqlite(PathBuf::from("/etc/host/crm.db"))
        );
        assert_eq!(crm.pool_size, DEFAULT_POOL_SIZE);
        assert_eq!(crm.max_rows, DEFAULT_MAX_ROWS);
        let shop = &file.databases["shop"];
        let Location::Postgres(config) = &shop.location else {
            panic!("{shop:?}")
        };
        assert_eq!(config.get_password(), Some(&b"secret"[..]));
        assert_eq!((shop.pool_size, shop.max_rows), (2, 10));
        assert!(!format!("{shop:?}").contains("secret"), "{shop:?}");
    }

    #[test]
    fn bad_entries_name_the_database_and_the_problem() {
        for (text, expected) in [
            (
                "[databases.Crm]\nurl = \"sqlite://x\"\n",
                "`Crm` is not a database name",
            ),
            (
                "[databases.crm]\nurl = \"mysql://x\"\n",
                "must start with `sqlite://`",
            ),
            ("[databases.crm]\nurl = \"sqlite://\"\n", "names no file"),
            (
                "[databases.crm]\nurl = \"postgres://u@h\"\n",
                "database `crm`: url names no database",
            ),
            (
                "[databases.crm]\nurl = \"postgres://u@h/d\"\npassword-env = \"NOPE\"\n",
                "`NOPE`, which is not set",
            ),
            (
                "[databases.crm]\nurl = \"sqlite://x\"\nmax-rows = 0\n",
                "max-rows must be at least 1",
            ),
            (
                "[databases.crm]\nurl = \"sqlite://x\"\nport = 1\n",
                "unknown field `port`",
            ),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
