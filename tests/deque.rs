//! The deque's behaviour, run against the in-process store and real
//! memcached (one and three servers) with the same bodies.

mod common;

use memcache_collections::deque::{CorruptionKind, NameError};
use memcache_collections::format::{self, NodeId};
use memcache_collections::store::{Command, CountingStore, Reply, StoreError, block_on};
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};

use memcache_collections::{BlockingDeque, DequeError, DequeOptions, Key, Store, Variant};

fn options() -> DequeOptions {
    DequeOptions::default()
}

fn anchor_of<S: Store + Debug>(store: &S, name: &str) -> format::Anchor {
    let item = block_on(store.gets(&Key::new(name).unwrap()))
        .unwrap()
        .expect("anchor present");
    format::decode_anchor(&item.value).unwrap()
}

fn node_key(name: &str, id: NodeId) -> Key {
    Key::new(format!("{name}:{id}")).unwrap()
}

/// The 2013 library's single-client checks, reconstructed (its test file is
/// not in this repository): both ends, empty pops, order across ends.
fn seed_sequence<S: Store + Debug>(store: &S) {
    let mut deque = BlockingDeque::create(store, Some("seed"), options()).unwrap();
    assert_eq!(deque.pop_front().unwrap(), None);
    assert_eq!(deque.pop_back().unwrap(), None);
    for value in ["a", "b", "c"] {
        deque.push_back(value).unwrap();
    }
    deque.push_front("z").unwrap();
    assert_eq!(deque.pop_front().unwrap().as_deref(), Some(&b"z"[..]));
    assert_eq!(deque.pop_back().unwrap().as_deref(), Some(&b"c"[..]));
    assert_eq!(deque.pop_front().unwrap().as_deref(), Some(&b"a"[..]));
    assert_eq!(deque.pop_back().unwrap().as_deref(), Some(&b"b"[..]));
    assert_eq!(deque.pop_back().unwrap(), None);
    deque.push_front("only").unwrap();
    assert_eq!(deque.pop_back().unwrap().as_deref(), Some(&b"only"[..]));
    deque.push_back("").unwrap();
    assert_eq!(deque.pop_front().unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(deque.pop_front().unwrap(), None);
}

fn create_and_bind<S: Store + Debug>(store: &S) {
    let mut first = BlockingDeque::create(store, Some("jobs"), options()).unwrap();
    first.push_back("x").unwrap();
    assert_eq!(
        BlockingDeque::create(store, Some("jobs"), options()).unwrap_err(),
        DequeError::AlreadyExists { name: "jobs".into() }
    );
    let mut second = BlockingDeque::bind(store, "jobs", options()).unwrap();
    assert_eq!(second.pop_front().unwrap().as_deref(), Some(&b"x"[..]));
    assert_eq!(
        BlockingDeque::bind(store, "absent", options()).unwrap_err(),
        DequeError::NotFound { name: "absent".into() }
    );
    let a = BlockingDeque::create(store, None, options()).unwrap();
    let b = BlockingDeque::create(store, None, options()).unwrap();
    assert_ne!(a_name(a), a_name(b));
    for bad in ["has space", "line\nbreak", ""] {
        assert!(matches!(
            BlockingDeque::create(store, Some(bad), options()),
            Err(DequeError::InvalidName {
                reason: NameError::Key(_),
                ..
            })
        ));
    }
}

fn a_name<S: Store + Debug>(mut deque: BlockingDeque<S>) -> String {
    deque.as_async().name().to_owned()
}

/// Values exactly at the limit are stored (also as middle nodes, which
/// carry both links); one byte more is refused before anything is sent.
fn values_at_the_size_limit<S: Store + Debug>(store: &S) {
    let name = "n".repeat(memcache_collections::deque::NAME_LEN_MAX);
    let mut deque = BlockingDeque::create(store, Some(&name), options()).unwrap();
    let max = deque.as_async().value_len_max();
    assert_eq!(max, 1_048_576 - 59 - 250 - 36);
    let values: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; max]).collect();
    for value in &values {
        deque.push_back(value.clone()).unwrap();
    }
    let too_large = deque.push_front(vec![9; max + 1]).unwrap_err();
    assert!(
        matches!(too_large, DequeError::ValueTooLarge { len_bytes, len_max_bytes, .. }
        if len_bytes == max + 1 && len_max_bytes == max)
    );
    for value in &values {
        assert_eq!(deque.pop_front().unwrap().as_ref(), Some(value));
    }
    assert_eq!(deque.pop_front().unwrap(), None);
}

