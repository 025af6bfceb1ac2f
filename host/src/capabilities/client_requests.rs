//! What the sampling, elicitation and roots capabilities share: sending one
//! request to the client through the call's channel with the call's clock
//! paused, and mapping the outcome to the guest's `facade-error`.

use serde_json::Value;

use crate::bindings::types;
use crate::context::{ClientRequest, FacadeError};
use crate::runtime::{HostState, Interrupted};

impl From<FacadeError> for types::FacadeError {
    fn from(e: FacadeError) -> Self {
        match e {
            FacadeError::UnsupportedByClient(m) => types::FacadeError::UnsupportedByClient(m),
            FacadeError::Denied(m) => types::FacadeError::Denied(m),
            FacadeError::Timeout => types::FacadeError::Timeout,
            FacadeError::Cancelled => types::FacadeError::Cancelled,
            FacadeError::InvalidInput(m) => types::FacadeError::InvalidInput(m),
            FacadeError::Failed(m) | FacadeError::Abort(m) => types::FacadeError::Failed(m),
        }
    }
}

/// The outcome of a facade call as the bindings return it: a trap for host
/// failures, a WIT value for everything the guest should handle.
pub(crate) type FacadeResult<T> = wasmtime::Result<Result<T, types::FacadeError>>;

impl HostState {
    /// Send `request` to the client and wait for the answer. The call's
    /// deadline does not run meanwhile (the client's own timeout bounds the
    /// wait). A replay divergence ends the call.
    pub(crate) async fn ask_client(
        &mut self,
        request: ClientRequest,
    ) -> wasmtime::Result<Result<Value, types::FacadeError>> {
        if self.call.cancel.is_cancelled() {
            return Ok(Err(types::FacadeError::Cancelled));
        }
        let _paused = self.clock.pause();
        let cancel = self.call.cancel.clone();
        let outcome = tokio::select! {
            r = self.call.channel.request(request) => r,
            () = cancel.cancelled() => Err(FacadeError::Cancelled),
        };
        match outcome {
            Ok(answer) => Ok(Ok(answer)),
            Err(FacadeError::Abort(message)) => {
                Err(wasmtime::Error::new(Interrupted::Aborted(message)))
            }
            Err(other) => Ok(Err(other.into())),
        }
    }
}

/// A malformed answer from the client, as the guest sees it.
pub(crate) fn bad_answer(what: &str, problem: impl std::fmt::Display) -> types::FacadeError {
    types::FacadeError::Failed(format!(
        "the client's {what} answer is malformed: {problem}"
    ))
}
