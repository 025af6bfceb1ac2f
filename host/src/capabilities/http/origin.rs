//! Origin patterns of the `http` capability: `scheme://host[:port]`, where
//! the scheme is `http` or `https`, the host may start with `*.` (any
//! subdomain, not the domain itself) and the port may be `*` (any port;
//! without one, the scheme's default port).

use std::fmt;

use serde::Deserialize;
use url::Url;

/// Where requests may go (or a credential is sent).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct OriginPattern {
    https: bool,
    host: HostPattern,
    port: PortPattern,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// Exactly this host (a lowercase domain, an IPv4 address, or an IPv6
    /// address in brackets).
    Exact(String),
    /// Any subdomain of this domain.
    Subdomains(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortPattern {
    Exact(u16),
    Any,
}

impl TryFrom<String> for OriginPattern {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl std::str::FromStr for OriginPattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let invalid = |why: &str| format!("`{text}` is not an origin ({why})");
        let (scheme, rest) = text
            .split_once("://")
            .ok_or_else(|| invalid("expected scheme://host[:port]"))?;
        let https = match scheme {
            "https" => true,
            "http" => false,
            _ => return Err(invalid("the scheme must be http or https")),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Err(invalid("no host"));
        }
        if rest.contains(['/', '?', '#', '@']) {
            return Err(invalid("an origin has no path, query, fragment or user"));
        }
        // An IPv6 host is bracketed; otherwise the port follows the last `:`.
        let (host, port) = match rest.strip_prefix('[') {
            Some(v6) => {
                let (address, after) = v6
                    .split_once(']')
                    .ok_or_else(|| invalid("an unclosed `[`"))?;
                let port = match after {
                    "" => None,
                    p => Some(
                        p.strip_prefix(':')
                            .ok_or_else(|| invalid("junk after the address"))?,
                    ),
                };
                (format!("[{address}]"), port)
            }
            None => match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            },
        };
        let port = match port {
            None => PortPattern::Exact(if https { 443 } else { 80 }),
            Some("*") => PortPattern::Any,
            Some(p) => PortPattern::Exact(
                p.parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| invalid("the port must be 1-65535 or `*`"))?,
            ),
        };
        let canonical = |h: &str| {
            url::Host::parse(h)
                .map(|h| h.to_string())
                .map_err(|e| invalid(&format!("bad host: {e}")))
        };
        let host = match host.strip_prefix("*.") {
            Some(domain) if !domain.contains('*') => HostPattern::Subdomains(canonical(domain)?),
            _ if host.contains('*') => {
                return Err(invalid("`*` may only start the host, as `*.`"));
            }
            _ => HostPattern::Exact(canonical(&host)?),
        };
        Ok(Self { https, host, port })
    }
}

impl fmt::Display for OriginPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.https { "https://" } else { "http://" })?;
        match &self.host {
            HostPattern::Exact(h) => f.write_str(h)?,
            HostPattern::Subdomains(d) => write!(f, "*.{d}")?,
        }
        match self.port {
            PortPattern::Any => f.write_str(":*"),
            PortPattern::Exact(p) if p == self.default_port() => Ok(()),
            PortPattern::Exact(p) => write!(f, ":{p}"),
        }
    }
}

impl OriginPattern {
    fn default_port(&self) -> u16 {
        if self.https { 443 } else { 80 }
    }

    /// Whether a request to `url` falls under this pattern.
    /// Whether this pattern matches `url` by naming its host exactly (an
    /// IP literal, for one), not through a subdomain wildcard.
    pub fn names_host_of(&self, url: &Url) -> bool {
        matches!(self.host, HostPattern::Exact(_)) && self.matches(url)
    }

    pub fn matches(&self, url: &Url) -> bool {
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            _ => return false,
        };
        let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
            return false;
        };
        let host = host.to_string();
        https == self.https
            && match self.port {
                PortPattern::Any => true,
                PortPattern::Exact(p) => p == port,
            }
            && match &self.host {
                HostPattern::Exact(h) => *h == host,
                HostPattern::Subdomains(d) => is_subdomain(&host, d),
            }
    }

    /// Whether every origin `other` matches, this one matches too (a policy
    /// pattern narrowing a manifest's).
    pub fn covers(&self, other: &OriginPattern) -> bool {
        self.https == other.https
            && match (self.port, other.port) {
                (PortPattern::Any, _) => true,
                (PortPattern::Exact(a), PortPattern::Exact(b)) => a == b,
                (PortPattern::Exact(_), PortPattern::Any) => false,
            }
            && match (&self.host, &other.host) {
                (HostPattern::Exact(a), HostPattern::Exact(b)) => a == b,
                (HostPattern::Exact(_), HostPattern::Subdomains(_)) => false,
                (HostPattern::Subdomains(d), HostPattern::Exact(h)) => is_subdomain(h, d),
                (HostPattern::Subdomains(d), HostPattern::Subdomains(e)) => {
                    e == d || is_subdomain(e, d)
                }
            }
    }

    /// The origins both patterns match, when there are any (a policy
    /// narrowing a manifest's pattern: `http://127.0.0.1:*` and
    /// `http://127.0.0.1:8080` give the latter).
    pub fn intersect(&self, other: &OriginPattern) -> Option<OriginPattern> {
        if self.https != other.https {
            return None;
        }
        let port = match (self.port, other.port) {
            (PortPattern::Any, p) | (p, PortPattern::Any) => p,
            (PortPattern::Exact(a), PortPattern::Exact(b)) if a == b => PortPattern::Exact(a),
            _ => return None,
        };
        let host = match (&self.host, &other.host) {
            (HostPattern::Exact(a), HostPattern::Exact(b)) if a == b => {
                HostPattern::Exact(a.clone())
            }
            (HostPattern::Exact(h), HostPattern::Subdomains(d))
            | (HostPattern::Subdomains(d), HostPattern::Exact(h))
                if is_subdomain(h, d) =>
            {
                HostPattern::Exact(h.clone())
            }
            (HostPattern::Subdomains(a), HostPattern::Subdomains(b)) => {
                if a == b || is_subdomain(a, b) {
                    HostPattern::Subdomains(a.clone())
                } else if is_subdomain(b, a) {
                    HostPattern::Subdomains(b.clone())
                } else {
                    return None;
                }
            }
            _ => return None,
        };
        Some(OriginPattern {
            https: self.https,
            host,
            port,
        })
    }
}

