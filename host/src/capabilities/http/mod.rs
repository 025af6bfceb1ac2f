//! The `http` capability (`mcp:plugin/http`): outbound requests sent by the
//! host on a plugin's behalf. It owns the manifest section
//! (`[capabilities.http]`: allowed origins, credentials bound to origins,
//! redirect and size caps), the policy's narrowing of it, and the sending:
//!
//! - every request, and every redirect the host follows, must go to an
//!   allowed origin, or it is `denied` before a connection is opened;
//! - a credential (a secret from the operator) is added to requests for the
//!   origin it is bound to, and to no other; the guest never sees it, and
//!   the host's logs show `[redacted]` in its place;
//! - headers the guest set that carry authority (`authorization`, `cookie`)
//!   are dropped when a redirect leaves the original origin;
//! - the body read is capped, and the whole exchange has a timeout (and
//!   counts against the call's deadline).
//!
//! Networking is never granted by default: a policy rule must name `http`.

mod address;
mod origin;
mod send;

use std::sync::Arc;

use serde::Deserialize;
use wasmtime::component::Linker;

pub use origin::OriginPattern;
pub use send::HttpClient;

use super::HostCapability;
use crate::capabilities::secrets::{is_secret_name, secret_name_error};
use crate::capability::{
    Capability, CapabilityKind, Narrowed, Narrowing, Params, ParamsRef, Toml, TomlProblem,
    downcast, from_toml,
};
use crate::runtime::HostState;

/// Outbound HTTP to allowed origins (`mcp:plugin/http`).
pub const HTTP: Capability = Capability::named("http");

/// Redirects followed when the manifest does not say.
pub const DEFAULT_MAX_REDIRECTS: u32 = 5;
/// Response body cap when the manifest does not say, in KiB.
pub const DEFAULT_MAX_RESPONSE_KIB: u64 = 4096;
const MAX_REDIRECTS_CEILING: u32 = 20;
const MAX_RESPONSE_KIB_CEILING: u64 = 64 * 1024;

/// `[capabilities.http]` in a manifest.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HttpParams {
    /// Origins (`scheme://host[:port]`, `*.` subdomains, `*` port) requests
    /// may go to.
    pub allow: Vec<OriginPattern>,
    /// Secrets the host adds to requests for an origin.
    #[serde(default)]
    pub credentials: Vec<CredentialParams>,
    /// Redirects the host follows (default 5, at most 20; 0 hands 3xx
    /// responses to the plugin).
    pub max_redirects: Option<u32>,
    /// The largest response body read, in KiB (default 4096).
    pub max_response_kib: Option<u64>,
}

/// `[[capabilities.http.credentials]]`: one secret bound to one origin.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CredentialParams {
    /// Requests to this origin (pattern) carry the credential.
    pub origin: OriginPattern,
    /// The secret's name in the operator's secrets.
    pub secret: String,
    /// The header it goes in (default `authorization`).
    #[serde(default = "default_header")]
    pub header: String,
    /// The header's value, with `{secret}` where the secret goes (default
    /// `Bearer {secret}`).
    #[serde(default = "default_format")]
    pub format: String,
    /// When the operator has not set the secret: send the request without
    /// it (`true`) or refuse to send it (`false`, the default).
    #[serde(default)]
    pub optional: bool,
}

fn default_header() -> String {
    "authorization".into()
}

fn default_format() -> String {
    "Bearer {secret}".into()
}

/// Headers the host sets itself; a guest may not.
pub(crate) const HOST_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
];

