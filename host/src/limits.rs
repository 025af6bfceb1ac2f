//! Execution budgets: the host's defaults, the operator's ceilings, and the
//! effective limits of one plugin (its manifest's request, clamped).

use std::time::Duration;

use crate::manifest::ManifestLimits;

/// Host-wide limits set by the operator on the command line.
#[derive(Debug, Clone)]
pub struct HostLimits {
    /// Memory a plugin gets when its manifest asks for nothing.
    pub default_memory_bytes: usize,
    /// The most memory any plugin may get, whatever its manifest asks.
    pub max_memory_bytes: usize,
    /// Wall-clock time per call when the manifest asks for nothing.
    pub default_timeout: Duration,
    /// The longest time per call any plugin may get.
    pub max_timeout: Duration,
    /// Wall-clock time per call run as a task when the manifest asks for
    /// none.
    pub default_task_timeout: Duration,
    /// The longest time per task any plugin may get.
    pub max_task_timeout: Duration,
    /// How many sandboxes may run at once across all plugins.
    pub max_instances: u32,
    /// The largest result a call may return (text, binary content and
    /// structured content together), in bytes.
    pub max_response_bytes: usize,
    /// How many calls that have run long may compute at once; 0: one
    /// fewer than the cores (at least one).
    pub long_call_lanes: usize,
}

impl Default for HostLimits {
    fn default() -> Self {
        Self {
            default_memory_bytes: 64 << 20,
            max_memory_bytes: 512 << 20,
            default_timeout: Duration::from_secs(30),
            max_timeout: Duration::from_secs(300),
            default_task_timeout: Duration::from_secs(600),
            max_task_timeout: Duration::from_secs(3600),
            max_instances: 256,
            max_response_bytes: 4 << 20,
            long_call_lanes: 0,
        }
    }
}

/// The limits one plugin's calls run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    pub memory_bytes: usize,
    pub timeout: Duration,
    /// Wall-clock time per call run as a task.
    pub task_timeout: Duration,
    /// Calls of this plugin that may run at once; `None`: only the host's
    /// sandbox count bounds them.
    pub max_concurrent: Option<u32>,
    /// Fuel per call; `None`: unmetered (the deadline still applies).
    pub fuel: Option<u64>,
}

impl HostLimits {
    /// The effective limits of a plugin: its manifest's request (or the host
    /// default), never above the operator's ceiling.
    pub fn for_plugin(&self, requested: Option<&ManifestLimits>) -> PluginLimits {
        let memory = requested
            .and_then(|l| l.memory_mib)
            .map(|mib| (mib as usize).saturating_mul(1 << 20))
            .unwrap_or(self.default_memory_bytes);
        let timeout = requested
            .and_then(|l| l.timeout_ms)
            .map(Duration::from_millis)
            .unwrap_or(self.default_timeout);
        let task_timeout = requested
            .and_then(|l| l.task_timeout_ms)
            .map(Duration::from_millis)
            .unwrap_or(self.default_task_timeout);
        PluginLimits {
            memory_bytes: memory.min(self.max_memory_bytes),
            timeout: timeout.min(self.max_timeout),
            task_timeout: task_timeout.min(self.max_task_timeout),
            max_concurrent: requested.and_then(|l| l.max_concurrent),
            fuel: requested.and_then(|l| l.fuel),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_requests_are_clamped_to_ceilings() {
        let host = HostLimits::default();
        let asked = ManifestLimits {
            memory_mib: Some(4096),
            timeout_ms: Some(10),
            task_timeout_ms: Some(u64::MAX),
            max_concurrent: Some(2),
            fuel: Some(1000),
        };
        let got = host.for_plugin(Some(&asked));
        assert_eq!(got.memory_bytes, host.max_memory_bytes);
        assert_eq!(got.timeout, Duration::from_millis(10));
        assert_eq!(got.task_timeout, host.max_task_timeout);
        assert_eq!(got.max_concurrent, Some(2));
        assert_eq!(got.fuel, Some(1000));
    }

    #[test]
    fn defaults_apply_when_nothing_is_asked() {
        let host = HostLimits::default();
        let got = host.for_plugin(None);
        assert_eq!(got.memory_bytes, host.default_memory_bytes);
        assert_eq!(got.timeout, host.default_timeout);
    }
}
