//! Newline-delimited JSON streams (stdio) with each message passed through
//! a rewrite before the SDK reads it or after it writes it: how the core
//! tasks format ([`super::core_tasks`]) reaches past what the SDK parses.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A rewrite of one message: `None` leaves it as it is.
pub(super) type Rewrite = fn(&[u8]) -> Option<Vec<u8>>;

/// Move the complete lines of `pending` to `out`, each rewritten; `from`
/// is where bytes new since the last call begin (none before it is a
/// newline), so a long line arriving in pieces is scanned once.
fn take_lines(pending: &mut Vec<u8>, from: usize, out: &mut Vec<u8>, rewrite: Rewrite) {
    let mut start = 0;
    let mut scan = from;
    while let Some(at) = memchr::memchr(b'\n', &pending[scan..]) {
        let end = scan + at;
        match rewrite(&pending[start..end]) {
            Some(new) => {
                out.extend_from_slice(&new);
                out.push(b'\n');
            }
            None => out.extend_from_slice(&pending[start..=end]),
        }
        start = end + 1;
        scan = start;
    }
    pending.drain(..start);
}

/// An input whose lines are rewritten before they are read.
pub(super) struct RewrittenInput<R> {
    inner: R,
    rewrite: Rewrite,
    /// Bytes of a line not yet complete.
    pending: Vec<u8>,
    /// Rewritten bytes not yet read, from `start`.
    ready: Vec<u8>,
    start: usize,
    ended: bool,
}

impl<R> RewrittenInput<R> {
    pub(super) fn new(inner: R, rewrite: Rewrite) -> Self {
        Self {
            inner,
            rewrite,
            pending: Vec::new(),
            ready: Vec::new(),
            start: 0,
            ended: false,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for RewrittenInput<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.start < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.start);
                buf.put_slice(&this.ready[this.start..this.start + n]);
                this.start += n;
                if this.start == this.ready.len() {
                    this.ready.clear();
                    this.start = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                // A last line without its newline goes as it is.
                if this.pending.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                this.ready = std::mem::take(&mut this.pending);
                continue;
            }
            let mut chunk = [0u8; 8192];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                this.ended = true;
                continue;
            }
            let from = this.pending.len();
            this.pending.extend_from_slice(read.filled());
            take_lines(&mut this.pending, from, &mut this.ready, this.rewrite);
        }
    }
}

/// An output whose lines are rewritten as they are written.
pub(super) struct RewrittenOutput<W> {
    inner: W,
    rewrite: Rewrite,
    pending: Vec<u8>,
    /// Rewritten bytes not yet written, from `start`.
    out: Vec<u8>,
    start: usize,
}

impl<W> RewrittenOutput<W> {
    pub(super) fn new(inner: W, rewrite: Rewrite) -> Self {
        Self {
            inner,
            rewrite,
            pending: Vec::new(),
            out: Vec::new(),
            start: 0,
        }
    }
}

impl<W: AsyncWrite + Unpin> RewrittenOutput<W> {
    /// Write out what is rewritten already.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while self.start < self.out.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.out[self.start..]))?;
            if n == 0 {
                return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
            }
            self.start += n;
        }
        self.out.clear();
        self.start = 0;
        Poll::Ready(Ok(()))
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for RewrittenOutput<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        let from = this.pending.len();
        this.pending.extend_from_slice(buf);
        take_lines(&mut this.pending, from, &mut this.out, this.rewrite);
        // The bytes are taken; they go out on the next write or flush.
        let _ = this.poll_drain(cx)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        if !this.pending.is_empty() {
            this.out = std::mem::take(&mut this.pending);
            ready!(this.poll_drain(cx))?;
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    fn shout(line: &[u8]) -> Option<Vec<u8>> {
        line.starts_with(b"a").then(|| line.to_ascii_uppercase())
    }

    #[tokio::test]
    async fn lines_are_rewritten_however_they_are_split() {
        let input: &[u8] = b"abc\nxyz\nab";
        let mut read = RewrittenInput::new(input, shout);
        let mut out = String::new();
        read.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "ABC\nxyz\nab");
    }

    #[tokio::test]
    async fn output_lines_are_rewritten_however_they_are_split() {
        let mut written = Vec::new();
        {
            let mut write = RewrittenOutput::new(&mut written, shout);
            for part in [&b"xy"[..], b"z\nab", b"c\nabc\n"] {
                write.write_all(part).await.unwrap();
            }
            write.flush().await.unwrap();
        }
        assert_eq!(written, b"xyz\nABC\nABC\n");
    }
}
