//! Where one memcached message ends, in either protocol, so the proxy
//! (`proxy.rs`) can give each whole message one fate. memcached speaks two
//! text protocols on one port, and a client may use either or both:
//!
//! | direction | message | its extent |
//! |---|---|---|
//! | request | `ms <key> <datalen> ...` (meta set) | the line, `<datalen>` bytes, CRLF |
//! | request | `set`/`add`/`replace`/`append`/`prepend <key> <flags> <exptime> <bytes> [noreply]` | the line, `<bytes>` bytes, CRLF |
//! | request | `cas <key> <flags> <exptime> <bytes> <cas> [noreply]` | the line, `<bytes>` bytes, CRLF |
//! | request | anything else (`mg`, `md`, `mn`, `get`, `gets`, `delete`, `touch`, `incr`, `decr`, `flush_all`, `version`, `stats`, ...) | one line |
//! | reply | `VA <datalen> ...` (meta value) | the line, `<datalen>` bytes, CRLF |
//! | reply | `VALUE <key> <flags> <bytes> [<cas>]` (`get`, `gets`) | every `VALUE` line with its block, up to and including `END` |
//! | reply | `STAT ...` (`stats`) | every line up to and including `END` |
//! | reply | anything else (`HD`, `NF`, `EX`, `STORED`, `EXISTS`, `NOT_FOUND`, `DELETED`, `END`, a number, `VERSION ...`, `ERROR`, ...) | one line |
//!
//! A request sent with `noreply` gets no reply at all, which needs no
//! framing: the reply direction simply carries nothing for it. The layout
//! is memcached's `protocol.txt` (1.6); `sim/tests/fidelity.rs` sends the
//! ASCII commands clients use through a proxy to real memcached.

use std::io::{self, BufRead};

/// The ASCII storage commands, whose line is followed by a data block
/// whose length is the line's fifth token (`<bytes>`).
const STORAGE: [&[u8]; 6] = [b"set ", b"add ", b"replace ", b"append ", b"prepend ", b"cas "];

/// One request, whole. `Ok(None)` at a clean end of stream; an error for
/// a line that announces a data block without a readable length.
pub fn read_request(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let Some(mut message) = read_line(reader)? else {
        return Ok(None);
    };
    let block = if message.starts_with(b"ms ") {
        Some(token(&message, 2).ok_or_else(|| malformed("ms without a data length", &message))?)
    } else if STORAGE.iter().any(|command| message.starts_with(command)) {
        Some(token(&message, 4).ok_or_else(|| malformed("a storage command without a data length", &message))?)
    } else {
        None
    };
    if let Some(length) = block {
        read_block(reader, length, &mut message)?;
    }
    Ok(Some(message))
}

/// One reply, whole: a line, plus its data block for `VA`, every value up
/// to `END` for `VALUE`, or every line up to `END` for `STAT`.
pub fn read_reply(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let Some(mut message) = read_line(reader)? else {
        return Ok(None);
    };
    if message.starts_with(b"VA ") {
        let length = token(&message, 1).ok_or_else(|| malformed("VA without a data length", &message))?;
        read_block(reader, length, &mut message)?;
    } else if message.starts_with(b"VALUE ") {
        let mut line = message.clone();
        loop {
            let length = token(&line, 3).ok_or_else(|| malformed("VALUE without a data length", &line))?;
            read_block(reader, length, &mut message)?;
            line = read_line(reader)?.ok_or_else(|| malformed("values ended before END", &line))?;
            message.extend_from_slice(&line);
            if line == b"END\r\n" {
                break;
            }
            if !line.starts_with(b"VALUE ") {
                return Err(malformed("neither VALUE nor END after a value", &line));
            }
        }
    } else if message.starts_with(b"STAT ") {
        loop {
            let line = read_line(reader)?.ok_or_else(|| malformed("stats ended before END", &message))?;
            message.extend_from_slice(&line);
            if line == b"END\r\n" {
                break;
            }
        }
    }
    Ok(Some(message))
}

fn read_line(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    Ok(line.ends_with(b"\n").then_some(line))
}

