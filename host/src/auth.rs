//! Bearer-token authentication for the HTTP transport: the principals of
//! the operator's auth file, each with roles and a token kept only as its
//! SHA-256 digest, and which plugins each role may list and call.
//!
//! ```toml
//! [[role]]
//! name = "reader"
//! plugins = ["hello", "text*"]      # plugin names or globs; "*" is every plugin
//!
//! [[role]]
//! name = "scraper"
//! metrics = true                    # may read /metrics (no plugins)
//!
//! [[principal]]
//! id = "ci-bot"
//! roles = ["reader"]
//! token-sha256 = "…64 hex digits…"  # `mcp-wasm-host auth hash-token` prints it
//! # or: token-sha256-env = "CI_BOT_TOKEN_SHA256" (the digest, from the environment)
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use crate::policy::glob_matches;

/// Who made a request, as the auth file names them. Never holds the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub id: String,
    pub roles: Vec<String>,
    /// Plugin names or globs its roles may use, together.
    plugins: Vec<String>,
    /// Whether one of its roles may read `/metrics`.
    metrics: bool,
}

impl Principal {
    /// Whether its roles let it list and call plugin `plugin`.
    pub fn may_use(&self, plugin: &str) -> bool {
        self.plugins.iter().any(|p| glob_matches(p, plugin))
    }

    /// Whether its roles let it read `/metrics`.
    pub fn may_read_metrics(&self) -> bool {
        self.metrics
    }
}

/// Which plugins a request may list and call: every plugin (stdio, or
/// HTTP without an auth file), those its principal's roles allow, or none
/// (a request whose access is unknown).
#[derive(Debug, Clone, Default)]
pub enum Access {
    #[default]
    Everything,
    Principal(Arc<Principal>),
    Nothing,
}

impl Access {
    /// Every plugin.
    pub fn everything() -> Self {
        Self::Everything
    }

    /// The plugins `principal` may use.
    pub fn of(principal: Arc<Principal>) -> Self {
        Self::Principal(principal)
    }

    pub fn allows(&self, plugin: &str) -> bool {
        match self {
            Self::Everything => true,
            Self::Principal(p) => p.may_use(plugin),
            Self::Nothing => false,
        }
    }

    /// The caller grants are evaluated for: without an identity, one with
    /// every role.
    pub fn caller(&self) -> crate::policy::Caller {
        match self {
            Self::Everything => crate::policy::Caller::EveryRole,
            Self::Principal(p) => crate::policy::Caller::Principal {
                id: p.id.clone(),
                roles: p.roles.clone(),
            },
            Self::Nothing => crate::policy::Caller::Principal {
                id: String::new(),
                roles: Vec::new(),
            },
        }
    }

    pub fn principal(&self) -> Option<&Arc<Principal>> {
        match self {
            Self::Principal(p) => Some(p),
            _ => None,
        }
    }
}

/// Who stdio requests are made as: a caller with every role, or one
/// principal of the auth file, looked up in the file in force at each
/// request, so a SIGHUP that changes its roles applies at once (and one that
/// removes it leaves stdio reaching nothing).
#[derive(Clone, Default)]
pub enum StdioCaller {
    #[default]
    Everything,
    Principal {
        id: String,
        file: SharedAuthenticator,
    },
}

impl std::fmt::Debug for StdioCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Everything => f.write_str("StdioCaller::Everything"),
            Self::Principal { id, .. } => write!(f, "StdioCaller::Principal({id})"),
        }
    }
}

impl StdioCaller {
    /// What the current request may reach.
    pub fn access(&self) -> Access {
        match self {
            Self::Everything => Access::Everything,
            Self::Principal { id, file } => file
                .load()
                .principal(id)
                .map_or(Access::Nothing, Access::of),
        }
    }
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("this endpoint needs a bearer token (an `Authorization: Bearer …` header)")]
    Missing,
    #[error("the bearer token is not valid")]
    Invalid,
}

