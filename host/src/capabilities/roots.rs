//! The `mcp:plugin/roots` interface: the client's roots (`roots/list`).

use serde_json::{Value, json};
use wasmtime::component::{HasSelf, Linker};

use super::HostCapability;
use super::client_requests::{FacadeResult, bad_answer};
use crate::bindings::roots;
use crate::capability::{Capability, CapabilityKind};
use crate::context::{ClientRequest, ClientRequestKind};
use crate::runtime::HostState;

/// The client's roots (`mcp:plugin/roots`).
pub const ROOTS: Capability = Capability::named("roots");

/// The `roots` capability.
pub struct Roots;

impl CapabilityKind for Roots {
    fn id(&self) -> Capability {
        ROOTS
    }

    fn interfaces(&self) -> &'static [&'static str] {
        &["mcp:plugin/roots"]
    }
}

impl HostCapability for Roots {
    fn add_to_linker(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
        roots::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)
    }
}

impl roots::Host for HostState {
    async fn list_roots(&mut self) -> FacadeResult<Vec<roots::Root>> {
        self.check_grant(ROOTS)?;
        let request = ClientRequest {
            kind: ClientRequestKind::Roots,
            params: json!({}),
        };
        let answer = self.ask_client(request).await?;
        Ok(parse_roots(answer)?)
    }
}

fn parse_roots(answer: Value) -> Result<Vec<roots::Root>, crate::bindings::types::FacadeError> {
    let list = answer
        .get("roots")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_answer("roots", "no `roots` array"))?;
    list.iter()
        .map(|root| {
            let uri = root
                .get("uri")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_answer("roots", "a root has no `uri`"))?;
            Ok(roots::Root {
                uri: uri.to_string(),
                name: root.get("name").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_read_from_the_wire_answer() {
        let roots =
            parse_roots(json!({"roots":[{"uri":"file:///w","name":"w"},{"uri":"file:///x"}]}))
                .unwrap();
        assert_eq!(roots.len(), 2);
        assert_eq!(roots[0].name.as_deref(), Some("w"));
        assert!(parse_roots(json!({"roots":[{"name":"x"}]})).is_err());
    }
}
