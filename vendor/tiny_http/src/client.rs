use ascii::AsciiString;

use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufReader, BufWriter, ErrorKind, Read, Write};

use std::net::{Shutdown, SocketAddr};
use std::str::FromStr;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::common::{HTTPVersion, Method, StatusCode};
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;

/// Longest accepted request line or header line, in bytes (without its CRLF).
const MAX_LINE_LEN: usize = 8 * 1024;
/// Most header lines accepted in one request.
const MAX_HEADERS: usize = 100;
/// Longest accepted request head (request line and header lines), in bytes.
const MAX_HEAD_LEN: usize = 64 * 1024;

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<RefinedTcpStream>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<RefinedTcpStream>>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,

    // tells whether the body of the previous request was consumed entirely
    previous_body_done: Option<Receiver<IoResult<()>>>,

    // the request line and headers must arrive within this time of their first byte
    header_timeout: Option<Duration>,

    // given to each request, for a response that says `Connection: close`
    closer: ConnectionCloser,
}

/// Closes a connection from one of its requests, once a response that says
/// `Connection: close` has been sent.
#[derive(Clone)]
pub(crate) struct ConnectionCloser(Arc<Mutex<BufWriter<RefinedTcpStream>>>);

impl ConnectionCloser {
    /// Shuts the socket down both ways: the client reads the end of the stream
    /// after the response, and the connection's thread, waiting for the next
    /// request, reads it too and ends the connection.
    pub(crate) fn close(&self) {
        let mut writer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = writer.flush();
        let _ = writer.get_mut().shutdown(Shutdown::Both);
    }
}

/// What [`ClientConnection::read_next_line`] found.
enum Line {
    /// A whole line, without its CRLF.
    Complete(AsciiString),
    /// A line longer than allowed; reading stopped at the limit.
    TooLong,
    /// A byte that cannot be in this line; reading stopped there.
    Invalid,
}

