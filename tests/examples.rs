//! The README's example compiles (it is `examples/quickstart.rs`, which
//! `cargo test` builds), runs against a memcached this test starts, and is
//! the README's text verbatim, so the README cannot drift from code that
//! works.

use std::path::{Path, PathBuf};
use std::process::Command;

use memcache_collections::memcached::{LocalServer, LocalServerConfig};

// Each test builds the example; one at a time is enough.
static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The newest modification time of `path` and everything under it.
fn newest(path: &Path) -> std::time::SystemTime {
    let own = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH);
    match std::fs::read_dir(path) {
        Ok(entries) => entries.flatten().map(|e| newest(&e.path())).fold(own, std::cmp::max),
        Err(_) => own,
    }
}

/// The example's binary, built (or found up to date) by the same cargo
/// and profile that built this test (`target/<profile>/deps/<test>`). A
/// whole `cargo test` has just built it, with this build's features: it is
/// used when it is newer than everything it is built from (the library's
/// sources, the example, the manifests). Otherwise `cargo build` makes it,
/// which with other features than the test build's rebuilds the library
/// (half a minute in the `ci` profile).
fn example(name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let profile_dir = deps.parent().and_then(Path::parent).unwrap().to_owned();
    let built = profile_dir.join("examples").join(name);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let sources = ["src", "examples", "Cargo.toml", "Cargo.lock"].map(|p| newest(&root.join(p)));
    let fresh = std::fs::metadata(&built)
        .and_then(|m| m.modified())
        .is_ok_and(|binary| sources.iter().all(|source| *source <= binary));
    if fresh {
        return built;
    }
    let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => "dev".to_owned(),
        Some(other) => other.to_owned(),
    };
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--profile", &profile, "--example", name])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo build --profile {profile} --example {name} failed"
    );
    profile_dir.join("examples").join(name)
}

#[test]
fn the_quickstart_runs_twice_on_one_queue() {
    let server = LocalServer::start(LocalServerConfig::default()).unwrap();
    let binary = {
        let _one = BUILD.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        example("quickstart")
    };
    for run in 0..2 {
        let output = Command::new(&binary)
            .env("MEMCACHED", server.address())
            .output()
            .unwrap_or_else(|e| panic!("cannot run the example (cargo test builds it): {e}"));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "run {run}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(stdout.trim(), "jobs: took \"resize image 42\"", "run {run}");
    }
    // Each run settled: no popped node is left behind.
    let nodes: Vec<String> = (server.keys().unwrap().iter())
        .map(|key| String::from_utf8_lossy(key.as_bytes()).into_owned())
        .filter(|key| key.starts_with("jobs:"))
        .collect();
    assert!(nodes.is_empty(), "nodes left behind: {nodes:?}");
}

#[test]
fn the_quickstart_names_a_server_that_does_not_answer() {
    // A port nobody listens on: connect fails at once, naming it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let binary = {
        let _one = BUILD.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        example("quickstart")
    };
    let output = Command::new(binary)
        .env("MEMCACHED", format!("127.0.0.1:{port}"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{port} does not answer")),
        "{stderr}"
    );
}

#[test]
fn the_readme_shows_the_quickstart_verbatim() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("examples/quickstart.rs")).unwrap();
    let code = &example[example.find("use memcache_collections").unwrap()..];
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(code),
        "README.md's library example differs from examples/quickstart.rs"
    );
}
