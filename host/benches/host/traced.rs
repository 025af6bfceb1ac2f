//! Stdio `tools/call add` with tracing on: the host exports every span to a
//! collector on 127.0.0.1 (a sink written here that accepts OTLP/HTTP and
//! answers 200), so the figure is the cost of building and exporting the
//! spans, beside the untraced row of the `stdio` section.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::json;

use super::{HOST_ENV, Host, round_trips};

/// Answer one connection's requests (keep-alive) with 200 and no body,
/// counting them.
fn sink(stream: TcpStream, requests: &AtomicU64) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        requests.fetch_add(1, Ordering::Relaxed);
        writer.write_all(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n",
        )?;
    }
}

/// The collector: its address and the count of export requests received.
fn start_collector() -> std::io::Result<(std::net::SocketAddr, Arc<AtomicU64>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let requests = Arc::new(AtomicU64::new(0));
    let counted = requests.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counted = counted.clone();
            std::thread::spawn(move || sink(stream, &counted));
        }
    });
    Ok((addr, requests))
}

pub fn traced_stdio(plugins: &Path, cache: &Path) -> anyhow::Result<()> {
    let (addr, requests) = start_collector()?;
    *HOST_ENV.lock().unwrap() = vec![
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT".into(),
            format!("http://{addr}"),
        ),
        ("OTEL_BSP_SCHEDULE_DELAY".into(), "200".into()),
    ];
    let mut host = Host::spawn(plugins, cache)?;
    HOST_ENV.lock().unwrap().clear();
    host.initialize()?;
    round_trips(
        &mut host,
        "stdio end to end `tools/call add` (sequential), traced to a local collector",
        |id| {
            json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{
                "name":"add","arguments":{"a":2,"b":3},
                "_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}})
        },
        |r| r["result"]["structuredContent"]["sum"] == json!(5.0),
    )?;
    host.close();
    anyhow::ensure!(
        requests.load(Ordering::Relaxed) > 0,
        "the collector received no spans"
    );
    Ok(())
}