/// Why an auth file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthFileError {
    #[error("cannot read the auth file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the auth file {}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    #[serde(default)]
    role: Vec<RoleEntry>,
    #[serde(default)]
    principal: Vec<PrincipalEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleEntry {
    name: String,
    #[serde(default)]
    plugins: Vec<String>,
    #[serde(default)]
    metrics: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct PrincipalEntry {
    id: String,
    #[serde(default)]
    roles: Vec<String>,
    token_sha256: Option<String>,
    token_sha256_env: Option<String>,
}

/// The authenticator in force, replaced when the auth file is re-read
/// (SIGHUP): a revoked token stops working without a restart.
pub type SharedAuthenticator = Arc<arc_swap::ArcSwap<Authenticator>>;

/// The principals of one auth file, by token digest.
#[derive(Debug)]
pub struct Authenticator {
    principals: Vec<([u8; 32], Arc<Principal>)>,
}

impl Authenticator {
    /// Read and check an auth file; `env` reads the environment (for
    /// `token-sha256-env`).
    pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, AuthFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, env).map_err(|message| AuthFileError::Invalid {
            path: path.to_path_buf(),
            message,
        })
    }

    fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let file: AuthFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let mut roles = BTreeMap::new();
        for role in file.role {
            if role.plugins.is_empty() && !role.metrics {
                return Err(format!(
                    "role `{}` names no plugins and does not set `metrics = true`",
                    role.name
                ));
            }
            if roles
                .insert(role.name.clone(), (role.plugins, role.metrics))
                .is_some()
            {
                return Err(format!("role `{}` is defined twice", role.name));
            }
        }
        if file.principal.is_empty() {
            return Err("it names no principal, so no request could be let in".into());
        }
        let mut ids = BTreeSet::new();
        let mut principals = Vec::new();
        for entry in file.principal {
            let who = format!("principal `{}`", entry.id);
            if !ids.insert(entry.id.clone()) {
                return Err(format!("{who} is defined twice"));
            }
            let digest = match (&entry.token_sha256, &entry.token_sha256_env) {
                (Some(hex), None) => hex.clone(),
                (None, Some(var)) => env(var)
                    .ok_or_else(|| format!("{who}: the environment variable `{var}` is not set"))?,
                _ => {
                    return Err(format!(
                        "{who} needs exactly one of `token-sha256` and `token-sha256-env`"
                    ));
                }
            };
            let digest = parse_digest(digest.trim())
                .ok_or_else(|| format!("{who}: the token digest is not 64 hex digits"))?;
            if principals.iter().any(|(d, _)| *d == digest) {
                return Err(format!("{who} has the same token as another principal"));
            }
            let mut plugins = Vec::new();
            let mut metrics = false;
            for role in &entry.roles {
                let (granted, reads_metrics) = roles
                    .get(role)
                    .ok_or_else(|| format!("{who} has role `{role}`, which no [[role]] defines"))?;
                plugins.extend(granted.iter().cloned());
                metrics |= reads_metrics;
            }
            let principal = Principal {
                id: entry.id,
                roles: entry.roles,
                plugins,
                metrics,
            };
            principals.push((digest, Arc::new(principal)));
        }
        Ok(Self { principals })
    }

    /// The principal with `id`.
    pub fn principal(&self, id: &str) -> Option<Arc<Principal>> {
        self.principals
            .iter()
            .find(|(_, p)| p.id == id)
            .map(|(_, p)| p.clone())
    }

    /// The principal an `Authorization` header value names.
    pub fn verify(&self, authorization: Option<&str>) -> Result<Arc<Principal>, AuthFailure> {
        let value = authorization.ok_or(AuthFailure::Missing)?.trim();
        let (scheme, token) = value.split_once(' ').ok_or(AuthFailure::Invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthFailure::Invalid);
        }
        let digest = sha256(token.trim().as_bytes());
        // Compare against every principal, each in constant time.
        let mut found = None;
        for (candidate, principal) in &self.principals {
            if constant_time_eq(candidate, &digest) {
                found = Some(principal.clone());
            }
        }
        found.ok_or(AuthFailure::Invalid)
    }
}

/// The digest to put in an auth file for `token`: SHA-256, hex.
pub fn hash_token(token: &str) -> String {
    sha256_hex(token.as_bytes())
}

