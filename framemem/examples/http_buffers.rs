//! An HTTP/1.1 server whose 4 KiB request and response buffers come from a
//! [`Pool`], measured against the same server allocating fresh buffers for
//! every request.
//!
//! ```text
//! cargo run --release --example http_buffers
//! ```
//!
//! Each phase starts a server on 127.0.0.1 (port 0: the OS picks a free one)
//! and a bounded load of real TCP clients on loopback: `CLIENTS` threads, each
//! opening `CONNECTIONS_PER_CLIENT` keep-alive connections in turn and sending
//! `REQUESTS_PER_CONNECTION` GETs on each, reading every response in full. A
//! phase also stops at `PHASE_TIME_LIMIT`, so the program always ends. The
//! heap allocations of a phase come from [`CountingAllocator`] snapshots
//! taken around it; they count the whole process, clients included, and the
//! clients are written to allocate nothing per request.
//!
//! Why `std::net` and threads rather than hyper, axum or tokio: the point of
//! the example is the buffers, and with blocking I/O on a fixed set of
//! threads every heap allocation on the request path is one this file makes.
//! An async runtime allocates tasks, wakers and buffers of its own, which
//! would blur the count, and would add about a hundred crates to the build.
//! The pattern carries over: take the buffer from the pool where you would
//! have written `vec![0; 4096]`.
//!
//! What a request costs on the heap here, once the pool is warm: nothing. The
//! server reads into a pooled buffer, parses the head in place (`&str` slices,
//! `eq_ignore_ascii_case` instead of `to_lowercase`), and writes the response
//! into a second pooled buffer with `extend_from_slice` and `write!` (which,
//! unlike `format!`, formats into the existing buffer). Threads are spawned
//! before the measurement starts and each accepts its own connections, so
//! there is no per-connection thread spawn and no channel.

use std::alloc::System;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::ops::{Deref, DerefMut};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use framemem::{AllocCounts, ClearBuffer, CountingAllocator, Pool, Pooled};

#[global_allocator]
static GLOBAL: CountingAllocator<System> = CountingAllocator::new(System);

/// Bytes per buffer: one page holds a request head or one of our responses.
/// A request head longer than this is answered with 431.
const BUFFER_BYTES: usize = 4096;
/// Client threads; the server gets as many threads, one per open connection.
const CLIENTS: usize = 4;
/// Connections each client opens in turn, so accepting is measured too.
const CONNECTIONS_PER_CLIENT: usize = 10;
/// Keep-alive requests on each connection.
const REQUESTS_PER_CONNECTION: usize = 2_500;
/// Phases per buffer source, alternating; requests per second varies a lot
/// from phase to phase on a busy machine, so the median is reported.
const ROUNDS: usize = 5;
/// A phase stops early at this point, whatever the machine's speed.
const PHASE_TIME_LIMIT: Duration = Duration::from_secs(15);
/// Reads give up after this, so a vanished peer cannot hang a thread.
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle buffers the pool keeps: each server thread holds at most two at a
/// time (a request and its response), so this is plenty, and it bounds what
/// a burst can pin.
const POOL_CAPACITY: usize = 64;

/// What every client sends: a constant, so the client allocates nothing.
const REQUEST: &[u8] =
    b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: framemem-load\r\n\r\n";
