//! Newline-delimited JSON streams (stdio) with each message passed through
//! a rewrite before the SDK reads it or after it writes it: how the core
//! tasks format ([`super::core_tasks`]) reaches past what the SDK parses.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A rewrite of one message: `None` leaves it as it is.
pub(super) type Rewrite = fn(&[u8]) -> Option<Vec<u8>>;

/// Move the complete lines of `pending` to `out`, each rewritten (with
/// `once`, only until a rewrite applies); whether one did.
fn take_lines(pending: &mut Vec<u8>, out: &mut Vec<u8>, rewrite: Rewrite, once: bool) -> bool {
    let mut rewrote = false;
    while let Some(end) = pending.iter().position(|b| *b == b'\n') {
        match rewrite(&pending[..end]) {
            Some(new) => {
                out.extend_from_slice(&new);
                out.push(b'\n');
                rewrote = true;
            }
            None => out.extend_from_slice(&pending[..=end]),
        }
        pending.drain(..=end);
        if once && rewrote {
            break;
        }
    }
    rewrote
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
            this.pending.extend_from_slice(read.filled());
            take_lines(&mut this.pending, &mut this.ready, this.rewrite, false);
        }
    }
}

/// An output whose first lines are rewritten as they are written, until
/// the rewrite has applied once; then it is the inner output.
pub(super) struct RewrittenOutput<W> {
    inner: W,
    rewrite: Rewrite,
    pending: Vec<u8>,
    /// Rewritten bytes not yet written, from `start`.
    out: Vec<u8>,
    start: usize,
    done: bool,
}

impl<W> RewrittenOutput<W> {
    pub(super) fn new(inner: W, rewrite: Rewrite) -> Self {
        Self {
            inner,
            rewrite,
            pending: Vec::new(),
            out: Vec::new(),
            start: 0,
            done: false,
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
        if this.done {
            if !this.pending.is_empty() {
                this.out = std::mem::take(&mut this.pending);
                ready!(this.poll_drain(cx))?;
            }
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        this.pending.extend_from_slice(buf);
        if take_lines(&mut this.pending, &mut this.out, this.rewrite, true) {
            // From here on the bytes pass as they are.
            this.done = true;
            this.out.append(&mut this.pending);
        }
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
    async fn output_is_rewritten_until_the_rewrite_applies_once() {
        let mut written = Vec::new();
        {
            let mut write = RewrittenOutput::new(&mut written, shout);
            for part in [&b"xy"[..], b"z\nab", b"c\nabc\n"] {
                write.write_all(part).await.unwrap();
            }
            write.flush().await.unwrap();
        }
        assert_eq!(written, b"xyz\nABC\nabc\n");
    }
}