fn garbage_under_the_anchor_is_corruption<S: Store + Debug>(store: &S) {
    let mut deque = BlockingDeque::create(store, Some("garbled"), options()).unwrap();
    block_on(store.set(&Key::new("garbled").unwrap(), b"\x80\x04pickle".to_vec())).unwrap();
    for result in [deque.push_back("v").map(|_| None), deque.pop_front()] {
        assert!(matches!(
            result,
            Err(DequeError::Corruption {
                kind: CorruptionKind::Malformed(_),
                ..
            })
        ));
    }
    assert!(matches!(
        BlockingDeque::bind(store, "garbled", options()),
        Err(DequeError::Corruption {
            kind: CorruptionKind::Malformed(_),
            ..
        })
    ));
}

fn garbage_under_a_node_is_corruption<S: Store + Debug>(store: &S) {
    let mut deque = BlockingDeque::create(store, Some("garbled-node"), options()).unwrap();
    deque.push_back("a").unwrap();
    deque.push_back("b").unwrap();
    let right = anchor_of(store, "garbled-node").right.unwrap();
    let key = node_key("garbled-node", right);
    block_on(store.set(&key, vec![0xD9, 1, b'N', 0xFF])).unwrap();
    let error = deque.pop_back().unwrap_err();
    assert!(
        matches!(&error, DequeError::Corruption { key: k, kind: CorruptionKind::Malformed(_), .. } if *k == key),
        "{error}"
    );
}

fn a_lost_anchor_is_corruption_at_once<S: Store + Debug>(store: &S) {
    let mut deque = BlockingDeque::create(store, Some("lost-anchor"), options()).unwrap();
    deque.push_back("a").unwrap();
    block_on(store.delete(&Key::new("lost-anchor").unwrap())).unwrap();
    assert!(matches!(
        deque.pop_front(),
        Err(DequeError::Corruption {
            kind: CorruptionKind::MissingAnchor,
            ..
        })
    ));
    assert!(matches!(
        deque.push_front("b"),
        Err(DequeError::Corruption {
            kind: CorruptionKind::MissingAnchor,
            ..
        })
    ));
}

/// A node the anchor still names, missing twice in a row, is lost for good.
fn a_lost_node_is_corruption_not_a_wrong_answer<S: Store + Debug>(store: &S) {
    let mut deque = BlockingDeque::create(store, Some("lost-node"), options()).unwrap();
    deque.push_back("a").unwrap();
    deque.push_back("b").unwrap();
    let right = anchor_of(store, "lost-node").right.unwrap();
    block_on(store.delete(&node_key("lost-node", right))).unwrap();
    let error = deque.pop_back().unwrap_err();
    assert_eq!(
        error,
        DequeError::Corruption {
            op: memcache_collections::deque::OpKind::PopBack,
            key: node_key("lost-node", right),
            kind: CorruptionKind::MissingNode(right),
        }
    );
}

