//! The standard process metrics (`process_*`, as Prometheus clients name
//! them), read from `/proc` at each scrape on Linux; elsewhere none.

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// `/proc` reports times in these ticks per second on every Linux.
const USER_HZ: f64 = 100.0;

/// What `/proc` says of this process.
#[derive(Debug, Default, PartialEq)]
struct ProcessFacts {
    cpu_seconds: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    threads: u64,
    start_time_seconds: f64,
    open_fds: Option<u64>,
    max_fds: Option<u64>,
}

/// Fields of `/proc/self/stat` (the text after the command's closing
/// parenthesis, which may itself hold spaces and parentheses), with the
/// boot time from `/proc/stat` and the page size.
fn parse(stat: &str, boot_time: f64, page_size: u64) -> Option<ProcessFacts> {
    let after_command = &stat[stat.rfind(')')? + 2..];
    // Fields from the third (state), so field n of proc(5) is n - 3 here.
    let fields: Vec<&str> = after_command.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(ProcessFacts {
        cpu_seconds: (field(14)? + field(15)?) as f64 / USER_HZ,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page_size,
        threads: field(20)?,
        start_time_seconds: boot_time + field(22)? as f64 / USER_HZ,
        open_fds: None,
        max_fds: None,
    })
}

#[cfg(target_os = "linux")]
fn facts() -> Option<ProcessFacts> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot_time = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<f64>().ok())?;
    let mut facts = parse(&stat, boot_time, rustix::param::page_size() as u64)?;
    facts.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.count() as u64);
    facts.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()?
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse().ok());
    Some(facts)
}

#[cfg(not(target_os = "linux"))]
fn facts() -> Option<ProcessFacts> {
    None
}

/// Write the process metrics, when this system tells them.
pub(super) fn encode(encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
    let Some(facts) = facts() else {
        return Ok(());
    };
    ConstCounter::new(facts.cpu_seconds).encode(encoder.encode_descriptor(
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds.",
        None,
        MetricType::Counter,
    )?)?;
    let gauges = [
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            Some(facts.resident_bytes as f64),
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            Some(facts.virtual_bytes as f64),
        ),
        (
            "process_threads",
            "Number of OS threads in the process.",
            Some(facts.threads as f64),
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            Some(facts.start_time_seconds),
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            facts.open_fds.map(|n| n as f64),
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            facts.max_fds.map(|n| n as f64),
        ),
    ];
    for (name, help, value) in gauges {
        if let Some(value) = value {
            ConstGauge::new(value).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_the_process_facts() {
        // A command name with a space and a parenthesis, as a process may have.
        let stat = "4242 (odd) name) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 \
                    7 0 12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let facts = parse(stat, 1_700_000_000.0, 4096).unwrap();
        assert_eq!(facts.cpu_seconds, 3.0);
        assert_eq!(facts.threads, 7);
        assert_eq!(facts.virtual_bytes, 104_857_600);
        assert_eq!(facts.resident_bytes, 2560 * 4096);
        assert_eq!(facts.start_time_seconds, 1_700_000_000.0 + 123.45);
    }

    #[test]
    fn a_truncated_stat_line_gives_nothing() {
        assert_eq!(parse("4242 (x) S 1 2", 0.0, 4096), None);
        assert_eq!(parse("garbage", 0.0, 4096), None);
    }
}
