//! Reach probes: the simulator counts the events that make a fault scenario
//! meaningful, where it sees what no client can (which life of a server
//! issued a token, whether a stored compare-and-set's reply ever reached its
//! client). A scenario names one of them as its reachability condition
//! (`crate::reach`); a run without it did not test the race the scenario is
//! about, whatever its verdict.
//!
//! The probes watch requests as servers apply them, so they count the
//! workload only: the setup and the drain go straight to the servers.

use std::collections::{BTreeMap, BTreeSet};

use memcache_collections::Key;
use memcache_collections::store::{Command, Reply};

use crate::config::DEQUE_NAME;
use crate::outcome::SimCounters;

/// What the probes have seen so far.
#[derive(Debug, Default)]
pub(crate) struct Probes {
    /// Per (client, server, key): the last token a reply to that client
    /// carried, and the life (epoch) of the server that issued it.
    issued: BTreeMap<(usize, usize, Key), (u64, u32)>,
    /// Requests whose compare-and-set of the anchor stored, until a waiting
    /// client gets the reply (a reply that arrives after its client gave up
    /// counts as lost: the client never learnt the outcome).
    stored_cas_unacknowledged: BTreeSet<u64>,
    /// Node keys (every key but the anchor's) by the first client that
    /// wrote them.
    writers: BTreeMap<Key, usize>,
    stale_token_cas: u64,
    stale_token_cas_accepted: u64,
    deletes_not_found: u64,
    node_key_collisions: u64,
    token_zero_replies: u64,
}

impl Probes {
    /// Server `server`, in life `epoch`, applied `command` of `client`'s
    /// request `request` and answered `reply`; `stale` is what
    /// [`Probes::is_stale`] said of it just before.
    pub(crate) fn applied(
        &mut self,
        (client, server, epoch): (usize, usize, u32),
        request: u64,
        (command, stale): (&Command, bool),
        reply: &Reply,
    ) {
        let key = command.key();
        match command {
            Command::Cas { .. } => {
                if stale {
                    self.stale_token_cas += 1;
                    if matches!(reply, Reply::Stored { .. }) {
                        self.stale_token_cas_accepted += 1;
                    }
                }
                // The anchor's CAS is the one that completes an operation.
                if matches!(reply, Reply::Stored { .. }) && key.as_bytes() == DEQUE_NAME.as_bytes() {
                    self.stored_cas_unacknowledged.insert(request);
                }
            }
            Command::Delete { .. } | Command::DeleteCas { .. } if matches!(reply, Reply::NotFound) => {
                self.deletes_not_found += 1
            }
            Command::Set { .. } | Command::Add { .. } if key.as_bytes() != DEQUE_NAME.as_bytes() => {
                let first = *self.writers.entry(key.clone()).or_insert(client);
                if first != client {
                    self.node_key_collisions += 1;
                }
            }
            _ => {}
        }
        let token = match reply {
            Reply::Value(item) => Some(item.cas.0),
            Reply::Stored { cas } => Some(cas.0),
            _ => None,
        };
        if let Some(token) = token {
            if token == 0 {
                self.token_zero_replies += 1;
            }
            self.issued.insert((client, server, key.clone()), (token, epoch));
        }
    }

    /// Whether `command` is a compare-and-set carrying the token an earlier
    /// life of the server issued to this client for its key: applied now,
    /// it compares against a counter that restarted, so a match is ABA.
    pub(crate) fn is_stale(&self, (client, server, epoch): (usize, usize, u32), command: &Command) -> bool {
        let Command::Cas { key, token, .. } = command else {
            return false;
        };
        self.issued
            .get(&(client, server, key.clone()))
            .is_some_and(|&(issued_token, life)| issued_token == token.0 && life < epoch)
    }

    /// The reply to `request` reached its waiting client.
    pub(crate) fn delivered(&mut self, request: u64) {
        self.stored_cas_unacknowledged.remove(&request);
    }

