//! Transport failures on real sockets surface as typed errors: a write with
//! no reply is "outcome unknown", a read with no reply or a refused
//! connection is "not applied", and the deque maps them to its own errors.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use memcache_collections::store::{StoreError, block_on};
use memcache_collections::{
    BlockingDeque, DequeError, DequeOptions, Key, MemcachedOptions, MemcachedStore, Store, Variant,
};

fn quick() -> MemcachedOptions {
    MemcachedOptions {
        io_timeout: Duration::from_millis(200),
        connect_timeout: Duration::from_millis(200),
    }
}

/// A server that accepts and reads everything but never answers: every
/// request is delivered and its reply lost. (`connect` refuses it, since it
/// does not answer `version`; `connect_via` does not check, so these tests
/// reach the operations.)
fn silent_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut sink = [0u8; 4096];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    address
}

#[test]
fn an_unanswered_write_has_an_unknown_outcome() {
    let server = silent_server();
    let store = MemcachedStore::connect_via(&[&server], &[&server], &quick()).unwrap();
    let key = Key::new("k").unwrap();
    let error = block_on(store.set(&key, b"v".to_vec())).unwrap_err();
    assert!(
        matches!(error, StoreError::OutcomeUnknown { command: "set", .. }),
        "{error}"
    );
    let error = block_on(store.gets(&key)).unwrap_err();
    assert!(
        matches!(error, StoreError::NotApplied { command: "gets", .. }),
        "{error}"
    );
}

#[test]
fn create_on_a_silent_server_reports_the_unknown_outcome() {
    // `michael2003` sends the anchor `add` first: unanswered, so unknown.
    let server = silent_server();
    let store = MemcachedStore::connect_via(&[&server], &[&server], &quick()).unwrap();
    let options = DequeOptions {
        variant: Variant::Michael2003,
        ..DequeOptions::default()
    };
    let error = BlockingDeque::create(&store, Some("q"), options).unwrap_err();
    assert!(error.outcome_unknown(), "{error}");
    // `hardened` first asks the server's lifetime, a read: no effect.
    let error = BlockingDeque::create(&store, Some("q"), DequeOptions::default()).unwrap_err();
    assert!(matches!(error, DequeError::Backend { .. }), "{error}");
}

#[test]
fn connect_names_a_server_that_does_not_answer() {
    let server = silent_server();
    let error = MemcachedStore::connect(&[&server], &quick()).unwrap_err();
    assert!(
        error.to_string().contains(&format!("{server} does not answer")),
        "{error}"
    );
}

#[test]
fn a_dead_server_fails_operations_without_effect() {
    let cluster = common::RealCluster::start(1);
    let address = cluster.servers[0].address();
    let store = MemcachedStore::connect(&[&address], &quick()).unwrap();
    let mut deque = BlockingDeque::create(&store, Some("q"), DequeOptions::default()).unwrap();
    deque.push_back("a").unwrap();
    drop(cluster);
    let error = deque.pop_front().unwrap_err();
    assert!(matches!(error, DequeError::Backend { .. }), "{error}");
    // The message names the server that failed.
    assert!(error.to_string().contains(&address), "{error}");
}
