//! The HTTP transport accepts loopback Host headers only, unless told
//! otherwise: a DNS-rebinding page cannot reach a local host.

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