/// An end node that has lost its inward link while the anchor stands still
/// is a broken structure: reported as corruption naming the node, not
/// retried as if another client had moved the anchor.
fn a_broken_link_under_a_still_anchor_is_corruption<S: Store + Debug>(store: &S) {
    let mut deque = BlockingDeque::create(store, Some("broken-link"), options()).unwrap();
    deque.push_back("a").unwrap();
    deque.push_back("b").unwrap();
    let right = anchor_of(store, "broken-link").right.unwrap();
    let key = node_key("broken-link", right);
    let node = format::decode_node(&block_on(store.gets(&key)).unwrap().unwrap().value).unwrap();
    let unlinked = format::Node { prev: None, ..node };
    block_on(store.set(&key, format::encode_node(&unlinked))).unwrap();
    match deque.pop_back() {
        Err(DequeError::Corruption {
            key: found,
            kind: CorruptionKind::BrokenLink(_),
            ..
        }) => assert_eq!(found, key),
        other => panic!("expected a broken link at {key}, got {other:?}"),
    }
}

/// A store that lets a second client push `z` at the back just before the
/// first `gets` of `watch`: the interleaving that the 2003 pusher's own
/// stabilize must survive.
#[derive(Debug)]
struct PushBeforeRead<'a, S> {
    inner: &'a S,
    name: &'a str,
    options: DequeOptions,
    watch: Key,
    armed: AtomicBool,
}

impl<S: Store> Store for PushBeforeRead<'_, S> {
    async fn call(&self, command: Command) -> Result<Reply, StoreError> {
        let watched = matches!(&command, Command::Gets { key } if *key == self.watch);
        if watched && self.armed.swap(false, Ordering::SeqCst) {
            let mut other = memcache_collections::Deque::bind(self.inner, self.name, self.options.clone())
                .await
                .unwrap();
            other.push_back("z").await.unwrap();
        }
        self.inner.call(command).await
    }
}

/// A pusher whose neighbour another client has already linked, and whose
/// anchor another push has replaced since, leaves the anchor alone: marking
/// its own (old) anchor stable over the newer one would drop the other
/// push. `michael2003`'s pusher stabilizes with a fresh read of the anchor
/// (docs/algorithm.md); here the second client pushes `z` (finishing the
/// first push on its way) between the first pusher's CAS and its read of
/// the penultimate node. Found by mutation testing: nothing else moved the
/// anchor inside that window and then looked at the contents.
fn a_pusher_does_not_stabilize_over_a_newer_anchor<S: Store + Debug>(store: &S) {
    let options = DequeOptions {
        variant: Variant::Michael2003,
        ..options()
    };
    let name = "moved-on";
    BlockingDeque::create(store, Some(name), options.clone())
        .unwrap()
        .push_back("x")
        .unwrap();
    let x = anchor_of(store, name).right.unwrap();
    let interleaving = PushBeforeRead {
        inner: store,
        name,
        options: options.clone(),
        watch: node_key(name, x),
        armed: AtomicBool::new(true),
    };
    let mut pusher = BlockingDeque::bind(&interleaving, name, options.clone()).unwrap();
    pusher.push_back("y").unwrap();
    assert!(
        !interleaving.armed.load(Ordering::SeqCst),
        "the second client never ran"
    );
    let mut fresh = BlockingDeque::bind(store, name, options).unwrap();
    let drained: Vec<Vec<u8>> = std::iter::from_fn(|| fresh.pop_front().unwrap()).collect();
    assert_eq!(drained, [b"x".to_vec(), b"y".to_vec(), b"z".to_vec()]);
}

/// A lost node that stabilizing keeps meeting as the *penultimate* (after
/// successfully loading the last node each time) is corruption, not a race
/// to retry forever. Regression: the port once cleared its "last id I failed
/// to load" on every successful load, and the simulator caught the endless
/// retries under node loss.
fn a_lost_penultimate_node_is_corruption_not_an_endless_retry<S: Store + Debug>(store: &S) {
    let mut deque = BlockingDeque::create(store, Some("lost-pen"), options()).unwrap();
    deque.push_back("a").unwrap();
    deque.push_back("b").unwrap();
    let b = anchor_of(store, "lost-pen").right.unwrap();
    block_on(store.delete(&node_key("lost-pen", b))).unwrap();
    // The push takes effect; only linking `b` to it fails, leaving the
    // anchor mid-push with a penultimate node that is gone.
    deque.push_back("c").unwrap();
    let mut fresh = BlockingDeque::bind(store, "lost-pen", options()).unwrap();
    assert_eq!(
        fresh.pop_back().unwrap_err(),
        DequeError::Corruption {
            op: memcache_collections::deque::OpKind::PopBack,
            key: node_key("lost-pen", b),
            kind: CorruptionKind::MissingNode(b),
        }
    );
}