impl HttpParams {
    /// Check the section; the error names the field.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.allow.is_empty() {
            return Err("capabilities.http.allow lists no origin".into());
        }
        if self
            .max_redirects
            .is_some_and(|n| n > MAX_REDIRECTS_CEILING)
        {
            return Err(format!(
                "capabilities.http.max-redirects must be at most {MAX_REDIRECTS_CEILING}"
            ));
        }
        if self
            .max_response_kib
            .is_some_and(|k| k == 0 || k > MAX_RESPONSE_KIB_CEILING)
        {
            return Err(format!(
                "capabilities.http.max-response-kib must be 1 to {MAX_RESPONSE_KIB_CEILING}"
            ));
        }
        for (i, c) in self.credentials.iter().enumerate() {
            let at = format!("capabilities.http.credentials[{i}]");
            if !is_secret_name(&c.secret) {
                return Err(format!("{at}.secret: {}", secret_name_error(&c.secret)));
            }
            if !self.allow.iter().any(|a| a.covers(&c.origin)) {
                return Err(format!(
                    "{at}.origin: `{}` is not within the allowed origins",
                    c.origin
                ));
            }
            let header = c.header.to_ascii_lowercase();
            if http::HeaderName::from_bytes(header.as_bytes()).is_err()
                || HOST_HEADERS.contains(&header.as_str())
            {
                return Err(format!(
                    "{at}.header: `{}` is not a header a credential can go in",
                    c.header
                ));
            }
            if c.format.matches("{secret}").count() != 1 {
                return Err(format!(
                    "{at}.format must contain `{{secret}}` exactly once"
                ));
            }
            if self.credentials[..i]
                .iter()
                .any(|e| e.origin == c.origin && e.header.eq_ignore_ascii_case(&c.header))
            {
                return Err(format!(
                    "{at}: a credential for `{}` in `{header}` is already bound",
                    c.origin
                ));
            }
        }
        Ok(())
    }
}

/// A rule's keys for `http`: the origins and credentials it allows, and
/// its ceilings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct HttpRule {
    http_allow: Option<Vec<OriginPattern>>,
    http_credentials: Option<Vec<String>>,
    http_allow_private: Option<bool>,
    max_http_response_kib: Option<u64>,
    http_credential_fallback: Option<bool>,
}

/// The `http` capability.
pub struct Http;

impl CapabilityKind for Http {
    fn id(&self) -> Capability {
        HTTP
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["mcp:plugin/http"]
    }

    fn granted_by_default(&self) -> bool {
        false
    }

    fn section_lists(&self) -> Option<&'static str> {
        Some("origin")
    }

    fn declaration(&self, section: Toml<'_>) -> Result<ParamsRef, TomlProblem> {
        let params: HttpParams = from_toml(section)?;
        params.check()?;
        Ok(Arc::new(params))
    }

    fn rule_keys(&self) -> &'static [&'static str] {
        &[
            "http-allow",
            "http-credentials",
            "http-allow-private",
            "max-http-response-kib",
            "http-credential-fallback",
        ]
    }

    fn rule(&self, keys: Toml<'_>, _grants_it: bool) -> Result<Option<ParamsRef>, TomlProblem> {
        let rule: HttpRule = from_toml(keys)?;
        if rule.max_http_response_kib == Some(0) {
            return Err("a ceiling or quota must be at least 1".into());
        }
        if rule == HttpRule::default() {
            return Ok(None);
        }
        Ok(Some(Arc::new(rule)))
    }

    fn narrow(&self, narrowing: Narrowing<'_>) -> Narrowed {
        let rule = narrowing.granting_rule.and_then(downcast::<HttpRule>);
        let grant = match narrowing.declared.and_then(downcast::<HttpParams>) {
            Some(declared) => HttpGrant::narrowed(
                declared,
                rule.and_then(|r| r.http_allow.as_deref()),
                rule.and_then(|r| r.http_credentials.as_deref()),
                HttpCeilings {
                    max_response_kib: rule.and_then(|r| r.max_http_response_kib),
                    allow_private: rule.is_some_and(|r| r.http_allow_private == Some(true)),
                },
            ),
            None => HttpGrant::default(),
        };
        let grant = HttpGrant {
            credential_fallback: rule.is_some_and(|r| r.http_credential_fallback == Some(true)),
            ..grant
        };
        Narrowed {
            grant: Some(Arc::new(grant)),
            withheld: Vec::new(),
        }
    }

    fn describe(&self, grant: Option<&dyn Params>) -> Vec<String> {
        let Some(grant) = grant.and_then(downcast::<HttpGrant>) else {
            return vec!["origins: none".into()];
        };
        let mut lines = vec![format!("origins: {}", grant.allowed_list())];
        for c in &grant.credentials {
            lines.push(format!(
                "credential: secret `{}` in `{}` for {}",
                c.secret, c.header, c.origin
            ));
        }
        lines
    }

    fn scope(&self, grant: Option<&dyn Params>) -> serde_json::Value {
        let grant = grant.and_then(downcast::<HttpGrant>);
        let origins: Vec<String> = grant
            .iter()
            .flat_map(|g| &g.allow)
            .map(ToString::to_string)
            .collect();
        let credentials: Vec<String> = grant
            .iter()
            .flat_map(|g| &g.credentials)
            .map(|c| c.origin.to_string())
            .collect();
        serde_json::json!({"origins": origins, "credentials-for": credentials})
    }
}

