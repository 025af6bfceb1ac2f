//! Asking the user for input through the client (`elicitation/create`).
//!
//! [`Context::elicit`] shows the user a form generated from a Rust type and
//! returns the answer as that type; [`Context::elicit_schema`] does the same
//! with a JSON Schema written by hand; [`Context::elicit_url`] sends the
//! user to a web page (to sign in somewhere, say) and reports their choice.
//! Each call blocks until the user answers, the request is cancelled, or the
//! host's timeout passes.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::bindings::mcp::plugin::elicitation as host;
use crate::context::Context;
use crate::error::FacadeError;
use crate::form_schema::{form_schema_of, type_name};

/// What the user did with a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Elicited<T> {
    /// The user submitted the form; here is the answer.
    Accepted(T),
    /// The user explicitly refused.
    Declined,
    /// The user dismissed the request without choosing.
    Cancelled,
}

impl<T> Elicited<T> {
    /// The answer, if the user accepted.
    pub fn accepted(self) -> Option<T> {
        match self {
            Self::Accepted(answer) => Some(answer),
            Self::Declined | Self::Cancelled => None,
        }
    }

    /// Whether the user accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted(_))
    }

    /// Convert an accepted answer, keeping a refusal as it is.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Elicited<U> {
        match self {
            Self::Accepted(answer) => Elicited::Accepted(f(answer)),
            Self::Declined => Elicited::Declined,
            Self::Cancelled => Elicited::Cancelled,
        }
    }
}

/// What the user did with a URL request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlOutcome {
    /// The user agreed to open the URL.
    Accepted,
    /// The user explicitly refused.
    Declined,
    /// The user dismissed the request without choosing.
    Cancelled,
}

impl Context {
    /// Ask the user to fill in a form for `T` and return their answer.
    ///
    /// The form's schema is `T`'s JSON Schema, flattened to what MCP
    /// elicitation accepts: `T` must be a struct whose fields are strings,
    /// numbers, booleans, `Option`s of those, unit enums (single-select) or
    /// `Vec`s of unit enums (multi-select). Doc comments become field
    /// descriptions and `#[serde(default = ...)]` values become defaults.
    ///
    /// ```no_run
    /// # use mcp_plugin::{Context, Elicited, ToolError};
    /// #[derive(serde::Deserialize, schemars::JsonSchema)]
    /// struct Confirm {
    ///     /// Type the project's name to confirm.
    ///     project: String,
    /// }
    ///
    /// fn delete(ctx: &Context) -> Result<String, ToolError> {
    ///     match ctx.elicit::<Confirm>("Really delete the project?")? {
    ///         Elicited::Accepted(answer) => Ok(format!("deleting {}", answer.project)),
    ///         Elicited::Declined | Elicited::Cancelled => Ok("kept".into()),
    ///     }
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// A [`FacadeError`] when the client cannot elicit, the host refuses,
    /// time runs out or the request is cancelled, and
    /// [`FacadeError::InvalidInput`] when the answer does not deserialize as
    /// `T` (the message says why).
    ///
    /// # Panics
    ///
    /// If `T` cannot be shown as a flat form (a nested struct, a list of
    /// strings, ...); the message names the type and the field.
    pub fn elicit<T: JsonSchema + DeserializeOwned>(
        &self,
        message: &str,
    ) -> Result<Elicited<T>, FacadeError> {
        match self.elicit_schema(message, form_schema_of::<T>())? {
            Elicited::Accepted(answer) => serde_json::from_value(answer)
                .map(Elicited::Accepted)
                .map_err(|error| {
                    FacadeError::InvalidInput(format!(
                        "the answer does not fit `{}`: {error}",
                        type_name::<T>()
                    ))
                }),
            Elicited::Declined => Ok(Elicited::Declined),
            Elicited::Cancelled => Ok(Elicited::Cancelled),
        }
    }

    /// Ask the user to fill in a form described by `requested_schema`, sent
    /// as given. It should be an object schema with flat primitive
    /// properties; the host validates the answer against it before
    /// returning [`Elicited::Accepted`] with the answer (a JSON object).
    pub fn elicit_schema(
        &self,
        message: &str,
        requested_schema: serde_json::Value,
    ) -> Result<Elicited<serde_json::Value>, FacadeError> {
        match host::elicit_form(message, &requested_schema.to_string())? {
            host::FormOutcome::Accepted(answer) => serde_json::from_str(&answer)
                .map(Elicited::Accepted)
                .map_err(|error| {
                    FacadeError::Failed(format!(
                        "the host returned an answer that is not JSON: {error}"
                    ))
                }),
            host::FormOutcome::Declined => Ok(Elicited::Declined),
            host::FormOutcome::Cancelled => Ok(Elicited::Cancelled),
        }
    }

    /// Ask the user to open `url` (to sign in or pay somewhere, say) and
    /// report what they chose. `elicitation_id` identifies this request in
    /// later completion notices; make it unique per request.
    pub fn elicit_url(
        &self,
        message: &str,
        url: &str,
        elicitation_id: &str,
    ) -> Result<UrlOutcome, FacadeError> {
        Ok(match host::elicit_url(message, url, elicitation_id)? {
            host::UrlOutcome::Accepted => UrlOutcome::Accepted,
            host::UrlOutcome::Declined => UrlOutcome::Declined,
            host::UrlOutcome::Cancelled => UrlOutcome::Cancelled,
        })
    }
}
