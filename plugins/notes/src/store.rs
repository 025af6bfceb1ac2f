//! The notes of a session, in its session state: the text of each note
//! under `note:<name>`, and the sorted list of names under `note-index`.

use mcp_plugin::{Context, FacadeError, Session};

/// The key of the index of note names.
const INDEX: &str = "note-index";

/// The longest note name, in bytes.
const MAX_NAME: usize = 64;

/// The URI of the note `name`.
pub fn uri(name: &str) -> String {
    format!("note://{name}")
}

/// Check a note name: names appear in `note://<name>` URIs, so they are
/// kept to characters that need no escaping there.
pub fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid note name: use 1 to {MAX_NAME} ASCII letters, digits, \
             `-`, `_` or `.`"
        ))
    }
}

fn key(name: &str) -> String {
    format!("note:{name}")
}

/// The session's notes.
pub struct Notes<'a> {
    session: Session<'a>,
}

impl<'a> Notes<'a> {
    pub fn of(ctx: &'a Context) -> Self {
        Self {
            session: ctx.session(),
        }
    }

    /// The names of every note, sorted.
    pub fn names(&self) -> Result<Vec<String>, FacadeError> {
        Ok(self.session.get::<Vec<String>>(INDEX)?.unwrap_or_default())
    }

    /// The text of the note `name`, if it exists.
    pub fn get(&self, name: &str) -> Result<Option<String>, FacadeError> {
        self.session.get::<String>(&key(name))
    }

    /// Write the note `name`; true if it is new.
    pub fn put(&self, name: &str, text: &str) -> Result<bool, FacadeError> {
        self.session.set(&key(name), text)?;
        let mut names = self.names()?;
        match names.binary_search_by(|probe| probe.as_str().cmp(name)) {
            Ok(_) => Ok(false),
            Err(at) => {
                names.insert(at, name.to_owned());
                self.session.set(INDEX, &names)?;
                Ok(true)
            }
        }
    }

    /// Delete the note `name`; true if it existed.
    pub fn delete(&self, name: &str) -> Result<bool, FacadeError> {
        let existed = self.session.delete(&key(name))?;
        let mut names = self.names()?;
        if let Ok(at) = names.binary_search_by(|probe| probe.as_str().cmp(name)) {
            names.remove(at);
            self.session.set(INDEX, &names)?;
        }
        Ok(existed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_fit_in_a_uri() {
        assert!(check_name("groceries-2024.v1_x").is_ok());
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(uri("ideas"), "note://ideas");
    }
}
