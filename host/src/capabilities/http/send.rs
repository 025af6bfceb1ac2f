//! Sending one guest request: check it, add the credentials bound to its
//! origin, follow redirects (each hop checked against the allow-list), read
//! the body up to the cap, all within one timeout.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use ::http::{HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;
use wasmtime::component::{HasSelf, Linker};

use super::address::{PublicOnlyResolver, non_public_range};
use super::{HOST_HEADERS, HttpGrant};
use crate::bindings::{http as wit, types};
use crate::capabilities::client_requests::FacadeResult;
use crate::capabilities::secrets::{CallerSecret, SecretStore, SecretValue};
use crate::runtime::{HostState, PluginCounters};
use crate::telemetry::propagation;

pub(crate) fn add_to_linker(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wit::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
}

/// The longest a request may take, whatever the guest asks.
const MAX_TIMEOUT: Duration = Duration::from_secs(60);
/// The timeout of a request that names none.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
/// Guest headers that carry authority and do not follow a redirect to
/// another origin.
const ORIGIN_BOUND_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// The host's HTTP clients, shared by every plugin, each built on first use
/// (so a host whose plugins never send a request never loads TLS roots):
/// one whose names resolve only to public addresses, and one for grants
/// that allow the host's own networks.
#[derive(Debug, Default)]
pub struct HttpClient {
    public: OnceLock<Result<reqwest::Client, String>>,
    private: OnceLock<Result<reqwest::Client, String>>,
}

impl HttpClient {
    fn client(&self, allow_private: bool) -> Result<&reqwest::Client, types::FacadeError> {
        let cell = if allow_private {
            &self.private
        } else {
            &self.public
        };
        cell.get_or_init(|| {
            // Another part of the process may have chosen a provider already.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let builder = if allow_private {
                reqwest::Client::builder()
            } else {
                reqwest::Client::builder().dns_resolver(std::sync::Arc::new(PublicOnlyResolver))
            };
            builder
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .connect_timeout(Duration::from_secs(10))
                .user_agent(concat!("mcp-wasm-host/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {}", chain(&e)))
        })
        .as_ref()
        .map_err(|e| types::FacadeError::Failed(e.clone()))
    }
}

/// A guest request, checked.
struct Outgoing {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    timeout: Duration,
}

fn invalid(message: String) -> types::FacadeError {
    types::FacadeError::InvalidInput(message)
}

impl Outgoing {
    fn check(request: wit::Request) -> Result<Self, types::FacadeError> {
        let method = request.method.to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(invalid(format!(
                "method `{}` is not one of {}",
                request.method,
                METHODS.join(", ")
            )));
        }
        let url = Url::parse(&request.url)
            .map_err(|e| invalid(format!("`{}` is not a URL: {e}", request.url)))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid(format!(
                "`{}`: only http and https URLs can be requested",
                request.url
            )));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "a URL may not carry a user or password; bind credentials in [capabilities.http]"
                    .into(),
            ));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in request.headers {
            let parsed = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("`{name}` is not a header name")))?;
            if HOST_HEADERS.contains(&parsed.as_str()) {
                return Err(invalid(format!("header `{name}` is set by the host")));
            }
            let value = HeaderValue::from_str(&value)
                .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
            headers.append(parsed, value);
        }
        let timeout = request
            .timeout_ms
            .map_or(DEFAULT_TIMEOUT, |ms| Duration::from_millis(ms.into()))
            .min(MAX_TIMEOUT);
        Ok(Self {
            method: Method::from_bytes(method.as_bytes()).expect("a listed method"),
            url,
            headers,
            body: request.body,
            timeout,
        })
    }
}

