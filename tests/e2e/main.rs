//! End-to-end tests: the real `mcp-wasm-host` binary as a child process,
//! plugins built from source (`scripts/build-plugins.sh`), and real MCP
//! clients over stdio and Streamable HTTP in both protocol eras.

#![allow(deprecated)] // logging is deprecated by SEP-2577 yet still on the wire

mod auth;
mod boundaries;
mod cancellation;
mod capabilities;
mod catalog_requests;
mod collector;
mod commands;
mod componentize;
mod core_tasks;
mod deploy;
mod dev;
mod distribution;
mod examples;
mod facade;
mod http;
mod http_host_check;
mod listener;
mod loading;
mod log_output;
mod multi_round;
mod notifications;
mod ops;
mod polyglot;
mod principals;
mod raw_stdio;
mod reload;
mod rust_sdk;
mod sandbox;
mod scaffold;
mod sdk_parity;
mod shares;
mod sql;
mod sql_postgres;
mod state;
mod stdio_calls;
mod support;
mod tasks;
mod tools;
mod traces;
