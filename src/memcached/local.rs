//! Starting and stopping private memcached processes on loopback, for tests,
//! benchmarks and the harness's real backend.
//!
//! Every server listens on 127.0.0.1 only, on a port the OS reported free,
//! and is killed when its [`LocalServer`] is dropped: nothing depends on a
//! memcached someone else started, and nothing outlives its user.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long a freshly spawned server may take to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Attempts with different ports when another process grabs ours first.
const PORT_ATTEMPTS: usize = 5;

/// memcached's command-line settings that the deque can observe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalServerConfig {
    /// `-m`: memory for items, in MiB (memcached's smallest usable is 2).
    pub memory_mb: u32,
    /// `-I`: the item size limit in bytes; `None` keeps memcached's 1 MiB.
    pub item_size_max: Option<usize>,
    /// `-M`: refuse stores when full instead of evicting.
    pub no_evictions: bool,
    /// `-C`: CAS disabled (every token 0, every compare-and-set `EX`).
    pub cas_disabled: bool,
    /// Runs memcached as process 1 of its own PID namespace (`unshare
    /// --pid --fork`, root only), as in a container: every start reports
    /// the process id 1 in `stats`, so a restart within the same second
    /// repeats the process identity.
    pub own_pid_namespace: bool,
    /// The executable; defaults to `$MEMCACHED_BIN`, else `memcached` on `PATH`.
    pub binary: PathBuf,
}

impl LocalServerConfig {
    /// Whether this machine can give memcached its own PID namespace
    /// ([`own_pid_namespace`](Self::own_pid_namespace)): `unshare --pid
    /// --fork` must run, which needs root. Asked once per process; the
    /// error says why not.
    pub fn pid_namespaces_available() -> Result<(), String> {
        static ANSWER: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
        ANSWER
            .get_or_init(|| {
                let status = Command::new("unshare")
                    .args(["--pid", "--fork", "--kill-child=SIGKILL", "true"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .map_err(|e| format!("`unshare` cannot run here ({e})"))?;
                if status.success() {
                    Ok(())
                } else {
                    Err(format!("`unshare --pid --fork` failed here ({status}; it needs root)"))
                }
            })
            .clone()
    }
}

impl Default for LocalServerConfig {
    fn default() -> Self {
        LocalServerConfig {
            memory_mb: 64,
            item_size_max: None,
            no_evictions: false,
            cas_disabled: false,
            own_pid_namespace: false,
            binary: std::env::var_os("MEMCACHED_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("memcached")),
        }
    }
}

/// Why a local server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LocalServerError {
    /// The executable could not be run at all.
    #[error(
        "cannot run {binary:?}: {source}; install memcached (Debian: apt-get install memcached) \
         or set MEMCACHED_BIN"
    )]
    Spawn {
        /// What we tried to run.
        binary: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The process exited or never listened.
    #[error("memcached on port {port} did not start: {detail}")]
    NotReady {
        /// The port it was given.
        port: u16,
        /// What was observed.
        detail: String,
    },
    /// No free port could be found.
    #[error("no free loopback port: {0}")]
    NoPort(io::Error),
}

/// A memcached process owned by this handle.
#[derive(Debug)]
pub struct LocalServer {
    config: LocalServerConfig,
    port: u16,
    child: Child,
}

impl LocalServer {
    /// Starts a server on a free loopback port and waits until it accepts
    /// connections.
    pub fn start(config: LocalServerConfig) -> Result<Self, LocalServerError> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            match spawn_ready(&config, port) {
                Ok(child) => return Ok(LocalServer { config, port, child }),
                Err(error @ LocalServerError::Spawn { .. }) => return Err(error),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.expect("at least one attempt was made"))
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("{}:{}", Ipv4Addr::LOCALHOST, self.port)
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The settings the server runs with.
    pub fn config(&self) -> &LocalServerConfig {
        &self.config
    }

