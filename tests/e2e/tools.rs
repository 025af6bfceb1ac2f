//! Listing and calling tools, argument validation and guest errors, in both
//! protocol eras over both transports.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn lists_and_calls_tools_in_every_era_and_transport() {
    let dir = PluginDir::with(&["hello", "texttools"], &[]);
    let dir = &dir;
    for_each_combination(|era, transport| async move {
        let host = Connected::start(dir, HostOptions::new(era, transport))
            .await
            .unwrap();
        let names = host.tool_names().await;
        assert_eq!(
            names,
            ["add", "count", "countdown", "echo", "search", "slugify"]
        );

        let echo = host.call_ok("echo", echo_args("hello, world")).await;
        assert_eq!(text_of(&echo), "hello, world");

        let add = host.call_ok("add", json!({"a": 2, "b": 3.5})).await;
        assert_eq!(add.structured_content, Some(json!({"sum": 5.5})));
        assert!(text_of(&add).contains("5.5"), "{add:?}");

        let slug = host
            .call_ok("slugify", json!({"text": "Hello, Wasm World!"}))
            .await;
        assert_eq!(text_of(&slug), "hello-wasm-world");
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn descriptors_carry_schemas_and_annotations() {
    let dir = PluginDir::with(&["hello"], &[]);
    let host = Connected::start(&dir, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    let tools = host.client.list_all_tools().await.unwrap();
    let add = tools.iter().find(|t| t.name == "add").unwrap();
    let input = serde_json::to_value(&*add.input_schema).unwrap();
    assert_eq!(input["type"], "object");
    assert_eq!(input["properties"]["a"]["type"], "number");
    let output = serde_json::to_value(add.output_schema.as_deref().unwrap()).unwrap();
    assert_eq!(output["properties"]["sum"]["type"], "number");
    host.shutdown().await;
}

#[tokio::test]
async fn tools_list_paginates() {
    let dir = PluginDir::with(&["hello", "texttools"], &[]);
    let dir = &dir;
    for_each_combination(|era, transport| async move {
        let host = Connected::start(
            dir,
            HostOptions::new(era, transport).arg("--page-size").arg("2"),
        )
        .await
        .unwrap();
        let first = host.client.list_tools(None).await.unwrap();
        assert_eq!(first.tools.len(), 2);
        let cursor = first.next_cursor.clone().expect("a second page");
        let second = host
            .client
            .list_tools(Some(
                rmcp::model::PaginatedRequestParams::default().with_cursor(Some(cursor)),
            ))
            .await
            .unwrap();
        assert_eq!(second.tools.len(), 2);
        assert_eq!(host.tool_names().await.len(), 6);

        let bad = host
            .client
            .list_tools(Some(
                rmcp::model::PaginatedRequestParams::default().with_cursor(Some("zebra".into())),
            ))
            .await
            .unwrap_err();
        let (code, message) = protocol_error(&bad).expect("a protocol error");
        assert_eq!(code, -32602);
        assert!(message.contains("invalid cursor"), "{message}");
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn arguments_failing_the_schema_are_rejected_naming_the_field() {
    let dir = PluginDir::with(&["hello"], &[]);
    let dir = &dir;
    for_each_combination(|era, transport| async move {
        let host = Connected::start(dir, HostOptions::new(era, transport))
            .await
            .unwrap();
        let error = host
            .call("add", json!({"a": "two", "b": 1}))
            .await
            .unwrap_err();
        let (code, message) = protocol_error(&error).expect("a protocol error");
        assert_eq!(code, -32602, "{message}");
        assert!(message.contains("`/a`"), "{message}");
        assert!(message.contains("number"), "{message}");

        let error = host.call("add", json!({"a": 1})).await.unwrap_err();
        let (code, message) = protocol_error(&error).unwrap();
        assert_eq!(code, -32602);
        assert!(
            message.contains("\"b\" is a required property"),
            "{message}"
        );
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn unknown_tools_are_a_protocol_error() {
    let dir = PluginDir::with(&["hello"], &[]);
    let dir = &dir;
    for_each_combination(|era, transport| async move {
        let host = Connected::start(dir, HostOptions::new(era, transport))
            .await
            .unwrap();
        let error = host.call("nope", empty_args()).await.unwrap_err();
        let (code, message) = protocol_error(&error).expect("a protocol error");
        assert_eq!(code, -32602);
        assert!(message.contains("unknown tool `nope`"), "{message}");
        host.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_guest_error_is_an_error_result_with_its_message() {
    let dir = PluginDir::with(&["texttools"], &[]);
    let dir = &dir;
    for_each_combination(|era, transport| async move {
        let host = Connected::start(dir, HostOptions::new(era, transport))
            .await
            .unwrap();
        let result = host
            .call("search", json!({"text": "abc", "pattern": "(unclosed"}))
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(true));
        let text = text_of(&result);
        assert!(text.contains("(unclosed"), "{text}");

        let ok = host
            .call_ok(
                "search",
                json!({"text": "one\ntwo\nthree", "pattern": "t\\w+"}),
            )
            .await;
        let matches = &ok.structured_content.as_ref().unwrap()["matches"];
        assert_eq!(matches.as_array().unwrap().len(), 2, "{ok:?}");
        host.shutdown().await;
    })
    .await;
}
