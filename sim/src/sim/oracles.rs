//! Oracles: the simulator sees every request as its server applies it, so
//! it can check rules the history (what clients were told) can only hint
//! at. Each broken rule is a correctness failure with the request that
//! broke it:
//!
//! - **A published node's value replaced.** A node key belongs to one push:
//!   a write that stores a different value under a node key that holds a
//!   node destroys an acknowledged (or about to be acknowledged) value
//!   without any client seeing it (colliding node ids written with `set`).
//! - **A node unlinked twice.** Each successful pop moves an end of the
//!   anchor past one node; the same node leaving the deque twice is a value
//!   handed out twice, even if one of the two pops never learnt its result
//!   (a lost reply), where the history cannot show the duplicate.
//! - **Success built on a stale anchor by a client that knew better.** A
//!   compare-and-set carrying a token from an earlier life of the server
//!   that memcached accepts (its tokens restart at 1) replaces the anchor
//!   with contents read before the restart: a loss, recorded as one. A
//!   client that has learnt the server's running life (a `stats` answered
//!   in this life) and then compare-and-sets that anchor and reports success
//!   has built on a deque that no longer exists: the anchor's lifetime
//!   stamp is there to make it report corruption instead. A client that has
//!   not asked since the restart cannot tell the stale anchor from a good
//!   one (FINDINGS.md, finding 7); its successes there are counted
//!   (`stale_anchor_successes`), not failed.
//!
//! The oracles watch the workload's requests only (the setup and the drain
//! go straight to the servers), as the probes do.

use std::collections::{BTreeMap, BTreeSet};

use memcache_collections::Key;
use memcache_collections::format::{self, Anchor, NodeId, Status};
use memcache_collections::routing::KetamaRing;
use memcache_collections::store::{Command, Reply};

use super::world::SimServer;
use crate::config::DEQUE_NAME;
use crate::history::{HistoryOp, OpResult};
use crate::outcome::OracleViolation;
use crate::workload::value_id;

/// What the oracles need to know of an entry before a write replaces it.
#[derive(Debug, Default)]
pub(crate) struct Prior {
    /// The anchor it held, for a write to the anchor.
    anchor: Option<Anchor>,
    /// The node value's id it held, for a `set` or `cas` of a node key.
    node_value: Option<String>,
}

impl Prior {
    /// Reads what `command` may replace on `server`, before it is applied.
    pub(crate) fn capture(server: &SimServer, command: &Command) -> Prior {
        let key = command.key();
        let is_anchor = key.as_bytes() == DEQUE_NAME.as_bytes();
        let replaces = matches!(command, Command::Set { .. } | Command::Cas { .. });
        if !replaces || !(is_anchor || is_node_key(key)) {
            return Prior::default();
        }
        let Some(bytes) = server.core.peek(key) else {
            return Prior::default();
        };
        if is_anchor {
            Prior {
                anchor: format::decode_anchor(bytes).ok(),
                node_value: None,
            }
        } else {
            Prior {
                anchor: None,
                node_value: format::decode_node(bytes).ok().map(|node| value_id(&node.value)),
            }
        }
    }
}

fn is_node_key(key: &Key) -> bool {
    key.as_bytes().starts_with(DEQUE_NAME.as_bytes()) && key.as_bytes().get(DEQUE_NAME.len()) == Some(&b':')
}

/// A success built on a stale anchor, judged once the operation's result is
/// known.
#[derive(Debug)]
struct Suspect {
    at_us: u64,
    request: u64,
    /// Whether the client had learnt the server's running life.
    knew_life: bool,
}

/// The oracles' state through one run.
#[derive(Debug, Default)]
pub(crate) struct Oracles {
    /// The history-log index of the operation each request (by number)
    /// belonged to.
    request_ops: Vec<Option<u32>>,
    /// Whether the anchor's contents descend from an accepted stale-token
    /// compare-and-set (until the anchor is lost or created again).
    stale_anchor: bool,
    /// Node keys some pop has moved an anchor end past (until the key is
    /// written afresh).
    unlinked: BTreeSet<Key>,
    /// Per (client, server): the life (epoch) in which one of the client's
    /// operations last received the server's life.
    life_learnt: BTreeMap<(usize, usize), u32>,
    /// Requests for the server's life that an operation sent and the
    /// server answered, until the answer reaches the client (a lost answer
    /// teaches it nothing).
    lives_answered: BTreeMap<u64, (usize, usize, u32)>,
    suspects: Vec<Suspect>,
    violations: Vec<OracleViolation>,
}

