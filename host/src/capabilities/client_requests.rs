//! What the sampling, elicitation and roots capabilities share: sending one
//! request to the client through the call's channel with the call's clock
//! paused, and mapping the outcome to the guest's `facade-error`.

use crate::bindings::{FacadeFailure, types};
use crate::context::{ClientAnswer, ClientRequest, FacadeError};
use crate::runtime::{HostState, Interrupted};
use crate::telemetry::spans;
use tracing::Instrument as _;

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

/// The outcome of a facade call: its value, a `facade-error` for the guest,
/// or a trap.
pub(crate) type FacadeResult<T> = Result<T, FacadeFailure>;

impl From<FacadeError> for FacadeFailure {
    fn from(e: FacadeError) -> Self {
        match e {
            FacadeError::Abort(message) => {
                FacadeFailure::Trap(wasmtime::Error::new(Interrupted::Aborted(message)))
            }
            other => FacadeFailure::Guest(other.into()),
        }
    }
}

impl HostState {
    /// Send `request` to the client and wait for the answer. The call's
    /// deadline does not run meanwhile (the client's own timeout bounds the
    /// wait). A replay divergence ends the call.
    pub(crate) async fn ask_client(
        &mut self,
        request: ClientRequest,
    ) -> FacadeResult<ClientAnswer> {
        if self.call.cancel.is_cancelled() {
            return Err(types::FacadeError::Cancelled.into());
        }
        let _paused = self.clock.pause();
        let parent = self.spans.current(&self.call.span);
        let span = spans::client_request(parent, request.kind().method());
        let cancel = self.call.cancel.clone();
        let outcome = tokio::select! {
            r = self.call.channel.request(request).instrument(span.clone()) => r,
            () = cancel.cancelled() => Err(FacadeError::Cancelled),
        };
        if let Err(error) = &outcome {
            spans::fail(&span, error.kind_name(), None, &error.to_string());
        }
        Ok(outcome?)
    }
}

/// An answer of another kind than the question (a host bug: the channel
/// reads the answer for the question's kind).
pub(crate) fn unexpected_answer(what: &str, answer: &ClientAnswer) -> types::FacadeError {
    types::FacadeError::Failed(format!(
        "the client's {what} answer came back as another kind of answer: {answer:?}"
    ))
}
