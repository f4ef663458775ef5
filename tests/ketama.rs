//! Our ring must place keys exactly where libmemcached does. The vectors were
//! produced by libmemcached itself (scripts/ketama-vectors.sh).

use memcache_collections::routing::{KetamaRing, ServerSpec};

#[test]
fn matches_libmemcached_test_vectors() {
    let text = include_str!("data/ketama_vectors.txt");
    let mut ring = None;
    let (mut rings, mut keys) = (0, 0);
    for (line_no, line) in text.lines().enumerate() {
        if let Some(list) = line.strip_prefix("servers ") {
            let servers: Vec<ServerSpec> = list
                .split(',')
                .map(|s| {
                    let mut parts = s.split(':');
                    let (host, port, weight) = (parts.next(), parts.next(), parts.next());
                    ServerSpec {
                        host: host.unwrap().to_owned(),
                        port: port.unwrap().parse().unwrap(),
                        weight: weight.unwrap().parse().unwrap(),
                    }
                })
                .collect();
            ring = Some(KetamaRing::new(&servers));
            rings += 1;
            continue;
        }
        let (key, expected) = line.split_once(' ').unwrap();
        let got = ring.as_ref().unwrap().server_for(key.as_bytes());
        assert_eq!(
            got,
            expected.parse::<usize>().unwrap(),
            "line {}: key {key}",
            line_no + 1
        );
        keys += 1;
    }
    assert_eq!((rings, keys), (3, 600));
}