/// What [`Oracles::finish`] hands back.
#[derive(Debug, Default)]
pub(crate) struct OracleReport {
    pub(crate) violations: Vec<OracleViolation>,
    /// Operations that succeeded on a stale anchor their client could not
    /// tell from a good one (it had not asked the server's life since the
    /// restart).
    pub(crate) stale_anchor_successes: u64,
}

impl Oracles {
    /// Request `request` (numbered from 0, in order) was sent by the
    /// operation at `op` in the history log (`None`: between operations).
    pub(crate) fn sent(&mut self, request: u64, op: Option<usize>) {
        debug_assert_eq!(request as usize, self.request_ops.len());
        self.request_ops.push(op.map(|index| index as u32));
    }

    /// The history-log index of the operation that sent `request`.
    fn op_of(&self, request: u64) -> Option<usize> {
        self.request_ops
            .get(request as usize)
            .copied()
            .flatten()
            .map(|index| index as usize)
    }

    /// The reply to `request` reached its waiting client.
    pub(crate) fn delivered(&mut self, request: u64) {
        if let Some((client, server, epoch)) = self.lives_answered.remove(&request) {
            self.life_learnt.insert((client, server), epoch);
        }
    }

    /// The anchor is gone (a restart, a flush, a loss of its key).
    pub(crate) fn anchor_gone(&mut self) {
        self.stale_anchor = false;
    }

