//! The HTTP transport accepts loopback Host headers only, unless told
//! otherwise: a DNS-rebinding page cannot reach a local host.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// `host:port` of an `http://host:port/path` URL.
fn authority_of(url: &str) -> &str {
    url.trim_start_matches("http://").split('/').next().unwrap()
}

async fn post_initialize(url: &str, host_header: &str) -> String {
    let authority = authority_of(url);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host_header}\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response)).await;
    String::from_utf8_lossy(&response).into_owned()
}

#[tokio::test]
async fn foreign_host_headers_are_refused() {
    let dir = PluginDir::with(&["hello"], &[]);
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Http))
        .await
        .unwrap();
    let url = host.url.clone().unwrap();
    let evil = post_initialize(&url, "evil.example.com").await;
    assert!(evil.starts_with("HTTP/1.1 403"), "{evil}");
    let authority = authority_of(&url);
    let local = post_initialize(&url, authority).await;
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
    let allowed = post_initialize(host.url.as_deref().unwrap(), "mcp.internal").await;
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    host.shutdown().await;
}