const HELLO_BODY: &[u8] = b"Hello from framemem: this response was written into a 4 KiB buffer.\n";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let requests = CLIENTS * CONNECTIONS_PER_CLIENT * REQUESTS_PER_CONNECTION;
    println!(
        "http_buffers: {CLIENTS} client threads x {CONNECTIONS_PER_CLIENT} connections x \
         {REQUESTS_PER_CONNECTION} keep-alive requests = {requests} requests per phase, \
         {CLIENTS} server threads, {BUFFER_BYTES} B buffers, {ROUNDS} rounds"
    );

    // An unreported warm-up, so no measured phase pays for the first page
    // faults and the first loopback connections.
    run_phase(Fresh, 1)?;

    // One pool for the whole run, as in a real server: its first buffers are
    // misses, counted in the first pooled phase.
    let pool: BufferPool = Pool::byte_buffers(POOL_CAPACITY, BUFFER_BYTES);
    let mut fresh = Vec::with_capacity(ROUNDS);
    let mut pooled = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS {
        // Alternate which goes first, so neither always runs on a warmer or
        // a busier machine.
        if round.is_multiple_of(2) {
            fresh.push(run_phase(Fresh, CONNECTIONS_PER_CLIENT)?);
            pooled.push(run_phase(&pool, CONNECTIONS_PER_CLIENT)?);
        } else {
            pooled.push(run_phase(&pool, CONNECTIONS_PER_CLIENT)?);
            fresh.push(run_phase(Fresh, CONNECTIONS_PER_CLIENT)?);
        }
    }
    // The pool's misses all fall in its first phase; after that a request
    // should cost no heap allocation at all.
    let later = &pooled[1..];
    let later_allocs: u64 = later.iter().map(|p| p.heap.heap_calls()).sum();
    let later_requests: u64 = later.iter().map(|p| p.requests).sum();
    let fresh = Summary::of(&fresh);
    let pooled = Summary::of(&pooled);

    println!();
    println!(
        "{:<8} {:>9} {:>12} {:>15} {:>14} {:>26}",
        "buffers",
        "requests",
        "heap allocs",
        "allocs/request",
        "bytes/request",
        "requests/s median (range)"
    );
    fresh.print("fresh");
    pooled.print("pooled");
    let s = pool.stats();
    println!(
        "pool: {} hits, {} misses (new buffers), {} buffers idle at the end",
        s.hits, s.misses, s.held
    );

    println!(
        "pooled phases after the first: {later_allocs} heap allocations in {later_requests} requests"
    );

    println!();
    let (fresh_rate, pooled_rate) = (fresh.allocs_per_request(), pooled.allocs_per_request());
    if pooled.heap_allocs == 0 {
        println!(
            "pooled: no heap allocation in {} requests, against {fresh_rate:.3} allocs/request \
             fresh (target >= 100x fewer: met)",
            pooled.requests
        );
    } else {
        let ratio = fresh_rate / pooled_rate;
        let verdict = if ratio >= 100.0 { "met" } else { "NOT met" };
        println!(
            "pooled: {ratio:.0}x fewer heap allocations per request than fresh \
             (target >= 100x: {verdict})"
        );
    }
    println!(
        "pooled: {:.2}x the requests/s of fresh (medians; {:+.2} us of wall time per request)",
        pooled.median_requests_per_s / fresh.median_requests_per_s,
        1e6 / pooled.median_requests_per_s - 1e6 / fresh.median_requests_per_s,
    );
    if pooled.min_requests_per_s <= fresh.max_requests_per_s
        && fresh.min_requests_per_s <= pooled.max_requests_per_s
    {
        // System calls and thread switches make most of a loopback request;
        // two 4 KiB mallocs and frees are a small part of it.
        println!(
            "        the ranges overlap: the difference is within this machine's run-to-run noise"
        );
    }
    if fresh.errors + pooled.errors > 0 {
        println!(
            "warning: {} client errors (printed above)",
            fresh.errors + pooled.errors
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Where buffers come from

/// Where the handler gets its buffers. The handler is written once, generic
/// over this, so the two phases differ only in the buffers.
trait BufferSource: Copy + Send + Sync {
    type Buffer: DerefMut<Target = Vec<u8>>;
    fn buffer(self) -> Self::Buffer;
}

type BufferPool = Pool<Vec<u8>, ClearBuffer>;

/// Pooled buffers: a hit is a pop from this thread's lane, and the guard
/// puts the buffer back (cleared, capacity kept) when it drops.
impl<'a> BufferSource for &'a BufferPool {
    type Buffer = Pooled<'a, Vec<u8>, ClearBuffer>;
    fn buffer(self) -> Self::Buffer {
        self.get()
    }
}

/// The baseline: a new 4 KiB `Vec` for every buffer, freed when it drops.
#[derive(Clone, Copy)]
struct Fresh;

struct FreshBuffer(Vec<u8>);

impl BufferSource for Fresh {
    type Buffer = FreshBuffer;
    fn buffer(self) -> FreshBuffer {
        FreshBuffer(Vec::with_capacity(BUFFER_BYTES))
    }
}

impl Deref for FreshBuffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for FreshBuffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

// ---------------------------------------------------------------------------
// One measured phase

struct PhaseResult {
    requests: u64,
    elapsed: Duration,
    heap: AllocCounts,
    errors: u64,
}

/// The phases of one buffer source, together.
struct Summary {
    requests: u64,
    /// Calls that went to the system allocator: `alloc` plus `realloc`.
    heap_allocs: u64,
    bytes_allocated: u64,
    median_requests_per_s: f64,
    min_requests_per_s: f64,
    max_requests_per_s: f64,
    errors: u64,
}

impl Summary {
    fn of(phases: &[PhaseResult]) -> Summary {
        let mut rates: Vec<f64> = phases
            .iter()
            .map(|p| p.requests as f64 / p.elapsed.as_secs_f64())
            .collect();
        rates.sort_by(f64::total_cmp);
        Summary {
            requests: phases.iter().map(|p| p.requests).sum(),
            heap_allocs: phases.iter().map(|p| p.heap.heap_calls()).sum(),
            bytes_allocated: phases.iter().map(|p| p.heap.bytes_allocated).sum(),
            median_requests_per_s: rates[rates.len() / 2],
            min_requests_per_s: rates[0],
            max_requests_per_s: rates[rates.len() - 1],
            errors: phases.iter().map(|p| p.errors).sum(),
        }
    }

    fn allocs_per_request(&self) -> f64 {
        self.heap_allocs as f64 / self.requests.max(1) as f64
    }

    fn print(&self, name: &str) {
        println!(
            "{name:<8} {:>9} {:>12} {:>15.4} {:>14.1} {:>26}",
            self.requests,
            self.heap_allocs,
            self.allocs_per_request(),
            self.bytes_allocated as f64 / self.requests.max(1) as f64,
            format!(
                "{:.0} ({:.0}-{:.0})",
                self.median_requests_per_s, self.min_requests_per_s, self.max_requests_per_s
            ),
        );
    }
}

/// Starts a server using `buffers`, runs the client load against it, stops
/// it, and returns what the load saw and what the process allocated.
fn run_phase<S: BufferSource>(
    buffers: S,
    connections_per_client: usize,
) -> io::Result<PhaseResult> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| io::Error::new(e.kind(), format!("binding 127.0.0.1:0: {e}")))?;
    let addr = listener.local_addr()?;
    let stop = AtomicBool::new(false);
    let completed = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    // Every thread is spawned before the first snapshot and waits here, so
    // the measurement counts requests, not thread start-up.
    let start = Barrier::new(2 * CLIENTS + 1);
    let finish = Barrier::new(CLIENTS + 1);

    let (elapsed, heap) = thread::scope(|s| {
        for _ in 0..CLIENTS {
            s.spawn(|| {
                start.wait();
                serve(&listener, buffers, &stop);
            });
        }
        for _ in 0..CLIENTS {
            s.spawn(|| {
                start.wait();
                let deadline = Instant::now() + PHASE_TIME_LIMIT;
                match run_client(addr, connections_per_client, deadline, &completed) {
                    Ok(()) => {}
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("client: {e}");
                    }
                }
                // Reached on every path: the main thread waits for all.
                finish.wait();
            });
        }
        let before = GLOBAL.snapshot();
        start.wait();
        let t0 = Instant::now();
        finish.wait();
        let elapsed = t0.elapsed();
        let heap = GLOBAL.snapshot().since(&before);

        // Stop the server: set the flag, then wake each thread blocked in
        // `accept` with a connection of its own (std has no way to interrupt
        // a blocking accept). Connecting to our own loopback listener does
        // not fail in practice; if it did, the scope would never end, so
        // make it loud.
        stop.store(true, Ordering::Release);
        for _ in 0..CLIENTS {
            TcpStream::connect(addr).expect("connecting to our own listener to stop its threads");
        }
        (elapsed, heap)
    });

    Ok(PhaseResult {
        requests: completed.into_inner(),
        elapsed,
        heap,
        errors: errors.into_inner(),
    })
}