    /// Request `request` was applied at `at_us` and answered `reply`;
    /// `prior` is what it replaced, `stale` whether it carried a token from
    /// an earlier life. `servers` and `ring` are read to follow links.
    pub(crate) fn applied(
        &mut self,
        (client, server, epoch): (usize, usize, u32),
        (request, at_us): (u64, u64),
        (command, prior, stale): (&Command, Prior, bool),
        reply: &Reply,
        (servers, ring): (&[SimServer], &KetamaRing),
    ) {
        let key = command.key();
        let is_anchor = key.as_bytes() == DEQUE_NAME.as_bytes();
        match (command, reply) {
            // Only an answer inside an operation counts: operations run on
            // the client's current handle, while a re-creation's `create` or
            // `bind` (between operations) may fail and leave the old handle,
            // with the old life, in use.
            (Command::Lifetime { .. }, Reply::Lifetime(_)) if self.op_of(request).is_some() => {
                self.lives_answered.insert(request, (client, server, epoch));
            }
            (Command::Delete { .. }, Reply::Deleted) if is_anchor => self.stale_anchor = false,
            (_, Reply::Stored { .. }) if is_anchor => {
                if !matches!(command, Command::Cas { .. }) {
                    // Created (or set) afresh.
                    self.stale_anchor = false;
                } else if stale {
                    self.stale_anchor = true;
                } else if self.stale_anchor {
                    let knew_life = self.life_learnt.get(&(client, server)) == Some(&epoch);
                    self.suspects.push(Suspect {
                        at_us,
                        request,
                        knew_life,
                    });
                }
                let written = match command {
                    Command::Set { value, .. } | Command::Cas { value, .. } => format::decode_anchor(value).ok(),
                    _ => None,
                };
                if let (Some(before), Some(after)) = (prior.anchor, written) {
                    self.unlinks(before, after, (request, at_us), (servers, ring));
                }
            }
            // A stale-token CAS's damage is a recorded loss, not a violation.
            (
                Command::Set { value, .. } | Command::Cas { value, .. } | Command::Add { value, .. },
                Reply::Stored { .. },
            ) if is_node_key(key) && !stale => {
                let written = format::decode_node(value).ok().map(|node| value_id(&node.value));
                match (prior.node_value, written) {
                    (Some(before), Some(after)) if before != after => self.violations.push(OracleViolation {
                        at_us,
                        request,
                        what: format!(
                            "{} {key} replaced the value {before} of a node with {after}: the node key belonged to \
                             another push",
                            command.name()
                        ),
                    }),
                    (None, _) => {
                        // A node written afresh under this key.
                        self.unlinked.remove(key);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }

    /// Records the nodes the anchor change `before` -> `after` unlinks (a
    /// pop at either end), and flags one unlinked before.
    fn unlinks(
        &mut self,
        before: Anchor,
        after: Anchor,
        (request, at_us): (u64, u64),
        (servers, ring): (&[SimServer], &KetamaRing),
    ) {
        // A pop swings one end of a stable anchor inward and leaves it
        // stable; a push leaves its status mid-push, so a pushed node whose
        // id repeats a stale link's is not taken for a pop.
        if before.status != Status::Stable || after.status != Status::Stable {
            return;
        }
        let emptied = before.is_single() && after.is_empty();
        let ends = [
            // (the end before, the end after, the node's inward link, the other end kept)
            (before.right, after.right, Inward::Prev, before.left == after.left),
            (before.left, after.left, Inward::Next, before.right == after.right),
        ];
        for (end_before, end_after, inward, other_kept) in ends {
            let Some(id) = end_before else { continue };
            if end_after == Some(id) {
                continue;
            }
            let Ok(key) = format::node_key(DEQUE_NAME, id) else {
                continue;
            };
            let server = &servers[ring.server_for(key.as_bytes())];
            let Some(node) = server.core.peek(&key).and_then(|bytes| format::decode_node(bytes).ok()) else {
                continue;
            };
            let neighbour: Option<NodeId> = match inward {
                Inward::Prev => node.prev,
                Inward::Next => node.next,
            };
            let popped = emptied || (other_kept && end_after == neighbour);
            if !popped {
                continue;
            }
            if !self.unlinked.insert(key.clone()) {
                self.violations.push(OracleViolation {
                    at_us,
                    request,
                    what: format!(
                        "the anchor moved past node {key} (value {}) a second time: one value handed out twice",
                        value_id(&node.value)
                    ),
                });
            }
            if emptied {
                // Both ends named the same node: one unlink.
                break;
            }
        }
    }

    /// The violations, once the operations' results are known (`ops`: the
    /// workload's history log, by the indices `sent` was given).
    pub(crate) fn finish(mut self, ops: &[HistoryOp]) -> OracleReport {
        let mut stale_anchor_successes = 0;
        for suspect in std::mem::take(&mut self.suspects) {
            let op = self.op_of(suspect.request).and_then(|index| ops.get(index));
            let Some(op) = op else { continue };
            if !matches!(op.result, OpResult::Ok | OpResult::Value { .. } | OpResult::Empty) {
                continue;
            }
            if !suspect.knew_life {
                stale_anchor_successes += 1;
                continue;
            }
            self.violations.push(OracleViolation {
                at_us: suspect.at_us,
                request: suspect.request,
                what: format!(
                    "client {}'s {} compare-and-set an anchor written by a stale-token compare-and-set after a \
                     restart, although the server had told it its running life, and returned success ({})",
                    op.client,
                    op.op.as_str(),
                    op.result.kind()
                ),
            });
        }
        self.violations.sort_by_key(|v| (v.at_us, v.request));
        OracleReport {
            violations: self.violations,
            stale_anchor_successes,
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Inward {
    Prev,
    Next,
}

#[cfg(test)]
mod tests {
    use memcache_collections::format::{Node, encode_anchor, encode_node, node_key};
    use memcache_collections::memcore::ServerCore;
    use memcache_collections::routing::ServerSpec;
    use memcache_collections::store::{CasToken, Life};

    use super::*;
    use crate::history::OpName;
    use crate::workload::value_bytes;

    /// One server, and the oracles watching it.
    struct Bench {
        servers: Vec<SimServer>,
        ring: KetamaRing,
        oracles: Oracles,
        request: u64,
    }

    impl Bench {
        fn new() -> Bench {
            Bench {
                servers: vec![SimServer {
                    core: ServerCore::default(),
                    epoch: 0,
                }],
                ring: KetamaRing::new(&[ServerSpec::new("sim", 0)]),
                oracles: Oracles::default(),
                request: 0,
            }
        }

        /// `client`'s operation `op` sends `command`, which is applied.
        fn apply(&mut self, client: usize, op: usize, command: Command, stale: bool) -> Reply {
            let request = self.request;
            self.request += 1;
            self.oracles.sent(request, Some(op));
            let prior = Prior::capture(&self.servers[0], &command);
            let reply = self.servers[0].core.apply(&command);
            let epoch = self.servers[0].epoch;
            self.oracles.applied(
                (client, 0, epoch),
                (request, request * 10),
                (&command, prior, stale),
                &reply,
                (&self.servers, &self.ring),
            );
            reply
        }

        fn token(&self, key: &Key) -> CasToken {
            match self.servers[0].core.clone().apply(&Command::Gets { key: key.clone() }) {
                Reply::Value(item) => item.cas,
                other => panic!("{other:?}"),
            }
        }
    }

    fn anchor_key() -> Key {
        Key::new(DEQUE_NAME).unwrap()
    }

    fn node(id: u128, prev: Option<u128>, next: Option<u128>, value: &str) -> (Key, Vec<u8>) {
        let bytes = encode_node(&Node {
            prev: prev.map(NodeId),
            next: next.map(NodeId),
            value: value_bytes(value, 0),
        });
        (node_key(DEQUE_NAME, NodeId(id)).unwrap(), bytes)
    }

    fn anchor(left: Option<u128>, right: Option<u128>) -> Vec<u8> {
        encode_anchor(&Anchor {
            status: Status::Stable,
            left: left.map(NodeId),
            right: right.map(NodeId),
            lifetime: Some(1),
        })
    }

    fn op(result: OpResult) -> HistoryOp {
        HistoryOp {
            client: 0,
            op: OpName::PopFront,
            value: None,
            invoke_us: 0,
            return_us: Some(1),
            result,
        }
    }

    #[test]
    fn a_node_key_written_with_another_value_is_a_violation() {
        let mut bench = Bench::new();
        let (key, first) = node(1, None, None, "a");
        bench.apply(
            0,
            0,
            Command::Add {
                key: key.clone(),
                value: first,
            },
            false,
        );
        // The same value with other links (a stabilize) is no violation.
        let (_, relinked) = node(1, Some(2), None, "a");
        let token = bench.token(&key);
        bench.apply(
            0,
            0,
            Command::Cas {
                key: key.clone(),
                value: relinked,
                token,
            },
            false,
        );
        assert!(bench.oracles.violations.is_empty());
        let (_, other) = node(1, None, None, "b");
        bench.apply(1, 1, Command::Set { key, value: other }, false);
        let report = bench.oracles.finish(&[]);
        assert_eq!(report.violations.len(), 1);
        assert!(
            report.violations[0]
                .what
                .contains("replaced the value a of a node with b")
        );
    }

    #[test]
    fn a_node_popped_twice_is_a_violation_and_a_push_is_not_a_pop() {
        let mut bench = Bench::new();
        for (id, prev, next, value) in [(1, None, Some(2), "a"), (2, Some(1), None, "b")] {
            let (key, bytes) = node(id, prev, next, value);
            bench.apply(0, 0, Command::Set { key, value: bytes }, false);
        }
        let key = anchor_key();
        bench.apply(
            0,
            0,
            Command::Set {
                key: key.clone(),
                value: anchor(Some(1), Some(2)),
            },
            false,
        );
        // Pop node 2 from the right, then roll the anchor back (as a stale
        // write would) and pop it again.
        for (left, right) in [(Some(1), Some(1)), (Some(1), Some(2))] {
            let token = bench.token(&key);
            bench.apply(
                0,
                1,
                Command::Cas {
                    key: key.clone(),
                    value: anchor(left, right),
                    token,
                },
                false,
            );
        }
        assert!(
            bench.oracles.violations.is_empty(),
            "the roll-back is a push-shaped change, not a pop"
        );
        let token = bench.token(&key);
        bench.apply(
            1,
            2,
            Command::Cas {
                key,
                value: anchor(Some(1), Some(1)),
                token,
            },
            false,
        );
        let report = bench.oracles.finish(&[]);
        assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
        assert!(report.violations[0].what.contains("(value b) a second time"));
    }

    #[test]
    fn success_on_a_stale_anchor_fails_only_a_client_that_knew_the_life() {
        let mut bench = Bench::new();
        let key = anchor_key();
        bench.apply(
            0,
            0,
            Command::Set {
                key: key.clone(),
                value: anchor(None, None),
            },
            false,
        );
        // The stale write, then client 0 (which asked the life in this
        // life, inside operation 1) and client 1 (which did not) build on it.
        let token = bench.token(&key);
        bench.apply(
            2,
            0,
            Command::Cas {
                key: key.clone(),
                value: anchor(None, None),
                token,
            },
            true,
        );
        assert!(matches!(
            bench.apply(
                0,
                1,
                Command::Lifetime {
                    key: key.clone(),
                    mark: 7
                },
                false
            ),
            Reply::Lifetime(Life { .. })
        ));
        bench.oracles.delivered(bench.request - 1);
        // Client 1 asked too, but the answer never reached it.
        let ask = Command::Lifetime {
            key: key.clone(),
            mark: 7,
        };
        bench.apply(1, 2, ask, false);
        for (client, op_index) in [(0, 1), (1, 2)] {
            let token = bench.token(&key);
            bench.apply(
                client,
                op_index,
                Command::Cas {
                    key: key.clone(),
                    value: anchor(None, None),
                    token,
                },
                false,
            );
        }
        let ops = [op(OpResult::Empty), op(OpResult::Ok), op(OpResult::Ok)];
        let report = bench.oracles.finish(&ops);
        assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
        assert!(report.violations[0].what.contains("although the server had told it"));
        assert_eq!(report.stale_anchor_successes, 1);
    }
}