impl HostCapability for Http {
    fn add_to_linker(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        send::add_to_linker(linker)
    }

    /// The host's [`send::HttpClient`]s, built on first use.
    fn open<'a>(
        &'a self,
        _settings: &'a super::services::SettingValues,
        services: &'a mut crate::runtime::HostServices,
    ) -> super::services::Opening<'a> {
        Box::pin(async move {
            services.insert(send::HttpClient::default());
            Ok(())
        })
    }
}

/// What the granting rule adds to a plugin's `http` besides its lists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpCeilings {
    /// `max-http-response-kib`: the largest response body a manifest may
    /// ask for.
    pub max_response_kib: Option<u64>,
    /// `http-allow-private`.
    pub allow_private: bool,
}

/// What the policy grants a plugin's `http`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HttpGrant {
    pub allow: Vec<OriginPattern>,
    pub credentials: Vec<CredentialParams>,
    pub max_redirects: u32,
    pub max_response_bytes: usize,
    /// Whether names may resolve to the host's own networks (loopback,
    /// private, link-local, ...): the granting rule's `http-allow-private`.
    /// Without it only an allowed origin naming an IP literal reaches one,
    /// and only when the rule's `http-allow` cut the origins down.
    pub allow_private: bool,
    /// Whether the granting rule's `http-allow` cut the declared origins
    /// down, so that an IP literal in them is one the operator named, not
    /// only the manifest.
    pub allow_named_by_policy: bool,
    /// A caller without its own value of a per-caller credential secret
    /// sends the shared one: the granting rule's `http-credential-fallback`.
    pub credential_fallback: bool,
}

impl HttpGrant {
    /// No origin, no credential.
    pub const fn none() -> Self {
        HttpGrant {
            allow: Vec::new(),
            credentials: Vec::new(),
            max_redirects: 0,
            max_response_bytes: 0,
            allow_private: false,
            allow_named_by_policy: false,
            credential_fallback: false,
        }
    }

    /// The declared section, narrowed by the granting rule: of the declared
    /// origins, only the parts within `allow` (when given); of the declared
    /// credentials, only those whose secret `credentials` names (when given).
    pub fn narrowed(
        declared: &HttpParams,
        allow: Option<&[OriginPattern]>,
        credentials: Option<&[String]>,
        ceilings: HttpCeilings,
    ) -> Self {
        let allowed = match allow {
            None => declared.allow.clone(),
            Some(policy) => {
                let mut out: Vec<OriginPattern> = Vec::new();
                for d in &declared.allow {
                    for p in policy {
                        if let Some(both) = d.intersect(p)
                            && !out.contains(&both)
                        {
                            out.push(both);
                        }
                    }
                }
                out
            }
        };
        Self {
            allow: allowed,
            credentials: declared
                .credentials
                .iter()
                .filter(|c| credentials.is_none_or(|names| names.contains(&c.secret)))
                .cloned()
                .collect(),
            max_redirects: declared.max_redirects.unwrap_or(DEFAULT_MAX_REDIRECTS),
            max_response_bytes: (declared
                .max_response_kib
                .unwrap_or(DEFAULT_MAX_RESPONSE_KIB)
                .min(ceilings.max_response_kib.unwrap_or(u64::MAX))
                * 1024) as usize,
            allow_private: ceilings.allow_private,
            allow_named_by_policy: allow.is_some(),
            credential_fallback: false,
        }
    }