/// SHA-256 of `bytes`, in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    sha256(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(principals: &str) -> String {
        format!(
            "[[role]]\nname = \"reader\"\nplugins = [\"hello\", \"text*\"]\n\
             [[role]]\nname = \"admin\"\nplugins = [\"*\"]\n{principals}"
        )
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn tokens_map_to_principals_and_roles_to_plugins() {
        let text = file(&format!(
            "[[principal]]\nid = \"bot\"\nroles = [\"reader\"]\ntoken-sha256 = \"{}\"\n\
             [[principal]]\nid = \"ops\"\nroles = [\"admin\"]\ntoken-sha256-env = \"OPS\"\n",
            hash_token("bot-token")
        ));
        let ops_digest = hash_token("ops-token");
        let auth =
            Authenticator::parse(&text, |v| (v == "OPS").then(|| ops_digest.clone())).unwrap();
        let bot = auth.verify(Some("Bearer bot-token")).unwrap();
        assert_eq!(bot.id, "bot");
        assert!(bot.may_use("hello") && bot.may_use("texttools") && !bot.may_use("fetch"));
        let ops = auth.verify(Some("bearer ops-token")).unwrap();
        assert!(ops.may_use("fetch"));
        assert_eq!(auth.verify(None), Err(AuthFailure::Missing));
        assert_eq!(auth.verify(Some("Bearer nope")), Err(AuthFailure::Invalid));
        assert_eq!(auth.verify(Some("Basic Ym90")), Err(AuthFailure::Invalid));
        assert_eq!(auth.verify(Some("bot-token")), Err(AuthFailure::Invalid));
    }

    #[test]
    fn bad_files_name_the_cause() {
        let digest = hash_token("t");
        for (principals, cause) in [
            ("", "names no principal"),
            (
                &format!(
                    "[[principal]]\nid = \"a\"\nroles = [\"writer\"]\ntoken-sha256 = \"{digest}\"\n"
                ),
                "role `writer`, which no [[role]] defines",
            ),
            (
                "[[principal]]\nid = \"a\"\ntoken-sha256 = \"abc\"\n",
                "not 64 hex digits",
            ),
            ("[[principal]]\nid = \"a\"\n", "exactly one of"),
            (
                "[[principal]]\nid = \"a\"\ntoken-sha256-env = \"X\"\n",
                "`X` is not set",
            ),
            (
                &format!(
                    "[[principal]]\nid = \"a\"\ntoken-sha256 = \"{digest}\"\n\
                     [[principal]]\nid = \"b\"\ntoken-sha256 = \"{digest}\"\n"
                ),
                "same token as another",
            ),
            (
                &format!("[[principal]]\nid = \"a\"\ntoken = \"t\"\ntoken-sha256 = \"{digest}\"\n"),
                "unknown field `token`",
            ),
        ] {
            let err = Authenticator::parse(&file(principals), no_env).unwrap_err();
            assert!(err.contains(cause), "{cause}: {err}");
        }
    }

    #[test]
    fn the_digest_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::Authenticator;
    use crate::test_strategies::{CASES, text_from};
    use proptest::prelude::*;

    const FRAGMENTS: &[&str] = &[
        "[[role]]\n",
        "name = \"r\"\n",
        "plugins = [\"*\"]\n",
        "metrics = true\n",
        "[[principal]]\n",
        "id = \"a\"\n",
        "roles = [\"r\", \"missing\"]\n",
        "token-sha256 = \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n",
        "token-sha256 = \"zz\"\n",
        "token-sha256-env = \"X\"\n",
        "[[",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        #[test]
        fn auth_files_parse_or_name_the_problem(text in text_from(FRAGMENTS, 12)) {
            if let Err(problem) = Authenticator::parse(&text, |_| None) {
                prop_assert!(!problem.trim().is_empty());
            }
        }

        /// Whatever a client sends as its `Authorization` header, the
        /// answer is a principal or a named failure.
        #[test]
        fn any_authorization_header_is_answered(header in any::<Option<String>>()) {
            let auth = Authenticator::parse(
                "[[principal]]\nid = \"a\"\ntoken-sha256 = \"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"\n",
                |_| None,
            ).unwrap();
            let verdict = auth.verify(header.as_deref());
            prop_assert!(verdict.is_err() || header.as_deref().is_some_and(|h| h.contains("abc")));
        }
    }
}
