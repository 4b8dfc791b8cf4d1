use std::io::Result as IoResult;
use std::io::{Error as IoError, ErrorKind, Read};
use std::sync::mpsc::channel;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

/// At most this many unread body bytes are read and thrown away when an
/// `EqualReader` is dropped; if more remain, the connection must be closed.
pub const MAX_DRAIN: usize = 64 * 1024;

/// Draining the unread rest of a body gives up once this much time has passed
/// (checked between reads; each read is also bounded by the socket timeout).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(1);

/// A `Reader` that reads exactly the number of bytes from a sub-reader.
///
/// If the limit is reached, it returns EOF. If the limit is not reached
/// when the destructor is called, at most `MAX_DRAIN` remaining bytes are
/// read (within `DRAIN_TIMEOUT`) and thrown away. The destructor then sends
/// `Ok(())` on the channel returned by `new` if the whole body was consumed,
/// or an error if it was not, in which case the underlying connection is in
/// the middle of the body and must not be reused.
pub struct EqualReader<R>
where
    R: Read,
{
    reader: R,
    size: usize,
    last_read_signal: Sender<IoResult<()>>,
}

impl<R> EqualReader<R>
where
    R: Read,
{
    pub fn new(reader: R, size: usize) -> (EqualReader<R>, Receiver<IoResult<()>>) {
        let (tx, rx) = channel();

        let r = EqualReader {
            reader,
            size,
            last_read_signal: tx,
        };

        (r, rx)
    }
}

impl<R> Read for EqualReader<R>
where
    R: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        if self.size == 0 {
            return Ok(0);
        }

        let buf = if buf.len() < self.size {
            buf
        } else {
            &mut buf[..self.size]
        };

        match self.reader.read(buf) {
            Ok(len) => {
                self.size -= len;
                Ok(len)
            }
            err @ Err(_) => err,
        }
    }
}

impl<R> Drop for EqualReader<R>
where
    R: Read,
{
    fn drop(&mut self) {
        let result = self.drain();
        self.last_read_signal.send(result).ok();
    }
}

impl<R> EqualReader<R>
where
    R: Read,
{
    /// Reads and discards the rest of the body, within `MAX_DRAIN` and `DRAIN_TIMEOUT`.
    fn drain(&mut self) -> IoResult<()> {
        if self.size > MAX_DRAIN {
            let msg = "unread request body is too large to drain";
            return Err(IoError::other(msg));
        }

        let deadline = Instant::now() + DRAIN_TIMEOUT;
        let mut buf = [0; 4096];
        while self.size > 0 {
            if Instant::now() >= deadline {
                let msg = "timed out draining the unread request body";
                return Err(IoError::new(ErrorKind::TimedOut, msg));
            }
            let len = buf.len().min(self.size);
            match self.reader.read(&mut buf[..len])? {
                0 => return Err(ErrorKind::UnexpectedEof.into()),
                read => self.size -= read,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::EqualReader;
    use std::io::Read;

    #[test]
    fn test_limit() {
        use std::io::Cursor;

        let mut org_reader = Cursor::new("hello world".to_string().into_bytes());

        {
            let (mut equal_reader, _) = EqualReader::new(org_reader.by_ref(), 5);

            let mut string = String::new();
            equal_reader.read_to_string(&mut string).unwrap();
            assert_eq!(string, "hello");
        }

        let mut string = String::new();
        org_reader.read_to_string(&mut string).unwrap();
        assert_eq!(string, " world");
    }

    #[test]
    fn test_not_enough() {
        use std::io::Cursor;

        let mut org_reader = Cursor::new("hello world".to_string().into_bytes());

        {
            let (mut equal_reader, _) = EqualReader::new(org_reader.by_ref(), 5);

            let mut vec = [0];
            equal_reader.read_exact(&mut vec).unwrap();
            assert_eq!(vec[0], b'h');
        }

        let mut string = String::new();
        org_reader.read_to_string(&mut string).unwrap();
        assert_eq!(string, " world");
    }

    #[test]
    fn test_drain_signals_success() {
        use std::io::Cursor;

        let mut org_reader = Cursor::new("hello world".to_string().into_bytes());
        let (equal_reader, done) = EqualReader::new(org_reader.by_ref(), 5);
        drop(equal_reader);
        assert!(done.recv().unwrap().is_ok());
    }

    #[test]
    fn test_huge_remainder_is_not_drained() {
        use std::io::Cursor;

        // a body that claims to be far larger than what may be drained: nothing is
        // allocated for it or read, and the connection is reported as not reusable
        let mut org_reader = Cursor::new(vec![0; super::MAX_DRAIN + 1]);
        let (equal_reader, done) = EqualReader::new(org_reader.by_ref(), 99_999_999_999_999);
        drop(equal_reader);
        assert!(done.recv().unwrap().is_err());
        assert_eq!(org_reader.position(), 0);
    }

    #[test]
    fn test_early_eof_is_an_error() {
        use std::io::Cursor;

        let mut org_reader = Cursor::new("hello".to_string().into_bytes());
        let (equal_reader, done) = EqualReader::new(org_reader.by_ref(), 10);
        drop(equal_reader);
        assert!(done.recv().unwrap().is_err());
    }
}
