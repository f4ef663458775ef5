//! Plain exchanges on a short-lived connection of their own, for what the
//! meta client has no command for: `version` (does a memcached answer?),
//! `stats` (a server's counters and process identity), and the server's
//! life mark (see `Command::Lifetime`).

use std::io::{BufRead, BufReader, Error, ErrorKind, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use super::MemcachedOptions;

/// `stats` lines as `(name, value)`, in the server's order.
pub(crate) type Stats = Vec<(String, String)>;

/// A fresh connection to `address` with `options`' deadlines, for the
/// plain exchanges the meta client has no command for.
fn admin_connection(address: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    let socket = address
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| Error::new(ErrorKind::InvalidInput, format!("{address} resolves to nothing")))?;
    let stream = TcpStream::connect_timeout(&socket, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    Ok(stream)
}

/// One `version` exchange on its own connection, within the connect
/// timeout: does a memcached answer at `address`?
pub(super) fn version_exchange(address: &str, options: &MemcachedOptions) -> std::io::Result<()> {
    let mut stream = admin_connection(address, options.connect_timeout)?;
    stream.write_all(b"version\r\n")?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    if line.starts_with("VERSION ") {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidData,
            format!("answered {:?} to `version`: not memcached", line.trim_end()),
        ))
    }
}

/// Sends `stats` to `address` on a fresh connection and returns its
/// `STAT <name> <value>` lines in the server's order.
pub(crate) fn stats_exchange(address: &str, options: &MemcachedOptions) -> std::io::Result<Vec<(String, String)>> {
    let mut stream = admin_connection(address, options.io_timeout)?;
    stream.write_all(b"stats\r\n")?;
    read_stats(&mut BufReader::new(stream))
}

/// Reads `stats` lines from `reader` up to `END`.
fn read_stats(reader: &mut impl BufRead) -> std::io::Result<Stats> {
    let mut stats = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(Error::new(ErrorKind::UnexpectedEof, "stats ended before END"));
        }
        let text = line.trim_end();
        if text == "END" {
            return Ok(stats);
        }
        let mut fields = text.splitn(3, ' ');
        match (fields.next(), fields.next(), fields.next()) {
            (Some("STAT"), Some(name), Some(value)) => stats.push((name.to_owned(), value.to_owned())),
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    format!("unexpected stats line {text:?}"),
                ));
            }
        }
    }
}

/// A server's `stats` and its life mark, on one connection: the mark under
/// `key` if there is one, else `mark` written with `add` (if another client
/// added one first, that one). What [`super::MemcachedStore`] makes a
/// server life from.
pub(crate) fn life_exchange(
    address: &str,
    options: &MemcachedOptions,
    key: &str,
    mark: u64,
) -> std::io::Result<(Stats, Vec<u8>)> {
    let mut stream = admin_connection(address, options.io_timeout)?;
    stream.write_all(b"stats\r\n")?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let stats = read_stats(&mut reader)?;
    for _ in 0..2 {
        stream.write_all(format!("gets {key}\r\n").as_bytes())?;
        if let Some(value) = read_value(&mut reader)? {
            return Ok((stats, value));
        }
        let bytes = mark.to_le_bytes();
        stream.write_all(format!("add {key} 0 0 {}\r\n", bytes.len()).as_bytes())?;
        stream.write_all(&bytes)?;
        stream.write_all(b"\r\n")?;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        match line.trim_end() {
            "STORED" => return Ok((stats, bytes.to_vec())),
            // Another client's mark came first: read it.
            "NOT_STORED" => continue,
            other => {
                return Err(Error::other(format!("storing the life mark answered {other:?}")));
            }
        }
    }
    Err(Error::other("the life mark came and went twice"))
}

/// One `gets` reply: the value, or `None` for a miss.
fn read_value(reader: &mut impl BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let header = line.trim_end();
    if header == "END" {
        return Ok(None);
    }
    let length: usize = header
        .strip_prefix("VALUE ")
        .and_then(|rest| rest.split(' ').nth(2))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::new(ErrorKind::InvalidData, format!("unexpected gets reply {header:?}")))?;
    let mut value = vec![0u8; length + 2];
    reader.read_exact(&mut value)?;
    value.truncate(length);
    line.clear();
    reader.read_line(&mut line)?;
    if line.trim_end() != "END" {
        return Err(Error::new(ErrorKind::InvalidData, format!("gets ended with {line:?}")));
    }
    Ok(Some(value))
}