    /// The allowed origins, for messages.
    pub fn allowed_list(&self) -> String {
        if self.allow.is_empty() {
            return "none".into();
        }
        self.allow
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(text: &str) -> Result<HttpParams, String> {
        let p: HttpParams = toml::from_str(text).map_err(|e| e.to_string())?;
        p.check().map(|()| p)
    }

    #[test]
    fn credentials_must_be_bound_within_the_allowed_origins() {
        let ok = params(
            "allow = [\"https://api.example.com\"]\n[[credentials]]\norigin = \"https://api.example.com\"\nsecret = \"token\"\n",
        )
        .unwrap();
        assert_eq!(ok.credentials[0].header, "authorization");
        assert_eq!(ok.credentials[0].format, "Bearer {secret}");
        let err = params(
            "allow = [\"https://api.example.com\"]\n[[credentials]]\norigin = \"https://evil.example.com\"\nsecret = \"token\"\n",
        )
        .unwrap_err();
        assert!(err.contains("not within the allowed origins"), "{err}");
        let err = params(
            "allow = [\"https://a.example\"]\n[[credentials]]\norigin = \"https://a.example\"\nsecret = \"t\"\nheader = \"host\"\n",
        )
        .unwrap_err();
        assert!(err.contains("not a header a credential can go in"), "{err}");
        let err = params(
            "allow = [\"https://a.example\"]\n[[credentials]]\norigin = \"https://a.example\"\nsecret = \"t\"\nformat = \"Bearer\"\n",
        )
        .unwrap_err();
        assert!(err.contains("exactly once"), "{err}");
        let err = params("allow = []").unwrap_err();
        assert!(err.contains("lists no origin"), "{err}");
    }

    #[test]
    fn a_policy_narrows_origins_and_credentials() {
        let declared = params(
            "allow = [\"http://127.0.0.1:*\", \"https://*.example.com\"]\n[[credentials]]\norigin = \"http://127.0.0.1:*\"\nsecret = \"local\"\n[[credentials]]\norigin = \"https://api.example.com\"\nsecret = \"remote\"\n",
        )
        .unwrap();
        let all = HttpGrant::narrowed(&declared, None, None, HttpCeilings::default());
        assert_eq!(all.allow, declared.allow);
        assert_eq!(all.credentials.len(), 2);
        assert_eq!(all.max_redirects, DEFAULT_MAX_REDIRECTS);
        let policy: Vec<OriginPattern> = vec![
            "http://127.0.0.1:8080".parse().unwrap(),
            "https://*.eu.example.com".parse().unwrap(),
            "https://other.org".parse().unwrap(),
        ];
        let narrow = HttpGrant::narrowed(
            &declared,
            Some(&policy),
            Some(&["local".to_string()]),
            HttpCeilings {
                max_response_kib: Some(16),
                allow_private: false,
            },
        );
        assert_eq!(
            narrow.allowed_list(),
            "http://127.0.0.1:8080, https://*.eu.example.com"
        );
        assert_eq!(narrow.credentials.len(), 1);
        assert_eq!(narrow.credentials[0].secret, "local");
    }

    #[test]
    fn http_needs_a_rule_that_may_narrow_it() {
        use crate::capability::testing::{declaring, no_policy, policy};
        let d = declaring(
            "[capabilities]\noptional = [\"http\"]\n\
             [capabilities.http]\nallow = [\"http://127.0.0.1:*\", \"https://api.example.com\"]\n\
             [[capabilities.http.credentials]]\norigin = \"https://api.example.com\"\nsecret = \"api\"\n",
        );
        let none = no_policy().evaluate("p", &d);
        assert!(!none.allows(HTTP) && none.params::<HttpGrant>(HTTP).is_none());
        let g = policy(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"http\"]\nhttp-allow = [\"http://127.0.0.1:8080\"]\nhttp-credentials = []\n",
        )
        .unwrap()
        .evaluate("p", &d);
        let grant = g.params::<HttpGrant>(HTTP).unwrap();
        assert_eq!(grant.allowed_list(), "http://127.0.0.1:8080");
        assert!(grant.credentials.is_empty() && !grant.allow_private);
        assert!(grant.allow_named_by_policy);
        // Without `http-allow` the manifest's origins stand, but an IP
        // literal among them was named by the manifest alone.
        let g = policy("[[rule]]\nplugins = \"p\"\ngrant = [\"http\"]\n")
            .unwrap()
            .evaluate("p", &d);
        let grant = g.params::<HttpGrant>(HTTP).unwrap();
        assert_eq!(
            grant.allowed_list(),
            "http://127.0.0.1:*, https://api.example.com"
        );
        assert!(!grant.allow_named_by_policy);
        let err = policy(
            "[[rule]]\nplugins = \"p\"\ngrant = [\"http\"]\nhttp-allow = [\"api.example.com\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("line 4: `api.example.com` is not an origin"),
            "{err}"
        );
        let err = policy("[[rule]]\nplugins = \"p\"\nmax-http-response-kib = 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: a ceiling or quota must be at least 1"),
            "{err}"
        );
    }
}