/// Every attempt that does not finish its operation is counted once, under
/// its cause: a CAS lost on the guessed anchor, a half-done push helped, a
/// node gone (then corruption at its second miss).
fn each_retry_is_counted_under_its_cause<S: Store + Debug>(store: &S) {
    let name = "retried";
    let mut first = BlockingDeque::create(store, Some(name), options()).unwrap();
    first.push_back("a").unwrap();
    // Linking at once, so that `first` meets a stable anchor.
    let at_once = DequeOptions {
        deferred_link: false,
        ..options()
    };
    BlockingDeque::bind(store, name, at_once)
        .unwrap()
        .push_back("b")
        .unwrap();
    // `first` starts from the anchor it wrote, which `b` has replaced.
    first.push_back("c").unwrap();
    let retries = first.as_async().retries();
    assert_eq!((retries.cas_lost_on_guess, retries.total()), (1, 1), "{retries:?}");
    assert_eq!(first.as_async().attempts(), 2 + retries.total());

    let key = Key::new(name).unwrap();
    let half_done = format::Anchor {
        status: format::Status::RightPush,
        ..anchor_of(store, name)
    };
    block_on(store.set(&key, format::encode_anchor(&half_done))).unwrap();
    let mut helper = BlockingDeque::bind(store, name, options()).unwrap();
    assert_eq!(helper.pop_front().unwrap().as_deref(), Some(&b"a"[..]));
    let retries = helper.as_async().retries();
    assert_eq!((retries.helped_push, retries.total()), (1, 1), "{retries:?}");
    assert_eq!(anchor_of(store, name).status, format::Status::Stable);

    let right = anchor_of(store, name).right.unwrap();
    block_on(store.delete(&node_key(name, right))).unwrap();
    let error = helper.pop_back().unwrap_err();
    assert!(matches!(error, DequeError::Corruption { .. }), "{error}");
    let retries = helper.as_async().retries();
    assert_eq!((retries.node_gone, retries.total()), (1, 2), "{retries:?}");
    assert_eq!(helper.as_async().attempts(), 4);
}

/// A push that kept its link back leaves the anchor half done; the next
/// client to come finishes the push (helping), and the pusher's next
/// operation, whose carried link then fails, makes no CAS from its stale
/// anchor: it reads and carries on. Nothing is lost or repeated.
fn a_deferred_link_is_finished_by_whoever_comes_first<S: Store + Debug>(store: &S) {
    let name = "deferred";
    let mut pusher = BlockingDeque::create(store, Some(name), options()).unwrap();
    pusher.push_back("a").unwrap();
    pusher.push_back("b").unwrap();
    assert_eq!(
        anchor_of(store, name).status,
        format::Status::RightPush,
        "the link is kept back"
    );
    let mut other = BlockingDeque::bind(store, name, options()).unwrap();
    assert_eq!(other.pop_front().unwrap().as_deref(), Some(&b"a"[..]));
    assert_eq!(other.as_async().retries().helped_push, 1);
    pusher.push_back("c").unwrap();
    let retries = pusher.as_async().retries();
    assert_eq!((retries.cas_lost_on_guess, retries.total()), (1, 1), "{retries:?}");
    let drained: Vec<Vec<u8>> = std::iter::from_fn(|| other.pop_front().unwrap()).collect();
    assert_eq!(drained, [b"b".to_vec(), b"c".to_vec()]);
}