// ---------------------------------------------------------------------------
// The server

/// One server thread: accepts a connection, serves it until the client
/// closes it, and accepts the next, until `stop` is set. Several threads
/// calling `accept` on one listener is the classic pre-forked server: the
/// kernel hands each connection to one of them.
fn serve<S: BufferSource>(listener: &TcpListener, buffers: S, stop: &AtomicBool) {
    loop {
        let mut stream = match listener.accept() {
            Ok((stream, _peer)) => stream,
            Err(e) => {
                eprintln!("server: accept failed: {e}");
                return;
            }
        };
        if stop.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = serve_connection(&mut stream, buffers) {
            eprintln!("server: connection failed: {e}");
        }
    }
}

/// Serves one keep-alive connection until the client closes it or asks to.
fn serve_connection<S: BufferSource>(stream: &mut TcpStream, buffers: S) -> io::Result<()> {
    // Each response goes out in one write, so Nagle's algorithm only delays.
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    // Bytes a pipelining client sent past the end of the previous request:
    // that request's buffer and where its unread bytes start.
    let mut previous: Option<(S::Buffer, usize)> = None;
    loop {
        // Taken before the read, so the read that finds the connection
        // closed takes one too: fresh buffers cost 2 per request plus 1 per
        // connection.
        let mut request = buffers.buffer();
        if let Some((prev, unread)) = previous.take() {
            request.extend_from_slice(&prev[unread..]);
        } // `prev` drops here: a pooled buffer goes back to the pool
        let head_len = match read_head(stream, &mut request)? {
            Head::Complete(len) => len,
            Head::Closed => return Ok(()),
            Head::TooLarge => {
                let mut response = buffers.buffer();
                write_response(
                    &mut response,
                    "431 Request Header Fields Too Large",
                    b"",
                    true,
                    false,
                );
                return stream.write_all(&response);
            }
        };
        let mut response = buffers.buffer();
        let keep_alive = respond(&request[..head_len], &mut response);
        stream.write_all(&response)?;
        if !keep_alive {
            return Ok(());
        }
        previous = Some((request, head_len));
    }
}

