//! A fault-injecting TCP proxy for one client-server link: the real
//! backend's network. Each client dials its own proxy for each server, so a
//! link's faults touch exactly that pair, as in the simulator.
//!
//! The proxy frames memcached's meta and ASCII protocols alike
//! (`framing.rs`: a request with its data block, a reply with its values
//! up to `END`), so every fate applies to one whole message:
//!
//! - **latency**: each message is held for a latency drawn from the
//!   scenario's distribution (on top of loopback's own), in order, as TCP
//!   keeps a connection's bytes in order;
//! - **dropped request / reply**: the message is swallowed, and so is
//!   everything after it on that connection in that direction (a byte
//!   stream cannot skip a message); its client times out (a write's
//!   outcome is then unknown), gives the connection up, and dials again;
//! - **delay spike**: the message is held `delay_spike_us` longer, usually
//!   past the client's timeout: the request is applied after its client gave
//!   up, while the client's next requests go on a new connection;
//! - **partition**: while a link is cut, its messages are swallowed (`drop`)
//!   or held until it heals (`hold`);
//! - **reset** (`reset_rate`): the message is lost and the proxy closes the
//!   connection at both ends, so the client hears of it at once; a server
//!   restart does the same to every connection of that server.
//!
//! Fates are drawn by the simulator's own function (`crate::nemesis::fate`)
//! from the link's own ChaCha stream (master seed, client, server), so a
//! seed fixes which message of a link suffers what, partitions included;
//! which request that message carries depends on thread timing, as on any
//! real network.