    /// `flush_all` over a fresh admin connection (the meta client has no
    /// such command): every item becomes a miss and the CAS counter moves on.
    pub fn flush_all(&self) -> io::Result<()> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(STARTUP_TIMEOUT))?;
        stream.write_all(b"flush_all\r\n")?;
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply)?;
        match reply.as_str() {
            "OK\r\n" => Ok(()),
            other => Err(io::Error::other(format!("flush_all answered {other:?}"))),
        }
    }

    /// `stats` over a fresh admin connection: every `STAT <name> <value>`
    /// line, in the server's order. The harness reads `evictions` and
    /// `store_no_memory` from it, the only trace memcached leaves of an item
    /// it dropped on its own.
    pub fn stats(&self) -> io::Result<Vec<(String, String)>> {
        let options = super::MemcachedOptions {
            io_timeout: STARTUP_TIMEOUT,
            connect_timeout: STARTUP_TIMEOUT,
        };
        super::admin::stats_exchange(&self.address(), &options)
    }

    /// Makes `key` an immediate miss with `touch <key> -1` (docs/memcached.md: no
    /// command evicts a chosen key, and a client cannot tell this from an
    /// eviction). `Ok(false)` if the key was not there.
    pub fn expire(&self, key: &crate::key::Key) -> io::Result<bool> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(STARTUP_TIMEOUT))?;
        let mut request = b"touch ".to_vec();
        request.extend_from_slice(key.as_bytes());
        request.extend_from_slice(b" -1\r\n");
        stream.write_all(&request)?;
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply)?;
        match reply.as_str() {
            "TOUCHED\r\n" => Ok(true),
            "NOT_FOUND\r\n" => Ok(false),
            other => Err(io::Error::other(format!("touch answered {other:?}"))),
        }
    }

    /// Every live key, from `lru_crawler metadump all` over a fresh admin
    /// connection (memcached 1.5.x and later; keys are percent-encoded on
    /// the wire and decoded here; expired keys are not listed). A crawler
    /// still busy with an earlier request is asked again, for up to a
    /// second. The harness uses it to pick an item to destroy as an
    /// eviction would, among every item a deque stores.
    pub fn keys(&self) -> io::Result<Vec<crate::key::Key>> {
        let deadline = Instant::now() + Duration::from_secs(1);
        loop {
            match self.metadump() {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                    thread::sleep(Duration::from_millis(5));
                }
                other => return other,
            }
        }
    }

    fn metadump(&self) -> io::Result<Vec<crate::key::Key>> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
        stream.set_read_timeout(Some(STARTUP_TIMEOUT))?;
        stream.write_all(b"lru_crawler metadump all\r\n")?;
        let mut keys = Vec::new();
        for line in BufReader::new(stream).lines() {
            let line = line?;
            let line = line.trim_end();
            if line == "END" {
                return Ok(keys);
            }
            if line.starts_with("BUSY") {
                return Err(io::Error::new(io::ErrorKind::WouldBlock, line.to_owned()));
            }
            let Some(encoded) = line.strip_prefix("key=").and_then(|rest| rest.split(' ').next()) else {
                return Err(io::Error::other(format!("metadump answered {line:?}")));
            };
            if let Some(key) = percent_decode(encoded).and_then(|bytes| crate::key::Key::new(bytes).ok()) {
                keys.push(key);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "metadump ended before END",
        ))
    }

    /// Kills the process and starts a new one on the same port: every item is
    /// lost and the CAS counter starts again at 1, as in a real restart.
    pub fn restart(&mut self) -> Result<(), LocalServerError> {
        kill(&mut self.child);
        // In its own PID namespace memcached dies a moment after the
        // watchdog's `unshare` (by the parent-death signal): wait for the
        // port to close before starting the next life on it.
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        self.child = spawn_ready(&self.config, self.port)?;
        Ok(())
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// Stops a server started by [`spawn_ready`]: closing the watchdog's stdin
/// makes it kill memcached (SIGKILL, a crash, not a clean shutdown) and
/// exit once memcached is gone, so the port is free when this returns.
fn kill(child: &mut Child) {
    drop(child.stdin.take());
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while Instant::now() < deadline {
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Decodes `%XX` escapes (metadump's key encoding); `None` if malformed.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// The watchdog memcached runs under (`sh -c`, memcached's command line as
/// its arguments). It kills memcached when its stdin closes: when the
/// [`LocalServer`] stops it, and also when this process dies without
/// running destructors (Ctrl-C, a signal, an abort), so no server outlives
/// the harness. It exits with memcached's status, so a server that fails
/// to start is noticed.
const WATCHDOG: &str = r#"exec 3<&0
"$@" </dev/null &
pid=$!
{ read -r _ <&3; kill -9 "$pid" 2>/dev/null; } &
wait "$pid""#;

/// Whether a memcached on `port` answers `version` on a fresh connection.
fn answers_version(port: u16) -> bool {
    let exchange = || -> io::Result<bool> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        stream.write_all(b"version\r\n")?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line)?;
        Ok(line.starts_with("VERSION "))
    };
    exchange().unwrap_or(false)
}

/// The exit status `sh` gives a command it cannot find.
const COMMAND_NOT_FOUND: i32 = 127;

fn free_port() -> Result<u16, LocalServerError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(LocalServerError::NoPort)?;
    Ok(listener.local_addr().map_err(LocalServerError::NoPort)?.port())
}

fn spawn_ready(config: &LocalServerConfig, port: u16) -> Result<Child, LocalServerError> {
    let mut command = Command::new("sh");
    command.args(["-c", WATCHDOG, "memcached-watchdog"]);
    if config.own_pid_namespace {
        // `--kill-child`: memcached dies with `unshare`, which the
        // watchdog kills.
        command.args(["unshare", "--pid", "--fork", "--kill-child=SIGKILL"]);
    }
    command
        .arg(&config.binary)
        .args(["-l", "127.0.0.1", "-U", "0", "-c", "1024"])
        .args(["-p", &port.to_string(), "-m", &config.memory_mb.to_string()])
        // Ignored unless we are root, where memcached insists on it.
        .args(["-u", "root"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(size) = config.item_size_max {
        command.args(["-I", &size.to_string()]);
    }
    if config.no_evictions {
        command.arg("-M");
    }
    if config.cas_disabled {
        command.arg("-C");
    }
    let mut child = command.spawn().map_err(|source| LocalServerError::Spawn {
        binary: config.binary.clone(),
        source,
    })?;
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            if status.code() == Some(COMMAND_NOT_FOUND) {
                return Err(LocalServerError::Spawn {
                    binary: config.binary.clone(),
                    source: io::Error::new(io::ErrorKind::NotFound, "no such executable"),
                });
            }
            return Err(LocalServerError::NotReady {
                port,
                detail: format!("exited with {status}"),
            });
        }
        // Ready when it answers `version`, not merely when the port
        // accepts: a connection can be reset while memcached starts.
        if answers_version(port) {
            return Ok(child);
        }
        if Instant::now() > deadline {
            kill(&mut child);
            return Err(LocalServerError::NotReady {
                port,
                detail: format!("not listening after {STARTUP_TIMEOUT:?}"),
            });
        }
        thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn metadump_keys_are_percent_decoded() {
        assert_eq!(
            percent_decode("simdeque%3A00ff").as_deref(),
            Some(&b"simdeque:00ff"[..])
        );
        assert_eq!(percent_decode("plain").as_deref(), Some(&b"plain"[..]));
        assert_eq!(percent_decode("bad%3"), None);
        assert_eq!(percent_decode("bad%zz"), None);
    }
}
