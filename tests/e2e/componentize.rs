//! `mcp-wasm-host componentize`: a core module from a toolchain that does not
//! embed its WIT world gets it from `--wit` and `--world`, and the component
//! serves; bad input is refused with the reason.

use std::process::Command;

use serde_json::json;

use super::support::*;

/// The C example's core module (from `scripts/build-plugins.sh`) with every
/// `component-type` custom section removed, as a toolchain without
/// wit-bindgen's metadata would produce it.
fn stripped_core_module() -> Vec<u8> {
    let path = repo_root().join("target/guest/polyglot/checksum-c/checksum-c.core.wasm");
    let module = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/build-plugins.sh)", path.display()));
    let mut out = module[..8].to_vec(); // magic and version
    let mut stripped = 0;
    for payload in wasmparser::Parser::new(0).parse_all(&module) {
        let payload = payload.unwrap();
        if let wasmparser::Payload::CustomSection(reader) = &payload
            && reader.name().starts_with("component-type")
        {
            stripped += 1;
            continue;
        }
        if let Some((id, range)) = payload.as_section() {
            out.push(id);
            let mut size = range.len();
            loop {
                let byte = (size & 0x7f) as u8;
                size >>= 7;
                out.push(if size == 0 { byte } else { byte | 0x80 });
                if size == 0 {
                    break;
                }
            }
            out.extend_from_slice(&module[range]);
        }
    }
    assert!(stripped > 0, "the module carried no component-type section");
    out
}

fn componentize(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(host_binary())
        .arg("componentize")
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_module_without_its_world_is_componentized_from_wit() {
    let work = PluginDir::empty();
    let core = work.path.join("core.wasm");
    std::fs::write(&core, stripped_core_module()).unwrap();
    let out = work.path.join("checksum-c.wasm");

    // Without the world, the encoder cannot know the module's interfaces.
    let refused = componentize(&[core.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--wit DIR --world NAME"), "{stderr}");
    assert!(!out.exists(), "nothing is written on failure");

    let manifest = repo_root().join("plugins/checksum-c/checksum-c.toml");
    let wit = work.path.join("wit");
    let world = Command::new(host_binary())
        .args(["plugin", "wit"])
        .arg(&manifest)
        .arg("--out")
        .arg(&wit)
        .output()
        .unwrap();
    assert!(world.status.success());
    let world = String::from_utf8(world.stdout).unwrap();
    let made = componentize(&[
        core.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--wit".as_ref(),
        wit.as_os_str(),
        "--world".as_ref(),
        world.trim().as_ref(),
    ]);
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    let plugins = PluginDir::empty();
    plugins.write("checksum-c.wasm", std::fs::read(&out).unwrap());
    plugins.write("checksum-c.toml", std::fs::read(&manifest).unwrap());
    let host = Connected::start(&plugins, HostOptions::new(Era::Handshake, Transport::Stdio))
        .await
        .unwrap();
    let crc = host.call_ok("crc32", json!({"text": "hello"})).await;
    assert_eq!(text_of(&crc), "3610a686");
    host.shutdown().await;
}

#[test]
fn componentize_names_what_is_wrong_with_its_input() {
    let work = PluginDir::empty();
    let out = work.path.join("out.wasm");
    let garbage = work.path.join("garbage.wasm");
    std::fs::write(&garbage, b"not wasm at all").unwrap();
    let refused = componentize(&[garbage.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("not a core WebAssembly module"), "{stderr}");

    let component = example_plugins().join("hello.wasm");
    let refused = componentize(&[component.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("already a component"), "{stderr}");

    let core = work.path.join("core.wasm");
    std::fs::write(&core, stripped_core_module()).unwrap();
    let missing = work.path.join("no-such-wit");
    let refused = componentize(&[
        core.as_os_str(),
        "-o".as_ref(),
        out.as_os_str(),
        "--wit".as_ref(),
        missing.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("cannot read the WIT package"), "{stderr}");
    assert!(!out.exists());
}
