//! Logging and progress reach the client as the protocol says: logs honour
//! `logging/setLevel` (handshake era) or the request's level (2026-07-28),
//! and progress carries the request's token (raw_stdio checks that a
//! request without a token gets none).

use rmcp::model::{LoggingLevel, NumberOrString, ProgressToken, RequestMetaObject};
use serde_json::json;

use crate::support::*;

fn search_params(meta: RequestMetaObject) -> rmcp::model::CallToolRequestParams {
    let text: String = (0..500).map(|i| format!("line {i} tomato\n")).collect();
    let mut p = params(
        "search",
        json!({"text": text, "pattern": "tomato", "max_matches": 5}),
    );
    p.meta = Some(meta);
    p
}

#[tokio::test]
async fn progress_reaches_the_client_under_its_token() {
    let dir = PluginDir::with(&["texttools"], &[]);
    let dir = &dir;
    for_each_combination(|era, transport| async move {
        let host = Connected::start(dir, HostOptions::new(era, transport))
            .await
            .unwrap();
        let mut meta = RequestMetaObject::default();
        meta.set_progress_token(ProgressToken(NumberOrString::String("tok-1".into())));
        let result = host.client.call_tool(search_params(meta)).await.unwrap();
        assert_ne!(result.is_error, Some(true));
        {
            let received = host.received.lock().unwrap();
            assert!(!received.progress.is_empty(), "no progress with a token");
            // rmcp's client puts its own token on the request; all progress carries it.
            let token = &received.progress[0].progress_token;
            for p in &received.progress {
                assert_eq!(&p.progress_token, token);
                assert!(p.total.is_some());
            }
            let values: Vec<f64> = received.progress.iter().map(|p| p.progress).collect();
            assert!(values.windows(2).all(|w| w[0] <= w[1]), "{values:?}");
        }
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn logs_follow_the_clients_level_in_both_eras() {
    let dir = PluginDir::with(&["texttools"], &[]);
    for transport in [Transport::Stdio, Transport::Http] {
        // Handshake era: info by default, debug after setLevel(debug), none below error.
        let host = Connected::start(&dir, HostOptions::new(Era::Handshake, transport))
            .await
            .unwrap();
        host.client
            .call_tool(search_params(RequestMetaObject::default()))
            .await
            .unwrap();
        let levels = take_levels_with(&host, &[LoggingLevel::Info]).await;
        assert!(
            levels.contains(&LoggingLevel::Info),
            "{transport:?}: {levels:?}"
        );
        assert!(
            !levels.contains(&LoggingLevel::Debug),
            "{transport:?}: {levels:?}"
        );

        host.client
            .set_level(rmcp::model::SetLevelRequestParams::new(LoggingLevel::Debug))
            .await
            .unwrap();
        host.client
            .call_tool(search_params(RequestMetaObject::default()))
            .await
            .unwrap();
        let levels = take_levels_with(
            &host,
            &[LoggingLevel::Info, LoggingLevel::Debug, LoggingLevel::Debug],
        )
        .await;
        assert!(
            levels.contains(&LoggingLevel::Debug),
            "{transport:?}: {levels:?}"
        );

        host.client
            .set_level(rmcp::model::SetLevelRequestParams::new(LoggingLevel::Error))
            .await
            .unwrap();
        host.client
            .call_tool(search_params(RequestMetaObject::default()))
            .await
            .unwrap();
        assert!(take_levels(&host).await.is_empty());
        host.shutdown().await;

        // 2026-07-28: nothing unless the request asks, then from its level up.
        let host = Connected::start(&dir, HostOptions::new(Era::Modern, transport))
            .await
            .unwrap();
        host.client
            .call_tool(search_params(RequestMetaObject::default()))
            .await
            .unwrap();
        assert!(
            take_levels(&host).await.is_empty(),
            "{transport:?}: logs without a level"
        );
        let mut meta = RequestMetaObject::default();
        meta.set_log_level(LoggingLevel::Info);
        host.client.call_tool(search_params(meta)).await.unwrap();
        let levels = take_levels_with(&host, &[LoggingLevel::Info]).await;
        assert!(
            levels.contains(&LoggingLevel::Info),
            "{transport:?}: {levels:?}"
        );
        assert!(
            !levels.contains(&LoggingLevel::Debug),
            "{transport:?}: {levels:?}"
        );
        host.shutdown().await;
    }
}

/// The levels of the log messages received so far. Over HTTP, log messages
/// travel on the session's own stream and may arrive after the response, so
/// this waits (bounded) until every level in `expected` has arrived as often
/// as it is listed (`search` logs once at info, twice at debug), and then
/// until no more arrive, so none is left to be taken for the next call's.
async fn take_levels_with(host: &Connected, expected: &[LoggingLevel]) -> Vec<LoggingLevel> {
    wait_until(&host.received, "the expected log levels", |r| {
        expected.iter().all(|level| {
            let wanted = expected.iter().filter(|l| *l == level).count();
            r.logs.iter().filter(|l| l.level == *level).count() >= wanted
        })
    })
    .await;
    take_levels(host).await
}

/// Every log message received once none has arrived for a while (bounded).
async fn take_levels(host: &Connected) -> Vec<LoggingLevel> {
    const QUIET: std::time::Duration = std::time::Duration::from_millis(200);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut seen = usize::MAX;
    loop {
        let count = host.received.lock().unwrap().logs.len();
        if count == seen || tokio::time::Instant::now() >= deadline {
            break;
        }
        seen = count;
        tokio::time::sleep(QUIET).await;
    }
    let mut received = host.received.lock().unwrap();
    received.logs.drain(..).map(|l| l.level).collect()
}