/// A pop of the far end of a two-node deque whose link is still kept back
/// loads the node the link writes: the link goes first in the batch, so
/// the pop sees it (sent after, the pop read a node with no inward link and
/// reported a broken structure; the simulator's clean scenario caught it).
fn a_pop_sees_the_link_its_own_request_carries<S: Store + Debug>(store: &S) {
    let mut deque = BlockingDeque::create(store, Some("carried"), options()).unwrap();
    deque.push_back("a").unwrap();
    deque.push_back("b").unwrap();
    assert_eq!(deque.pop_front().unwrap().as_deref(), Some(&b"a"[..]));
    assert_eq!(deque.pop_front().unwrap().as_deref(), Some(&b"b"[..]));
    assert_eq!(deque.pop_front().unwrap(), None);
}

/// Every popped node is deleted, whatever else the handle's next requests
/// carry: on several servers a pop's kept-back delete waits for a request
/// to its server, and a kept-back link travelling with a request elsewhere
/// must not drop it (a review found it dropped: the node leaked until
/// eviction).
fn every_popped_node_is_deleted<S: Store + Debug>(store: &S) {
    let name = "deleted";
    let mut deque = BlockingDeque::create(store, Some(name), options()).unwrap();
    for round in 0..40 {
        deque.push_back(format!("a{round}")).unwrap();
        deque.push_back(format!("b{round}")).unwrap();
        let popped = anchor_of(store, name).left.unwrap();
        deque.pop_front().unwrap().unwrap();
        deque.push_back(format!("c{round}")).unwrap();
        deque.push_front(format!("d{round}")).unwrap();
        deque.pop_back().unwrap().unwrap();
        deque.settle();
        let left = block_on(store.gets(&node_key(name, popped))).unwrap();
        assert_eq!(left, None, "round {round}: popped node {popped} still stored");
    }
}

/// `settle` sends what a handle keeps back: its last push's link and
/// stable mark, its last pop's delete.
fn settle_leaves_the_deque_stable_and_the_popped_node_deleted<S: Store + Debug>(store: &S) {
    let name = "settled";
    let mut deque = BlockingDeque::create(store, Some(name), options()).unwrap();
    for value in ["a", "b", "c"] {
        deque.push_back(value).unwrap();
    }
    assert_eq!(anchor_of(store, name).status, format::Status::RightPush);
    deque.settle();
    assert_eq!(anchor_of(store, name).status, format::Status::Stable);
    let left = anchor_of(store, name).left.unwrap();
    assert_eq!(deque.pop_front().unwrap().as_deref(), Some(&b"a"[..]));
    deque.settle();
    assert_eq!(
        block_on(store.gets(&node_key(name, left))).unwrap(),
        None,
        "the popped node"
    );
    deque.settle();
    let mut fresh = BlockingDeque::bind(store, name, options()).unwrap();
    let drained: Vec<Vec<u8>> = std::iter::from_fn(|| fresh.pop_back().unwrap()).collect();
    assert_eq!(drained, [b"c".to_vec(), b"b".to_vec()]);
    assert_eq!(fresh.as_async().retries().total(), 0, "nobody had anything to finish");
}

