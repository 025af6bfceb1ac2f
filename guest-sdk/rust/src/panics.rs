//! Panics reported to the host. A plugin built with `panic = "abort"` ends
//! a panic with a trap, which tells the host nothing about it; the hook
//! installed here first hands the panic's message and location to the host
//! (`context.report-panic`), which names the message in the call's error
//! and logs it with the location.

/// Install the hook, once per instance (every export calls this first).
/// Only on WebAssembly, where the host is there to hear it; the hook
/// replaces the default one, which has nowhere to print there.
pub(crate) fn install_hook() {
    #[cfg(target_family = "wasm")]
    {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| std::panic::set_hook(Box::new(report)));
    }
}

#[cfg(target_family = "wasm")]
fn report(info: &std::panic::PanicHookInfo<'_>) {
    let message = info.payload_as_str().unwrap_or("a panic without a message");
    let location = info
        .location()
        .map(|at| format!("{}:{}:{}", at.file(), at.line(), at.column()));
    crate::bindings::mcp::plugin::context::report_panic(message, location.as_deref());
}