enum Head {
    /// The buffer holds a whole request head of this many bytes.
    Complete(usize),
    /// The client closed the connection between two requests.
    Closed,
    /// No blank line within `BUFFER_BYTES`.
    TooLarge,
}

/// Reads until `buf` holds a full request head, up to and including its
/// blank line.
fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Head> {
    let mut searched = 0;
    loop {
        if let Some(i) = find_blank_line(&buf[searched..]) {
            return Ok(Head::Complete(searched + i + 4));
        }
        if buf.len() >= BUFFER_BYTES {
            return Ok(Head::TooLarge);
        }
        // The blank line may straddle what we have and what comes next.
        searched = buf.len().saturating_sub(3);
        let filled = buf.len();
        // Within the buffer's capacity, so no allocation; zeroing 4 KiB is
        // the price of reading into safe, initialised memory.
        buf.resize(BUFFER_BYTES, 0);
        let n = match stream.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 => return Ok(Head::Closed),
            // `ErrorKind` into `io::Error` allocates nothing.
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        buf.truncate(filled + n);
    }
}

fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes.windows(4).position(|w| w == b"\r\n\r\n")
}

/// The parts of a request head this server looks at, borrowed from the
/// buffer: parsing copies nothing.
struct Request<'a> {
    method: &'a str,
    target: &'a str,
    keep_alive: bool,
    has_body: bool,
}

