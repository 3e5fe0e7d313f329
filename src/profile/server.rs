//! [`Streaming`]: a `puffin_http` server that streams every frame to the
//! `puffin_viewer`s connected to it.
//!
//! The server is a sink of puffin's global profiler: each frame boundary
//! hands it the finished frame through an unbounded channel, so the
//! simulation never waits for it; its own thread accepts viewers (between
//! frames: it accepts only while frames are produced) and sends each one the
//! frames, dropping frames for a viewer whose 30-frame queue is full. Viewers
//! may come and go at any time.

use std::fmt;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::Duration;

/// How long [`Streaming::stop`] waits for the frames still queued to reach
/// the viewers: long enough for a live viewer on loopback, short enough that
/// a stalled one does not hold up the end of a run.
const STOP_TIMEOUT: Duration = Duration::from_secs(1);

/// A running `puffin_http` server.
pub struct Streaming {
    /// `Some` until [`stop`](Self::stop).
    server: Option<puffin_http::Server>,
    /// The address it listens on (never port 0).
    addr: SocketAddr,
}

impl fmt::Debug for Streaming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Streaming")
            .field("addr", &self.addr)
            .field("viewers", &self.viewers())
            .finish()
    }
}

/// Why the server could not start.
#[derive(Debug)]
pub struct StreamError {
    /// The address asked for.
    pub addr: SocketAddr,
    /// What went wrong, e.g. the address is taken.
    pub reason: String,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot stream profiles on {}: {}",
            self.addr, self.reason
        )
    }
}

impl std::error::Error for StreamError {}

impl Streaming {
    /// Starts a server listening on `addr`. Port 0 picks a free port (see
    /// [`addr`](Self::addr)).
    ///
    /// # Errors
    ///
    /// When `addr` cannot be bound: taken, or not an address of this machine.
    pub fn start(addr: SocketAddr) -> Result<Streaming, StreamError> {
        let error = |reason: String| StreamError { addr, reason };
        let addr = if addr.port() == 0 {
            // puffin_http does not tell which port it bound, so ask the OS
            // for a free one first. Another process could take it in the
            // instant between; then the bind below fails and says so.
            TcpListener::bind(addr)
                .and_then(|probe| probe.local_addr())
                .map_err(|e| error(e.to_string()))?
        } else {
            addr
        };
        let server =
            puffin_http::Server::new(&addr.to_string()).map_err(|e| error(format!("{:#}", e)))?;
        // The server may start after scopes were registered (a previous run
        // in the same process): send them all with the next frame.
        puffin::GlobalProfiler::lock().emit_scope_snapshot();
        Ok(Streaming {
            server: Some(server),
            addr,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Viewers connected now.
    pub fn viewers(&self) -> usize {
        self.server
            .as_ref()
            .map_or(0, puffin_http::Server::num_clients)
    }

    /// Stops the server: no new frames; the frames already handed to it are
    /// sent to the connected viewers, waiting at most `STOP_TIMEOUT` (1 s) for
    /// them (a stalled viewer would otherwise block the end of the run; its
    /// connection then closes with the process). Dropping does the same.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        let (done_tx, done_rx) = mpsc::channel();
        let stopper = std::thread::Builder::new()
            .name("puffin-server-stop".to_owned())
            .spawn(move || {
                drop(server);
                let _ = done_tx.send(());
            });
        if stopper.is_ok() {
            let _ = done_rx.recv_timeout(STOP_TIMEOUT);
        }
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        self.shut_down();
    }
}