    /// Adds the counts to `counters` at the end of the run.
    pub(crate) fn finish(self, counters: &mut SimCounters) {
        counters.stale_token_cas = self.stale_token_cas;
        counters.stale_token_cas_accepted = self.stale_token_cas_accepted;
        counters.cas_replies_lost = self.stored_cas_unacknowledged.len() as u64;
        counters.deletes_not_found = self.deletes_not_found;
        counters.node_key_collisions = self.node_key_collisions;
        counters.token_zero_replies = self.token_zero_replies;
    }
}

#[cfg(test)]
mod tests {
    use memcache_collections::store::{CasToken, Item};

    use super::*;

    fn key(text: &str) -> Key {
        Key::new(text).unwrap()
    }

    fn gets(probes: &mut Probes, client: usize, epoch: u32, token: u64) {
        let reply = Reply::Value(Item {
            value: Vec::new(),
            cas: CasToken(token),
        });
        let command = Command::Gets { key: key(DEQUE_NAME) };
        let stale = probes.is_stale((client, 0, epoch), &command);
        probes.applied((client, 0, epoch), 0, (&command, stale), &reply);
    }

    fn cas(probes: &mut Probes, client: usize, epoch: u32, request: u64, token: u64, reply: Reply) {
        let command = Command::Cas {
            key: key(DEQUE_NAME),
            value: Vec::new(),
            token: CasToken(token),
        };
        let stale = probes.is_stale((client, 0, epoch), &command);
        probes.applied((client, 0, epoch), request, (&command, stale), &reply);
    }

    fn counts(probes: Probes) -> SimCounters {
        let mut counters = SimCounters::default();
        probes.finish(&mut counters);
        counters
    }

    #[test]
    fn a_token_from_an_earlier_life_is_stale_and_counted_when_accepted() {
        let mut probes = Probes::default();
        gets(&mut probes, 0, 0, 7);
        gets(&mut probes, 1, 1, 3);
        // Client 1 read in the new life: not stale. Client 0's token is.
        cas(&mut probes, 1, 1, 1, 3, Reply::Exists);
        cas(&mut probes, 0, 1, 2, 7, Reply::Stored { cas: CasToken(8) });
        probes.delivered(2);
        let counters = counts(probes);
        assert_eq!((counters.stale_token_cas, counters.stale_token_cas_accepted), (1, 1));
        assert_eq!(counters.cas_replies_lost, 0);
    }

    #[test]
    fn a_stored_cas_whose_reply_never_arrived_is_lost() {
        let mut probes = Probes::default();
        gets(&mut probes, 0, 0, 1);
        cas(&mut probes, 0, 0, 5, 1, Reply::Stored { cas: CasToken(2) });
        cas(&mut probes, 0, 0, 6, 2, Reply::Stored { cas: CasToken(3) });
        probes.delivered(6);
        let counters = counts(probes);
        assert_eq!(counters.cas_replies_lost, 1);
        assert_eq!(counters.stale_token_cas, 0);
    }

    #[test]
    fn a_node_key_written_by_two_clients_collides_and_the_anchor_does_not() {
        let mut probes = Probes::default();
        let node = |client: usize, probes: &mut Probes| {
            let command = Command::Add {
                key: key("deque:00ff"),
                value: Vec::new(),
            };
            probes.applied((client, 0, 0), 0, (&command, false), &Reply::NotStored);
        };
        node(0, &mut probes);
        node(0, &mut probes);
        node(1, &mut probes);
        for client in [0, 1] {
            let command = Command::Add {
                key: key(DEQUE_NAME),
                value: Vec::new(),
            };
            probes.applied((client, 0, 0), 0, (&command, false), &Reply::NotStored);
        }
        probes.applied(
            (0, 0, 0),
            0,
            (&Command::Delete { key: key("deque:00ff") }, false),
            &Reply::NotFound,
        );
        gets(&mut probes, 0, 0, 0);
        let counters = counts(probes);
        assert_eq!(counters.node_key_collisions, 1);
        assert_eq!(counters.deletes_not_found, 1);
        assert_eq!(counters.token_zero_replies, 1);
    }
}