fn parse_head(head: &[u8]) -> Option<Request<'_>> {
    let head = std::str::from_utf8(head).ok()?;
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?;
    let target = request_line.next()?;
    let version = request_line.next()?;
    if request_line.next().is_some() {
        return None;
    }
    let mut keep_alive = match version {
        "HTTP/1.1" => true,
        "HTTP/1.0" => false,
        _ => return None,
    };
    let mut has_body = false;
    for line in lines.take_while(|line| !line.is_empty()) {
        let (name, value) = line.split_once(':')?;
        let value = value.trim();
        // Header names are case-insensitive; comparing in place avoids the
        // `String` that `to_lowercase` would allocate for every header.
        if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                keep_alive = false;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            has_body |= value != "0";
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            has_body = true;
        }
    }
    Some(Request {
        method,
        target,
        keep_alive,
        has_body,
    })
}

/// Writes the response to one request head into `out`. Returns whether the
/// connection stays open.
fn respond(head: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(request) = parse_head(head) else {
        write_response(out, "400 Bad Request", b"malformed request\n", true, false);
        return false;
    };
    let send_body = request.method != "HEAD";
    if request.method != "GET" && request.method != "HEAD" {
        write_response(
            out,
            "405 Method Not Allowed",
            b"GET or HEAD only\n",
            true,
            false,
        );
        return false;
    }
    // This server reads no request bodies; the connection cannot be reused
    // with an unread body on it.
    if request.has_body {
        write_response(
            out,
            "400 Bad Request",
            b"no request body expected\n",
            send_body,
            false,
        );
        return false;
    }
    match request.target {
        "/hello" => write_response(out, "200 OK", HELLO_BODY, send_body, request.keep_alive),
        _ => write_response(
            out,
            "404 Not Found",
            b"not found\n",
            send_body,
            request.keep_alive,
        ),
    }
    request.keep_alive
}

fn write_response(out: &mut Vec<u8>, status: &str, body: &[u8], send_body: bool, keep_alive: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_bytes());
    out.extend_from_slice(b"\r\nServer: framemem-example\r\nContent-Type: text/plain\r\n");
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    // `write!` on a `Vec<u8>` formats into its spare capacity: no `String`,
    // unlike `format!`. Writing to a `Vec` cannot fail.
    write!(out, "Content-Length: {}\r\n\r\n", body.len()).expect("writing to a Vec");
    if send_body {
        out.extend_from_slice(body);
    }
}

// ---------------------------------------------------------------------------
// The load

/// One load client: `connections` connections in turn, each sending
/// `REQUESTS_PER_CONNECTION` keep-alive GETs and reading every response in
/// full. It allocates nothing per request (a stack buffer, a constant
/// request), so the heap counts are the server's.
fn run_client(
    addr: SocketAddr,
    connections: usize,
    deadline: Instant,
    completed: &AtomicU64,
) -> io::Result<()> {
    let mut buf = [0u8; BUFFER_BYTES];
    for _ in 0..connections {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        for _ in 0..REQUESTS_PER_CONNECTION {
            if Instant::now() >= deadline {
                return Ok(());
            }
            stream.write_all(REQUEST)?;
            read_response(&mut stream, &mut buf)?;
            completed.fetch_add(1, Ordering::Relaxed);
        }
        // Dropping the stream closes the connection; the server thread sees
        // end-of-file and goes back to `accept`.
    }
    Ok(())
}

/// Reads one `200 OK` response with a `Content-Length` body into `buf`.
fn read_response(stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    let head_len = loop {
        if filled == buf.len() {
            return Err(io::Error::other(
                "response head larger than the client's buffer",
            ));
        }
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
        if let Some(i) = find_blank_line(&buf[..filled]) {
            break i + 4;
        }
    };
    let head = std::str::from_utf8(&buf[..head_len])
        .map_err(|_| io::Error::other("response head is not UTF-8"))?;
    if !head.starts_with("HTTP/1.1 200 ") {
        return Err(io::Error::other(format!(
            "unexpected response: {}",
            head.lines().next().unwrap_or("")
        )));
    }
    let body_len = head
        .split("\r\n")
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .ok_or_else(|| io::Error::other("response without a valid Content-Length"))?;
    let total = head_len + body_len;
    if total > buf.len() {
        return Err(io::Error::other("response larger than the client's buffer"));
    }
    while filled < total {
        let n = stream.read(&mut buf[filled..total])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    }
    Ok(())
}
