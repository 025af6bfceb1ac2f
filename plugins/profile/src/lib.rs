//! Example plugin: the user's profile, asked once per session.
//!
//! `profile` returns the profile stored in the session; the first time, it
//! asks the user to fill in a form generated from [`Profile`]
//! (elicitation), checks the answer and stores it. `forget_profile` deletes
//! it, so the next `profile` asks again.

use mcp_plugin::{Context, Elicited, FacadeError, Registry, Tool, ToolError, ToolOutput};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Where the profile lives in session state.
const KEY: &str = "profile";

/// The user's profile: the form the user fills in, and what is stored.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
struct Profile {
    /// Your full name.
    name: String,
    /// Your email address.
    #[schemars(email)]
    email: String,
    /// Your role, for example "maintainer" (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

impl Profile {
    /// Trim the fields and check them; the error says what to fix.
    fn validated(self) -> Result<Self, String> {
        let name = self.name.trim().to_owned();
        let email = self.email.trim().to_owned();
        let role = self
            .role
            .map(|role| role.trim().to_owned())
            .filter(|role| !role.is_empty());
        if name.is_empty() {
            return Err("the name is empty".into());
        }
        let plausible_email = email.split_once('@').is_some_and(|(user, domain)| {
            !user.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
        if !plausible_email || email.contains(char::is_whitespace) {
            return Err(format!("`{email}` is not an email address"));
        }
        Ok(Self { name, email, role })
    }

    fn describe(&self) -> String {
        match &self.role {
            Some(role) => format!("{} <{}>, {role}", self.name, self.email),
            None => format!("{} <{}>", self.name, self.email),
        }
    }
}

/// Where the returned profile came from.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum Source {
    /// Stored earlier in this session.
    Session,
    /// Just filled in by the user, and now stored.
    Form,
    /// The user did not fill in the form; nothing is stored.
    #[serde(rename = "none")]
    NotGiven,
}

#[derive(Debug, Serialize, JsonSchema)]
struct ProfileResult {
    /// The profile, unless the user declined to give one.
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<Profile>,
    /// Where the profile came from.
    source: Source,
}

fn state_error(error: FacadeError) -> ToolError {
    ToolError::new(format!("cannot use the session's state: {error}"))
}

fn result(profile: Option<Profile>, source: Source, text: String) -> Result<ToolOutput, ToolError> {
    Ok(ToolOutput::structured(&ProfileResult { profile, source })?.with_text(text))
}

fn profile(ctx: &Context, (): ()) -> Result<ToolOutput, ToolError> {
    let session = ctx.session();
    if let Some(stored) = session.get::<Profile>(KEY).map_err(state_error)? {
        let text = format!("Profile: {}", stored.describe());
        return result(Some(stored), Source::Session, text);
    }
    let answer = ctx
        .elicit::<Profile>("Please share your profile; it is kept for this session only.")
        .map_err(|error| ToolError::new(format!("cannot ask for the profile: {error}")))?;
    let profile = match answer {
        Elicited::Accepted(profile) => profile,
        Elicited::Declined => {
            let text = "You declined to share a profile; nothing was stored.".to_owned();
            return result(None, Source::NotGiven, text);
        }
        Elicited::Cancelled => {
            let text = "The profile form was dismissed; nothing was stored.".to_owned();
            return result(None, Source::NotGiven, text);
        }
    };
    let profile = profile
        .validated()
        .map_err(|problem| ToolError::new(format!("{problem}; nothing was stored")))?;
    session.set(KEY, &profile).map_err(state_error)?;
    let text = format!("Profile stored for this session: {}", profile.describe());
    result(Some(profile), Source::Form, text)
}

#[derive(Debug, Serialize, JsonSchema)]
struct Forgotten {
    /// Whether a profile was stored before.
    forgotten: bool,
}

fn forget_profile(ctx: &Context, (): ()) -> Result<ToolOutput, ToolError> {
    let forgotten = ctx.session().delete(KEY).map_err(state_error)?;
    let text = if forgotten {
        "Profile forgotten; the next request for it asks again."
    } else {
        "No profile was stored."
    };
    Ok(ToolOutput::structured(&Forgotten { forgotten })?.with_text(text))
}

fn register(registry: &mut Registry) {
    registry
        .tool(
            Tool::new(
                "profile",
                "The user's profile (name, email, role). Asks the user with a form the first \
                 time in a session, then remembers the answer.",
            )
            .title("Profile")
            .output::<ProfileResult>()
            .handler(profile),
        )
        .tool(
            Tool::new(
                "forget_profile",
                "Forget the profile stored for this session; the next `profile` asks again.",
            )
            .title("Forget profile")
            .destructive()
            .idempotent()
            .output::<Forgotten>()
            .handler(forget_profile),
        );
}

mcp_plugin::plugin!(register);

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(name: &str, email: &str, role: Option<&str>) -> Profile {
        Profile {
            name: name.into(),
            email: email.into(),
            role: role.map(Into::into),
        }
    }

    #[test]
    fn answers_are_trimmed_and_checked() {
        let ok = profile(" Ada ", "ada@example.com ", Some("  "))
            .validated()
            .unwrap();
        assert_eq!(ok.name, "Ada");
        assert_eq!(ok.email, "ada@example.com");
        assert_eq!(ok.role, None);
        assert_eq!(ok.describe(), "Ada <ada@example.com>");
        assert!(profile("", "a@b.c", None).validated().is_err());
        for email in ["ada", "@example.com", "ada@example", "ada@.com", "a da@b.c"] {
            assert!(profile("Ada", email, None).validated().is_err(), "{email}");
        }
    }
}