/// An error and its sources, on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Headers for the log: credential values and authority-carrying guest
/// headers shown as `[redacted]`.
fn shown_headers(headers: &HeaderMap, credentials: &[HeaderName]) -> String {
    headers
        .iter()
        .map(|(name, value)| {
            let redacted =
                credentials.contains(name) || ORIGIN_BOUND_HEADERS.contains(&name.as_str());
            let value = if redacted {
                "[redacted]"
            } else {
                value.to_str().unwrap_or("(binary)")
            };
            format!("{name}: {value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a response sends the request next, if it is a redirect.
fn redirect_target(response: &reqwest::Response, from: &Url) -> Option<Result<Url, String>> {
    if !matches!(response.status().as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = response.headers().get(::http::header::LOCATION)?;
    Some(
        location
            .to_str()
            .map_err(|_| "a Location header that is not text".to_string())
            .and_then(|l| {
                from.join(l)
                    .map_err(|e| format!("a bad Location `{l}`: {e}"))
            }),
    )
}

/// Why one request of a chain of redirects failed.
enum HopError {
    /// The policy refused where it would have gone.
    Denied(String),
    Failed(String),
}

/// The resolver's refusal, when that is why a request failed.
fn non_public_cause(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(refused) = e.downcast_ref::<super::address::NonPublicName>() {
            return Some(refused.to_string());
        }
        source = e.source();
    }
    None
}

struct Sender<'a> {
    plugin: &'a str,
    grant: &'a HttpGrant,
    secrets: &'a SecretStore,
    /// The caller's principal id, for credentials with a value per caller.
    principal: Option<&'a str>,
    counters: &'a PluginCounters,
    /// The span of the `http.send` call, whose context goes out with it.
    span: &'a tracing::Span,
}

impl Sender<'_> {
    fn deny(&self, message: String) -> types::FacadeError {
        PluginCounters::bump(&self.counters.denials);
        tracing::warn!(plugin = self.plugin, "http: {message}");
        types::FacadeError::Denied(message)
    }

    /// The request's headers for `url`: the guest's (without those bound to
    /// the original origin once it is left) and the credentials bound to
    /// `url`'s origin. Also returns the credential header names, for the log.
    fn headers_for(
        &self,
        url: &Url,
        guest: &HeaderMap,
        left_origin: bool,
    ) -> Result<(HeaderMap, Vec<HeaderName>), types::FacadeError> {
        let mut headers = guest.clone();
        if left_origin {
            for name in ORIGIN_BOUND_HEADERS {
                headers.remove(*name);
            }
        }
        let mut injected = Vec::new();
        for credential in self
            .grant
            .credentials
            .iter()
            .filter(|c| c.origin.matches(url))
        {
            let secret: SecretValue = match self.secrets.for_caller(
                &credential.secret,
                self.principal,
                self.grant.credential_fallback,
            ) {
                CallerSecret::Value(secret) => secret,
                CallerSecret::NotForCaller(why) => {
                    return Err(self.deny(format!(
                        "the credential for {} is not sent: {why}",
                        credential.origin
                    )));
                }
                CallerSecret::NotSet if credential.optional => continue,
                CallerSecret::NotSet => {
                    return Err(types::FacadeError::Failed(format!(
                        "the credential for {} needs secret `{}`, which the operator has not set ({})",
                        credential.origin,
                        credential.secret,
                        SecretStore::where_to_set(&credential.secret)
                    )));
                }
            };
            let name = HeaderName::from_bytes(credential.header.to_ascii_lowercase().as_bytes())
                .expect("checked with the manifest");
            let mut value =
                HeaderValue::from_str(&credential.format.replace("{secret}", secret.expose()))
                    .map_err(|_| {
                        types::FacadeError::Failed(format!(
                            "secret `{}` cannot go in an HTTP header",
                            credential.secret
                        ))
                    })?;
            value.set_sensitive(true);
            headers.insert(name.clone(), value);
            injected.push(name);
        }
        Ok((headers, injected))
    }

    /// Why `url`, whose host is an IP literal of the host's own networks,
    /// may not be reached: the rule does not allow private addresses, and
    /// its `http-allow` names no origin with that literal (a literal only
    /// the manifest declares does not count: the operator must name it).
    /// Names are checked by the resolver, as they are resolved.
    fn literal_outside_grant(&self, url: &Url) -> Option<String> {
        let ip = match url.host()? {
            url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
            url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
            url::Host::Domain(_) => return None,
        };
        let range = non_public_range(ip)?;
        if self.grant.allow_private {
            return None;
        }
        let named = self.grant.allow.iter().any(|o| o.names_host_of(url));
        if named && self.grant.allow_named_by_policy {
            return None;
        }
        Some(if named {
            format!(
                "{ip} is a {range} address, named only by the plugin's manifest: the granting \
                 rule must name it in `http-allow` (or set `http-allow-private = true`)"
            )
        } else {
            format!(
                "{ip} is a {range} address, and no allowed origin names it (allowed: {})",
                self.grant.allowed_list()
            )
        })
    }

    async fn send(
        &self,
        client: &reqwest::Client,
        request: Outgoing,
    ) -> Result<wit::Response, types::FacadeError> {
        let deadline = Instant::now() + request.timeout;
        let first = request.url.origin();
        let (mut method, mut url, mut body) = (request.method, request.url, request.body);
        let mut guest_headers = request.headers;
        let mut redirects = 0;
        let mut previous: Option<Url> = None;
        loop {
            if !self.grant.allow.iter().any(|o| o.matches(&url)) {
                let origin = url.origin().ascii_serialization();
                return Err(self.deny(match &previous {
                    None => format!(
                        "{origin} is not an allowed origin (allowed: {})",
                        self.grant.allowed_list()
                    ),
                    Some(from) => format!(
                        "{from} redirects to {url}, and {origin} is not an allowed origin (allowed: {})",
                        self.grant.allowed_list()
                    ),
                }));
            }
            if let Some(denied) = self.literal_outside_grant(&url) {
                return Err(self.deny(denied));
            }
            let (mut headers, injected) =
                self.headers_for(&url, &guest_headers, url.origin() != first)?;
            // The trace goes on to the service (replacing a guest's own
            // `traceparent`: the host's context is the true parent).
            propagation::inject(self.span, &mut headers);
            tracing::debug!(
                plugin = self.plugin,
                "http {method} {url} [{}]",
                shown_headers(&headers, &injected)
            );
            let mut builder = client.request(method.clone(), url.clone()).headers(headers);
            if let Some(body) = &body {
                builder = builder.body(body.clone());
            }
            let exchange = async {
                let mut response =
                    builder
                        .send()
                        .await
                        .map_err(|e| match non_public_cause(&e) {
                            Some(why) => HopError::Denied(format!("{method} {url}: {why}")),
                            None => HopError::Failed(format!(
                                "{method} {url}: {}",
                                chain(&e.without_url())
                            )),
                        })?;
                if self.grant.max_redirects > 0
                    && let Some(next) = redirect_target(&response, &url)
                {
                    return Ok(Err((response.status().as_u16(), next)));
                }
                let body = read_capped(&mut response, self.grant.max_response_bytes, &url)
                    .await
                    .map_err(HopError::Failed)?;
                Ok(Ok((response, body)))
            };
            let outcome = tokio::time::timeout_at(deadline.into(), exchange)
                .await
                .map_err(|_| types::FacadeError::Timeout)?
                .map_err(|e| match e {
                    HopError::Denied(why) => self.deny(why),
                    HopError::Failed(why) => types::FacadeError::Failed(why),
                })?;
            let (status, next) = match outcome {
                Ok((response, body)) => {
                    tracing::debug!(
                        plugin = self.plugin,
                        "http {method} {url} -> {}",
                        response.status()
                    );
                    return Ok(wit::Response {
                        status: response.status().as_u16(),
                        headers: response
                            .headers()
                            .iter()
                            .map(|(n, v)| {
                                (
                                    n.to_string(),
                                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                                )
                            })
                            .collect(),
                        body,
                        url: url.to_string(),
                    });
                }
                Err(redirect) => redirect,
            };
            let next = next.map_err(|why| {
                types::FacadeError::Failed(format!("{url} answered {status} with {why}"))
            })?;
            tracing::debug!(
                plugin = self.plugin,
                "http {method} {url} -> {status} {next}"
            );
            if redirects == self.grant.max_redirects {
                return Err(types::FacadeError::Failed(format!(
                    "stopped after {redirects} redirects: {url} redirects again, to {next}"
                )));
            }
            redirects += 1;
            // 303, and 301/302 after a POST, continue as a GET without a body.
            if status == 303 && method != Method::HEAD
                || matches!(status, 301 | 302) && method == Method::POST
            {
                method = Method::GET;
                body = None;
                guest_headers.remove(::http::header::CONTENT_TYPE);
            }
            previous = Some(url);
            url = next;
        }
    }
}

async fn read_capped(
    response: &mut reqwest::Response,
    cap: usize,
    url: &Url,
) -> Result<Vec<u8>, String> {
    let too_large = || {
        format!(
            "the response from {url} is larger than the plugin's cap of {} KiB",
            cap / 1024
        )
    };
    if response.content_length().is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        format!(
            "reading the response from {url}: {}",
            chain(&e.without_url())
        )
    })? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl wit::Host for HostState {
    async fn send(&mut self, request: wit::Request) -> FacadeResult<wit::Response> {
        let span = self.facade_span("http.send");
        self.check_grant(super::HTTP)?;
        static NONE: HttpGrant = HttpGrant::none();
        let grant = self
            .grants
            .params::<HttpGrant>(super::HTTP)
            .unwrap_or(&NONE);
        let outgoing = Outgoing::check(request)?;
        let client = self.service::<HttpClient>()?.client(grant.allow_private)?;
        let sender = Sender {
            plugin: &self.plugin,
            grant,
            secrets: self.service::<SecretStore>()?,
            principal: self.call.access.principal().map(|p| p.id.as_str()),
            counters: &self.counters,
            span: &span,
        };
        Ok(sender.send(client, outgoing).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, url: &str, headers: &[(&str, &str)]) -> wit::Request {
        wit::Request {
            method: method.into(),
            url: url.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: None,
            timeout_ms: Some(120_000),
        }
    }

    fn rejection(r: wit::Request) -> String {
        match Outgoing::check(r) {
            Err(types::FacadeError::InvalidInput(m)) => m,
            Err(other) => panic!("unexpected {other:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn requests_are_checked_before_anything_is_sent() {
        let ok = Outgoing::check(request(
            "get",
            "https://a.example/x",
            &[("Accept", "text/plain")],
        ))
        .unwrap();
        assert_eq!(ok.method, Method::GET);
        assert_eq!(ok.timeout, MAX_TIMEOUT, "capped");
        assert!(rejection(request("TRACE", "https://a.example", &[])).contains("not one of"));
        assert!(rejection(request("GET", "file:///etc/passwd", &[])).contains("only http"));
        assert!(
            rejection(request("GET", "https://u:p@a.example", &[])).contains("user or password")
        );
        assert!(
            rejection(request("GET", "https://a.example", &[("Host", "b")]))
                .contains("set by the host")
        );
        assert!(rejection(request("GET", "nope", &[])).contains("is not a URL"));
    }

    #[test]
    fn logged_headers_hide_credentials() {
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("s3cret"));
        headers.insert("authorization", HeaderValue::from_static("Bearer guest"));
        headers.insert("accept", HeaderValue::from_static("text/plain"));
        let shown = shown_headers(&headers, &[HeaderName::from_static("x-api-key")]);
        assert!(
            !shown.contains("s3cret") && !shown.contains("guest"),
            "{shown}"
        );
        assert!(shown.contains("x-api-key: [redacted]") && shown.contains("accept: text/plain"));
    }
}

#[cfg(test)]
mod properties {
    use super::{Outgoing, wit};
    use crate::test_strategies::{CASES, text_from};
    use proptest::prelude::*;

    const FRAGMENTS: &[&str] = &[
        "http://",
        "https://",
        "file://",
        "user:pw@",
        "localhost",
        "127.0.0.1",
        "[::1]",
        ":80",
        "/path",
        "?q=1",
        "#f",
        "%",
        "\\",
        " ",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        /// Any request a guest makes is checked or refused as invalid input;
        /// what passes is an http(s) URL without credentials.
        #[test]
        fn guest_requests_are_checked(
            method in "[A-Za-z]{0,8}",
            url in text_from(FRAGMENTS, 6),
            header in "[ -~]{0,12}",
            value in "\\PC{0,12}",
        ) {
            let request = wit::Request {
                method,
                url,
                headers: vec![(header, value)],
                body: None,
                timeout_ms: None,
            };
            match Outgoing::check(request) {
                Ok(checked) => {
                    prop_assert!(matches!(checked.url.scheme(), "http" | "https"));
                    prop_assert!(checked.url.username().is_empty() && checked.url.password().is_none());
                }
                Err(crate::bindings::types::FacadeError::InvalidInput(problem)) => {
                    prop_assert!(!problem.is_empty())
                }
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }
    }
}
