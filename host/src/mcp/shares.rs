//! Each principal's share of the host: at most `max` calls of one principal
//! run at once (`--max-calls-per-principal`): tool calls, and over HTTP the
//! requests that run plugin exports (resource listings and reads, prompts,
//! completions), so one caller flooding the host cannot take every sandbox
//! and starve the others. Over stdio the one client is one principal, and
//! its tool calls beyond the share wait in the wire
//! ([`super::stdio_window`]) rather than being refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Calls running, by principal.
#[derive(Debug)]
pub struct CallShares {
    max: usize,
    running: Mutex<HashMap<String, usize>>,
}

/// One running call's place in its principal's share; dropping it frees it.
#[derive(Debug)]
pub struct CallShare {
    shares: Arc<CallShares>,
    principal: String,
}

impl CallShares {
    pub const DEFAULT_MAX: usize = 64;

    pub fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            running: Mutex::new(HashMap::new()),
        }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, usize>> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Why a call of `principal` found its share taken.
    pub fn refusal(&self, principal: &str) -> String {
        format!(
            "{} already has {} calls running, the most one caller may \
             (--max-calls-per-principal); call again when one has finished",
            if principal.is_empty() {
                "this client".to_string()
            } else {
                format!("principal `{principal}`")
            },
            self.max
        )
    }

    /// A place for one more call of `principal`, unless it has `max`
    /// running.
    pub fn take(self: &Arc<Self>, principal: &str) -> Option<CallShare> {
        let mut running = self.lock();
        let count = running.entry(principal.to_string()).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(CallShare {
            shares: self.clone(),
            principal: principal.to_string(),
        })
    }
}

impl Drop for CallShare {
    fn drop(&mut self) {
        let mut running = self.shares.lock();
        if let Some(count) = running.get_mut(&self.principal) {
            *count -= 1;
            if *count == 0 {
                running.remove(&self.principal);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_principal_has_its_own_share() {
        let shares = Arc::new(CallShares::new(2));
        let a1 = shares.take("a").unwrap();
        let _a2 = shares.take("a").unwrap();
        assert!(shares.take("a").is_none(), "a is at its share");
        let _b = shares.take("b").expect("b is not starved by a");
        drop(a1);
        assert!(shares.take("a").is_some(), "a finished call frees a place");
    }
}