/// Whether `byte` can be in a request line (`GET /path HTTP/1.1`): visible
/// ASCII, spaces and the line end. Anything else (a TLS handshake sent to a
/// plain-HTTP port, binary garbage) is refused at the first such byte rather
/// than read up to the length limit or the head deadline.
fn is_request_line_byte(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\r' | b'\n' | 0x21..=0x7e)
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    /// the request line (414) or the headers (431) are over the limits
    HeadTooLarge(StatusCode),
    ReadIoError(IoError),
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
        header_timeout: Option<Duration>,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();

        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, read_socket));
        let first_header = source.next().unwrap();
        let sink = SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket));
        let closer = ConnectionCloser(sink.shared());

        ClientConnection {
            source,
            sink,
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
            previous_body_done: None,
            header_timeout,
            closer,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line from self.next_header_source.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line.
    ///
    /// `deadline` is set when the first byte of the request arrives, and reading fails
    /// with `TimedOut` once it is passed. Stops reading at the first byte that `valid`
    /// refuses (`Line::Invalid`) and once the line is longer than `max_len` bytes
    /// (`Line::TooLong`).
    fn read_next_line(
        &mut self,
        deadline: &mut Option<Instant>,
        max_len: usize,
        valid: fn(u8) -> bool,
    ) -> IoResult<Line> {
        let mut buf = Vec::new();
        let mut prev_byte_was_cr = false;

        loop {
            let byte = self.next_header_source.by_ref().bytes().next();

            let byte = match byte {
                Some(b) => b?,
                None => return Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF")),
            };

            match *deadline {
                None => *deadline = self.header_timeout.map(|t| Instant::now() + t),
                Some(deadline) if Instant::now() >= deadline => {
                    let msg = "Request head not received in time";
                    return Err(IoError::new(ErrorKind::TimedOut, msg));
                }
                Some(_) => (),
            }

            if !valid(byte) {
                return Ok(Line::Invalid);
            }

            if byte == b'\n' && prev_byte_was_cr {
                buf.pop(); // removing the '\r'
                return AsciiString::from_ascii(buf)
                    .map(Line::Complete)
                    .map_err(|_| IoError::new(ErrorKind::InvalidInput, "Header is not in ASCII"));
            }

            prev_byte_was_cr = byte == b'\r';

            buf.push(byte);

            // a trailing '\r' may be the start of the CRLF
            if buf.len() > max_len + usize::from(prev_byte_was_cr) {
                return Ok(Line::TooLong);
            }
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        // wait until the previous request's body reader is dropped: if it left part of the
        // body unread, the stream is not at the start of a request and must be closed
        if let Some(done) = self.previous_body_done.take() {
            if let Ok(Err(e)) = done.recv() {
                let e = IoError::new(ErrorKind::ConnectionAborted, e);
                return Err(ReadError::ReadIoError(e));
            }
        }

        let mut deadline = None;
        let (method, path, version, headers) = {
            // reading the request line
            let (method, path, version) = {
                let line = match self
                    .read_next_line(&mut deadline, MAX_LINE_LEN, is_request_line_byte)
                    .map_err(ReadError::ReadIoError)?
                {
                    Line::Complete(line) => line,
                    Line::TooLong => return Err(ReadError::HeadTooLarge(StatusCode(414))),
                    Line::Invalid => return Err(ReadError::WrongRequestLine),
                };

                parse_request_line(
                    line.as_str().trim(), // TODO: remove this conversion
                )?
            };

            // getting all headers
            let headers = {
                let mut headers = Vec::new();
                let mut head_len = path.len();
                loop {
                    let max_len = MAX_LINE_LEN.min(MAX_HEAD_LEN.saturating_sub(head_len));
                    // non-ASCII header lines are refused once read whole, as before
                    let line = match self
                        .read_next_line(&mut deadline, max_len, |_| true)
                        .map_err(ReadError::ReadIoError)?
                    {
                        Line::Complete(line) => line,
                        Line::TooLong | Line::Invalid => {
                            return Err(ReadError::HeadTooLarge(StatusCode(431)))
                        }
                    };

                    if line.is_empty() {
                        break;
                    };
                    if headers.len() == MAX_HEADERS {
                        return Err(ReadError::HeadTooLarge(StatusCode(431)));
                    }
                    head_len += line.len() + 2;
                    headers.push(match FromStr::from_str(line.as_str().trim()) {
                        // TODO: remove this conversion
                        Ok(h) => h,
                        _ => return Err(ReadError::WrongHeader(version)),
                    });
                }

                headers
            };

            (method, path, version, headers)
        };

        // building the writer for the request
        let writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let mut request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            *self.remote_addr.as_ref().unwrap(),
            data_source,
            writer,
        )
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
            }
        })?;
        self.previous_body_done = request.body_done.take();
        request.closer = Some(self.closer.clone());

        // return the request
        Ok(request)
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        use crate::{Response, StatusCode};

        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        loop {
            let rq = match self.read() {
                Err(ReadError::WrongRequestLine) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(400));
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::WrongHeader(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(400));
                    response.raw_print(writer, ver, &[], false, None).ok();
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::HeadTooLarge(status)) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(status);
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // the rest of the head was not read, so we have to close
                }

                Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::TimedOut => {
                    // request timeout
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(408));
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // closing the connection
                }

                Err(ReadError::ExpectationFailed(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(417));
                    response.raw_print(writer, ver, &[], true, None).ok();
                    return None; // TODO: should be recoverable, but needs handling in case of body
                }

                Err(ReadError::ReadIoError(_)) => return None,

                Ok(rq) => rq,
            };

            // checking HTTP version
            if *rq.http_version() > (1, 1) {
                let writer = self.sink.next().unwrap();
                let response = Response::from_string(
                    "This server only supports HTTP versions 1.0 and 1.1".to_owned(),
                )
                .with_status_code(StatusCode(505));
                response
                    .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                    .ok();
                continue;
            }

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            // returning the request
            return Some(rq);
        }
    }
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn request_lines_hold_visible_ascii_and_spaces_only() {
        let line = b"GET /a?b=%20&c=~ HTTP/1.1\r\n";
        assert!(line.iter().all(|b| super::is_request_line_byte(*b)));
        // the first bytes of a TLS ClientHello, a NUL, DEL, a non-ASCII byte
        for byte in [0x16, 0x03, 0x00, 0x7f, 0x80, 0xff] {
            assert!(!super::is_request_line_byte(byte), "{:#x}", byte);
        }
    }

    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}