fn is_subdomain(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> OriginPattern {
        text.parse().unwrap()
    }

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn patterns_match_scheme_host_and_port() {
        let api = pattern("https://API.example.com");
        assert_eq!(api.to_string(), "https://api.example.com");
        assert!(api.matches(&url("https://api.example.com/v1?q=1")));
        assert!(api.matches(&url("https://api.example.com:443/")));
        assert!(!api.matches(&url("http://api.example.com/")), "scheme");
        assert!(!api.matches(&url("https://api.example.com:8443/")), "port");
        assert!(!api.matches(&url("https://api.example.com.evil.net/")));
        assert!(!api.matches(&url("https://evilapi.example.com/")));

        let local = pattern("http://127.0.0.1:*");
        assert!(local.matches(&url("http://127.0.0.1:1234/x")));
        assert!(local.matches(&url("http://127.0.0.1/x")));
        assert!(!local.matches(&url("http://127.0.0.2:1234/x")));

        let subs = pattern("https://*.example.com");
        assert!(subs.matches(&url("https://a.b.example.com/")));
        assert!(!subs.matches(&url("https://example.com/")));
        assert!(!subs.matches(&url("https://notexample.com/")));

        let v6 = pattern("http://[::1]:8080");
        assert!(v6.matches(&url("http://[::1]:8080/")));
        assert_eq!(v6.to_string(), "http://[::1]:8080");
    }

    #[test]
    fn bad_patterns_say_why() {
        for (text, why) in [
            ("example.com", "scheme://host"),
            ("ftp://example.com", "http or https"),
            ("https://example.com/path", "no path"),
            ("https://user@example.com", "no path"),
            ("https://example.com:0", "1-65535"),
            ("https://exa*mple.com", "may only start"),
            ("https://", "no host"),
            ("https://[::1", "unclosed"),
        ] {
            let err = text.parse::<OriginPattern>().unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
        }
    }

    #[test]
    fn a_wider_pattern_covers_a_narrower_one() {
        let any_port = pattern("http://127.0.0.1:*");
        assert!(any_port.covers(&pattern("http://127.0.0.1:8080")));
        assert!(!pattern("http://127.0.0.1:8080").covers(&any_port));
        let subs = pattern("https://*.example.com");
        assert!(subs.covers(&pattern("https://api.example.com")));
        assert!(subs.covers(&pattern("https://*.eu.example.com")));
        assert!(!subs.covers(&pattern("https://example.com")));
        assert!(!subs.covers(&pattern("http://api.example.com")));
        assert!(!pattern("https://api.example.com").covers(&subs));
    }

    #[test]
    fn intersections_keep_what_both_allow() {
        let both = |a: &str, b: &str| pattern(a).intersect(&pattern(b)).map(|p| p.to_string());
        assert_eq!(
            both("http://127.0.0.1:*", "http://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            both("https://*.example.com", "https://api.example.com:*").as_deref(),
            Some("https://api.example.com")
        );
        assert_eq!(
            both("https://*.example.com", "https://*.eu.example.com").as_deref(),
            Some("https://*.eu.example.com")
        );
        assert_eq!(both("https://a.example", "http://a.example"), None);
        assert_eq!(both("https://a.example", "https://b.example"), None);
        assert_eq!(both("http://h:1", "http://h:2"), None);
    }
}

#[cfg(test)]
mod properties {
    use super::OriginPattern;
    use crate::test_strategies::{CASES, text_from};
    use proptest::prelude::*;

    const FRAGMENTS: &[&str] = &[
        "http://",
        "https://",
        "*.",
        "example.com",
        "127.0.0.1",
        "[::1]",
        ":",
        "*",
        "8080",
        "/",
        "@",
        "%2e",
        "..",
        "xn--",
        "localhost",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        /// Patterns parse or are refused with a reason; a parsed pattern
        /// matches URLs without panicking, and every match keeps its scheme.
        #[test]
        fn origin_patterns_parse_and_match(pattern in text_from(FRAGMENTS, 6), url in text_from(FRAGMENTS, 6)) {
            match pattern.parse::<OriginPattern>() {
                Err(problem) => prop_assert!(!problem.trim().is_empty()),
                Ok(parsed) => {
                    if let Ok(url) = url::Url::parse(&url)
                        && parsed.matches(&url)
                    {
                        prop_assert!(matches!(url.scheme(), "http" | "https"));
                    }
                }
            }
        }
    }
}