/// Requests and round trips per uncontended operation, counted, for each
/// algorithm: push onto an empty deque, push onto a non-empty one (twice,
/// both ends), three pops, and a pop that finds the deque empty.
///
/// - `michael2003`, docs/algorithm.md's shape: 3, 7, 7, 4, 4, 4, 1 requests, one
///   round trip each.
/// - `hardened`: the same operations start from the client's last anchor
///   (no read), a pusher's own stabilize travels in two pipelined batches,
///   and a pop checks its node in the round trip of its CAS and leaves the
///   delete to the handle's next request: on one server 3, 6, 6, 3, 4, 4, 2
///   requests in 3, 3, 3, 2, 2, 2, 1 round trips (a batch is one round trip
///   per server it spans). On several servers a pop whose node lives away
///   from the anchor deletes it at once (3 requests, and no delete carried
///   by the next operation), so an operation may send one request less.
/// - `hardened` with `deferred_link`: a push that will start its next
///   operation from its own anchor leaves its neighbour link to that
///   operation's first request and never marks the anchor stable: 3, 4, 5,
///   4, 4, 4, 2 requests in 3, 2, 2, 2, 2, 2, 1 round trips on one server
///   (the first operation of a handle reads the anchor).
fn requests_per_uncontended_op<S: Store + Debug>(store: &S) {
    let expectations = [
        (
            Variant::Michael2003,
            false,
            [3, 7, 7, 4, 4, 4, 1],
            [3, 7, 7, 4, 4, 4, 1],
        ),
        (Variant::Hardened, false, [3, 6, 6, 3, 4, 4, 2], [3, 3, 3, 2, 2, 2, 1]),
        (Variant::Hardened, true, [3, 4, 5, 4, 4, 4, 2], [3, 2, 2, 2, 2, 2, 1]),
    ];
    let one_server = (0..32).all(|i| store.colocated(&Key::new("a").unwrap(), &Key::new(format!("k{i}")).unwrap()));
    for (variant, deferred_link, requests_expected, round_trips_expected) in expectations {
        let counting = CountingStore::new(store);
        let options = DequeOptions {
            variant,
            deferred_link,
            ..DequeOptions::default()
        };
        let name = format!("counted-{}-{deferred_link}", variant.name());
        let mut deque = BlockingDeque::create(&counting, Some(&name), options).unwrap();
        let mut measure = |op: &mut dyn FnMut(&mut BlockingDeque<&CountingStore<&S>>)| {
            let before = counting.counts();
            op(&mut deque);
            let after = counting.counts();
            (after.total() - before.total(), after.round_trips - before.round_trips)
        };
        let measured = [
            measure(&mut |d| d.push_back("a").unwrap()),
            measure(&mut |d| d.push_back("b").unwrap()),
            measure(&mut |d| d.push_front("c").unwrap()),
            measure(&mut |d| assert!(d.pop_back().unwrap().is_some())),
            measure(&mut |d| assert!(d.pop_front().unwrap().is_some())),
            measure(&mut |d| assert!(d.pop_front().unwrap().is_some())),
            measure(&mut |d| assert!(d.pop_front().unwrap().is_none())),
        ];
        let requests: Vec<u64> = measured.iter().map(|m| m.0).collect();
        let round_trips: Vec<u64> = measured.iter().map(|m| m.1).collect();
        if one_server {
            assert_eq!(requests, requests_expected, "{} requests", variant.name());
            assert_eq!(round_trips, round_trips_expected, "{} round trips", variant.name());
        } else {
            // Ops 4 to 6 follow a pop, whose delete they may carry.
            let carried_delete = |i: usize| variant == Variant::Hardened && i >= 4;
            assert!(
                (0..requests.len()).all(|i| requests[i] == requests_expected[i]
                    || (carried_delete(i) && requests[i] + 1 == requests_expected[i])),
                "{}: {requests:?} requests, expected {requests_expected:?}",
                variant.name()
            );
            assert!(
                round_trips.iter().zip(&requests).all(|(r, q)| r <= q),
                "{}: {round_trips:?} round trips for {requests:?} requests",
                variant.name()
            );
        }
    }
}

on_every_world!(
    seed_sequence,
    create_and_bind,
    values_at_the_size_limit,
    garbage_under_the_anchor_is_corruption,
    garbage_under_a_node_is_corruption,
    a_lost_anchor_is_corruption_at_once,
    a_lost_node_is_corruption_not_a_wrong_answer,
    a_lost_penultimate_node_is_corruption_not_an_endless_retry,
    a_broken_link_under_a_still_anchor_is_corruption,
    a_pusher_does_not_stabilize_over_a_newer_anchor,
    each_retry_is_counted_under_its_cause,
    a_deferred_link_is_finished_by_whoever_comes_first,
    a_pop_sees_the_link_its_own_request_carries,
    every_popped_node_is_deleted,
    settle_leaves_the_deque_stable_and_the_popped_node_deleted,
    requests_per_uncontended_op,
);