use std::io::{self, BufReader, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;

use crate::config::{NetworkConfig, PartitionMode};
use crate::nemesis::fate::{self, Direction};
use crate::rng;

use super::framing::{read_reply, read_request};

/// Counters of one link.
#[derive(Debug, Default)]
struct LinkCounters {
    forwarded: AtomicU64,
    resets: AtomicU64,
    dropped: AtomicU64,
    spiked: AtomicU64,
    held: AtomicU64,
}

/// Counters summed over links.
#[derive(Debug, Clone, Copy, Default)]
pub struct LinkTotals {
    /// Messages forwarded.
    pub forwarded: u64,
    /// Messages swallowed (resets included).
    pub dropped: u64,
    /// Connections reset under a message.
    pub resets: u64,
    /// Messages held for a spike.
    pub spiked: u64,
    /// Messages held by a partition.
    pub held: u64,
}

/// A cut link: until when, and what happens to its messages.
#[derive(Debug, Clone, Copy)]
struct Cut {
    until: Instant,
    mode: PartitionMode,
}

struct LinkState {
    upstream: SocketAddr,
    network: NetworkConfig,
    rng: Mutex<ChaCha8Rng>,
    cut: Mutex<Option<Cut>>,
    healed: Condvar,
    stopping: AtomicBool,
    counters: LinkCounters,
    pumps: Mutex<Vec<JoinHandle<()>>>,
}

/// One link's proxy: listens on a free loopback port and forwards every
/// accepted connection to the server, applying the link's faults.
pub struct LinkProxy {
    address: SocketAddr,
    state: Arc<LinkState>,
    acceptor: Option<JoinHandle<()>>,
}

impl LinkProxy {
    /// Starts a proxy for client `client` to the server at `upstream`.
    pub fn start(
        upstream: SocketAddr,
        network: &NetworkConfig,
        seed: u64,
        client: u32,
        server: u32,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let address = listener.local_addr()?;
        let state = Arc::new(LinkState {
            upstream,
            network: network.clone(),
            rng: Mutex::new(rng::stream(seed, rng::Stream::Network, link_index(client, server))),
            cut: Mutex::new(None),
            healed: Condvar::new(),
            stopping: AtomicBool::new(false),
            counters: LinkCounters::default(),
            pumps: Mutex::new(Vec::new()),
        });
        let acceptor_state = state.clone();
        let acceptor = thread::Builder::new()
            .name(format!("proxy-{client}-{server}"))
            .spawn(move || accept_loop(&listener, &acceptor_state))?;
        Ok(LinkProxy {
            address,
            state,
            acceptor: Some(acceptor),
        })
    }

    /// Where the client dials.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Cuts the link for `duration`.
    pub fn cut(&self, duration: Duration, mode: PartitionMode) {
        *self.state.cut.lock().expect("no pump panics holding the lock") = Some(Cut {
            until: Instant::now() + duration,
            mode,
        });
    }

    /// Heals the link now; held messages go on.
    pub fn heal(&self) {
        *self.state.cut.lock().expect("no pump panics holding the lock") = None;
        self.state.healed.notify_all();
    }

    /// Heals the link, delivers what it held, stops accepting, waits for
    /// every connection to close (call after the clients are gone: a pump
    /// ends when both of its ends have closed), and adds its counters.
    pub fn shutdown_and_count(mut self, totals: &mut LinkTotals) {
        self.stop();
        let counters = &self.state.counters;
        totals.forwarded += counters.forwarded.load(Ordering::Relaxed);
        totals.dropped += counters.dropped.load(Ordering::Relaxed);
        totals.resets += counters.resets.load(Ordering::Relaxed);
        totals.spiked += counters.spiked.load(Ordering::Relaxed);
        totals.held += counters.held.load(Ordering::Relaxed);
    }

    fn stop(&mut self) {
        self.state.stopping.store(true, Ordering::SeqCst);
        self.heal();
        // Wake the acceptor with a connection of our own.
        let _ = TcpStream::connect(self.address);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        let pumps = std::mem::take(&mut *self.state.pumps.lock().expect("no pump panics holding the lock"));
        for pump in pumps {
            let _ = pump.join();
        }
    }
}

impl Drop for LinkProxy {
    fn drop(&mut self) {
        if self.acceptor.is_some() {
            self.stop();
        }
    }
}

/// The link's index within the network stream: client and server together.
fn link_index(client: u32, server: u32) -> u32 {
    1 + (client << 8 | server)
}

fn accept_loop(listener: &TcpListener, state: &Arc<LinkState>) {
    for stream in listener.incoming() {
        if state.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = stream else { continue };
        let Ok(server) = TcpStream::connect(state.upstream) else {
            // The server is down (restarting): the client sees its
            // connection closed, as it would see a refused one.
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let pumps = [
            spawn_pump(state, &client, &server, Direction::Request),
            spawn_pump(state, &server, &client, Direction::Reply),
        ];
        state
            .pumps
            .lock()
            .expect("no pump panics holding the lock")
            .extend(pumps.into_iter().flatten());
    }
}

fn spawn_pump(
    state: &Arc<LinkState>,
    from: &TcpStream,
    to: &TcpStream,
    direction: Direction,
) -> Option<JoinHandle<()>> {
    let (from, to) = (from.try_clone().ok()?, to.try_clone().ok()?);
    let state = state.clone();
    thread::Builder::new()
        .name("proxy-pump".to_owned())
        .spawn(move || pump(&state, from, to, direction))
        .ok()
}

/// Forwards one direction of one connection, message by message, until
/// either end closes; then closes the other end's writing side, so the
/// peer sees the connection go.
fn pump(state: &LinkState, from: TcpStream, mut to: TcpStream, direction: Direction) {
    let mut reader = BufReader::new(from);
    let mut released = Instant::now();
    let mut black_hole = false;
    loop {
        let message = match direction {
            Direction::Request => read_request(&mut reader),
            Direction::Reply => read_reply(&mut reader),
        };
        let Ok(Some(message)) = message else { break };
        let read_at = Instant::now();
        // A byte stream cannot lose one message and deliver the next: once
        // a message is lost, the connection is a black hole in that
        // direction until its client gives it up.
        let delay = match if black_hole { Fate::Lost } else { fate(state, direction) } {
            Fate::Delayed(delay) => delay,
            Fate::Lost => {
                black_hole = true;
                state.counters.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Fate::Reset => {
                state.counters.dropped.fetch_add(1, Ordering::Relaxed);
                state.counters.resets.fetch_add(1, Ordering::Relaxed);
                let _ = reader.get_ref().shutdown(Shutdown::Both);
                let _ = to.shutdown(Shutdown::Both);
                return;
            }
        };
        // In order, as TCP delivers: never before the previous message.
        released = released.max(read_at + delay);
        if let Some(wait) = released.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        if to.write_all(&message).is_err() {
            break;
        }
        state.counters.forwarded.fetch_add(1, Ordering::Relaxed);
    }
    match direction {
        // Let the server finish what it was sent, then close.
        Direction::Request => {
            let _ = to.shutdown(Shutdown::Write);
        }
        // The server closed (a restart) or the client left: reset both.
        Direction::Reply => {
            let _ = to.shutdown(Shutdown::Both);
            let _ = reader.get_ref().shutdown(Shutdown::Both);
        }
    }
}

/// What happens to one message.
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    /// It is forwarded after this delay.
    Delayed(Duration),
    /// It is swallowed.
    Lost,
    /// Its connection is closed under it.
    Reset,
}

/// The fate of a message about to cross the link, drawn as the simulator
/// draws it; a held message waits here until its partition heals, then
/// travels with a fresh latency.
fn fate(state: &LinkState, direction: Direction) -> Fate {
    let cut = *state.cut.lock().expect("no pump panics holding the lock");
    let cut_mode = cut.filter(|cut| Instant::now() < cut.until).map(|cut| cut.mode);
    let drawn = fate::draw(
        &mut state.rng.lock().expect("no pump panics holding the lock"),
        &state.network,
        direction,
        cut_mode,
    );
    match drawn {
        fate::Fate::Arrives { after_us, spiked } => {
            if spiked {
                state.counters.spiked.fetch_add(1, Ordering::Relaxed);
            }
            Fate::Delayed(Duration::from_micros(after_us))
        }
        fate::Fate::Dropped | fate::Fate::Cut => Fate::Lost,
        fate::Fate::Reset { .. } => Fate::Reset,
        fate::Fate::Held => {
            state.counters.held.fetch_add(1, Ordering::Relaxed);
            wait_for_heal(state);
            let latency_us = fate::release_latency_us(
                &mut state.rng.lock().expect("no pump panics holding the lock"),
                &state.network,
            );
            Fate::Delayed(Duration::from_micros(latency_us))
        }
    }
}

fn wait_for_heal(state: &LinkState) {
    let mut cut = state.cut.lock().expect("no pump panics holding the lock");
    while let Some(current) = *cut {
        let now = Instant::now();
        if now >= current.until || state.stopping.load(Ordering::SeqCst) {
            break;
        }
        cut = state
            .healed
            .wait_timeout(cut, current.until - now)
            .expect("no pump panics holding the lock")
            .0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Latency;

    fn link(network: &NetworkConfig) -> LinkState {
        LinkState {
            upstream: "127.0.0.1:9".parse().unwrap(),
            network: network.clone(),
            rng: Mutex::new(rng::stream(5, rng::Stream::Network, link_index(1, 0))),
            cut: Mutex::new(None),
            healed: Condvar::new(),
            stopping: AtomicBool::new(false),
            counters: LinkCounters::default(),
            pumps: Mutex::new(Vec::new()),
        }
    }

    /// The proxy's fates are the simulator's draws on the link's stream,
    /// message for message, through a partition and after it: a cut link
    /// consumes the same draws, so later fates do not shift.
    #[test]
    fn the_proxy_draws_each_fate_as_the_simulator_does_cut_or_not() {
        let network = NetworkConfig {
            latency: Latency::Uniform { min_us: 10, max_us: 90 },
            drop_request_rate: 0.2,
            delay_spike_rate: 0.1,
            reset_rate: 0.05,
            ..NetworkConfig::default()
        };
        let state = link(&network);
        let mut simulator = rng::stream(5, rng::Stream::Network, link_index(1, 0));
        for i in 0..300 {
            let cut = (100..200).contains(&i).then_some(PartitionMode::Drop);
            *state.cut.lock().unwrap() = cut.map(|mode| Cut {
                until: Instant::now() + Duration::from_secs(3600),
                mode,
            });
            let expected = match fate::draw(&mut simulator, &network, Direction::Request, cut) {
                fate::Fate::Arrives { after_us, .. } => Fate::Delayed(Duration::from_micros(after_us)),
                fate::Fate::Reset { .. } => Fate::Reset,
                _ => Fate::Lost,
            };
            assert_eq!(fate(&state, Direction::Request), expected, "message {i}");
        }
    }

    /// A held message waits for the heal, then travels with one more draw
    /// for its latency, as in the simulator.
    #[test]
    fn a_held_message_waits_for_the_heal_then_draws_its_latency() {
        let network = NetworkConfig::default();
        let state = link(&network);
        *state.cut.lock().unwrap() = Some(Cut {
            until: Instant::now() + Duration::from_millis(20),
            mode: PartitionMode::Hold,
        });
        let started = Instant::now();
        let got = fate(&state, Direction::Reply);
        assert!(started.elapsed() >= Duration::from_millis(15), "it waited for the heal");
        let mut simulator = rng::stream(5, rng::Stream::Network, link_index(1, 0));
        assert_eq!(
            fate::draw(&mut simulator, &network, Direction::Reply, Some(PartitionMode::Hold)),
            fate::Fate::Held
        );
        let latency_us = fate::release_latency_us(&mut simulator, &network);
        assert_eq!(got, Fate::Delayed(Duration::from_micros(latency_us)));
        assert_eq!(state.counters.held.load(Ordering::Relaxed), 1);
    }

    /// ASCII traffic through a proxy to a real memcached, pipelined: each
    /// request and each reply crosses as one message (a `gets` of two keys
    /// with its values and `END` is one; a `noreply` store has no reply),
    /// and a lost reply swallows exactly the rest of its connection.
    #[test]
    fn ascii_messages_cross_whole_and_a_lost_reply_loses_the_rest() {
        use memcache_collections::memcached::{LocalServer, LocalServerConfig};
        use std::io::{BufRead, Read};

        let server = LocalServer::start(LocalServerConfig::default()).expect("memcached (scripts/test.sh installs it)");
        let exchange = |network: &NetworkConfig| {
            let proxy = LinkProxy::start(server.address().parse().unwrap(), network, 1, 0, 0).unwrap();
            let mut stream = TcpStream::connect(proxy.address()).unwrap();
            stream.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
            stream
                .write_all(
                    b"set a 0 0 2\r\nhi\r\nset b 0 0 4 noreply\r\nb\r\ny\r\ngets a b\r\ncas a 0 0 1 999\r\nx\r\nstats\r\n",
                )
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut lines = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                if !line.starts_with("STAT ") {
                    lines.push(std::mem::take(&mut line));
                }
                line.clear();
                if lines.last().is_some_and(|l| l == "END\r\n") && lines.iter().any(|l| l == "EXISTS\r\n") {
                    break;
                }
            }
            let _ = stream.read(&mut [0; 1]);
            drop((stream, reader));
            let mut totals = LinkTotals::default();
            proxy.shutdown_and_count(&mut totals);
            (lines.concat(), totals)
        };
        let (replies, totals) = exchange(&NetworkConfig::default());
        assert!(
            replies.starts_with("STORED\r\nVALUE a 0 2 ") && replies.contains("\r\nhi\r\nVALUE b 0 4 "),
            "{replies}"
        );
        assert!(replies.contains("\r\nb\r\ny\r\nEND\r\nEXISTS\r\nEND\r\n"), "{replies}");
        // Five requests, four replies: a misframed block would split or
        // merge messages, and change the count.
        assert_eq!((totals.forwarded, totals.dropped), (9, 0));
        let lossy = NetworkConfig {
            drop_reply_rate: 1.0,
            ..NetworkConfig::default()
        };
        let (replies, totals) = exchange(&lossy);
        assert_eq!(replies, "");
        assert_eq!((totals.forwarded, totals.dropped), (5, 4));
    }
}
