//! A deque client in another language, run as a process and driven over
//! the client protocol (`crate::protocol`, `docs/client-protocol.md`): the
//! harness's side. The process dials the run's proxies like a Rust client,
//! so every network fault reaches it; the harness stamps each operation's
//! invoke and return itself, so the history needs nothing from the client
//! but results. Faults on the client itself are real: a pause stops the
//! process group (`SIGSTOP`, then `SIGCONT`), mid-operation if one is in
//! flight; a crash kills it (`SIGKILL`), leaving its operation without a
//! return, as a dead process would.
//!
//! A client that breaks the protocol (garbage for a result, an exit nobody
//! asked for, no answer within the deadline) ends the run as
//! `client-failed`, a harness failure naming the client, its command, the
//! operation and the line; the operation is recorded `unknown`, never as
//! a pass.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::control::Control;
use crate::history::{OpName, OpResult};
use crate::protocol::{self, FromClient, Init, ProtocolOp, ToClient};
use crate::workload::{self, DequeClient};

/// How long a client may take to answer one message (init included), not
/// counting time it spent stopped by a pause. The slowest operation of a
/// healthy real run takes well under a second; a client retrying through
/// a partition takes a few.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(10);

/// How often a waiting harness thread looks at the client's gate.
const GATE_POLL: Duration = Duration::from_millis(1);

/// Lines of the client's standard error kept for failure messages (each
/// quoted up to 200 characters).
const STDERR_TAIL_LINES: usize = 8;

/// The longest line a client may answer: a value of the item limit as
/// JSON-escaped Latin-1 text (6 bytes per byte at worst, `\u00XX`) and the
/// rest of the result.
const LINE_BYTES_PER_VALUE_BYTE: usize = 6;
const LINE_BYTES_MAX_BASE: usize = 64 * 1024;

/// One client process.
pub struct ProcessClient<'run> {
    client: usize,
    command: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Result<String, String>>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// The run that supervises the process (its gate, where failures go);
    /// none for a benchmark, which reads [`ProcessClient::failure`].
    control: Option<&'run Control>,
    deque: String,
    next_id: u64,
    /// Whether the process group is stopped by a pause.
    stopped: bool,
    /// How the process broke the protocol, once it has.
    failure: Option<String>,
}

/// How waiting for an answer ended.
enum Waited {
    /// A line, or why what came was not one.
    Line(Result<String, String>),
    /// The gate crashed the client: the process is killed.
    Crashed,
    /// The protocol broke; the message says how.
    Broken(String),
}