fn read_block(reader: &mut impl BufRead, length: usize, message: &mut Vec<u8>) -> io::Result<()> {
    let start = message.len();
    message.resize(start + length + 2, 0);
    reader.read_exact(&mut message[start..])
}

/// The `index`-th space-separated token of a line, as a number.
fn token(line: &[u8], index: usize) -> Option<usize> {
    let text = std::str::from_utf8(line).ok()?;
    text.split_ascii_whitespace().nth(index)?.parse().ok()
}

fn malformed(what: &str, line: &[u8]) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {}", line.escape_ascii()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A framing function over an in-memory stream.
    type Read = fn(&mut io::Cursor<&[u8]>) -> io::Result<Option<Vec<u8>>>;

    /// Splits a byte stream into messages with `read`, as the proxy does.
    fn messages(stream: &[u8], read: Read) -> io::Result<Vec<String>> {
        let mut cursor = io::Cursor::new(stream);
        let mut out = Vec::new();
        while let Some(message) = read(&mut cursor)? {
            out.push(String::from_utf8_lossy(&message).into_owned());
        }
        Ok(out)
    }

    #[test]
    fn requests_of_both_protocols_end_after_their_data_blocks() {
        let stream = b"ms k 3 c\r\nabc\r\nmg k v c\r\nset k 0 0 4\r\nab\r\n\r\ncas k 1 0 2 77 noreply\r\nxy\r\n\
            gets a b\r\nadd k 0 0 0\r\n\r\ndelete k\r\nincr n 5\r\n";
        let got = messages(stream, |r| read_request(r)).unwrap();
        assert_eq!(
            got,
            [
                "ms k 3 c\r\nabc\r\n",
                "mg k v c\r\n",
                // A block may hold CRLF itself: its length decides.
                "set k 0 0 4\r\nab\r\n\r\n",
                "cas k 1 0 2 77 noreply\r\nxy\r\n",
                "gets a b\r\n",
                "add k 0 0 0\r\n\r\n",
                "delete k\r\n",
                "incr n 5\r\n",
            ]
        );
    }

    #[test]
    fn replies_of_both_protocols_end_where_their_request_is_answered() {
        let stream = b"VA 2 c5\r\nhi\r\nHD\r\nVALUE a 0 2 9\r\nEN\r\nVALUE b 3 0 10\r\n\r\nEND\r\nEND\r\n\
            STORED\r\nEXISTS\r\nSTAT pid 1\r\nSTAT uptime 2\r\nEND\r\n6\r\nVERSION 1.6.18\r\n";
        let got = messages(stream, |r| read_reply(r)).unwrap();
        assert_eq!(
            got,
            [
                "VA 2 c5\r\nhi\r\n",
                "HD\r\n",
                // Two keys' values and the END are one reply to one `gets`;
                // a value may look like a reply line itself.
                "VALUE a 0 2 9\r\nEN\r\nVALUE b 3 0 10\r\n\r\nEND\r\n",
                // A miss is a bare END.
                "END\r\n",
                "STORED\r\n",
                "EXISTS\r\n",
                "STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n",
                "6\r\n",
                "VERSION 1.6.18\r\n",
            ]
        );
    }

    #[test]
    fn a_block_without_a_length_or_cut_short_is_an_error_not_a_guess() {
        for request in [
            &b"set k 0 0\r\n"[..],
            b"cas k 0 0 x 5\r\n",
            b"ms k\r\n",
            b"set k 0 0 9\r\nab\r\n",
        ] {
            assert!(
                messages(request, |r| read_request(r)).is_err(),
                "{}",
                request.escape_ascii()
            );
        }
        for reply in [
            &b"VALUE a 0\r\nx\r\nEND\r\n"[..],
            b"VALUE a 0 1\r\nx\r\nHD\r\n",
            b"STAT a 1\r\n",
        ] {
            assert!(messages(reply, |r| read_reply(r)).is_err(), "{}", reply.escape_ascii());
        }
    }

    #[test]
    fn tokens_are_read_by_position() {
        assert_eq!(token(b"ms simdeque:00 12 c O3\r\n", 2), Some(12));
        assert_eq!(token(b"VA 5 c77\r\n", 1), Some(5));
        assert_eq!(token(b"VA x\r\n", 1), None);
    }
}
