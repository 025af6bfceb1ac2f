//! The stdio client's window of tool calls. Over stdio the one client is
//! one principal, with a share of at most `--max-calls-per-principal`
//! calls running. A client that pipelines more is not refused: the wire
//! hands the server at most that many `tools/call` requests at a time and
//! holds the rest, in the order they came, until calls handed over have
//! been answered. A held call the client cancels is dropped unanswered (as
//! the SDK drops the answer of a cancelled call).
//!
//! Held calls are bounded (as many as the share, and [`HELD_HIGH_WATER`]
//! bytes); once that is full the wire reads no more, so a flooding client
//! cannot make the host hold more. It stops only while the server waits
//! for no answer of the client's: a call that asked the client something
//! (sampling, elicitation, roots) must be able to read the answer, so
//! while one does, the wire reads on and a call beyond what it may hold is
//! handed to the server, whose share refuses it.

use std::collections::{HashSet, VecDeque};

use rmcp::RoleServer;
use rmcp::model::{
    ClientNotification, ClientRequest, JsonRpcMessage, RequestId, ServerNotification,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};

/// Bytes of held calls beyond which no more are held.
pub(super) const HELD_HIGH_WATER: usize = 4 << 20;

/// The calls of the stdio client the server has and those held back.
#[derive(Debug)]
pub(super) struct CallWindow {
    /// The most calls handed to the server and not yet answered.
    limit: usize,
    /// Calls handed to the server and not yet answered.
    open: HashSet<RequestId>,
    /// Calls read while the window was full, oldest first, with the length
    /// of their lines.
    held: VecDeque<(RxJsonRpcMessage<RoleServer>, usize)>,
    held_bytes: usize,
    /// The server's requests to the client not yet answered.
    asked: HashSet<RequestId>,
}

impl CallWindow {
    /// A window of `limit` calls (at least one).
    pub(super) fn new(limit: usize) -> Self {
        Self {
            limit: limit.max(1),
            open: HashSet::new(),
            held: VecDeque::new(),
            held_bytes: 0,
            asked: HashSet::new(),
        }
    }

    /// The oldest held call, once the window has room for it.
    pub(super) fn release(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        if self.open.len() >= self.limit {
            return None;
        }
        let (message, size) = self.held.pop_front()?;
        self.held_bytes -= size;
        if let Some(id) = call_id(&message) {
            self.open.insert(id.clone());
        }
        Some(message)
    }

    /// Whether the wire may read another message: it may unless it holds
    /// all it may hold while the server waits for nothing from the client.
    pub(super) fn may_read(&self) -> bool {
        self.has_room_to_hold() || !self.asked.is_empty()
    }

    /// Whether calls are held back.
    pub(super) fn holds_calls(&self) -> bool {
        !self.held.is_empty()
    }

    fn has_room_to_hold(&self) -> bool {
        self.held.len() < self.limit && self.held_bytes < HELD_HIGH_WATER
    }

    /// A message read from the client, a line of `size` bytes: the message
    /// to hand to the server, or `None` when it is held or dropped.
    pub(super) fn admit(
        &mut self,
        message: RxJsonRpcMessage<RoleServer>,
        size: usize,
    ) -> Option<RxJsonRpcMessage<RoleServer>> {
        match &message {
            JsonRpcMessage::Request(request)
                if matches!(request.request, ClientRequest::CallToolRequest(_)) =>
            {
                if self.held.is_empty() && self.open.len() < self.limit {
                    self.open.insert(request.id.clone());
                } else if self.has_room_to_hold() {
                    self.held_bytes += size;
                    self.held.push_back((message, size));
                    return None;
                }
                // Held calls are at their bound and the wire reads on for
                // the client's answer: the server's share decides.
            }
            JsonRpcMessage::Notification(notification) => {
                if let ClientNotification::CancelledNotification(cancelled) =
                    &notification.notification
                    && let Some(id) = &cancelled.params.request_id
                {
                    // Its answer is never sent: the SDK drops it.
                    self.open.remove(id);
                    self.drop_held(id);
                }
            }
            JsonRpcMessage::Response(response) => {
                self.asked.remove(&response.id);
            }
            JsonRpcMessage::Error(error) => {
                if let Some(id) = &error.id {
                    self.asked.remove(id);
                }
            }
            JsonRpcMessage::Request(_) => {}
        }
        Some(message)
    }

    /// A message the server sends: an answer closes its call; a request
    /// waits for the client's answer until answered or cancelled.
    pub(super) fn sent(&mut self, message: &TxJsonRpcMessage<RoleServer>) {
        match message {
            JsonRpcMessage::Response(response) => {
                self.open.remove(&response.id);
            }
            JsonRpcMessage::Error(error) => {
                if let Some(id) = &error.id {
                    self.open.remove(id);
                }
            }
            JsonRpcMessage::Request(request) => {
                self.asked.insert(request.id.clone());
            }
            JsonRpcMessage::Notification(notification) => {
                if let ServerNotification::CancelledNotification(cancelled) =
                    &notification.notification
                    && let Some(id) = &cancelled.params.request_id
                {
                    self.asked.remove(id);
                }
            }
        }
    }