impl<'run> ProcessClient<'run> {
    /// Starts client `init.client` as `command` (run by `sh -c`, in a
    /// process group of its own), sends it `init`, and waits for `init_ok`.
    /// `Err` says why it could not start, naming the client.
    pub fn start(command: &str, init: Init, control: Option<&'run Control>) -> Result<Self, String> {
        let client = init.client as usize;
        let deque = init.deque.clone();
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .env("MCSIM_CLIENT", client.to_string())
            .spawn()
            .map_err(|e| format!("client {client} (`{command}`) could not be started: {e}"))?;
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let (send, lines) = mpsc::channel();
        let line_max = LINE_BYTES_MAX_BASE + LINE_BYTES_PER_VALUE_BYTE * init.item_size_max_bytes;
        std::thread::spawn(move || read_lines(BufReader::new(stdout), line_max, &send));
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr_tail.clone();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            loop {
                // A line without an end is kept in pieces of 4 KiB.
                let mut line = Vec::new();
                match (&mut reader).take(4096).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = shorten(String::from_utf8_lossy(&line).trim_end());
                let mut tail = tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if tail.len() == STDERR_TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let mut process = ProcessClient {
            client,
            command: command.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            stderr_tail,
            control,
            deque,
            next_id: 0,
            stopped: false,
            failure: None,
        };
        let answer = process
            .send(&ToClient::Init(init))
            .and_then(|()| match process.wait("init") {
                Waited::Line(line) => line.map_err(|why| format!("answered init with {why}")),
                Waited::Crashed => Err("was stopped by the run's deadline".to_owned()),
                Waited::Broken(why) => Err(why),
            })
            .and_then(|line| match serde_json::from_str::<FromClient>(&line) {
                Ok(FromClient::InitOk) => Ok(()),
                Ok(FromClient::InitFailed { reason }) => Err(format!("refused to start: {reason}")),
                _ => Err(format!(
                    "answered init with `{}`, not `{{\"type\":\"init_ok\"}}`",
                    shorten(&line)
                )),
            });
        answer
            .map(|()| process)
            .map_err(|why| format!("client {client} (`{command}`) {why}"))
    }

    /// Writes one message as a line.
    fn send(&mut self, message: &ToClient) -> Result<(), String> {
        let mut line = serde_json::to_vec(message).expect("protocol messages serialise");
        line.push(b'\n');
        let written = self
            .stdin
            .as_mut()
            .map(|stdin| stdin.write_all(&line).and_then(|()| stdin.flush()));
        match written {
            Some(Ok(())) => Ok(()),
            _ => Err(self.exited("before it was sent")),
        }
    }

    /// Waits for the answer to `what`, following the client's gate: a
    /// pause stops the process group until it ends (and stops the
    /// deadline's clock), a crash kills it.
    fn wait(&mut self, what: &str) -> Waited {
        let gate = self.control.map(|control| &control.gates[self.client]);
        let mut waited = Duration::ZERO;
        loop {
            if gate.is_some_and(|gate| gate.crashed()) {
                self.kill();
                return Waited::Crashed;
            }
            let paused = gate
                .and_then(|gate| gate.paused_until())
                .is_some_and(|until| until > Instant::now());
            if paused != self.stopped {
                signal_group(self.child.id(), if paused { "STOP" } else { "CONT" });
                self.stopped = paused;
            }
            match self.lines.recv_timeout(GATE_POLL) {
                Ok(line) => return Waited::Line(line),
                Err(RecvTimeoutError::Disconnected) => {
                    return Waited::Broken(self.exited(&format!("before answering {what}")));
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
            if !self.stopped {
                waited += GATE_POLL;
            }
            if waited >= ANSWER_DEADLINE {
                self.kill();
                return Waited::Broken(format!(
                    "did not answer {what} within {} s{}",
                    ANSWER_DEADLINE.as_secs(),
                    self.stderr_said()
                ));
            }
        }
    }

    /// Says that the process is gone, with its exit status and last words.
    fn exited(&mut self, when: &str) -> String {
        // Give the exit a moment to be reaped, so the status is known.
        let deadline = Instant::now() + Duration::from_millis(200);
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.to_string(),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(GATE_POLL),
                _ => break "still running, its output closed".to_owned(),
            }
        };
        format!("exited ({status}) {when}{}", self.stderr_said())
    }

    fn stderr_said(&self) -> String {
        let tail = self
            .stderr_tail
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if tail.is_empty() {
            String::new()
        } else {
            format!("; its standard error ends: {}", Vec::from(tail.clone()).join(" | "))
        }
    }

    fn kill(&mut self) {
        signal_group(self.child.id(), "KILL");
        let _ = self.child.wait();
        self.stdin = None;
    }

    /// Sends an operation and reads its result; `None` when the gate
    /// crashed the client. A broken protocol is reported to the run and
    /// answered `unknown`.
    fn exchange(&mut self, op: ProtocolOp, value: Option<&[u8]>) -> Option<OpResult> {
        let id = self.next_id;
        self.next_id += 1;
        let what = format!(
            "op {id} ({})",
            serde_json::to_string(&op).unwrap_or_default().trim_matches('"')
        );
        let message = ToClient::Op {
            id,
            op,
            value: value.map(protocol::bytes_to_text),
        };
        let waited = match self.send(&message) {
            Ok(()) => self.wait(&what),
            Err(why) => Waited::Broken(why),
        };
        let broken = match waited {
            Waited::Crashed => return None,
            Waited::Broken(why) => why,
            Waited::Line(Err(why)) => format!("answered {what} with {why}"),
            Waited::Line(Ok(line)) => match serde_json::from_str::<FromClient>(&line) {
                Ok(FromClient::Result { id: answered, result }) if answered == id => match checked(op, result) {
                    Ok(result) => return Some(result),
                    Err(why) => format!("answered {what} with `{}`: {why}", shorten(&line)),
                },
                Ok(FromClient::Result { id: answered, .. }) => {
                    format!("answered {what} with the result of op {answered}: `{}`", shorten(&line))
                }
                Ok(_) => format!("answered {what} with `{}`, not a result", shorten(&line)),
                Err(error) => format!(
                    "answered {what} with `{}`, which is not a protocol result ({error})",
                    shorten(&line)
                ),
            },
        };
        self.kill();
        let failure = format!("client {} (`{}`) {broken}", self.client, self.command);
        if let Some(control) = self.control {
            control.client_failed(failure.clone());
        }
        self.failure = Some(failure);
        Some(OpResult::Unknown)
    }

    /// Runs one operation outside a run (a benchmark): the result, or how
    /// the process broke the protocol.
    pub fn run_unsupervised(&mut self, op: ProtocolOp, value: Option<&[u8]>) -> Result<OpResult, String> {
        let result = self.exchange(op, value);
        match (&self.failure, result) {
            (Some(failure), _) => Err(failure.clone()),
            (None, Some(result)) => Ok(result),
            (None, None) => Err(format!("client {} was stopped", self.client)),
        }
    }
}

/// A result that fits its operation, a popped value named as the history
/// names it (the id inside the bytes); `Err` says why it does not fit. A
/// push returns no value and finds no deque empty; a pop is not `ok`;
/// `create` and `bind` return neither; a value is Latin-1 text.
fn checked(op: ProtocolOp, result: OpResult) -> Result<OpResult, String> {
    let pop = matches!(op, ProtocolOp::PopBack | ProtocolOp::PopFront);
    let fits = match &result {
        OpResult::Ok => !pop,
        OpResult::Value { .. } | OpResult::Empty => pop,
        OpResult::Unknown | OpResult::Failed { .. } | OpResult::Corruption { .. } => true,
    };
    if !fits {
        return Err(format!(
            "a `{}` result, which this operation cannot give",
            result.kind()
        ));
    }
    match result {
        OpResult::Value { value } => match protocol::text_to_bytes(&value) {
            Ok(bytes) => Ok(OpResult::Value {
                value: workload::value_id(&bytes),
            }),
            Err(c) => Err(format!(
                "a value holding {c:?}, which is not one byte (values are Latin-1 text)"
            )),
        },
        other => Ok(other),
    }
}

/// Reads the client's output line by line into `send`, each line at most
/// `line_max` bytes and UTF-8; the first line that is not ends the reading
/// with the reason.
fn read_lines(mut reader: impl BufRead, line_max: usize, send: &mpsc::Sender<Result<String, String>>) {
    loop {
        let mut line = Vec::new();
        let read = (&mut reader).take(line_max as u64 + 1).read_until(b'\n', &mut line);
        let line = match read {
            Ok(0) | Err(_) => return,
            Ok(_) if line.len() > line_max => Err(format!("a line longer than {line_max} bytes")),
            Ok(_) => String::from_utf8(line)
                .map(|text| text.trim_end_matches(['\n', '\r']).to_owned())
                .map_err(|e| {
                    format!(
                        "a line that is not UTF-8: `{}`",
                        shorten(&e.into_bytes().escape_ascii().to_string())
                    )
                }),
        };
        let stop = line.is_err();
        if send.send(line).is_err() || stop {
            return;
        }
    }
}

impl DequeClient for ProcessClient<'_> {
    async fn think(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    async fn run(&mut self, op: OpName, value: Vec<u8>) -> OpResult {
        // Between operations a pause holds the harness's next request, as
        // the gate holds a Rust client's.
        let gate_open = self.control.is_none_or(|control| control.gates[self.client].wait());
        let result = if gate_open {
            self.exchange(op.into(), op.is_push().then_some(&value[..]))
        } else {
            self.kill();
            None
        };
        match result {
            Some(result) => result,
            None => std::future::pending().await,
        }
    }

    fn deque_name(&self) -> &str {
        &self.deque
    }

    async fn recreate(&mut self, _id_seed: u64) -> bool {
        match self.exchange(ProtocolOp::Create, None) {
            Some(OpResult::Ok) => true,
            // `already_exists`: another client re-created it first; bind.
            Some(OpResult::Failed { .. }) if self.failure.is_none() => {
                let _ = self.exchange(ProtocolOp::Bind, None);
                false
            }
            Some(_) => false,
            None => std::future::pending().await,
        }
    }

    fn gone(&self) -> bool {
        self.failure.is_some()
    }
}

impl Drop for ProcessClient<'_> {
    /// Closes the client's input (the protocol's "exit now") and gives it
    /// a moment; one that lingers is killed.
    fn drop(&mut self) {
        self.stdin = None;
        if self.stopped {
            signal_group(self.child.id(), "CONT");
        }
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.kill();
    }
}

/// Sends `signal` to the process group led by `leader` (the shell that
/// runs the client's command, and everything it started).
fn signal_group(leader: u32, signal: &str) {
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -s {signal} -- -{leader} 2>/dev/null"))
        .status();
}

/// A line as a failure message quotes it: at most 200 characters.
fn shorten(line: &str) -> String {
    let mut chars = line.chars();
    let head: String = chars.by_ref().take(200).collect();
    if chars.next().is_some() {
        format!("{head}...")
    } else {
        head
    }
}
