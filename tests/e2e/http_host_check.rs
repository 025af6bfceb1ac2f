//! The HTTP transport accepts loopback Host headers only, unless told
//! otherwise: a DNS-rebinding page cannot reach a local host, neither its
//! MCP endpoint nor its health and metrics endpoints.

use crate::support::*;

#[tokio::test]
async fn foreign_host_headers_are_refused() {
    let dir = PluginDir::with(&["hello"], &[]);
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Http))
        .await
        .unwrap();
    let url = host.url.clone().unwrap();
    let evil = post_initialize(&url, &[("Host", "evil.example.com")]).await;
    assert!(evil.starts_with("HTTP/1.1 403"), "{evil}");
    let authority = authority_of(&url);
    let local = post_initialize(&url, &[("Host", authority)]).await;
    assert!(local.starts_with("HTTP/1.1 200"), "{local}");
    // The host's own endpoints on the same listener take the same check
    // (open without an auth file, so only the Host header guards them).
    for path in ["/metrics", "/healthz", "/readyz"] {
        let evil = raw_http(&url, "GET", path, &[("Host", "evil.example.com")], "").await;
        assert_eq!(evil.status, 403, "{path}: {}", evil.body);
        assert!(
            evil.body
                .contains("the Host `evil.example.com` is not an allowed host"),
            "{path}: {}",
            evil.body
        );
        let local = raw_http(&url, "GET", path, &[], "").await;
        assert_eq!(local.status, 200, "{path}: {}", local.body);
    }
    host.shutdown().await;

    // An operator can allow a name explicitly.
    let host = Connected::start(
        &dir,
        HostOptions::new(Era::Handshake, Transport::Http)
            .arg("--allowed-host")
            .arg("mcp.internal"),
    )
    .await
    .unwrap();
    let allowed = post_initialize(host.url.as_deref().unwrap(), &[("Host", "mcp.internal")]).await;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    host.shutdown().await;
}