    fn drop_held(&mut self, id: &RequestId) {
        let mut dropped = 0;
        self.held.retain(|(message, size)| {
            let keep = call_id(message) != Some(id);
            if !keep {
                dropped += size;
            }
            keep
        });
        self.held_bytes -= dropped;
    }
}

fn call_id(message: &RxJsonRpcMessage<RoleServer>) -> Option<&RequestId> {
    match message {
        JsonRpcMessage::Request(request) => Some(&request.id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn client(message: serde_json::Value) -> RxJsonRpcMessage<RoleServer> {
        serde_json::from_value(message).unwrap()
    }

    fn call(id: i64) -> RxJsonRpcMessage<RoleServer> {
        client(json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
            "params":{"name":"add","arguments":{"a":1,"b":2}}}))
    }

    fn cancel(id: i64) -> RxJsonRpcMessage<RoleServer> {
        client(json!({"jsonrpc":"2.0","method":"notifications/cancelled",
            "params":{"requestId":id}}))
    }

    fn answer(id: i64) -> TxJsonRpcMessage<RoleServer> {
        serde_json::from_value(json!({"jsonrpc":"2.0","id":id,"result":{"content":[]}})).unwrap()
    }

    fn id_of(message: &RxJsonRpcMessage<RoleServer>) -> i64 {
        match call_id(message) {
            Some(RequestId::Number(n)) => *n,
            other => panic!("not a numbered request: {other:?}"),
        }
    }

    #[test]
    fn calls_past_the_share_are_held_and_handed_over_in_order_as_answers_leave() {
        let mut window = CallWindow::new(2);
        assert!(window.admit(call(1), 10).is_some());
        assert!(window.admit(call(2), 10).is_some());
        assert!(window.admit(call(3), 10).is_none(), "the share is full");
        assert!(window.admit(call(4), 10).is_none());
        assert!(
            !window.may_read(),
            "as many held as the share: read no more"
        );
        assert!(window.release().is_none(), "nothing answered yet");
        // Other requests are not calls: they pass while calls are held.
        let ping = client(json!({"jsonrpc":"2.0","id":9,"method":"ping"}));
        assert!(window.admit(ping, 10).is_some());
        window.sent(&answer(2));
        assert_eq!(window.release().map(|m| id_of(&m)), Some(3));
        assert!(window.release().is_none(), "the window is full again");
        assert!(window.may_read());
        window.sent(&answer(1));
        window.sent(&answer(3));
        assert_eq!(window.release().map(|m| id_of(&m)), Some(4));
        assert!(window.release().is_none(), "nothing left held");
        assert!(
            window.admit(call(5), 10).is_some(),
            "room again: handed over"
        );
    }

    #[test]
    fn a_cancelled_call_is_dropped_when_held_and_frees_its_place_when_open() {
        let mut window = CallWindow::new(1);
        assert!(window.admit(call(1), 10).is_some());
        assert!(window.admit(call(2), 10).is_none());
        assert!(
            window.admit(cancel(2), 10).is_some(),
            "the server sees it too"
        );
        assert_eq!(window.held_bytes, 0);
        assert!(window.admit(call(3), 10).is_none());
        // The open call is cancelled: the SDK never answers it.
        assert!(window.admit(cancel(1), 10).is_some());
        assert_eq!(window.release().map(|m| id_of(&m)), Some(3));
        assert!(window.release().is_none());
    }

    #[test]
    fn the_wire_reads_on_while_the_server_waits_for_the_clients_answer() {
        let mut window = CallWindow::new(1);
        assert!(window.admit(call(1), 10).is_some());
        assert!(window.admit(call(2), 10).is_none());
        assert!(!window.may_read());
        // Call 1 asks the client to sample.
        let ask: TxJsonRpcMessage<RoleServer> = serde_json::from_value(json!({
            "jsonrpc":"2.0","id":0,"method":"sampling/createMessage",
            "params":{"messages":[],"maxTokens":8}}))
        .unwrap();
        window.sent(&ask);
        assert!(window.may_read(), "the answer must be read");
        // A call read now cannot be held: the server's share decides.
        assert!(window.admit(call(3), 10).is_some());
        let reply = client(json!({"jsonrpc":"2.0","id":0,
            "result":{"role":"assistant","content":{"type":"text","text":"4"},"model":"m"}}));
        assert!(window.admit(reply, 10).is_some());
        assert!(!window.may_read(), "answered: the bound holds again");
    }

    #[test]
    fn held_calls_are_bounded_in_bytes() {
        let mut window = CallWindow::new(64);
        for id in 0..64 {
            assert!(window.admit(call(id), 10).is_some());
        }
        let mut id = 64;
        while window.may_read() && id < 128 {
            assert!(window.admit(call(id), HELD_HIGH_WATER / 4).is_none());
            id += 1;
        }
        assert_eq!(window.held.len(), 4, "held until the bytes reach the bound");
    }
}
