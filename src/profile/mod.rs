//! Live profiling: puffin scopes, a `puffin_http` server, `.puffin`
//! recordings.
//!
//! - `frame.rs`: [`FrameScopes`], the top scope of each frame, with the
//!   strategy, the entity count and the heap allocations as its data;
//! - `server.rs`: [`Streaming`], the `puffin_http` server `puffin_viewer`
//!   connects to;
//! - `recording.rs`: [`Recording`], the frames kept and written as a
//!   `.puffin` file;
//! - this file: [`Profiling`], which turns puffin's scopes on for a run and
//!   owns its server and its recording.
//!
//! The scopes of the systems are plain puffin macros in [`sim`](crate::sim)
//! (one per system, per phase and per parallel batch, never per entity), and
//! [`Simulation::step`](crate::sim::Simulation::step) starts each puffin
//! frame; this layer turns the scopes on and carries the frames away.
//!
//! puffin's profiler is global to the process: run one [`Profiling`] at a
//! time. While scopes are on, puffin's bookkeeping allocates: each thread's
//! report of its scopes costs a few heap allocations, which the frame's heap
//! counts include (see [`Profiling::start`]).

mod frame;
mod recording;
mod server;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::sim::{FrameRecord, Simulation};

pub use frame::FrameScopes;
pub use recording::{RECORDING_MAX_FRAMES, Recorded, Recording};
pub use server::{StreamError, Streaming};

/// Where profiles stream by default: `puffin_http`'s default port on the
/// loopback interface, so a plain `puffin_viewer` connects without arguments.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::V4(SocketAddrV4::new(
    Ipv4Addr::LOCALHOST,
    puffin_http::DEFAULT_PORT,
));

/// Profiling for one run: scopes on, a server, a recording.
#[derive(Debug)]
pub struct Profiling {
    /// Whether this run turned puffin's scopes on.
    on: bool,
    scopes: FrameScopes,
    streaming: Option<Streaming>,
    /// Why streaming was asked for but could not start.
    stream_error: Option<StreamError>,
    recording: Option<Recording>,
}

/// What a run's profiling came to.
#[derive(Debug)]
pub struct Profiled {
    /// Whether scopes were on, so that the heap counts include puffin's
    /// bookkeeping.
    pub scopes_on: bool,
    /// The address the frames were streamed from, if they were.
    pub streamed_from: Option<SocketAddr>,
    /// The recording, if one was asked for: written, or why not.
    pub recorded: Option<io::Result<Recorded>>,
}

impl Profiling {
    /// No profiling: scopes off (each costs one atomic load), no server, no
    /// recording.
    pub fn off() -> Profiling {
        puffin::set_scopes_on(false);
        Profiling {
            on: false,
            scopes: FrameScopes::default(),
            streaming: None,
            stream_error: None,
            recording: None,
        }
    }

    /// Starts a server on `stream`, if given, keeps the frames in
    /// `recording`, if given (its file is created with it, before the run),
    /// and turns puffin's scopes on if either runs. A server that cannot
    /// start (the address is taken) is not an error: the run goes on without
    /// streaming, and [`stream_error`](Self::stream_error) says why.
    ///
    /// With scopes on, each time a thread closes its outermost scope it
    /// reports to puffin's global profiler, which allocates: a copy of the
    /// thread's name, and the growth of the frame's stream buffers, new each
    /// frame. The frame's heap counts then include these: about 13 more
    /// allocations a frame with 2 threads at 50k entities (34.5 instead of
    /// 21.5 for the arena). puffin 0.20 offers no way around them. A
    /// connected viewer adds the server's: it encodes each frame for the
    /// viewer on its own thread, while the frame runs.
    pub fn start(stream: Option<SocketAddr>, recording: Option<Recording>) -> Profiling {
        let (streaming, stream_error) = match stream.map(Streaming::start) {
            None => (None, None),
            Some(Ok(server)) => (Some(server), None),
            Some(Err(e)) => (None, Some(e)),
        };
        // Scopes with nowhere to go would only cost.
        let on = streaming.is_some() || recording.is_some();
        puffin::set_scopes_on(on);
        Profiling {
            on,
            scopes: FrameScopes::default(),
            streaming,
            stream_error,
            recording,
        }
    }

    /// Whether scopes are on.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// The address frames stream from, if the server runs.
    pub fn streaming_addr(&self) -> Option<SocketAddr> {
        self.streaming.as_ref().map(Streaming::addr)
    }

    /// Why streaming was asked for but could not start.
    pub fn stream_error(&self) -> Option<&StreamError> {
        self.stream_error.as_ref()
    }

    /// The recording, if any.
    pub fn recording(&self) -> Option<&Recording> {
        self.recording.as_ref()
    }

    /// Runs one frame of `sim` inside its top scope ([`FrameScopes`]).
    pub fn step(&mut self, sim: &mut Simulation) -> FrameRecord {
        self.scopes.step(sim)
    }

    /// Ends the profiling: a last frame boundary hands the last frame to the
    /// server and the recording, scopes go off, the server stops and the
    /// recording is written.
    pub fn finish(self) -> Profiled {
        let Profiling {
            on,
            streaming,
            recording,
            ..
        } = self;
        if on {
            puffin::GlobalProfiler::lock().new_frame();
            puffin::set_scopes_on(false);
        }
        let streamed_from = streaming.map(|server| {
            let addr = server.addr();
            server.stop();
            addr
        });
        Profiled {
            scopes_on: on,
            streamed_from,
            recorded: recording.map(Recording::write),
        }
    }
}
